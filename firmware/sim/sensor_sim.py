"""Our tank sensor firmware (firmware.tank_sensor.device.TankSensor) on a host serial line.

The firmware's pure logic runs unchanged in a thread; `SimHardware` stands in for the ESP32:
the UART is one end of a pty line (see pty_line.py), the ultrasonic echo and the 4-20 mA shunt
come from a `SimulatedTank`. Several slaves can share one line end (`MultiSensorBus`), as on a
multi-drop RS-485 bus: every slave sees every request; only the addressed one answers.

Time: the firmware's clock is real monotonic microseconds (its t1.5/t3.5 framing must match
the bytes really arriving); `time_scale` speeds up the tank only (tank seconds = real seconds x
time_scale), so a demo can show a day of consumption in minutes while the bus stays honest.

Run-time faults (`SimSlave.faults`, plain attributes, set from any thread):
    no_echo         the ultrasonic hears nothing (status bit1, 0xFFFF readings)
    stuck           the echo freezes at its last value
    reply_delay_s   every reply leaves this much later (a slow slave)
    silent          the slave receives but never answers
    answer_as_unit  replies carry this unit id instead (wrong unit answering)

Not simulated: a slave hearing the other slaves' replies (they are not fed back to the
firmware), bus collisions, and the line's baud following a baud-code write (the pty ignores it).
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, Self

from firmware.tank_sensor.device import Hardware, TankSensor
from firmware.tank_sensor.measure import (
    DEFAULT_PRESSURE_FULL_SCALE_MM,
    LOOP_SPAN_UA,
    LOOP_ZERO_UA,
    SHUNT_OHMS,
)
from firmware.tank_sensor.modbus_slave import with_crc
from firmware.tank_sensor.registers import BAUD_RATES, MemoryStore

DEFAULT_MEASURE_PERIOD_MS = 200  # as main.py: five samples a second


class TankModel(Protocol):
    """What the simulated sensor needs of a tank (tank_physics.SimulatedTank provides it)."""

    mount_height_m: float

    def echo_us_at(self, t: float, temperature_c: float = 20.0) -> int: ...

    def head_mm_at(self, t: float) -> float: ...


@dataclass
class Faults:
    no_echo: bool = False
    stuck: bool = False
    reply_delay_s: float = 0.0
    silent: bool = False
    answer_as_unit: int | None = None

    def clear(self) -> None:
        self.no_echo = self.stuck = self.silent = False
        self.reply_delay_s = 0.0
        self.answer_as_unit = None


class RealClock:
    """Monotonic integer microseconds since construction (the firmware's `clock`)."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    def monotonic_us(self) -> int:
        return int(self.elapsed_s() * 1_000_000)


class SimHardware(Hardware):
    """device.Hardware backed by a simulated tank; the UART is an inbox and a writer callback."""

    def __init__(
        self,
        tank: TankModel,
        tank_time: Callable[[], float],
        faults: Faults,
        write: Callable[[bytes], None],
        temperature_c: float | None = 20.0,
        pressure_full_scale_mm: int = DEFAULT_PRESSURE_FULL_SCALE_MM,
    ) -> None:
        self.tank = tank
        self.tank_time = tank_time
        self.faults = faults
        self.write = write
        self.temperature_c = temperature_c
        self.pressure_full_scale_mm = pressure_full_scale_mm
        self.inbox = bytearray()
        self.baud = 0
        self.baud_changes: list[int] = []
        self.last_echo_us: int | None = None

    def uart_read(self) -> bytes | None:
        if not self.inbox:
            return None
        data = bytes(self.inbox)
        self.inbox.clear()
        return data

    def uart_write(self, data: bytes) -> None:
        self.write(bytes(data))

    def uart_set_baud(self, baud: int) -> None:
        self.baud = baud
        self.baud_changes.append(baud)

    def ultrasonic_echo_us(self) -> int | None:
        if self.faults.no_echo:
            return None
        if self.faults.stuck and self.last_echo_us is not None:
            return self.last_echo_us
        temperature = 20.0 if self.temperature_c is None else self.temperature_c
        self.last_echo_us = int(self.tank.echo_us_at(self.tank_time(), temperature))
        return self.last_echo_us

    def shunt_uv(self) -> int | None:
        if self.faults.no_echo:
            return None
        head = self.tank.head_mm_at(self.tank_time())
        current_ua = LOOP_ZERO_UA + LOOP_SPAN_UA * head / self.pressure_full_scale_mm
        return round(current_ua * SHUNT_OHMS)

    def temperature_dc(self) -> int | None:
        return None if self.temperature_c is None else round(self.temperature_c * 10)


class SimSlave:
    """One simulated sensor: the firmware, its fake hardware, its settings store and faults."""

    def __init__(
        self,
        tank: TankModel,
        unit_id: int,
        baud: int,
        clock: RealClock,
        tank_time: Callable[[], float],
        write: Callable[[bytes, Faults], None],
        faults: Faults | None = None,
        temperature_c: float | None = 20.0,
    ) -> None:
        self.tank = tank
        self.faults = faults or Faults()
        mount_mm = round(tank.mount_height_m * 1000)
        self.store = MemoryStore(
            {"unit_id": unit_id, "baud_code": BAUD_RATES.index(baud), "mount_mm": mount_mm}
        )
        self.hw = SimHardware(
            tank, tank_time, self.faults, lambda data: write(data, self.faults), temperature_c
        )
        self.sensor = TankSensor(self.hw, self.store, clock)

    @property
    def unit_id(self) -> int:
        return int(self.sensor.registers.unit_id)


def shape_reply(data: bytes, faults: Faults) -> bytes:
    """Apply the reply faults that change bytes: silence, another unit id."""
    if faults.silent:
        return b""
    if faults.answer_as_unit is not None and len(data) >= 4:
        return bytes(with_crc(bytes((faults.answer_as_unit,)) + data[1:-2]))
    return data


class MultiSensorBus:
    """Several simulated slaves on one line end, served by one thread.

    `line_end` is a path (opened raw, closed on stop) or an fd you keep owning. `tanks` maps
    unit id -> SimulatedTank. `slave(unit)` gives a slave's faults, firmware and store.
    """

    def __init__(
        self,
        line_end: str | int,
        tanks: Mapping[int, TankModel],
        baud: int = 9600,
        time_scale: float = 1.0,
        measure_period_ms: int = DEFAULT_MEASURE_PERIOD_MS,
        temperature_c: float | None = 20.0,
        faults: Mapping[int, Faults] | None = None,
    ) -> None:
        self.line_end = line_end
        self.time_scale = time_scale
        self.measure_period_us = measure_period_ms * 1000
        self.clock = RealClock()
        self.error: BaseException | None = None
        self.replies = 0
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1
        self.slaves: dict[int, SimSlave] = {}
        for unit, tank in tanks.items():
            self.slaves[unit] = SimSlave(
                tank, unit, baud, self.clock, self.tank_time, self._write,
                (faults or {}).get(unit), temperature_c,
            )

    def tank_time(self) -> float:
        """Tank seconds since start: real elapsed time times `time_scale`."""
        return self.clock.elapsed_s() * self.time_scale

    def slave(self, unit: int) -> SimSlave:
        return self.slaves[unit]

    def start(self) -> None:
        if isinstance(self.line_end, int):
            self._fd = self.line_end
        else:
            self._fd = os.open(self.line_end, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            tty.setraw(self._fd)
        os.set_blocking(self._fd, False)
        self._wake_r, self._wake_w = os.pipe()
        for sim in self.slaves.values():
            sim.sensor.poll_measurement()  # readings are valid from the first request on
        self._thread = threading.Thread(target=self._run, name="sensor-sim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread; close the line end if we opened it."""
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._thread = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        if self._fd is not None and not isinstance(self.line_end, int):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write(self, data: bytes, faults: Faults) -> None:
        data = shape_reply(data, faults)
        if not data or self._fd is None:
            return
        if faults.reply_delay_s > 0 and self._stop.wait(faults.reply_delay_s):
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                select.select([], [self._fd], [], 0.05)
        self.replies += 1

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: BLE001 - kept for the test or the CLI to report
            self.error = exc

    def _loop(self) -> None:
        assert self._fd is not None
        fd = self._fd
        next_measure = self.clock.monotonic_us() + self.measure_period_us
        while not self._stop.is_set():
            now = self.clock.monotonic_us()
            busy = any(not s.sensor.bus_idle(now) for s in self.slaves.values())
            # While a frame is in progress look again soon: its end is t3.5 of silence.
            timeout = 0.0005 if busy else max(0.0, min(0.05, (next_measure - now) / 1e6))
            readable, _, _ = select.select([fd, self._wake_r], [], [], timeout)
            data = b""
            if fd in readable:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    pass
                except OSError:
                    self._stop.wait(0.05)  # the other end of the line is gone for now
            now = self.clock.monotonic_us()
            for sim in self.slaves.values():
                if data:
                    sim.hw.inbox.extend(data)
                sim.sensor.service_uart(now)
            if now >= next_measure:
                for sim in self.slaves.values():
                    if sim.sensor.bus_idle(now):
                        sim.sensor.poll_measurement()
                next_measure = now + self.measure_period_us


class SensorSimulator(MultiSensorBus):
    """One simulated sensor on a line end; `faults` and `sensor` are the slave's."""

    def __init__(
        self,
        line_end_path_or_fd: str | int,
        tank: TankModel,
        unit_id: int = 1,
        baud: int = 9600,
        time_scale: float = 1.0,
        faults: Faults | None = None,
        measure_period_ms: int = DEFAULT_MEASURE_PERIOD_MS,
        temperature_c: float | None = 20.0,
    ) -> None:
        super().__init__(
            line_end_path_or_fd, {unit_id: tank}, baud, time_scale, measure_period_ms,
            temperature_c, {unit_id: faults} if faults is not None else None,
        )
        self._only = self.slaves[unit_id]

    @property
    def faults(self) -> Faults:
        return self._only.faults

    @property
    def sensor(self) -> TankSensor:
        return self._only.sensor

    @property
    def store(self) -> MemoryStore:
        return self._only.store
