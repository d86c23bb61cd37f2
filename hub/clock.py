"""Time for the hub: a real clock, a manual clock for tests, and timers built on either.

Everything in the hub that waits or schedules goes through a `Clock`, so a test can
drive hours of polling, automations and retries in milliseconds with `ManualClock`.
Monotonic time orders timers; wall time (`time()`, `now()`) is what users see.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Callable
from datetime import datetime, time as dtime, timedelta, timezone, tzinfo
from typing import Any

UTC = timezone.utc

TimerCallback = Callable[..., Any]


class Timer:
    """A scheduled callback that can be cancelled; returned by every scheduling call."""

    __slots__ = ("when", "callback", "args", "cancelled", "_handle", "_seq")

    def __init__(self, when: float, callback: TimerCallback, args: tuple[Any, ...], seq: int) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False
        self._handle: asyncio.TimerHandle | None = None
        self._seq = seq

    def cancel(self) -> None:
        """Stop the callback from running; safe to call more than once."""
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self._seq) < (other.when, other._seq)

    def _run(self) -> None:
        if not self.cancelled:
            self.cancelled = True  # a one-shot timer is spent once it runs
            self.callback(*self.args)


class Clock:
    """Interface every clock implements; timers and helpers are built on `call_at`."""

    _seq = itertools.count()

    def time(self) -> float:
        """Wall-clock seconds since the epoch (UTC)."""
        raise NotImplementedError

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; timers use this."""
        raise NotImplementedError

    def call_at(self, when: float, callback: TimerCallback, *args: Any) -> Timer:
        """Run `callback(*args)` on the event loop at monotonic time `when`."""
        raise NotImplementedError

    async def sleep(self, delay: float) -> None:
        """Wait `delay` seconds of this clock's time."""
        raise NotImplementedError

    def now(self, tz: tzinfo | None = None) -> datetime:
        """The current wall time as an aware datetime (UTC unless `tz` is given)."""
        return datetime.fromtimestamp(self.time(), tz or UTC)

    def call_later(self, delay: float, callback: TimerCallback, *args: Any) -> Timer:
        """Run `callback(*args)` once, `delay` seconds from now."""
        return self.call_at(self.monotonic() + max(0.0, delay), callback, *args)

    def every(self, interval: float | timedelta, callback: TimerCallback, *args: Any) -> Repeating:
        """Run `callback(*args)` every `interval`, on a fixed grid so it does not drift."""
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
        if seconds <= 0:
            raise ValueError(f"interval must be positive, got {seconds}")
        return _Every(self, seconds, callback, args)

    def at_time_of_day(
        self, when: dtime, callback: TimerCallback, *args: Any, tz: tzinfo | None = None
    ) -> Repeating:
        """Run `callback(*args)` every day at local time `when` in `tz`."""
        return _Daily(self, when, tz or UTC, callback, args)


class Repeating:
    """Handle of a repeating timer."""

    def __init__(self, clock: Clock, callback: TimerCallback, args: tuple[Any, ...]) -> None:
        self._clock = clock
        self._callback = callback
        self._args = args
        self._timer: Timer | None = None
        self.cancelled = False

    def cancel(self) -> None:
        """Stop all future runs."""
        self.cancelled = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def next_run(self) -> float | None:
        """Monotonic time of the next run, or None once cancelled."""
        return None if self._timer is None else self._timer.when

    def _fire(self) -> None:
        if self.cancelled:
            return
        # Re-arm before calling so a callback that raises still keeps the schedule.
        self._arm()
        self._callback(*self._args)

    def _arm(self) -> None:
        raise NotImplementedError


class _Every(Repeating):
    def __init__(self, clock: Clock, interval: float, callback: TimerCallback, args: tuple[Any, ...]) -> None:
        super().__init__(clock, callback, args)
        self._interval = interval
        self._next = clock.monotonic() + interval
        self._timer = clock.call_at(self._next, self._fire)

    def _arm(self) -> None:
        now = self._clock.monotonic()
        self._next += self._interval
        if self._next <= now:  # the loop was blocked past whole intervals: skip them, do not burst
            missed = int((now - self._next) // self._interval) + 1
            self._next += missed * self._interval
        self._timer = self._clock.call_at(self._next, self._fire)


class _Daily(Repeating):
    def __init__(
        self, clock: Clock, when: dtime, tz: tzinfo, callback: TimerCallback, args: tuple[Any, ...]
    ) -> None:
        super().__init__(clock, callback, args)
        self._when = when
        self._tz = tz
        self._arm()

    def next_wall_time(self) -> datetime:
        """The next wall time (aware) this timer fires at, strictly after now."""
        return next_time_of_day(self._clock.now(self._tz), self._when)

    def _arm(self) -> None:
        target = self.next_wall_time()
        delay = target.timestamp() - self._clock.time()
        self._timer = self._clock.call_later(delay, self._fire)


def next_time_of_day(now: datetime, when: dtime) -> datetime:
    """First moment strictly after `now` whose local wall time is `when`.

    A wall time that does not exist on a spring-forward day runs at the equivalent
    instant after the jump (fold rules of zoneinfo); a repeated wall time on a
    fall-back day runs once, on its first occurrence.
    """
    tz = now.tzinfo
    day = now.date()
    for offset in range(0, 3):
        candidate = datetime.combine(day + timedelta(days=offset), when, tzinfo=tz)
        # Round-trip through UTC to normalise wall times that do not exist in tz.
        candidate = candidate.astimezone(UTC).astimezone(tz)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a time of day recurs within two days")


class RealClock(Clock):
    """The clock of the running process, scheduling on the asyncio loop."""

    # The builtin itself, not a method wrapping it: the bus calls this once per event.
    time = staticmethod(_time.time)

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def call_at(self, when: float, callback: TimerCallback, *args: Any) -> Timer:
        timer = Timer(when, callback, args, next(self._seq))
        timer._handle = asyncio.get_running_loop().call_at(when, timer._run)
        return timer

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


class ManualClock(Clock):
    """A clock that only moves when a test calls `advance`; timers run in time order."""

    def __init__(self, start: datetime | float | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
        self._wall = start.timestamp() if isinstance(start, datetime) else float(start)
        self._mono = 1000.0
        self._timers: list[Timer] = []

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def call_at(self, when: float, callback: TimerCallback, *args: Any) -> Timer:
        timer = Timer(when, callback, args, next(self._seq))
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await fut
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Number of timers still waiting to run."""
        return sum(1 for t in self._timers if not t.cancelled)

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward, running every timer that falls due, in order.

        Between timers the event loop gets to run, so tasks woken by a timer can
        schedule the next one before time moves on.
        """
        delta = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if delta < 0:
            raise ValueError("a manual clock never goes backwards")
        target = self._mono + delta
        await _settle()
        while self._timers:
            timer = self._timers[0]
            if timer.cancelled:
                heapq.heappop(self._timers)
                continue
            if timer.when > target:
                break
            heapq.heappop(self._timers)
            self._step_to(timer.when)
            timer._run()
            await _settle()
        self._step_to(target)
        await _settle()

    async def advance_to(self, moment: datetime) -> None:
        """Advance until the wall clock reads `moment`."""
        await self.advance(max(0.0, moment.timestamp() - self._wall))

    def _step_to(self, mono: float) -> None:
        if mono > self._mono:
            self._wall += mono - self._mono
            self._mono = mono


async def _settle(rounds: int = 10) -> None:
    """Let callbacks and tasks that are ready run a few loop iterations."""
    for _ in range(rounds):
        await asyncio.sleep(0)
