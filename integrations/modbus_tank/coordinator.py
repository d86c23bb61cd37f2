"""One coordinator per bus: serialised requests, the t3.5 gap, polling, availability, logging.

Every request on a bus goes through one asyncio lock, so a serial line (or a gateway in front of
one) has one outstanding request at a time, and at least t3.5 of silence separates two exchanges.
Each slave is polled at its own scan interval on the hub's clock; consecutive failures count per
slave, and a slave goes unavailable after `failures_before_unavailable` transient failures or at
once on a permanent one (exception 01/02/03, a reading that does not fit the profile). A lost port
or gateway is reopened with backoff 1, 2, 4 ... 60 s on the hub's clock, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .profiles import NoMeasurement, Profile, Reading, ReadingError, decode, read_plan
from .rtu import ModbusError, exchange_time, t35
from .transport import (
    BusUnavailable,
    CrcOrFrameError,
    SlaveException,
    SlaveTimeout,
    Transport,
    WrongUnit,
)

_LOGGER = logging.getLogger(__name__)

MAX_LOAD = 0.8  # share of the line the configured polling may use before we warn
BACKOFF_MAX_S = 60.0
SLAVE_LATENCY_S = 0.02  # typical reply latency of a sensor, added to each exchange in the load estimate

Listener = Callable[["Slave"], None]


def reason_text(error: ModbusError, failures: int) -> str:
    """What the dashboard shows as `unavailable_reason`."""
    if isinstance(error, SlaveTimeout):
        return f"timeout after {failures} tries"
    if isinstance(error, CrcOrFrameError):
        return "CRC error" if "crc" in str(error).lower() else f"frame error: {error}"
    if isinstance(error, WrongUnit):
        return f"wrong unit answered: {error}"
    if isinstance(error, SlaveException):
        return f"exception {error.code:02X} {error.meaning}"
    if isinstance(error, BusUnavailable):
        return f"bus unavailable: {error}"
    if isinstance(error, NoMeasurement):
        return "sensor reports no measurement"
    return str(error)


@dataclass(eq=False)
class Slave:
    """One polled device on the bus and what its last poll gave."""

    key: str
    unit: int
    profile: Profile
    scan_interval: float
    failures_before_unavailable: int = 3
    plan: list[tuple[int, int, int]] = field(default_factory=list)
    reading: Reading | None = None
    registers: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # consecutive
    error_count: int = 0  # total since setup
    last_error: ModbusError | None = None
    permanent: bool = False
    available: bool = True
    reason: str | None = None
    listeners: list[Listener] = field(default_factory=list)
    _inflight: asyncio.Event | None = None  # set when the running poll ends

    @property
    def _polling(self) -> bool:
        return self._inflight is not None and not self._inflight.is_set()

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


class BusCoordinator:
    """Owns one bus: its transport, its lock, its slaves' schedules and their availability."""

    def __init__(self, hub: Any, name: str, transport: Transport, *, baudrate: int | None = None) -> None:
        self.hub = hub
        self.name = name
        self.transport = transport
        self.baudrate = baudrate  # None on TCP: the gateway keeps the line timing
        self.gap_s = t35(baudrate) if baudrate else 0.0
        self.slaves: dict[str, Slave] = {}
        self._lock = asyncio.Lock()
        self._last_exchange_end: float | None = None
        self._timers: list[Any] = []
        self._reconnecting = False
        self._backoff = 1.0
        self._stopped = False
        self._tasks: set[asyncio.Task[Any]] = set()  # polls and reopen attempts, cancelled by stop()
        self.bus_error: BusUnavailable | None = None

    def add_slave(
        self, key: str, unit: int, profile: Profile, scan_interval: float, *,
        failures_before_unavailable: int = 3, extras: Sequence[str] = (),
    ) -> Slave:  # fmt: skip
        slave = Slave(key, unit, profile, scan_interval, failures_before_unavailable, read_plan(profile, extras))
        self.slaves[key] = slave
        return slave

    # -- load -----------------------------------------------------------------------------

    @property
    def load(self) -> float:
        """Share of the line the configured polling needs (serial only; 0 on TCP)."""
        if not self.baudrate:
            return 0.0
        busy = 0.0
        for slave in self.slaves.values():
            per_poll = sum(exchange_time(self.baudrate, 8, 5 + 2 * count, latency=SLAVE_LATENCY_S)
                           for _, _, count in slave.plan)  # fmt: skip
            busy += per_poll / slave.scan_interval
        return busy

    @property
    def overloaded(self) -> bool:
        return self.load > MAX_LOAD

    @property
    def load_message(self) -> str | None:
        if not self.overloaded:
            return None
        return (
            f"bus {self.name}: polling needs {self.load:.0%} of the line at {self.baudrate} baud "
            f"(limit {MAX_LOAD:.0%}); lengthen scan_interval or split the bus"
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the bus (or start reopening it) and schedule every slave's polls."""
        if self.overloaded:
            _LOGGER.warning("%s", self.load_message)
        try:
            await self.transport.connect()
        except BusUnavailable as err:
            self._bus_lost(err)
        for slave in self.slaves.values():
            self._timers.append(self.hub.clock.every(slave.scan_interval, self._schedule_poll, slave))
            self._schedule_poll(slave)

    async def stop(self) -> None:
        """Stop polling and close the port, without waiting behind queued polls.

        Polls already queued on the bus lock would each wait their gap (and a silent slave its
        timeout): with many slaves that outlasts the unload budget, so they are cancelled.
        """
        self._stopped = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        async with self._lock:
            await self.transport.close()

    def _schedule_poll(self, slave: Slave) -> None:
        if self._stopped or slave.permanent or slave._polling:
            return
        self._track(self.hub.create_task(self.async_poll(slave), f"poll {self.name}:{slave.unit}"))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests -------------------------------------------------------------------------

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]:
        """One read, alone on the bus, at least t3.5 after the previous exchange."""
        async with self._lock:
            if self.bus_error is not None:
                raise self.bus_error
            await self._keep_gap()
            try:
                return await self.transport.read(unit, function, address, count)
            except BusUnavailable as err:
                self._bus_lost(err)
                raise
            finally:
                self._last_exchange_end = self._exchange_end()

    def _exchange_end(self) -> float:
        """When the line went quiet: the reply's last bytes if the transport saw them, else now.

        The t3.5 silence counts from the end of the reply on the line, not from when pymodbus
        finished decoding it (measured: ~0.3 ms later, 2 % of an exchange at 19200 baud). The
        transport's time is only trusted if it is on this clock (a manual test clock is not).
        """
        now = self.hub.clock.monotonic()
        received = getattr(self.transport, "reply_received_at", None)
        if received is not None and now - 0.1 < received <= now:
            return float(received)
        return now

    async def _keep_gap(self) -> None:
        if self._last_exchange_end is None or not self.gap_s:
            return
        wait = self._last_exchange_end + self.gap_s - self.hub.clock.monotonic()
        if wait > 0:
            await self.hub.clock.sleep(wait)

    async def async_poll(self, slave: Slave) -> None:
        """Read the slave's plan, decode it and tell its listeners; never raises a ModbusError."""
        if slave._polling:
            assert slave._inflight is not None
            await slave._inflight.wait()  # a caller asking for a poll gets the one already running
            return
        done = slave._inflight = asyncio.Event()
        try:
            registers: dict[int, int] = {}
            for function, start, count in slave.plan:
                words = await self.read(slave.unit, function, start, count)
                registers.update(zip(range(start, start + count), words, strict=True))
            reading = decode(slave.profile, registers)
        except ModbusError as err:
            self._failed(slave, err)
        else:
            self._succeeded(slave, registers, reading)
        finally:
            done.set()
        for listener in list(slave.listeners):
            listener(slave)

    async def poll_all(self) -> None:
        for slave in list(self.slaves.values()):
            await self.async_poll(slave)

    def _succeeded(self, slave: Slave, registers: dict[int, int], reading: Reading) -> None:
        if not slave.available:
            _LOGGER.info("%s unit %d is back (%s)", self.name, slave.unit, slave.reason)
        slave.registers, slave.reading = registers, reading
        slave.failures, slave.available, slave.reason = 0, True, None

    def _failed(self, slave: Slave, err: ModbusError) -> None:
        slave.failures += 1
        slave.error_count += 1
        slave.last_error = err
        permanent = not err.transient or isinstance(err, ReadingError) and not isinstance(err, NoMeasurement)
        if permanent:
            slave.permanent = True  # a wrong profile does not fix itself; polls stop until reload
        if slave.available and (permanent or slave.failures >= slave.failures_before_unavailable):
            slave.available = False
            slave.reason = reason_text(err, slave.failures)
            _LOGGER.warning("%s unit %d unavailable: %s", self.name, slave.unit, slave.reason)
        elif not slave.available:
            slave.reason = reason_text(err, slave.failures)

    # -- reconnect ------------------------------------------------------------------------

    def _bus_lost(self, err: BusUnavailable) -> None:
        self.bus_error = err
        if self._reconnecting or self._stopped:
            return
        self._reconnecting = True
        _LOGGER.warning("bus %s unavailable: %s; reopening with backoff", self.name, err)
        self._track(self.hub.create_task(self._reconnect(), f"reopen {self.name}"))

    async def _reconnect(self) -> None:
        delay = 1.0
        try:
            while not self._stopped:
                await self.hub.clock.sleep(delay)
                async with self._lock:
                    try:
                        await self.transport.close()
                        await self.transport.connect()
                    except BusUnavailable as err:
                        self.bus_error = err
                        delay = min(delay * 2, BACKOFF_MAX_S)
                        continue
                    self.bus_error = None
                    _LOGGER.info("bus %s reopened", self.name)
                    return
        finally:
            self._reconnecting = False
