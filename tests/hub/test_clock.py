"""Clocks and timers: manual time drives timers in order, intervals do not drift."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from hub.clock import ManualClock, RealClock, next_time_of_day

MX = ZoneInfo("America/Mexico_City")
NY = ZoneInfo("America/New_York")


async def test_call_later_runs_in_order_at_the_right_time(clock: ManualClock) -> None:
    fired: list[tuple[str, float]] = []
    start = clock.monotonic()
    clock.call_later(5, lambda: fired.append(("b", clock.monotonic() - start)))
    clock.call_later(2, lambda: fired.append(("a", clock.monotonic() - start)))
    cancelled = clock.call_later(3, lambda: fired.append(("x", 0)))
    cancelled.cancel()
    await clock.advance(4)
    assert fired == [("a", 2.0)]
    await clock.advance(10)
    assert fired == [("a", 2.0), ("b", 5.0)]
    assert clock.monotonic() - start == 14.0


async def test_wall_time_moves_with_monotonic(clock: ManualClock) -> None:
    t0 = clock.time()
    await clock.advance(timedelta(hours=2))
    assert clock.time() - t0 == 7200.0
    assert clock.now() == datetime(2026, 1, 15, 14, 0, tzinfo=timezone.utc)


async def test_sleep_wakes_when_advanced(clock: ManualClock) -> None:
    woke: list[float] = []

    async def sleeper() -> None:
        await clock.sleep(30)
        woke.append(clock.monotonic())

    task = asyncio.create_task(sleeper())
    await clock.advance(29)
    assert woke == []
    await clock.advance(1)
    assert woke == [1030.0]
    await task


async def test_task_woken_by_timer_can_schedule_next_before_time_moves_on(clock: ManualClock) -> None:
    ticks: list[float] = []

    async def poller() -> None:
        for _ in range(5):
            await clock.sleep(10)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(poller())
    await clock.advance(3600)  # one hour in one call: the loop ran between timers
    assert ticks == [1010.0, 1020.0, 1030.0, 1040.0, 1050.0]
    await task


async def test_every_keeps_grid_and_survives_a_raising_callback(clock: ManualClock) -> None:
    calls: list[float] = []

    def cb() -> None:
        calls.append(clock.monotonic())
        if len(calls) == 2:
            raise RuntimeError("poll failed")

    handle = clock.every(10, cb)
    with pytest.raises(RuntimeError):
        await clock.advance(25)  # the manual clock surfaces the error to the test
    await clock.advance(20)
    assert calls == [1010.0, 1020.0, 1030.0, 1040.0]
    handle.cancel()
    await clock.advance(100)
    assert len(calls) == 4 and clock.pending == 0


async def test_every_rejects_non_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        clock.every(0, lambda: None)


async def test_at_time_of_day_local(clock: ManualClock) -> None:
    # 2026-01-15 12:00 UTC is 06:00 in Mexico City (UTC-6, no DST since 2022).
    runs: list[datetime] = []
    handle = clock.at_time_of_day(time(7, 30), lambda: runs.append(clock.now(MX)), tz=MX)
    await clock.advance(timedelta(days=2))
    assert [r.strftime("%Y-%m-%d %H:%M") for r in runs] == ["2026-01-15 07:30", "2026-01-16 07:30"]
    handle.cancel()


def test_next_time_of_day_across_dst() -> None:
    # New York springs forward 2026-03-08 02:00 -> 03:00: 02:30 does not exist that day.
    now = datetime(2026, 3, 8, 1, 0, tzinfo=NY)
    nxt = next_time_of_day(now, time(2, 30))
    assert nxt > now and nxt.utcoffset() == timedelta(hours=-4)
    # A normal day: the next 06:00 after 07:00 is tomorrow.
    now = datetime(2026, 5, 1, 7, 0, tzinfo=MX)
    assert next_time_of_day(now, time(6, 0)) == datetime(2026, 5, 2, 6, 0, tzinfo=MX)


async def test_advance_rejects_negative(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        await clock.advance(-1)


async def test_real_clock_call_later_and_cancel() -> None:
    clock = RealClock()
    fired = asyncio.Event()
    clock.call_later(0.001, fired.set)
    cancelled: list[int] = []
    clock.call_later(0.001, cancelled.append, 1).cancel()
    await asyncio.wait_for(fired.wait(), 2)
    await asyncio.sleep(0.01)
    assert cancelled == [] and abs(clock.time() - datetime.now(timezone.utc).timestamp()) < 1
