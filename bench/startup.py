"""Start-to-ready time and idle memory of `hub run` on a minimal configuration.

Run: `python -m bench.startup [--runs 5]`. Each run starts a fresh `hub run` process on a
new configuration directory (first start: writes the default configuration, creates the
database and runs every migration) and on the same directory again (a warm restart), waits
for the "Hub ready" line, lets it idle, reads its resident memory from /proc, and stops it
with SIGTERM. Baselines measured in the same command: a bare interpreter start (`python -c
pass`) and Home Assistant 2025.4's figures on a machine of this kind (2.4 s to an answering
API, 173 MiB resident idle). Goals: under 0.5 s and under 50 MiB. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HA_READY_S = 2.4
HA_RSS_MIB = 173.0
GOAL_READY_S = 0.5
GOAL_RSS_MIB = 50.0


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found")


def bare_interpreter() -> tuple[float, float]:
    """Seconds to start and exit `python -c pass`, and the RSS of an idle bare interpreter."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    elapsed = time.perf_counter() - started
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE) as proc:
        time.sleep(0.2)
        rss = rss_mib(proc.pid)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    return elapsed, rss


def one_run(config_dir: Path, idle: float) -> tuple[float, float, float]:
    """Start `hub run`; return (seconds to ready, idle RSS MiB, seconds to stop)."""
    cmd = [sys.executable, "-m", "hub", "--log-level", "INFO", "run", "-c", str(config_dir)]
    started = time.perf_counter()
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as proc:
        assert proc.stderr is not None
        ready = None
        for line in proc.stderr:
            if "Hub ready" in line:
                ready = time.perf_counter() - started
                break
        if ready is None:
            proc.kill()
            raise RuntimeError("hub exited before it was ready")
        time.sleep(idle)
        rss = rss_mib(proc.pid)
        stop_started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
        stopped = time.perf_counter() - stop_started
    return ready, rss, stopped


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Measure and print; returns the medians (for the smoke test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds to idle before reading memory")
    args = parser.parse_args(argv)

    bare_s, bare_rss = bare_interpreter()
    cold: list[tuple[float, float, float]] = []
    warm: list[tuple[float, float, float]] = []
    for index in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            cold.append(one_run(Path(tmp), args.idle))
            warm.append(one_run(Path(tmp), args.idle))
        print(f"  run {index + 1}/{args.runs}: cold {cold[-1][0]:.3f} s, warm {warm[-1][0]:.3f} s", file=sys.stderr)

    def med(runs: list[tuple[float, float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    result = {
        "cold_ready_s": med(cold, 0),
        "warm_ready_s": med(warm, 0),
        "idle_rss_mib": med(warm, 1),
        "stop_s": med(warm, 2),
        "bare_start_s": bare_s,
        "bare_rss_mib": bare_rss,
    }
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs (medians)")
    print(f"{'measure':<28}{'value':>10}{'x bare python':>15}{'x HA 2025.4':>13}  goal")
    rows = [
        ("start to ready, first start", result["cold_ready_s"], "s", bare_s, HA_READY_S, GOAL_READY_S),
        ("start to ready, restart", result["warm_ready_s"], "s", bare_s, HA_READY_S, GOAL_READY_S),
        ("resident memory, idle", result["idle_rss_mib"], "MiB", bare_rss, HA_RSS_MIB, GOAL_RSS_MIB),
    ]
    for name, value, unit, bare, ha, goal in rows:
        verdict = "PASS" if value < goal else "ABOVE"
        print(f"{name:<28}{value:>7.3f} {unit:<3}{value / bare:>14.1f}x{value / ha:>12.2f}x  < {goal:g} {unit}: {verdict}")
    print(f"{'SIGTERM to exit':<28}{result['stop_s']:>7.3f} s")
    return result


if __name__ == "__main__":
    main()
