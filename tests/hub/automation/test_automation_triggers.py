"""Triggers on the manual clock: state, numeric_state, time, time_pattern, event, and detaching."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.automation.errors import AutomationError
from hub.automation.template import TemplateEngine
from hub.automation.triggers import attach_triggers, describe_trigger, next_pattern_match
from hub.bus import Context
from hub.clock import ManualClock
from hub.runtime import Hub
from hub.states import State

MEXICO = ZoneInfo("America/Mexico_City")


class Calls:
    """A trigger action that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Context | None]] = []

    def __call__(self, variables: dict[str, Any], context: Context | None) -> None:
        self.calls.append((variables, context))

    @property
    def triggers(self) -> list[dict[str, Any]]:
        return [variables["trigger"] for variables, _ in self.calls]

    def __len__(self) -> int:
        return len(self.calls)


@pytest.fixture
def engine(hub: Hub) -> TemplateEngine:
    return TemplateEngine(hub)


async def attach(
    hub: Hub,
    engine: TemplateEngine,
    configs: Sequence[Mapping[str, Any]],
    action: Callable[[dict[str, Any], Context | None], Any],
    variables: Mapping[str, Any] | None = None,
) -> Callable[[], None]:
    return await attach_triggers(hub, configs, action, engine=engine, name="test", variables=variables)


def local(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=MEXICO)


# -- state --------------------------------------------------------------------------------


async def test_state_trigger_variables_and_context(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    hub.states.set("binary_sensor.door", "off")
    detach = await attach(hub, engine, [{"trigger": "state", "entity_id": "binary_sensor.door", "to": "on"}], calls)
    cause = Context(user_id="ana")
    hub.states.set("binary_sensor.door", "on", context=cause)
    assert len(calls) == 1
    trigger = calls.triggers[0]
    old, new = trigger.pop("from_state"), trigger.pop("to_state")
    assert trigger == {
        "platform": "state",
        "id": "0",
        "idx": "0",
        "description": "state of binary_sensor.door to 'on'",
        "entity_id": "binary_sensor.door",
        "for": None,
    }
    assert isinstance(old, State) and old.state == "off"
    assert isinstance(new, State) and new.state == "on"
    assert calls.calls[0][1] is cause
    hub.states.set("binary_sensor.door", "off")
    hub.states.set("binary_sensor.door", "on", {"battery": 50})
    assert len(calls) == 2
    hub.states.set("binary_sensor.door", "on", {"battery": 40})  # attribute only: `to` watches the state
    assert len(calls) == 2
    detach()


async def test_state_trigger_from_to_lists_and_not_to(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine,
        [
            {"trigger": "state", "entity_id": ["cover.a", "cover.b"], "from": "closed", "to": ["open", "opening"]},
            {"trigger": "state", "entity_id": "cover.a", "not_to": ["unavailable", "unknown"], "id": "sane"},
        ],
        calls,
    )
    hub.states.set("cover.a", "closed")  # created: from None matches no `from`; not_to fires
    hub.states.set("cover.a", "opening")
    hub.states.set("cover.b", "closed")
    hub.states.set("cover.b", "open")
    hub.states.set("cover.a", "unavailable")
    hub.states.set("cover.a", "open")  # from 'unavailable': not from 'closed'
    assert [(t["id"], t["entity_id"], t["to_state"].state) for t in calls.triggers] == [
        ("sane", "cover.a", "closed"),
        ("0", "cover.a", "opening"),
        ("sane", "cover.a", "opening"),
        ("0", "cover.b", "open"),
        ("sane", "cover.a", "open"),
    ]
    detach()


async def test_state_trigger_without_to_fires_on_attribute_changes(hub: Hub, engine: TemplateEngine) -> None:
    any_change, state_only = Calls(), Calls()
    detach_any = await attach(hub, engine, [{"trigger": "state", "entity_id": "light.desk"}], any_change)
    detach_state = await attach(hub, engine, [{"trigger": "state", "entity_id": "light.desk", "to": None}], state_only)
    hub.states.set("light.desk", "on", {"brightness": 10})  # created
    hub.states.set("light.desk", "on", {"brightness": 200})
    hub.states.set("light.desk", "off", {"brightness": 200})
    hub.states.remove("light.desk")  # gone: nothing to report
    assert [t["to_state"].attributes.get("brightness") for t in any_change.triggers] == [10, 200, 200]
    assert [t["to_state"].state for t in state_only.triggers] == ["on", "off"]
    detach_any()
    detach_state()


async def test_state_trigger_on_an_attribute(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine,
        [{"trigger": "state", "entity_id": "climate.house", "attribute": "hvac_action", "to": "heating"}],
        calls,
    )
    hub.states.set("climate.house", "heat", {"hvac_action": "idle"})
    hub.states.set("climate.house", "heat", {"hvac_action": "heating"})
    hub.states.set("climate.house", "heat", {"hvac_action": "heating", "temperature": 21})  # not this attribute
    hub.states.set("climate.house", "auto", {"hvac_action": "heating"})
    assert len(calls) == 1
    assert calls.triggers[0]["description"] == "attribute hvac_action of climate.house to 'heating'"
    detach()


async def test_state_trigger_for_fires_after_the_duration(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    hub.states.set("binary_sensor.door", "off")
    detach = await attach(
        hub, engine,
        [{"trigger": "state", "entity_id": "binary_sensor.door", "to": "on", "for": {"minutes": 10}}],
        calls,
    )
    cause = Context()
    hub.states.set("binary_sensor.door", "on", context=cause)
    await clock.advance(300)
    hub.states.set("binary_sensor.door", "on", {"battery": 80})  # still 'on': the wait goes on
    await clock.advance(299)
    assert len(calls) == 0
    await clock.advance(1)
    assert len(calls) == 1
    trigger = calls.triggers[0]
    assert trigger["for"] == timedelta(minutes=10)
    assert trigger["from_state"].state == "off"
    assert trigger["to_state"].attributes == {"battery": 80}  # the state when the wait ended
    assert calls.calls[0][1] is cause
    await clock.advance(3600)
    assert len(calls) == 1
    detach()


async def test_state_trigger_for_is_cancelled_when_the_state_leaves(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    hub.states.set("binary_sensor.door", "off")
    baseline = clock.pending
    detach = await attach(
        hub, engine,
        [{"trigger": "state", "entity_id": "binary_sensor.door", "to": "on", "for": "00:05:00"}],
        calls,
    )
    hub.states.set("binary_sensor.door", "on")
    assert clock.pending == baseline + 1
    await clock.advance(200)
    hub.states.set("binary_sensor.door", "off")
    assert clock.pending == baseline
    await clock.advance(600)
    assert len(calls) == 0
    # back on: the wait starts again from zero
    hub.states.set("binary_sensor.door", "on")
    await clock.advance(299)
    assert len(calls) == 0
    await clock.advance(1)
    assert len(calls) == 1
    detach()


async def test_state_trigger_for_keeps_one_timer_per_entity(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    hub.states.set("input_number.minutes", "2")
    detach = await attach(
        hub, engine,
        [{"trigger": "state", "entity_id": ["switch.a", "switch.b"], "to": "on",
          "for": {"minutes": "{{ states('input_number.minutes') }}"}}],
        calls,
    )
    hub.states.set("switch.a", "on")
    await clock.advance(60)
    hub.states.set("switch.b", "on")
    await clock.advance(60)
    assert [t["entity_id"] for t in calls.triggers] == ["switch.a"]
    hub.states.set("switch.a", "off")
    await clock.advance(60)
    assert [t["entity_id"] for t in calls.triggers] == ["switch.a", "switch.b"]
    detach()


async def test_state_trigger_from_without_to_holds_until_it_goes_back(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    hub.states.set("lock.front", "locked")
    detach = await attach(
        hub, engine,
        [{"trigger": "state", "entity_id": "lock.front", "from": "locked", "for": 60}],
        calls,
    )
    hub.states.set("lock.front", "unlocking")
    await clock.advance(30)
    hub.states.set("lock.front", "unlocked")  # still not locked
    await clock.advance(30)
    assert [t["to_state"].state for t in calls.triggers] == ["unlocked"]
    hub.states.set("lock.front", "locked")
    hub.states.set("lock.front", "jammed")
    await clock.advance(30)
    hub.states.set("lock.front", "locked")  # went back: cancelled
    await clock.advance(60)
    assert len(calls) == 1
    detach()


# -- numeric_state ------------------------------------------------------------------------


async def test_numeric_state_fires_on_the_crossing_only(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    hub.states.set("sensor.cistern_level", "50")
    detach = await attach(
        hub, engine, [{"trigger": "numeric_state", "entity_id": "sensor.cistern_level", "below": 20}], calls
    )
    for value in ("30", "19", "15", "10", "19.9"):  # crosses once, then stays in range
        hub.states.set("sensor.cistern_level", value)
    assert [t["to_state"].state for t in calls.triggers] == ["19"]
    assert calls.triggers[0]["from_state"].state == "30"
    assert calls.triggers[0]["description"] == "numeric state of sensor.cistern_level below 20"
    hub.states.set("sensor.cistern_level", "25")
    hub.states.set("sensor.cistern_level", "5")
    assert [t["to_state"].state for t in calls.triggers] == ["19", "5"]
    detach()


async def test_numeric_state_already_in_range_waits_for_a_crossing(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    hub.states.set("sensor.gas", "5")
    detach = await attach(
        hub, engine, [{"trigger": "numeric_state", "entity_id": "sensor.gas", "above": 1, "below": 10}], calls
    )
    hub.states.set("sensor.gas", "6")
    assert len(calls) == 0
    hub.states.set("sensor.gas", "10")  # the upper bound is exclusive: out of range
    hub.states.set("sensor.gas", "9")
    assert [t["to_state"].state for t in calls.triggers] == ["9"]
    detach()


async def test_numeric_state_ignores_what_is_not_a_number(
    hub: Hub, engine: TemplateEngine, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine, [{"trigger": "numeric_state", "entity_id": "sensor.level", "above": 80}], calls
    )
    with caplog.at_level(logging.ERROR):
        for value in ("unknown", "unavailable", "", "high", "nan"):
            hub.states.set("sensor.level", value)
        assert len(calls) == 0
        hub.states.set("sensor.level", "90")  # from no number to in range is a crossing
        assert len(calls) == 1
        hub.states.set("sensor.level", "unavailable")
        hub.states.set("sensor.level", "91")
        assert len(calls) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    detach()


async def test_numeric_state_entity_limits_attribute_and_template(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    hub.states.set("input_number.low", "20")
    hub.states.set("sensor.tank", "ok", {"litres": 5000})
    detach = await attach(
        hub, engine,
        [
            {"trigger": "numeric_state", "entity_id": "sensor.level", "below": "input_number.low", "id": "entity"},
            {"trigger": "numeric_state", "entity_id": "sensor.tank", "attribute": "litres", "below": 1000,
             "id": "attribute"},
            {"trigger": "numeric_state", "entity_id": "sensor.tank", "below": 10, "id": "template",
             "value_template": "{{ state.attributes.litres / 100 }}"},
        ],
        calls,
    )
    hub.states.set("sensor.level", "25")
    hub.states.set("input_number.low", "30")  # the limit is read when the level changes
    hub.states.set("sensor.level", "26")
    hub.states.set("sensor.tank", "ok", {"litres": 900})
    assert [t["id"] for t in calls.triggers] == ["entity", "attribute", "template"]
    hub.states.set("sensor.tank", "ok", {})  # no attribute: out of range, the template fails quietly
    hub.states.set("sensor.tank", "ok", {"litres": 950})
    assert [t["id"] for t in calls.triggers] == ["entity", "attribute", "template", "attribute", "template"]
    detach()


async def test_numeric_state_for_is_cancelled_when_leaving_the_range(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    hub.states.set("sensor.cistern_level", "50")
    baseline = clock.pending
    detach = await attach(
        hub, engine,
        [{"trigger": "numeric_state", "entity_id": "sensor.cistern_level", "below": 20, "for": {"minutes": 10}}],
        calls,
    )
    hub.states.set("sensor.cistern_level", "15")
    await clock.advance(300)
    hub.states.set("sensor.cistern_level", "12")  # still in range: the same wait goes on
    await clock.advance(200)
    hub.states.set("sensor.cistern_level", "21")  # left the range: cancelled
    assert clock.pending == baseline
    await clock.advance(600)
    assert len(calls) == 0
    hub.states.set("sensor.cistern_level", "18")
    await clock.advance(600)
    assert len(calls) == 1
    trigger = calls.triggers[0]
    assert trigger["for"] == timedelta(minutes=10) and trigger["to_state"].state == "18"
    assert trigger["description"] == "numeric state of sensor.cistern_level below 20 for 0:10:00"
    detach()


# -- time ---------------------------------------------------------------------------------


async def test_time_trigger_fires_at_local_time_each_day(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    calls = Calls()
    # the clock starts at 2026-01-15 12:00 UTC, 06:00 in Mexico City
    detach = await attach(hub, engine, [{"trigger": "time", "at": "07:00"}], calls)
    await clock.advance_to(local(2026, 1, 15, 6, 59, 59))
    assert len(calls) == 0
    await clock.advance(1)
    assert len(calls) == 1
    trigger = calls.triggers[0]
    assert trigger["platform"] == "time" and trigger["description"] == "time 07:00"
    assert trigger["now"] == local(2026, 1, 15, 7, 0)
    assert trigger["now"].tzinfo == MEXICO
    assert calls.calls[0][1] is None
    await clock.advance_to(local(2026, 1, 16, 7, 0))
    assert [t["now"] for t in calls.triggers] == [local(2026, 1, 15, 7, 0), local(2026, 1, 16, 7, 0)]
    detach()


async def test_time_trigger_list_of_times(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    calls = Calls()
    detach = await attach(hub, engine, [{"trigger": "time", "at": ["06:30", time(6, 10, 30), "07:00:05"]}], calls)
    await clock.advance(3600)
    assert [t["now"].time() for t in calls.triggers] == [time(6, 10, 30), time(6, 30)]
    await clock.advance(5)
    assert len(calls) == 3
    detach()


async def test_time_trigger_at_an_entity(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    calls = Calls()
    hub.states.set("sensor.next_delivery", "2026-01-15T06:20:00-06:00")
    hub.states.set("input_datetime.wake", "06:40:00")
    baseline = clock.pending
    detach = await attach(
        hub, engine, [{"trigger": "time", "at": ["sensor.next_delivery", "input_datetime.wake"]}], calls
    )
    assert clock.pending == baseline + 2
    hub.states.set("sensor.next_delivery", "2026-01-15T06:10:00-06:00")  # moved earlier: rescheduled
    await clock.advance(3600)
    assert [t["now"].time() for t in calls.triggers] == [time(6, 10), time(6, 40)]
    hub.states.set("sensor.next_delivery", "unknown")
    detach()
    assert clock.pending == baseline


# -- time_pattern -------------------------------------------------------------------------


async def test_time_pattern_every_fifteen_minutes(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    calls = Calls()
    baseline = clock.pending
    detach = await attach(hub, engine, [{"trigger": "time_pattern", "minutes": "/15"}], calls)
    assert clock.pending == baseline + 1  # one timer for the next match, not a tick every second
    await clock.advance(3600)
    assert [t["now"] for t in calls.triggers] == [
        local(2026, 1, 15, 6, 15), local(2026, 1, 15, 6, 30), local(2026, 1, 15, 6, 45), local(2026, 1, 15, 7, 0),
    ]
    assert calls.triggers[0]["description"] == "time pattern minutes=/15"
    assert clock.pending == baseline + 1
    detach()
    assert clock.pending == baseline


async def test_time_pattern_forms(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine,
        [
            {"trigger": "time_pattern", "hours": 7, "id": "seven"},  # 07:00:00 every day
            {"trigger": "time_pattern", "seconds": "/20", "id": "seconds"},
            {"trigger": "time_pattern", "hours": "*", "minutes": 30, "id": "half"},
        ],
        calls,
    )
    await clock.advance(60)
    assert [t["id"] for t in calls.triggers] == ["seconds"] * 3
    await clock.advance(3600)
    ids = [t["id"] for t in calls.triggers]
    assert ids.count("half") == 1 and ids.count("seven") == 1 and ids.count("seconds") == 3 + 180
    assert [t["now"] for t in calls.triggers if t["id"] == "seven"] == [local(2026, 1, 15, 7, 0)]
    detach()


def test_next_pattern_match() -> None:
    every = list(range(60))
    start = local(2026, 1, 15, 6, 0, 0)
    assert next_pattern_match(start, list(range(24)), [0, 15, 30, 45], [0]) == local(2026, 1, 15, 6, 15)
    assert next_pattern_match(start, list(range(24)), every, every) == local(2026, 1, 15, 6, 0, 1)
    assert next_pattern_match(start.replace(microsecond=500), [6], [0], [0]) == local(2026, 1, 16, 6, 0)
    assert next_pattern_match(local(2026, 12, 31, 23, 59, 59), [0], [0], [0]) == local(2027, 1, 1, 0, 0)
    # a wall time skipped by a DST jump fires at the same instant after the jump
    new_york = ZoneInfo("America/New_York")
    before_jump = datetime(2026, 3, 8, 1, 59, tzinfo=new_york)
    moment = next_pattern_match(before_jump, [2], [30], [0])
    assert moment.timestamp() == datetime(2026, 3, 8, 3, 30, tzinfo=new_york).timestamp()


# -- event --------------------------------------------------------------------------------


async def test_event_trigger_with_data_match(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine,
        [{"trigger": "event", "event_type": ["doorbell", "knock"],
          "event_data": {"door": "front", "device": {"kind": "{{ kind }}"}}}],
        calls,
        variables={"kind": "button"},
    )
    cause = Context(user_id="guest")
    hub.bus.fire("doorbell", {"door": "back", "device": {"kind": "button"}})
    hub.bus.fire("doorbell", {"door": "front"})
    hub.bus.fire("doorbell", {"door": "front", "device": {"kind": "knocker"}})
    hub.bus.fire("doorbell", {"door": "front", "device": {"kind": "button", "id": 3}, "extra": 1}, context=cause)
    hub.bus.fire("knock", {"door": "front", "device": {"kind": "button"}})
    hub.bus.fire("other", {"door": "front", "device": {"kind": "button"}})
    assert [t["event"]["event_type"] for t in calls.triggers] == ["doorbell", "knock"]
    event = calls.triggers[0]["event"]
    assert event["data"] == {"door": "front", "device": {"kind": "button", "id": 3}, "extra": 1}
    assert event["context_id"] == cause.id and event["context"]["user_id"] == "guest"
    assert calls.calls[0][1] is cause
    assert calls.triggers[0]["platform"] == "event"
    detach()


async def test_event_trigger_without_data_matches_every_event_of_the_type(
    hub: Hub, engine: TemplateEngine
) -> None:
    calls = Calls()
    detach = await attach(hub, engine, [{"trigger": "event", "event_type": "tank_refilled", "id": "refill"}], calls)
    hub.bus.fire("tank_refilled")
    hub.bus.fire("tank_refilled", {"litres": 5000})
    assert [t["id"] for t in calls.triggers] == ["refill", "refill"]
    assert calls.triggers[1]["event"]["data"] == {"litres": 5000}
    detach()


# -- attaching and detaching --------------------------------------------------------------


ALL_KINDS: list[dict[str, Any]] = [
    {"trigger": "state", "entity_id": "binary_sensor.door", "to": "on", "for": 60},
    {"trigger": "numeric_state", "entity_id": "sensor.level", "below": 20, "for": 60},
    {"trigger": "time", "at": ["07:00", "sensor.when"]},
    {"trigger": "time_pattern", "minutes": "/5"},
    {"trigger": "event", "event_type": "doorbell", "event_data": {"door": "{{ 'front' }}"}},
]


async def test_detach_removes_every_listener_and_timer(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    calls = Calls()
    hub.states.set("sensor.level", "50")
    listeners, timers = hub.bus.listener_count(), clock.pending
    detach = await attach(hub, engine, ALL_KINDS, calls)
    assert hub.bus.listener_count() != listeners
    hub.states.set("binary_sensor.door", "on")  # starts a `for:` timer
    hub.states.set("sensor.level", "10")  # and another
    assert clock.pending > timers
    detach()
    assert hub.bus.listener_count() == listeners
    assert clock.pending == timers
    detach()  # a second detach does nothing
    hub.states.set("binary_sensor.door", "off")
    hub.states.set("binary_sensor.door", "on")
    hub.bus.fire("doorbell", {"door": "front"})
    await clock.advance(3601)  # past 07:00, several /5 minutes and both `for:` waits
    assert len(calls) == 0


async def test_disabled_triggers_are_skipped_and_ids_kept(hub: Hub, engine: TemplateEngine) -> None:
    calls = Calls()
    detach = await attach(
        hub, engine,
        [
            {"trigger": "event", "event_type": "a", "enabled": False},
            {"trigger": "event", "event_type": "a"},
            {"platform": "event", "event_type": "a", "id": "old_style"},  # the older key works too
        ],
        calls,
    )
    hub.bus.fire("a")
    assert [(t["id"], t["idx"]) for t in calls.triggers] == [("1", "1"), ("old_style", "2")]
    detach()


async def test_a_bad_trigger_raises_and_detaches_the_others(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    listeners, timers = hub.bus.listener_count(), clock.pending
    cases: list[tuple[dict[str, Any], str]] = [
        ({"trigger": "sun", "event": "sunset"}, "unknown trigger type 'sun'"),
        ({"trigger": "state"}, "'entity_id' is required"),
        ({"trigger": "numeric_state", "entity_id": "sensor.x"}, "give above, below or both"),
        ({"trigger": "time", "at": "7 am"}, "invalid time of day"),
        ({"trigger": "time_pattern", "minutes": "/0"}, "minutes: expected"),
        ({"trigger": "time_pattern", "hours": 24}, "hours: 24 is out of range 0-23"),
        ({"trigger": "time_pattern"}, "give hours, minutes or seconds"),
        ({"trigger": "state", "entity_id": "a.b", "for": "later"}, "invalid duration"),
        ({"trigger": "event", "event_type": "x", "event_data": ["a"]}, "event_data must be a mapping"),
        ({"trigger": "event", "event_type": "x", "event_data": {"a": "{{ 1 + }}"}}, "template syntax error"),
    ]
    for bad, message in cases:
        with pytest.raises(AutomationError, match=message) as info:
            await attach(hub, engine, [*ALL_KINDS, bad], Calls())
        assert str(info.value).startswith("automation 'test' trigger 5: "), str(info.value)
        assert hub.bus.listener_count() == listeners
        assert clock.pending == timers


async def test_a_failing_action_is_logged_and_the_trigger_stays(
    hub: Hub, engine: TemplateEngine, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def action(variables: dict[str, Any], context: Context | None) -> None:
        seen.append(variables["trigger"]["event"]["event_type"])
        raise RuntimeError("boom")

    detach = await attach(hub, engine, [{"trigger": "event", "event_type": "ping"}], action)
    with caplog.at_level(logging.ERROR, logger="hub.automation.triggers"):
        hub.bus.fire("ping")
        hub.bus.fire("ping")
    assert seen == ["ping", "ping"]
    assert "Automation test: the action of trigger 0 raised" in caplog.text
    detach()


async def test_an_action_returning_a_coroutine_is_run(hub: Hub, engine: TemplateEngine) -> None:
    done = asyncio.Event()

    async def run() -> None:
        done.set()

    detach = await attach(hub, engine, [{"trigger": "event", "event_type": "go"}], lambda variables, context: run())
    hub.bus.fire("go")
    await asyncio.wait_for(done.wait(), 5)
    detach()


def test_describe_trigger() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"trigger": "state", "entity_id": "sensor.x", "to": "on"}, "state of sensor.x to 'on'"),
        ({"trigger": "state", "entity_id": ["a.b", "c.d"], "from": "off", "to": True, "for": {"minutes": 10}},
         "state of a.b, c.d from 'off' to 'on' for 0:10:00"),
        ({"trigger": "numeric_state", "entity_id": "sensor.x", "above": 1.5, "below": "input_number.y"},
         "numeric state of sensor.x above 1.5 below 'input_number.y'"),
        ({"trigger": "time", "at": ["07:00", time(22, 30)]}, "time 07:00, 22:30"),
        ({"trigger": "time_pattern", "minutes": "/5"}, "time pattern minutes=/5"),
        ({"trigger": "event", "event_type": "doorbell", "event_data": {"door": "front"}},
         "event doorbell with {'door': 'front'}"),
        ({"platform": "mqtt", "topic": "x"}, "mqtt trigger"),
        ({"trigger": "state"}, "state of ?"),
        ({"trigger": "event", "event_type": "x", "event_data": ["a"]}, "event x with ['a']"),
    ]
    for config, expected in cases:
        assert describe_trigger(config) == expected
