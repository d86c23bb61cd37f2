"""Simulator console commands: the pure parser/applier, and one run of `python -m firmware.sim`."""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException

from firmware.sim.__main__ import read_commands
from firmware.sim.commands import CommandError, run_command
from firmware.sim.sensor_sim import Faults, MultiSensorBus
from firmware.sim.tank_physics import SimulatedTank
from firmware.tank_sensor.registers import MODEL_ID

REPO = Path(__file__).resolve().parents[3]


def tank(start_pct: float) -> SimulatedTank:
    return SimulatedTank(2000.0, 2.0, 2.3, start_pct, noise_mm=0.0, spike_probability=0.0)


@pytest.fixture
def bus() -> MultiSensorBus:
    """A real MultiSensorBus, never started: no line, no thread."""
    return MultiSensorBus("/nonexistent", {1: tank(50.0), 2: tank(25.0), 3: tank(80.0)})


def tank_of(bus: MultiSensorBus, unit: int) -> SimulatedTank:
    tank = bus.slave(unit).tank
    assert isinstance(tank, SimulatedTank)
    return tank


def faults(bus: MultiSensorBus, unit: int) -> Faults:
    return bus.slave(unit).faults


@pytest.mark.parametrize(
    ("line", "attr", "value"),
    [
        ("fault 2 silent on", "silent", True),
        ("FAULT 2 NoEcho On", "no_echo", True),
        ("fault 2 stuck on", "stuck", True),
        ("fault 2 delay 0.25", "reply_delay_s", 0.25),
        ("fault 2 answer-as 9", "answer_as_unit", 9),
    ],
)
def test_fault_on_and_off(bus: MultiSensorBus, line: str, attr: str, value: object) -> None:
    ack = run_command(line, bus)
    assert ack.startswith("ok: unit 2 ")
    assert getattr(faults(bus, 2), attr) == value
    assert faults(bus, 1) == Faults() and faults(bus, 3) == Faults()
    off = {"reply_delay_s": "fault 2 delay 0", "answer_as_unit": "fault 2 answer-as off"}.get(
        attr, line.lower().rsplit(" ", 1)[0] + " off"
    )
    run_command(off, bus)
    assert faults(bus, 2) == Faults()


def test_clear_one_and_all(bus: MultiSensorBus) -> None:
    for unit in (1, 2, 3):
        run_command(f"fault {unit} silent on", bus)
        run_command(f"fault {unit} delay 1", bus)
    assert run_command("clear 2", bus) == "ok: faults cleared on unit 2"
    assert faults(bus, 2) == Faults() and faults(bus, 1).silent
    assert run_command("clear all", bus) == "ok: faults cleared on units 1, 2, 3"
    assert all(faults(bus, u) == Faults() for u in (1, 2, 3))


def test_status_lists_level_volume_and_faults(bus: MultiSensorBus) -> None:
    run_command("fault 3 stuck on", bus)
    run_command("fault 3 answer-as 5", bus)
    lines = run_command("status", bus).splitlines()
    assert lines == [
        "unit 1: level 50.0 %, 1000 L; no faults",
        "unit 2: level 25.0 %, 500 L; no faults",
        "unit 3: level 80.0 %, 1600 L; stuck, answer-as 5",
    ]


def test_refill_schedules_a_truck(bus: MultiSensorBus) -> None:
    assert run_command("refill 2 800 10", bus).startswith("ok: unit 2 refill 800 L over 10 min")
    (refill,) = tank_of(bus, 2).refills
    assert refill.litres == 800 and refill.duration_s == 600
    run_command("refill 1 300", bus)
    assert tank_of(bus, 1).refills[0].duration_s == 1200  # default 20 minutes


def test_help_and_blank(bus: MultiSensorBus) -> None:
    assert "fault UNIT delay SECONDS" in run_command("help", bus)
    assert run_command("   ", bus) == ""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fault 7 silent on", "unknown unit 7 (units: 1, 2, 3)"),
        ("fault x silent on", "unit must be a number, got 'x' (units: 1, 2, 3)"),
        ("fault 2 silent maybe", "fault expects on or off, got 'maybe'"),
        ("flt 2 silent on", "unknown command 'flt' (did you mean 'fault'?)"),
        ("xyzzy", "unknown command 'xyzzy' (type help)"),
        ("fault 2 silnt on", "unknown fault 'silnt' (did you mean 'silent'?)"),
        ("fault 2 delay -1", "delay must be zero or more, got '-1'"),
        ("fault 2 delay soon", "delay must be a number, got 'soon'"),
        ("fault 2 answer-as 300", "answer-as expects a unit id 1-247 or off, got '300'"),
        ("fault 2 silent", "usage: fault UNIT"),
        ("refill 2 0", "litres must be more than zero, got '0'"),
        ("refill 2 100 0", "minutes must be more than zero, got '0'"),
        ("clear 9", "unknown unit 9 (units: 1, 2, 3)"),
        ("status now", "usage: status"),
    ],
)
def test_errors_say_what_was_wrong(bus: MultiSensorBus, line: str, message: str) -> None:
    with pytest.raises(CommandError) as info:
        run_command(line, bus)
    assert str(info.value).startswith(message)
    assert all(faults(bus, u) == Faults() for u in (1, 2, 3))


def test_read_commands_answers_each_line_and_returns_at_eof(
    bus: MultiSensorBus, capsys: pytest.CaptureFixture[str]
) -> None:
    r, w = os.pipe()
    os.write(w, b"fault 1 silent on\nflt\nfault 2 stuck on")  # the last line has no newline
    os.close(w)
    try:
        read_commands(bus, r)
    finally:
        os.close(r)
    assert capsys.readouterr().out.splitlines() == [
        "ok: unit 1 silent on",
        "error: unknown command 'flt' (did you mean 'fault'?)",
        "ok: unit 2 stuck on",
    ]
    assert faults(bus, 1).silent and faults(bus, 2).stuck


# -- end to end: the CLI on a pty line, commands on its stdin, pymodbus on the port -------------


class Lines:
    """Lines from a pipe with a deadline (the process must not hang the test)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def next(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no line within {timeout} s (so far {self.buffer!r})")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise AssertionError(f"end of output (so far {self.buffer!r})")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


@pytest.fixture
def quiet_pymodbus() -> Iterator[None]:
    logger = logging.getLogger("pymodbus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # the timeouts below are on purpose
    yield
    logger.setLevel(level)


async def test_cli_faults_switched_on_by_command(quiet_pymodbus: None) -> None:
    # Popen in an async test: the client is idle while the test reads the process's output.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "firmware.sim", "--units", "1,2", "--baud", "19200"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    client: AsyncModbusSerialClient | None = None
    try:
        assert proc.stdin is not None and proc.stdout is not None
        out = Lines(proc.stdout.fileno())
        port = ""
        while not port:
            line = out.next()
            if line.startswith("SERIAL PORT: "):
                port = line.removeprefix("SERIAL PORT: ")
        while "Ctrl-C" not in out.next():
            pass
        client = AsyncModbusSerialClient(
            port, framer=FramerType.RTU, baudrate=19200, timeout=0.3, retries=0
        )
        assert await client.connect()

        async def model_id(unit: int) -> list[int]:
            assert client is not None
            response = await client.read_holding_registers(0x0020, count=1, device_id=unit)
            assert not response.isError(), response
            return list(response.registers)

        def command(text: str) -> str:
            assert proc.stdin is not None
            proc.stdin.write(text.encode() + b"\n")
            proc.stdin.flush()
            return out.next()

        assert MODEL_ID == 0x4D54
        assert await model_id(2) == [0x4D54]
        assert command("fault 2 silent on") == "ok: unit 2 silent on"
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0x0020, count=1, device_id=2)
        assert await model_id(1) == [0x4D54]
        assert command("fault 2 silent off") == "ok: unit 2 silent off"
        assert await model_id(2) == [0x4D54]
        proc.stdin.close()  # end of input ends the commands, not the simulator
        assert await model_id(1) == [0x4D54]
        assert proc.poll() is None

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
        assert "stopped" in out.buffer.decode() + proc.stdout.read().decode()
    finally:
        if client is not None:
            client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
