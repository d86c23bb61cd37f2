"""`python -m firmware.sim --units 1,2,3 --baud 9600`: simulated tank sensors on a pty line.

Prints the serial port to open (side a of a PtyLine) and serves until Ctrl-C or SIGTERM.
Reads commands from stdin meanwhile (`help`, `status`, `fault 2 silent on`, ...; see
commands.py); end of input stops the commands, not the simulator.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from firmware.sim.commands import CommandError, run_command
from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import PROFILES, SimulatedTank


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m firmware.sim", description=__doc__)
    parser.add_argument("--units", default="1", help="comma-separated unit ids (default 1)")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--time-scale", type=float, default=60.0, help="tank seconds per real second")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="water_family")
    parser.add_argument("--capacity", type=float, default=2500.0, help="litres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-timing", action="store_true", help="do not enforce line timing")
    return parser.parse_args(argv)


def read_commands(bus: MultiSensorBus, fd: int = 0) -> None:
    """Apply each line arriving on `fd` to `bus` and print the answer; return at end of input.

    os.read, not sys.stdin: this daemon thread must hold no lock of the interpreter's stdin
    object while it waits, or shutting down could block on it.
    """
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        pending += chunk if chunk else b"\n"  # at the end, a last line without its newline
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            try:
                answer = run_command(raw.decode("utf-8", "replace"), bus)
            except CommandError as exc:
                answer = f"error: {exc}"
            except Exception as exc:  # noqa: BLE001 - a bad command must not end the console
                answer = f"error: {exc!r}"
            if answer:
                print(answer, flush=True)
        if not chunk:
            return


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    units = [int(u) for u in args.units.split(",") if u.strip()]
    tanks = {
        unit: SimulatedTank(
            args.capacity, 2.0, 2.3, start_pct=90.0 - 15.0 * i, usage_profile=PROFILES[args.profile],
            seed=args.seed + unit, auto_refill_below_pct=20.0,
        )
        for i, unit in enumerate(units)
    }
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with (
        PtyLine(args.baud, enforce_timing=not args.no_timing) as line,
        MultiSensorBus(line.device_path_b, tanks, baud=args.baud, time_scale=args.time_scale) as bus,
    ):
        print(f"Simulated tank sensors, units {units}, {args.baud} baud, 8N2 (11-bit chars)")
        print(f"SERIAL PORT: {line.device_path_a}")
        print(f"stable link: {line.link_a}")
        print(f"tank time runs x{args.time_scale:g}; Ctrl-C to stop; commands on stdin (help)", flush=True)
        threading.Thread(target=read_commands, args=(bus,), name="sim-commands", daemon=True).start()
        try:
            while not done.wait(1.0):
                if bus.error is not None:
                    print(f"simulator stopped: {bus.error!r}", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
