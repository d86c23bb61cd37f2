"""SensorSimulator / MultiSensorBus: our firmware on a PtyLine, driven by a raw RTU master."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator

import pytest
from sim_helpers import open_raw, read_request, registers_of, transact

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import Faults, MultiSensorBus, SensorSimulator
from firmware.sim.tank_physics import SimulatedTank
from firmware.tank_sensor.modbus_slave import crc_ok, with_crc
from firmware.tank_sensor.registers import FIRMWARE_VERSION, INVALID, STATUS_FAULT, STATUS_VALID


def quiet_tank(start_pct: float = 50.0, **kwargs: object) -> SimulatedTank:
    return SimulatedTank(
        2000.0, 2.0, 2.5, start_pct, noise_mm=0.0, spike_probability=0.0, **kwargs  # type: ignore[arg-type]
    )


@pytest.fixture
def line() -> Iterator[PtyLine]:
    with PtyLine(9600) as pty_line:
        yield pty_line


@pytest.fixture
def master(line: PtyLine) -> Iterator[int]:
    fd = open_raw(line.device_path_a)
    yield fd
    os.close(fd)


@pytest.fixture
def sim(line: PtyLine) -> Iterator[SensorSimulator]:
    with SensorSimulator(line.device_path_b, quiet_tank(), unit_id=3, measure_period_ms=20) as s:
        yield s


def read_regs(fd: int, unit: int, start: int, qty: int, timeout: float = 0.5) -> list[int] | None:
    reply = transact(fd, read_request(unit, start, qty), 5 + 2 * qty, timeout)
    if not reply:
        return None
    assert crc_ok(reply) and reply[0] == unit
    return registers_of(reply)


def test_reads_the_simulated_tank(master: int, sim: SensorSimulator) -> None:
    regs = read_regs(master, 3, 0, 4)
    assert regs is not None
    version, status, distance, level = regs
    assert version == FIRMWARE_VERSION
    assert status & STATUS_VALID
    assert distance == pytest.approx(1500, abs=3)  # 2.5 m mount, 1.0 m of water
    assert level == pytest.approx(400, abs=2)
    assert sim.error is None and sim.replies == 1


def test_reply_time_matches_the_line(master: int, sim: SensorSimulator) -> None:
    started = time.monotonic()
    assert read_regs(master, 3, 0, 10) is not None
    # request 8 + reply 25 characters at 1.146 ms, plus t3.5 (4 ms): at least 41.8 ms.
    assert time.monotonic() - started >= 0.040


def test_other_units_are_ignored(master: int, sim: SensorSimulator) -> None:
    assert read_regs(master, 4, 0, 1, timeout=0.2) is None
    assert read_regs(master, 3, 0, 1) == [FIRMWARE_VERSION]


def test_no_echo_fault(master: int, sim: SensorSimulator) -> None:
    sim.faults.no_echo = True
    time.sleep(0.1)
    regs = read_regs(master, 3, 1, 3)
    assert regs is not None and regs[0] & STATUS_FAULT and regs[1:] == [INVALID, INVALID]
    sim.faults.clear()
    time.sleep(0.1)
    regs = read_regs(master, 3, 1, 1)
    assert regs is not None and regs[0] & STATUS_VALID


def test_stuck_reading_stops_following_the_tank(line: PtyLine, master: int) -> None:
    tank = quiet_tank(start_pct=10.0)
    tank.schedule_refill(0, 1500, 60)  # 25 L/s of tank time
    with SensorSimulator(line.device_path_b, tank, unit_id=1, time_scale=60, measure_period_ms=20) as s:
        s.faults.stuck = True
        time.sleep(0.3)
        first = read_regs(master, 1, 2, 1)
        time.sleep(0.3)
        assert read_regs(master, 1, 2, 1) == first
        s.faults.stuck = False
        time.sleep(0.3)
        moved = read_regs(master, 1, 2, 1)
        assert first is not None and moved is not None and moved[0] < first[0] - 50


def test_slow_replies(master: int, sim: SensorSimulator) -> None:
    sim.faults.reply_delay_s = 0.15
    started = time.monotonic()
    assert read_regs(master, 3, 0, 1) == [FIRMWARE_VERSION]
    assert time.monotonic() - started >= 0.15


def test_silent_slave_counts_but_never_answers(master: int, sim: SensorSimulator) -> None:
    sim.faults.silent = True
    assert read_regs(master, 3, 0, 1, timeout=0.2) is None
    sim.faults.silent = False
    assert read_regs(master, 3, 0, 1) == [FIRMWARE_VERSION]


def test_wrong_unit_answering(master: int, sim: SensorSimulator) -> None:
    sim.faults.answer_as_unit = 9
    reply = transact(master, read_request(3, 0, 1), 7)
    assert reply[0] == 9 and crc_ok(reply)


def test_garbage_on_the_line_counts_as_a_crc_error(line: PtyLine, master: int, sim: SensorSimulator) -> None:
    line.inject_garbage(b"\x03\x03\x00\x00\x00\x01\x00\x00")
    time.sleep(0.05)
    assert read_regs(master, 3, 6, 1) == [1]


def test_pressure_mode_reads_the_head(master: int, sim: SensorSimulator) -> None:
    reply = transact(master, bytes(with_crc(struct.pack(">BBHH", 3, 6, 0x13, 1))), 8)
    assert crc_ok(reply)
    time.sleep(0.2)
    regs = read_regs(master, 3, 1, 3)
    assert regs is not None
    assert regs[0] & STATUS_VALID
    assert regs[2] == pytest.approx(400, abs=3)  # head 1000 mm of a 2500 mm "full height"


def test_multi_drop_bus(line: PtyLine, master: int) -> None:
    tanks = {1: quiet_tank(20.0), 2: quiet_tank(50.0), 7: quiet_tank(90.0)}
    with MultiSensorBus(line.device_path_b, tanks, faults={2: Faults(silent=True)}) as bus:
        levels = {unit: read_regs(master, unit, 3, 1) for unit in (1, 7)}
        assert levels == {1: [160], 7: [720]}
        assert read_regs(master, 2, 3, 1, timeout=0.2) is None
        bus.slave(2).faults.silent = False
        assert read_regs(master, 2, 3, 1) == [400]
        assert bus.slave(1).sensor.slave.ignored >= 2
        assert bus.error is None


def test_stop_closes_what_it_opened(line: PtyLine) -> None:
    sim = SensorSimulator(line.device_path_b, quiet_tank())
    sim.start()
    sim.stop()
    sim.stop()
    assert sim.error is None
