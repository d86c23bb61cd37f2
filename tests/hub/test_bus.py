"""Event bus: delivery, filters, match-all, once, contexts, failing listeners."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.bus import MATCH_ALL, Bus, Context, Event, EventOrigin, new_id


def make_bus() -> Bus:
    return Bus(clock_time=lambda: 1234.5)


def test_sync_listener_receives_event_inline() -> None:
    bus = make_bus()
    seen: list[Event] = []
    bus.listen("tank_low", seen.append)
    ctx = Context(user_id="u1", origin="modbus_tank")
    bus.fire("tank_low", {"entity_id": "sensor.cistern"}, context=ctx)
    assert len(seen) == 1
    event = seen[0]
    assert (event.event_type, dict(event.data), event.time_fired, event.origin) == (
        "tank_low",
        {"entity_id": "sensor.cistern"},
        1234.5,
        EventOrigin.local,
    )
    assert event.context is ctx


def test_unlisten_stops_delivery_and_is_idempotent() -> None:
    bus = make_bus()
    seen: list[str] = []
    unlisten = bus.listen("x", lambda e: seen.append(e.event_type))
    bus.fire("x")
    unlisten()
    unlisten()
    bus.fire("x")
    assert seen == ["x"]
    assert bus.listener_count() == {}


def test_filter_rejects_and_accepts() -> None:
    bus = make_bus()
    seen: list[int] = []
    bus.listen("n", lambda e: seen.append(e.data["v"]), event_filter=lambda d: d["v"] % 2 == 0)
    for v in range(6):
        bus.fire("n", {"v": v})
    assert seen == [0, 2, 4]


def test_match_all_sees_every_type_after_specific_listeners() -> None:
    bus = make_bus()
    order: list[str] = []
    bus.listen(MATCH_ALL, lambda e: order.append(f"all:{e.event_type}"))
    bus.listen("a", lambda e: order.append("a"))
    bus.fire("a")
    bus.fire("b")
    assert order == ["a", "all:a", "all:b"]


def test_listen_once_runs_once_even_when_refired_from_inside() -> None:
    bus = make_bus()
    seen: list[int] = []

    def listener(event: Event) -> None:
        seen.append(event.data["n"])
        if event.data["n"] == 0:
            bus.fire("once", {"n": 1})  # re-entrant fire must not deliver to a spent once-listener

    bus.listen_once("once", listener)
    bus.fire("once", {"n": 0})
    bus.fire("once", {"n": 2})
    assert seen == [0]


def test_failing_listener_is_logged_with_owner_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = make_bus()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.listen("x", broken, owner="modbus_tank")
    bus.listen("x", lambda e: seen.append("second"))
    with caplog.at_level(logging.ERROR):
        bus.fire("x")
    assert seen == ["second"]
    assert "integration modbus_tank" in caplog.text
    assert "RuntimeError: boom" in caplog.text


def test_failing_filter_skips_only_that_listener(caplog: pytest.LogCaptureFixture) -> None:
    bus = make_bus()
    seen: list[str] = []
    bus.listen("x", lambda e: seen.append("a"), event_filter=lambda d: d["missing"], owner="alarm_panel")
    bus.listen("x", lambda e: seen.append("b"))
    with caplog.at_level(logging.ERROR):
        bus.fire("x", {})
    assert seen == ["b"]
    assert "alarm_panel" in caplog.text


async def test_coroutine_listener_runs_as_named_task_and_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks: list[asyncio.Task[None]] = []

    def factory(coro, name):  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro, name=name)
        tasks.append(task)
        return task

    bus = Bus(clock_time=lambda: 0.0, task_factory=factory)
    seen: list[int] = []

    async def listener(event: Event) -> None:
        await asyncio.sleep(0)
        if event.data["n"] == 1:
            raise ValueError("bad reading")
        seen.append(event.data["n"])

    bus.listen("r", listener, owner="ble_climate")
    with caplog.at_level(logging.ERROR):
        for n in range(3):
            bus.fire("r", {"n": n})
        await asyncio.gather(*tasks)
    assert sorted(seen) == [0, 2]
    assert [t.get_name() for t in tasks] == ["listener:ble_climate:r"] * 3
    assert "integration ble_climate" in caplog.text and "bad reading" in caplog.text


def test_unlisten_during_delivery_does_not_skip_others() -> None:
    bus = make_bus()
    seen: list[str] = []
    unsubs: list = []

    def first(event: Event) -> None:
        seen.append("first")
        unsubs[0]()

    unsubs.append(bus.listen("x", first))
    bus.listen("x", lambda e: seen.append("second"))
    bus.fire("x")
    bus.fire("x")
    assert seen == ["first", "second", "second"]


def test_context_chain_traces_back_to_origin() -> None:
    reading = Context(origin="modbus_tank")
    automation = reading.child(origin="automation.low_water")
    order = automation.child(origin="resupply")
    assert order.parent_id == automation.id and automation.parent_id == reading.id
    assert order.as_dict() == {"id": order.id, "user_id": None, "parent_id": automation.id, "origin": "resupply"}
    assert len({reading.id, automation.id, order.id}) == 3


def test_event_context_is_lazy_but_stable() -> None:
    event = Event("x")
    assert event.context is event.context
    assert event.as_dict()["context"]["id"] == event.context.id


def test_new_id_sorts_by_time() -> None:
    ids = [new_id() for _ in range(50)]
    assert all(len(i) == 26 for i in ids)
    assert len(set(ids)) == 50
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
