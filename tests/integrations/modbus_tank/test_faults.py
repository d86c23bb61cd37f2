"""Fault handling end to end: the hub's modbus_tank integration polls OUR firmware simulator.

Hub (RealClock) -> SerialTransport (pymodbus RTU) -> PtyLine.link_a (a symlink, as udev's
/dev/serial/by-id) -> bridge with real line timing (11-bit characters at 19200) ->
MultiSensorBus (firmware.tank_sensor logic, units 1 and 2, sometimes 3) on side b.
Faults come from the line (corrupt, garbage, unplug) or from a slave (`Faults`).
scan_interval 1 s, timeout 0.3 s, unavailable after 2 failures; every wait is a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import SimulatedTank
from hub.clock import RealClock
from hub.runtime import Hub
from integrations import modbus_tank
from integrations.modbus_tank.coordinator import BusCoordinator, Slave
from integrations.modbus_tank.transport import (
    BusUnavailable,
    CrcOrFrameError,
    SlaveException,
    SlaveTimeout,
    WrongUnit,
)

BAUD = 19200
TIMEOUT_S = 0.3
N_FAIL = 2


pytestmark = pytest.mark.usefixtures("quiet_pymodbus")  # timeouts here are on purpose


def _sim_tank(start_pct: float) -> SimulatedTank:
    return SimulatedTank(3000.0, 2.0, 2.4, start_pct, noise_mm=0.0, spike_probability=0.0)


def _tank(name: str, unit: int, profile: str = "maderas_tank_v1") -> dict[str, Any]:
    return {"name": name, "unit_id": unit, "profile": profile, "scan_interval": 1,
            "failures_before_unavailable": N_FAIL,
            "tank": {"shape": "vertical_cylinder", "dimensions": {"diameter_m": 1.38, "height_m": 2.0},
                     "commodity": "water", "mounting": {"type": "ultrasonic", "mount_height_m": 2.4}}}  # fmt: skip


@dataclass
class Rig:
    hub: Hub
    line: PtyLine
    bus: MultiSensorBus
    coordinator: BusCoordinator
    polls: dict[int, list[bool]]  # unit -> success of every finished poll

    def slave(self, unit: int) -> Slave:
        return self.coordinator.slaves[f"rs485:{unit}"]

    def state(self, entity_id: str) -> Any:
        state = self.hub.states.get(entity_id)
        assert state is not None, entity_id
        return state

    def ok_polls(self, unit: int) -> int:
        return sum(self.polls[unit])


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def rig(tmp_path: Path, *, bad_unit_3: bool = False) -> AsyncIterator[Rig]:
    hub = Hub(tmp_path, clock=RealClock())
    await hub.start()
    line = PtyLine(BAUD)
    tanks = {1: _sim_tank(75.0), 2: _sim_tank(40.0)}
    block: dict[str, Any] = {"buses": [{"name": "rs485", "type": "serial", "port": line.link_a, "baudrate": BAUD,
                                        "stopbits": 2, "timeout": TIMEOUT_S,
                                        "tanks": [_tank("Tank A", 1), _tank("Tank B", 2)]}]}  # fmt: skip
    if bad_unit_3:
        # Our firmware maps registers up to 0x0020: a read of 0x0100 is exception 02.
        block["profiles"] = {"unmapped": {"quantity": "distance", "value": {"address": 0x100, "unit": "mm"}}}
        block["buses"][0]["tanks"].append(_tank("Tank C", 3, "unmapped"))
        tanks[3] = _sim_tank(60.0)
    bus = MultiSensorBus(line.device_path_b, tanks, baud=BAUD)
    bus.start()
    scoped = hub.scoped("modbus_tank")
    try:
        await modbus_tank.async_setup(scoped, modbus_tank.CONFIG_SCHEMA(block))
        (coordinator,) = modbus_tank.get_runtime(scoped).coordinators.values()
        polls: dict[int, list[bool]] = {unit: [] for unit in tanks}
        for slave in coordinator.slaves.values():
            slave.add_listener(lambda s: polls[s.unit].append(s.failures == 0 and s.available))
        r = Rig(hub, line, bus, coordinator, polls)
        await wait_for(lambda: all(r.ok_polls(u) >= 1 for u in (1, 2)), 5, "first polls of units 1 and 2")
        yield r
        assert bus.error is None, bus.error
    finally:
        await scoped.scope.close()
        await hub.stop()
        bus.stop()
        line.close()


def _level(r: Rig, name: str) -> str:
    return str(r.state(f"sensor.{name}_level").state)


async def test_silent_slave_goes_unavailable_and_comes_back(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        assert _level(r, "tank_a") == "75.0" and _level(r, "tank_b") == "40.0"
        r.bus.slave(1).faults.silent = True
        await wait_for(lambda: not r.slave(1).available, 5, "unit 1 unavailable")
        a = r.state("sensor.tank_a_level")
        assert (a.state, a.attributes["unavailable_reason"]) == ("unavailable", f"timeout after {N_FAIL} tries")
        assert isinstance(r.slave(1).last_error, SlaveTimeout)
        b_before = r.ok_polls(2)
        await wait_for(lambda: r.ok_polls(2) >= b_before + 2, 4, "unit 2 keeps updating")
        assert _level(r, "tank_b") == "40.0"

        r.bus.slave(1).faults.silent = False
        await wait_for(lambda: r.slave(1).available, 4, "unit 1 back")
        assert _level(r, "tank_a") == "75.0"
        assert r.state("sensor.tank_a_errors").state == str(r.slave(1).error_count)


async def test_corrupted_reply_is_an_error_without_state_change(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await wait_for(lambda: all(r.ok_polls(u) >= 2 for u in (1, 2)), 4, "steady polling")
        levels = {u: _level(r, n) for u, n in ((1, "tank_a"), (2, "tank_b"))}
        raws = {u: r.state(f"sensor.{n}_raw_reading").state for u, n in ((1, "tank_a"), (2, "tank_b"))}
        errors = sum(r.slave(u).error_count for u in (1, 2))
        r.line.corrupt_next(1, towards="a")  # the next reply's CRC byte is flipped
        await wait_for(lambda: sum(r.slave(u).error_count for u in (1, 2)) == errors + 1, 4, "one error counted")
        (bad,) = [u for u in (1, 2) if r.slave(u).failures == 1]
        assert r.slave(bad).available  # one failure of N: nothing changes for the user
        assert {u: _level(r, n) for u, n in ((1, "tank_a"), (2, "tank_b"))} == levels
        assert {u: r.state(f"sensor.{n}_raw_reading").state for u, n in ((1, "tank_a"), (2, "tank_b"))} == raws
        assert r.state(f"sensor.{'tank_a' if bad == 1 else 'tank_b'}_errors").state == "1"
        # pymodbus calls it a timeout; the raw bytes it saw say it was a damaged reply.
        assert isinstance(r.slave(bad).last_error, CrcOrFrameError), r.slave(bad).last_error
        assert str(r.slave(bad).last_error).startswith("CRC error in a ")
        ok = r.ok_polls(bad)
        await wait_for(lambda: r.ok_polls(bad) > ok, 3, "the next poll is fine")
        assert r.slave(bad).failures == 0 and sum(r.slave(u).error_count for u in (1, 2)) == errors + 1


async def test_garbage_on_the_line_does_not_stop_polling(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        before = {u: r.ok_polls(u) for u in (1, 2)}
        for _ in range(3):
            r.line.inject_garbage(b"\x00\xff\x55\xaa\x01\x03\x02", to="a")  # noise towards the hub
            r.line.inject_garbage(b"\xff\x00\x13\x37\x02\x03", to="b")  # and towards the slaves
            await asyncio.sleep(0.3)
        await wait_for(lambda: all(r.ok_polls(u) >= before[u] + 3 for u in (1, 2)), 6, "both slaves polled")
        assert r.slave(1).available and r.slave(2).available
        assert (_level(r, "tank_a"), _level(r, "tank_b")) == ("75.0", "40.0")


async def test_slow_slave_times_out(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.bus.slave(2).faults.reply_delay_s = 2 * TIMEOUT_S
        await wait_for(lambda: not r.slave(2).available, 6, "unit 2 unavailable")
        b = r.state("sensor.tank_b_level")
        assert b.attributes["unavailable_reason"] == f"timeout after {N_FAIL} tries"
        r.bus.slave(2).faults.reply_delay_s = 0.0
        await wait_for(lambda: r.slave(1).available and r.slave(2).available, 6, "both back")


async def test_wrong_unit_answering_is_rejected(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.bus.slave(2).faults.answer_as_unit = 9
        await wait_for(lambda: not r.slave(2).available, 5, "unit 2 unavailable")
        slave = r.slave(2)
        # pymodbus drops a reply from another unit as if it were silence; its raw bytes tell them apart.
        assert isinstance(slave.last_error, WrongUnit) and slave.error_count >= N_FAIL
        assert r.state("sensor.tank_b_level").attributes["unavailable_reason"] == (
            "wrong unit answered: unit 9 answered a request for unit 2"
        )
        assert r.state("sensor.tank_b_last_error").state == str(slave.last_error)
        assert _level(r, "tank_a") == "75.0" and r.slave(1).available
        r.bus.slave(2).faults.answer_as_unit = None
        await wait_for(lambda: r.slave(2).available, 4, "unit 2 back")
        assert _level(r, "tank_b") == "40.0"


async def test_exception_response_stops_polling_that_slave(tmp_path: Path) -> None:
    async with rig(tmp_path, bad_unit_3=True) as r:
        await wait_for(lambda: r.slave(3).permanent, 4, "unit 3 permanent")
        c = r.state("sensor.tank_c_level")
        assert (c.state, c.attributes["unavailable_reason"]) == ("unavailable", "exception 02 illegal data address")
        assert r.slave(3).last_error == SlaveException(2, "illegal data address")
        assert r.slave(3).error_count == 1
        before = {u: r.ok_polls(u) for u in (1, 2)}
        await wait_for(lambda: all(r.ok_polls(u) >= before[u] + 2 for u in (1, 2)), 4, "units 1, 2 continue")
        assert r.slave(3).error_count == 1 and len(r.polls[3]) == 1  # no poll of unit 3 since


async def test_port_unplugged_and_back_recovers_without_restart(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.line.disconnect("a")
        await wait_for(lambda: not r.slave(1).available and not r.slave(2).available, 6, "both unavailable")
        for name in ("tank_a", "tank_b"):
            reason = r.state(f"sensor.{name}_level").attributes["unavailable_reason"]
            assert reason.startswith("bus unavailable: "), reason
        assert isinstance(r.slave(1).last_error, BusUnavailable)
        assert r.coordinator.bus_error is not None and r.coordinator._reconnecting

        r.line.reconnect("a")  # a new pty behind the same link
        await wait_for(lambda: r.slave(1).available and r.slave(2).available, 10, "reopened and polled")
        assert r.coordinator.bus_error is None
        assert (_level(r, "tank_a"), _level(r, "tank_b")) == ("75.0", "40.0")
