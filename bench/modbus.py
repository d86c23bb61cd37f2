"""Modbus polling throughput: the hub's BusCoordinator on one RTU bus vs the line's physical limit.

    python -m bench.modbus [--baud 9600 19200] [--seconds 10] [--latency-ms 2]

Per baud rate, on a fresh `PtyLine` (real line timing, 11 bits per character) with OUR firmware
simulator (`MultiSensorBus`, unit 1, replies held back `--latency-ms` by `Faults.reply_delay_s`):

1. baseline: a bare pymodbus `AsyncModbusSerialClient` loop, `read_holding_registers(2, count=2)`
   back to back (timeout 0.5 s, retries 0);
2. hub: `BusCoordinator.async_poll` back to back on a slave whose plan is that same read
   (`maderas_tank_v1` value + `level_permille` = FC03 0x0002 x 2), through `SerialTransport`,
   the coordinator's lock, its t3.5 gap on the hub clock, decode and a listener.

Limit = 1 / `rtu.exchange_time(baud, 8, 9, latency=L)` (PROTOCOLS 7.2 with L = 0: 36.4/s at
9600, 72.7/s at 19200). Printed: polls/s, % of the limit, hub/bare, median exchange, the event
loop's max lag (LoopWatchdog, 2 ms probe) and the goal ">= 85 % of the limit: PASS/BELOW".
Every poll's registers are checked against the firmware's own register file; nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import SimulatedTank, UsageProfile
from hub.clock import RealClock
from hub.runtime import Hub, LoopWatchdog
from integrations.modbus_tank.coordinator import BusCoordinator
from integrations.modbus_tank.profiles import MADERAS_TANK_V1
from integrations.modbus_tank.rtu import exchange_time
from integrations.modbus_tank.transport import SerialTransport

UNIT = 1
ADDRESS, COUNT = 0x0002, 2  # distance mm, level per-mille: the 2-register read PROTOCOLS 7.2 counts
GOAL = 0.85
_STILL = UsageProfile("still", 0.0, (1.0,) * 24, 0.0)  # no consumption: the registers never move


@dataclass
class Run:
    name: str
    baud: int
    seconds: float = 0.0
    polls: int = 0
    bad: int = 0  # polls that failed or returned other values than the firmware holds
    exchanges_s: list[float] = field(default_factory=list)
    max_lag_s: float = 0.0
    expected: list[int] = field(default_factory=list)
    seen: set[tuple[int, ...]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.polls / self.seconds if self.seconds else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.exchanges_s) * 1000 if self.exchanges_s else 0.0


def limit_rate(baud: int, latency_s: float = 0.0) -> float:
    """Two-register FC03 exchanges per second the line allows (request 8, reply 9 bytes)."""
    return 1.0 / exchange_time(baud, 8, 5 + 2 * COUNT, latency=latency_s)


async def _timed_loop(run: Run, seconds: float, poll: Callable[[], Awaitable[list[int] | None]]) -> None:
    watchdog = LoopWatchdog(threshold=1.0, interval=0.002)
    watchdog.start()
    start = time.perf_counter()
    end = start + seconds
    try:
        while (now := time.perf_counter()) < end:
            try:
                words = await poll()
            except Exception as err:  # noqa: BLE001 - a failed poll is counted, the bench goes on
                words = None
                run.errors.append(repr(err))
            run.exchanges_s.append(time.perf_counter() - now)
            run.polls += 1
            if words is None or list(words) != run.expected:
                run.bad += 1
            if words is not None:
                run.seen.add(tuple(words))
        run.seconds = time.perf_counter() - start
    finally:
        watchdog.stop()
    run.max_lag_s = watchdog.max_lag


async def _bare(line: PtyLine, run: Run, seconds: float) -> None:
    from pymodbus import FramerType
    from pymodbus.client import AsyncModbusSerialClient

    client = AsyncModbusSerialClient(line.device_path_a, framer=FramerType.RTU, baudrate=run.baud, stopbits=2,
                                     timeout=0.5, retries=0, reconnect_delay=0)  # fmt: skip
    if not await client.connect():
        raise RuntimeError(f"bare client cannot open {line.device_path_a}")
    try:

        async def poll() -> list[int] | None:
            result = await client.read_holding_registers(ADDRESS, count=COUNT, device_id=UNIT)
            return None if result.isError() else list(result.registers)

        await _timed_loop(run, seconds, poll)
    finally:
        client.close()


async def _hub(line: PtyLine, run: Run, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-modbus-") as config_dir:
        hub = Hub(config_dir, clock=RealClock())  # never started: the coordinator needs its clock only
        transport = SerialTransport(line.link_a, baudrate=run.baud, stopbits=2, timeout=0.5)
        coordinator = BusCoordinator(hub, "bench", transport, baudrate=run.baud)
        slave = coordinator.add_slave("bench:1", UNIT, MADERAS_TANK_V1, 1.0, extras=("level_permille",))
        assert slave.plan == [(3, ADDRESS, COUNT)], slave.plan
        heard: list[int] = []
        slave.add_listener(lambda s: heard.append(s.failures))
        await transport.connect()
        try:

            async def poll() -> list[int] | None:
                await coordinator.async_poll(slave)
                if slave.failures:
                    raise RuntimeError(f"poll failed: {slave.last_error!r}")
                return [slave.registers[a] for a in range(ADDRESS, ADDRESS + COUNT)]

            await _timed_loop(run, seconds, poll)
        finally:
            await transport.close()
        if len(heard) != run.polls:
            run.errors.append(f"listener heard {len(heard)} of {run.polls} polls")


async def measure(name: str, baud: int, seconds: float, latency_s: float) -> Run:
    """One run on a fresh line and simulator, so neither measurement inherits the other's queue."""
    run = Run(name, baud)
    tank = SimulatedTank(3000.0, 2.0, 2.4, 60.0, usage_profile=_STILL, noise_mm=0.0, spike_probability=0.0)
    with PtyLine(baud) as line:
        bus = MultiSensorBus(line.device_path_b, {UNIT: tank}, baud=baud)
        bus.slave(UNIT).faults.reply_delay_s = latency_s
        bus.start()
        try:
            run.expected = list(bus.slave(UNIT).sensor.registers.read_holding(ADDRESS, COUNT))
            await (_bare if name == "bare" else _hub)(line, run, seconds)
        finally:
            bus.stop()
        if bus.error is not None:
            run.errors.append(f"simulator: {bus.error!r}")
        if list(bus.slave(UNIT).sensor.registers.read_holding(ADDRESS, COUNT)) != run.expected:
            run.errors.append("the firmware's registers moved during the run")
    return run


def format_report(runs: Sequence[Run], latency_s: float) -> str:
    lines = [
        (f"Modbus RTU polling, one bus, FC03 2 registers, 11-bit chars, slave latency {latency_s * 1000:.1f} ms; "
         f"Python {platform.python_version()}, {os.cpu_count()} CPUs"),
        (f"{'baud':>6} {'client':<6} {'polls':>6} {'rate/s':>8} {'limit/s':>8} {'% limit':>8} {'% 7.2':>6} "
         f"{'median ms':>9} {'max lag ms':>10} {'bad':>4} {'hub/bare':>8}  goal (>= 85 % of the limit)"),
    ]
    bare = {r.baud: r for r in runs if r.name == "bare"}
    for r in runs:
        limit = limit_rate(r.baud, latency_s)
        share = r.rate / limit
        ratio = f"{r.rate / bare[r.baud].rate:8.3f}" if r.name == "hub" and bare.get(r.baud) and bare[r.baud].rate else " " * 8
        verdict = ("PASS" if share >= GOAL else "BELOW") if r.name == "hub" else ""
        lines.append(
            f"{r.baud:>6} {r.name:<6} {r.polls:>6} {r.rate:>8.1f} {limit:>8.1f} {share:>8.1%} "
            f"{r.rate / limit_rate(r.baud):>6.1%} {r.median_ms:>9.2f} {r.max_lag_s * 1000:>10.2f} {r.bad:>4} {ratio}  {verdict}"
        )
        for error in sorted(set(r.errors))[:3]:
            lines.append(f"       !! {error}")
    lines.append("limit = 1 / rtu.exchange_time(baud, 8, 9, latency); '% 7.2' is against PROTOCOLS 7.2 (latency 0)")
    return "\n".join(lines)


async def run_all(bauds: Sequence[int], seconds: float, latency_s: float) -> list[Run]:
    runs: list[Run] = []
    for baud in bauds:
        for name in ("bare", "hub"):
            runs.append(await measure(name, baud, seconds, latency_s))
    return runs


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baud", type=int, nargs="+", default=[9600, 19200])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    latency_s = args.latency_ms / 1000
    runs = asyncio.run(run_all(args.baud, args.seconds, latency_s))
    print(format_report(runs, latency_s))
    sys.stdout.flush()
    return {"runs": runs, "latency_s": latency_s}


if __name__ == "__main__":
    main()
