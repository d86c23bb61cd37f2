"""Core runtime benchmarks: the equivalents of Home Assistant's core benchmarks on our bus.

Run from the repository root:

    .venv/bin/python -m bench.core              # full scale (about a minute)
    .venv/bin/python -m bench.core --scale 0.1  # a tenth of every count

Every benchmark goes through the classes the hub itself uses (`Hub(config_dir)` builds
the `Bus`, `StateMachine` and `StateTracker`; the hub is never started, so no database is
opened). Each benchmark gets a fresh hub so listeners of one cannot slow another.

A plain-Python calibration loop runs first in the same process, so results from two
machines (or two Python builds) can be compared through the "x calib" column.
Results are printed, never asserted: the verdict column is PASS when the rate is at
least twice Home Assistant 2025.4's published number, BELOW otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.bus import EVENT_STATE_CHANGED, MATCH_ALL, Event
from hub.runtime import Hub
from hub.states import State

# Home Assistant 2025.4, published rates on a machine of this kind (items per second).
HA_EVENTS_SYNC = 362_000
HA_EVENTS_FILTERED = 2_350_000
HA_STATE_CHANGED_TRACKER = 106_000
HA_JSON_STATES = 107_000
TARGET_FACTOR = 2.0

TRACKED_ENTITIES = 1000
WRITE_ENTITIES = 1000
JSON_CHUNK = 100_000


@dataclass
class Result:
    """One benchmark's outcome; `delivered` is what the listener saw, `expected` what was fired."""

    name: str
    unit: str
    items: int
    seconds: float
    delivered: int
    expected: int
    ha_rate: float | None = None
    key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def ha_ratio(self) -> float | None:
        return None if self.ha_rate is None else self.rate / self.ha_rate

    @property
    def verdict(self) -> str:
        ratio = self.ha_ratio
        if ratio is None:
            return ""
        return "PASS" if ratio >= TARGET_FACTOR else "BELOW"


def _count(n: float, scale: float) -> int:
    return max(1, int(n * scale))


# -- calibration ---------------------------------------------------------------------------


def _trivial(_item: Any) -> None:
    return None


def calibrate(n: int) -> Result:
    """Plain Python: `n` calls of a trivial function reached through a list of callables."""
    callables: list[Callable[[Any], None]] = [_trivial]
    start = time.perf_counter()
    for i in range(n):
        for func in callables:
            func(i)
    seconds = time.perf_counter() - start
    return Result("calibration: call through list", "calls", n, seconds, n, n)


# -- benchmarks ----------------------------------------------------------------------------


def _new_hub(config_dir: str) -> Hub:
    return Hub(config_dir)


async def bench_events_sync(config_dir: str, n: int) -> Result:
    """`n` events of one type to one sync listener (HA: fire_events)."""
    hub = _new_hub(config_dir)
    count = 0

    def listener(_event: Event) -> None:
        nonlocal count
        count += 1

    hub.bus.listen("bench_event", listener)
    fire = hub.bus.fire
    start = time.perf_counter()
    for _ in range(n):
        fire("bench_event")
    seconds = time.perf_counter() - start  # sync listeners run inside fire
    return Result("events -> sync listener", "events", n, seconds, count, n, HA_EVENTS_SYNC)


async def bench_events_filtered(config_dir: str, n: int) -> Result:
    """`n` events whose filter rejects them all (HA: fire_events_with_filter).

    The filter counts its calls so the run proves every event reached it; that count
    costs a few per cent that Home Assistant's `return False` filter does not pay.
    """
    hub = _new_hub(config_dir)
    filtered = 0
    delivered = 0

    def reject(_data: Any) -> bool:
        nonlocal filtered
        filtered += 1
        return False

    def listener(_event: Event) -> None:
        nonlocal delivered
        delivered += 1

    hub.bus.listen("bench_event", listener, event_filter=reject)
    fire = hub.bus.fire
    start = time.perf_counter()
    for _ in range(n):
        fire("bench_event")
    seconds = time.perf_counter() - start
    return Result(
        "events -> filter rejects", "events", n, seconds, filtered, n, HA_EVENTS_FILTERED,
        extra={"listener_calls": delivered},
    )


async def bench_events_coroutine(config_dir: str, n: int) -> Result:
    """`n` events to a coroutine listener; timed until every listener task has finished."""
    hub = _new_hub(config_dir)
    count = 0

    async def listener(_event: Event) -> None:
        nonlocal count
        count += 1

    hub.bus.listen("bench_event", listener)
    fire = hub.bus.fire
    start = time.perf_counter()
    for _ in range(n):
        fire("bench_event")
    await hub.block_till_done(timeout=600)
    seconds = time.perf_counter() - start
    return Result("events -> coroutine listener", "events", n, seconds, count, n)


async def bench_state_changed_tracker(config_dir: str, n: int) -> Result:
    """`n` state_changed events through a StateTracker following 1000 entities."""
    hub = _new_hub(config_dir)
    count = 0

    def action(_event: Event) -> None:
        nonlocal count
        count += 1

    entity_ids = [f"light.kitchen_{i}" for i in range(TRACKED_ENTITIES)]
    hub.tracker.track(entity_ids, action)
    # One data dict per entity, built outside the timed region (HA reuses one dict too).
    payloads = [{"entity_id": eid, "old_state": None, "new_state": None} for eid in entity_ids]
    fire = hub.bus.fire
    start = time.perf_counter()
    for data in itertools.islice(itertools.cycle(payloads), n):
        fire(EVENT_STATE_CHANGED, data)
    seconds = time.perf_counter() - start
    return Result(
        "state_changed -> tracker(1000)", "events", n, seconds, count, n, HA_STATE_CHANGED_TRACKER
    )


async def bench_state_writes(config_dir: str, n: int) -> Result:
    """`n` StateMachine.set calls with a new value each time, over 1000 existing entities.

    Each write fires state_changed; one MATCH_ALL sync listener counts them. The entities
    are created before the timed region, so the loop measures updates, not first writes.
    """
    hub = _new_hub(config_dir)
    count = 0

    entity_ids = [f"sensor.bench_{i}" for i in range(WRITE_ENTITIES)]
    for eid in entity_ids:
        hub.states.set(eid, -1, {"unit_of_measurement": "L"})

    def listener(_event: Event) -> None:
        nonlocal count
        count += 1

    hub.bus.listen(MATCH_ALL, listener)
    set_state = hub.states.set
    attrs = {"unit_of_measurement": "L"}
    start = time.perf_counter()
    for i, eid in zip(range(n), itertools.cycle(entity_ids)):
        set_state(eid, i, attrs)
    seconds = time.perf_counter() - start
    return Result("state writes (set) + match-all", "writes", n, seconds, count, n)


async def bench_json_states(config_dir: str, n: int) -> Result:
    """`n` distinct, freshly built states serialised with State.as_json (no cache hits).

    States are built in chunks outside the timed region; only the as_json calls are timed.
    The bytes are kept (as the state's own cache keeps them), so the cost of the memory
    they occupy is part of the measurement.
    """
    del config_dir
    seconds = 0.0
    serialised = 0
    total_bytes = 0
    remaining = n
    now = time.time()
    while remaining:
        size = min(JSON_CHUNK, remaining)
        states = [
            State("light.kitchen", "on", {"friendly_name": "Kitchen Lights"}, now, now) for _ in range(size)
        ]
        start = time.perf_counter()
        out = [state.as_json() for state in states]
        seconds += time.perf_counter() - start
        serialised += len(out)
        total_bytes += sum(map(len, out))
        remaining -= size
        del states, out
    return Result(
        "State.as_json (fresh states)", "states", n, seconds, serialised, n, HA_JSON_STATES,
        extra={"total_bytes": total_bytes},
    )


BENCHMARKS: list[tuple[str, float, Callable[[str, int], Coroutine[Any, Any, Result]]]] = [
    ("events_sync", 1e6, bench_events_sync),
    ("events_filtered", 1e6, bench_events_filtered),
    ("events_coroutine", 1e5, bench_events_coroutine),
    ("state_changed_tracker", 1e6, bench_state_changed_tracker),
    ("state_writes", 2e5, bench_state_writes),
    ("json_states", 1e6, bench_json_states),
]


async def run_all(scale: float, only: Sequence[str] | None = None, repeat: int = 1) -> list[Result]:
    """Run every benchmark (or the named ones) in this event loop; keep the fastest of `repeat` runs."""
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="maderas-bench-") as config_dir:
        for key, base, func in BENCHMARKS:
            if only and key not in only:
                continue
            best: Result | None = None
            for _ in range(repeat):
                gc.collect()
                result = await func(config_dir, _count(base, scale))
                if best is None or result.seconds < best.seconds:
                    best = result
            assert best is not None
            best.key = key
            results.append(best)
    return results


# -- report --------------------------------------------------------------------------------


def _fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.0f}k/s"
    return f"{rate:.0f}/s"


def format_report(calibration: Result, results: Sequence[Result]) -> str:
    """The table printed by `main`."""
    header = (
        f"{'benchmark':<32} {'items':>9} {'seconds':>8} {'rate':>9} {'x calib':>8} "
        f"{'HA 2025.4':>10} {'x HA':>6}  verdict (>= {TARGET_FACTOR:g}x HA)"
    )
    lines = [header, "-" * len(header)]
    lines.append(
        f"{calibration.name:<32} {calibration.items:>9} {calibration.seconds:>8.3f} "
        f"{_fmt_rate(calibration.rate):>9} {1.0:>8.3f} {'':>10} {'':>6}"
    )
    for r in results:
        ha = "n/a" if r.ha_rate is None else _fmt_rate(r.ha_rate)
        ratio = "n/a" if r.ha_ratio is None else f"{r.ha_ratio:.2f}"
        check = "" if r.delivered == r.expected else f"  !! delivered {r.delivered}/{r.expected}"
        lines.append(
            f"{r.name:<32} {r.items:>9} {r.seconds:>8.3f} {_fmt_rate(r.rate):>9} "
            f"{r.rate / calibration.rate:>8.3f} {ha:>10} {ratio:>6}  {r.verdict}{check}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks, print the table, and return the results (the smoke test reads them)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.core", description="Home Assistant's core benchmarks, run on this hub's runtime."
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (default 1.0)")
    parser.add_argument(
        "--only", action="append", choices=[key for key, _, _ in BENCHMARKS], help="run only this (repeatable)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run each benchmark N times, report the fastest")
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}")
    print(f"scale {args.scale:g}, best of {args.repeat}; asyncio default loop; times from before the first fire "
          "until the last listener ran")
    sys.stdout.flush()

    calibration = min(
        (calibrate(_count(1e6, args.scale)) for _ in range(args.repeat)), key=lambda r: r.seconds
    )
    results = asyncio.run(run_all(args.scale, args.only, args.repeat))
    print(format_report(calibration, results))
    return {"calibration": calibration, "results": results}


if __name__ == "__main__":
    main()
