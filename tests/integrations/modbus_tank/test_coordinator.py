"""BusCoordinator on a manual clock with a fake transport implementing transport.Transport."""

from __future__ import annotations

import itertools

from hub.clock import ManualClock
from hub.runtime import Hub
from integrations.modbus_tank.coordinator import BusCoordinator
from integrations.modbus_tank.profiles import GENERIC_HYDROSTATIC
from integrations.modbus_tank.rtu import exchange_time, t35
from integrations.modbus_tank.transport import (
    BusUnavailable,
    SlaveException,
    SlaveTimeout,
)


class FakeTransport:
    """Answers Profile A registers (1.234 m) per unit; a test sets `fail` to make it raise."""

    description = "/dev/fake"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.connected = False
        self.fail: Exception | None = None
        self.connect_ok = True
        self.log: list[tuple[float, int]] = []  # (monotonic time, unit) of each read
        self.connects: list[float] = []

    async def connect(self) -> None:
        self.connects.append(self.clock.monotonic())
        if not self.connect_ok:
            raise BusUnavailable("/dev/fake: gone")
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]:
        self.log.append((self.clock.monotonic(), unit))
        if self.fail is not None:
            raise self.fail
        return [7, 3, 1234][:count]

    async def write_register(self, unit: int, address: int, value: int) -> None:
        return None


def _coordinator(hub: Hub, clock: ManualClock, baud: int = 9600) -> tuple[BusCoordinator, FakeTransport]:
    transport = FakeTransport(clock)
    coordinator = BusCoordinator(hub.scoped("bus"), "rs485", transport, baudrate=baud)
    return coordinator, transport


async def test_polls_on_schedule_one_at_a_time_with_gap(hub: Hub, clock: ManualClock) -> None:
    coordinator, transport = _coordinator(hub, clock)
    coordinator.add_slave("a", 1, GENERIC_HYDROSTATIC, 10.0)
    coordinator.add_slave("b", 2, GENERIC_HYDROSTATIC, 10.0)
    await coordinator.start()
    await clock.advance(25)
    assert [unit for _, unit in transport.log] == [1, 2] * 3
    times = [t for t, _ in transport.log]
    assert all(b - a >= t35(9600) - 1e-9 for a, b in itertools.pairwise(times))
    assert coordinator.slaves["a"].reading is not None and coordinator.slaves["a"].reading.value_si == 1.234
    await coordinator.stop()


async def test_bus_load_and_overload(hub: Hub, clock: ManualClock) -> None:
    coordinator, _ = _coordinator(hub, clock, baud=1200)
    per_poll = exchange_time(1200, 8, 11, latency=0.02)  # one 3-register read
    for unit in range(1, 6):
        coordinator.add_slave(str(unit), unit, GENERIC_HYDROSTATIC, 1.0)
    assert abs(coordinator.load - 5 * per_poll) < 1e-9
    assert coordinator.overloaded and "1200 baud" in (coordinator.load_message or "")
    relaxed, _ = _coordinator(hub, clock)
    relaxed.add_slave("a", 1, GENERIC_HYDROSTATIC, 30.0)
    assert not relaxed.overloaded and relaxed.load_message is None


async def test_unavailable_after_n_transient_failures_then_recovers(hub: Hub, clock: ManualClock) -> None:
    coordinator, transport = _coordinator(hub, clock)
    slave = coordinator.add_slave("a", 1, GENERIC_HYDROSTATIC, 10.0)
    transport.fail = SlaveTimeout("no reply")
    await coordinator.start()
    await clock.advance(10)  # polls at 0 and 10 s
    assert slave.available and slave.failures == 2
    await clock.advance(10)
    assert (slave.available, slave.reason) == (False, "timeout after 3 tries")
    transport.fail = None
    await clock.advance(10)
    assert slave.available and slave.failures == 0 and slave.error_count == 3
    await coordinator.stop()


async def test_permanent_exception_stops_polling_that_slave(hub: Hub, clock: ManualClock) -> None:
    coordinator, transport = _coordinator(hub, clock)
    slave = coordinator.add_slave("a", 1, GENERIC_HYDROSTATIC, 10.0)
    transport.fail = SlaveException(2, "illegal data address")
    await coordinator.start()
    await clock.advance(1)
    assert (slave.available, slave.reason) == (False, "exception 02 illegal data address")
    await clock.advance(60)
    assert len(transport.log) == 1


async def test_bus_reopened_with_backoff(hub: Hub, clock: ManualClock) -> None:
    coordinator, transport = _coordinator(hub, clock)
    slave = coordinator.add_slave("a", 1, GENERIC_HYDROSTATIC, 10.0)
    transport.connect_ok = False
    await coordinator.start()
    await clock.advance(40)
    start = transport.connects[0]
    assert [round(t - start) for t in transport.connects] == [0, 1, 3, 7, 15, 31]
    assert not slave.available and slave.reason is not None and slave.reason.startswith("bus unavailable")
    transport.connect_ok = True
    await clock.advance(40)
    assert slave.available and transport.connected
    await coordinator.stop()
