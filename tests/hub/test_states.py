"""State machine: real changes only, entity-id validation, tracking."""

from __future__ import annotations

import pytest

from hub.bus import EVENT_STATE_CHANGED, Bus, Context, Event
from hub.states import (
    InvalidEntityId,
    InvalidStateError,
    State,
    StateMachine,
    StateTracker,
    valid_entity_id,
)


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def parts() -> tuple[Bus, StateMachine, list[Event]]:
    tick = Ticker()
    bus = Bus(clock_time=tick)
    states = StateMachine(bus, clock_time=tick)
    events: list[Event] = []
    bus.listen(EVENT_STATE_CHANGED, events.append)
    return bus, states, events


def test_state_changed_only_on_real_change(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, events = parts
    first = states.set("sensor.cistern_level", 80, {"unit_of_measurement": "%"})
    same = states.set("sensor.cistern_level", "80", {"unit_of_measurement": "%"})
    assert same is first and len(events) == 1
    assert events[0].data["old_state"] is None and events[0].data["new_state"] is first

    attr_only = states.set("sensor.cistern_level", 80, {"unit_of_measurement": "%", "raw": 1203})
    assert len(events) == 2
    assert attr_only.last_changed == first.last_changed  # state text unchanged
    assert attr_only.last_updated > first.last_updated

    changed = states.set("sensor.cistern_level", 79, {"unit_of_measurement": "%", "raw": 1203})
    assert len(events) == 3 and changed.last_changed == changed.last_updated > attr_only.last_updated
    assert events[2].data["old_state"] is attr_only


def test_force_update_fires_without_change(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, events = parts
    states.set("sensor.x", "1")
    states.set("sensor.x", "1", force_update=True)
    assert len(events) == 2


def test_context_travels_with_state_and_event(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, events = parts
    ctx = Context(origin="modbus_tank")
    state = states.set("sensor.gas_level", 12, context=ctx)
    assert state.context is ctx and events[0].context is ctx


@pytest.mark.parametrize(
    "entity_id, ok",
    [
        ("sensor.cistern_level", True),
        ("binary_sensor.door_1", True),
        ("Sensor.x", False),
        ("sensor", False),
        ("sensor._x", False),
        ("sensor.x_", False),
        ("sensor.a__b", False),
        ("sensor.a.b", False),
        ("sensor.", False),
        ("sensor.añejo", False),
    ],
)
def test_entity_id_validation(entity_id: str, ok: bool) -> None:
    assert valid_entity_id(entity_id) is ok


def test_invalid_entity_id_and_too_long_state_rejected(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, events = parts
    with pytest.raises(InvalidEntityId, match="'Sensor.Bad'"):
        states.set("Sensor.Bad", 1)
    with pytest.raises(InvalidStateError, match="256 characters"):
        states.set("sensor.x", "x" * 256)
    assert events == [] and len(states) == 0


def test_attributes_are_read_only(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, _ = parts
    state = states.set("sensor.x", 1, {"a": 1})
    with pytest.raises(TypeError):
        state.attributes["a"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        state.attributes.update(b=1)


def test_remove_fires_with_none(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, events = parts
    states.set("sensor.x", 1)
    assert states.remove("sensor.x") is True
    assert states.remove("sensor.x") is False
    assert events[-1].data["new_state"] is None and states.get("sensor.x") is None


def test_all_by_domain_and_json(parts) -> None:  # type: ignore[no-untyped-def]
    _, states, _ = parts
    states.set("sensor.a", 1)
    states.set("binary_sensor.b", "on")
    assert [s.entity_id for s in states.all("sensor")] == ["sensor.a"]
    state = states.get("binary_sensor.b")
    assert state is not None
    import orjson

    decoded = orjson.loads(state.as_json())
    assert decoded["entity_id"] == "binary_sensor.b" and decoded["state"] == "on"
    assert decoded["last_changed"] == state.last_changed
    assert state.as_json() is state.as_json()  # cached: states never change


def test_tracker_calls_only_for_tracked_ids_and_untracks(parts) -> None:  # type: ignore[no-untyped-def]
    bus, states, _ = parts
    tracker = StateTracker(bus)
    seen: list[str] = []
    untrack = tracker.track(["sensor.a", "sensor.b"], lambda e: seen.append(e.data["entity_id"]))
    other: list[str] = []
    untrack_other = tracker.track("sensor.b", lambda e: other.append(e.data["entity_id"]))
    for eid in ("sensor.a", "sensor.c", "sensor.b"):
        states.set(eid, 1)
    assert seen == ["sensor.a", "sensor.b"] and other == ["sensor.b"]
    untrack()
    states.set("sensor.b", 2)
    assert seen == ["sensor.a", "sensor.b"] and other == ["sensor.b", "sensor.b"]
    untrack_other()
    assert bus.listener_count().get(EVENT_STATE_CHANGED) == 1  # only the fixture's listener remains


def test_tracker_action_that_raises_does_not_stop_others(parts, caplog) -> None:  # type: ignore[no-untyped-def]
    bus, states, _ = parts
    tracker = StateTracker(bus)
    seen: list[int] = []
    tracker.track("sensor.a", lambda e: 1 / 0)
    tracker.track("sensor.a", lambda e: seen.append(1))
    states.set("sensor.a", 1)
    assert seen == [1] and "ZeroDivisionError" in caplog.text


def test_state_equality_ignores_context() -> None:
    a = State("sensor.a", "1", {"x": 1}, 1.0, 2.0, Context())
    b = State("sensor.a", "1", {"x": 1}, 1.0, 2.0, Context())
    assert a == b and a != State("sensor.a", "2", {"x": 1}, 1.0, 2.0)
