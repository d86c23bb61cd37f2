"""Scopes: everything an integration starts is released when it unloads."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.bus import EVENT_STATE_CHANGED
from hub.clock import ManualClock
from hub.runtime import Hub


async def test_scope_releases_listeners_timers_tasks_services(hub: Hub, clock: ManualClock) -> None:
    before = hub.bus.listener_count()
    scoped = hub.scoped("example")
    ticks: list[float] = []
    cleaned: list[str] = []
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    scoped.bus.listen("x", lambda e: None)
    scoped.track_states("sensor.a", lambda e: None)
    scoped.clock.every(5, lambda: ticks.append(clock.monotonic()))
    scoped.clock.call_later(100, lambda: ticks.append(-1))
    task = scoped.create_task(forever(), "poll")
    scoped.services.register("example", "ping", lambda call: None)

    async def async_cleanup() -> None:
        cleaned.append("async")

    scoped.on_unload(lambda: cleaned.append("sync"))
    scoped.on_unload(async_cleanup)
    await started.wait()
    await clock.advance(10)
    assert ticks == [1005.0, 1010.0]
    assert task.get_name() == "example:poll"
    assert scoped.scope.resource_count() == 8

    await scoped.scope.close()
    assert task.cancelled()
    assert cleaned == ["async", "sync"]  # reverse order of registration
    assert not hub.services.has("example", "ping")
    assert hub.bus.listener_count() == before
    assert EVENT_STATE_CHANGED not in hub.bus.listener_count()
    await clock.advance(200)
    assert ticks == [1005.0, 1010.0]
    with pytest.raises(RuntimeError, match="closed"):
        scoped.scope.on_close(lambda: None)


async def test_failed_task_logged_with_owner(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    scoped = hub.scoped("modbus_tank")

    async def broken() -> None:
        raise OSError("serial port vanished")

    with caplog.at_level(logging.ERROR):
        task = scoped.create_task(broken(), "reader")
        with pytest.raises(OSError):
            await task
    assert "Task modbus_tank:reader of modbus_tank failed" in caplog.text


async def test_child_scope_closes_alone_or_with_parent(hub: Hub) -> None:
    parent = hub.scoped("resupply")
    child = parent.scoped("resupply:entry1")
    child.bus.listen("a", lambda e: None)
    assert parent.scope.resource_count() == 1
    await child.scope.close()
    assert parent.scope.resource_count() == 0
    other = parent.scoped("resupply:entry2")
    other.bus.listen("b", lambda e: None)
    await parent.scope.close()
    assert other.scope.closed and "b" not in hub.bus.listener_count()


async def test_scoped_listener_errors_name_the_integration(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    scoped = hub.scoped("ble_climate")
    scoped.bus.listen("adv", lambda e: {}["missing"])
    with caplog.at_level(logging.ERROR):
        hub.bus.fire("adv")
    assert "integration ble_climate" in caplog.text
    await scoped.scope.close()


async def test_scoped_hub_passes_through_hub_parts(hub: Hub) -> None:
    scoped = hub.scoped("x")
    assert scoped.db is hub.db and scoped.states is hub.states and scoped.config_dir == hub.config_dir
    with pytest.raises(AttributeError):
        scoped._private  # noqa: B018
    await scoped.scope.close()


async def test_timers_that_ran_or_were_cancelled_are_not_kept(hub: Hub, clock: ManualClock) -> None:
    """A timer every few seconds for months must not grow the scope (time_pattern, `for:`)."""
    scoped = hub.scoped("ticker")
    fired: list[int] = []
    for n in range(1000):
        scoped.clock.call_later(1.0, fired.append, n)
        await clock.advance(1.0)
    for n in range(1000):
        scoped.clock.call_later(5.0, fired.append, -1).cancel()
    assert len(fired) == 1000 and scoped.clock.pending_timers == 0
    assert scoped.scope.resource_count() < 200  # was one cleanup per timer
    late = scoped.clock.call_later(60.0, fired.append, -2)
    await scoped.scope.close()
    assert late.cancelled
    await clock.advance(120.0)
    assert -2 not in fired
