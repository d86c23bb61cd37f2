"""What cameras cost the hub: decode fps, detection ms, CPU share, event-loop lag and the first snapshot.

Run from the repository root:

    .venv/bin/python -m bench.camera                         # 1, 2 and 4 cameras, 30 s each (~2 min)
    .venv/bin/python -m bench.camera --repeat 3              # three runs of each: min/median
    .venv/bin/python -m bench.camera --cameras 1,4 --seconds 60
    .venv/bin/python -m bench.camera --no-recognise          # detection only: what recognition costs

Issue 8's goal: 4 cameras at 640x480 (2 detections a second each) within one core of a 2-core
machine, and the first snapshot under 1.5 s after start. Printed, never asserted.

Sources: N demo cameras (hub/demo_camera.py: a porch drawn in code, H.264 by libx264, our RTSP
server with Digest) run in a separate process (bench/camera_sources.py), so their drawing and
encoding are not counted as the hub's. A visitor (a face dlib finds) comes every `--visit-every`
s, the first after 2 s; a visit lasts 20 s, so one follows another: walking in and out is motion.
In this process, on one event loop: N `CameraPipeline`s built as integrations/rtsp_camera/camera.py
builds them (the config schema's defaults, the URL with credentials; motion 4 fps, faces on at
2 detections a second, recognition on, no residents enrolled) sharing one `FaceService` worker
process; not the whole integration in a Hub, so events, snapshot rows and entities (work per face
visit, not per frame) are not in the numbers. Every camera runs with `cpu_budget: 100` so the
governor never sheds work during the measurement; a shadow governor at the default budget is fed
the same 10-s windows to say what it would have done.

Per run: each pipeline is started and polled with `jpeg()` every 10 ms until it returns bytes (the
first snapshot); after a warm-up the window (`--seconds`) is measured. CPU: this process's
`process_time` plus the face worker's (/proc) over the window's wall time, as % of one core; per
camera its decode thread and analysis thread (thread CPU clocks) and the face worker CPU that its
calls reported. Lag: the overshoot of a 10 ms `asyncio.sleep` loop. The face worker is started
and its models loaded before the cameras (timed on its own row), as a hub that has run a while.
The baseline in the same run is N=1: per-camera rows are compared with it (`x N=1`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.resources
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image

from bench.camera_sources import Sources, SourcesCost
from integrations.rtsp_camera.budget import LEVELS, WINDOW_S, Governor
from integrations.rtsp_camera.camera import camera_urls
from integrations.rtsp_camera.config import CONFIG_SCHEMA
from integrations.rtsp_camera.faces import Face, Gallery
from integrations.rtsp_camera.pipeline import Analysis, CameraPipeline, FaceVisits
from integrations.rtsp_camera.presets import with_credentials
from integrations.rtsp_camera.recognition import FaceService
from integrations.rtsp_camera.stream import StreamStatus

GOAL_CAMERAS = 4
GOAL_CORE_PERCENT = 100.0
GOAL_SNAPSHOT_S = 1.5
BENCH_BUDGET = 100.0  # the governor must not shed work while we measure
DEFAULT_BUDGET = float(CONFIG_SCHEMA({"cameras": [{"name": "x", "sub_url": "rtsp://h/x"}]})["cameras"][0]["cpu_budget"])
LAG_PERIOD_S = 0.01
SNAPSHOT_POLL_S = 0.01
SNAPSHOT_TIMEOUT_S = 20.0


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share 0.5 = median); nan for no values."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * share)) - 1] if ordered else float("nan")


# -- CPU clocks ----------------------------------------------------------------------------------------------


def thread_cpu() -> dict[str, float]:
    """CPU seconds of every live thread of this process, by thread name (Linux thread CPU clocks)."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            out[thread.name] = out.get(thread.name, 0.0) + time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, ProcessLookupError):  # the thread ended between the listing and the clock
            continue
    return out


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process from /proc; None when it is gone or /proc is missing."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces: fields start after it
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def child_processes() -> dict[int, float]:
    """This process's children (not multiprocessing's resource tracker) and their CPU seconds."""
    me, out = os.getpid(), {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        stat = _proc_stat(int(name)) if name.isdigit() else None
        if stat is not None and stat[0] == me and not _is_resource_tracker(int(name)):
            out[int(name)] = stat[1]
    return out


# -- one camera in the bench --------------------------------------------------------------------------------


class MeteredFaces:
    """The shared FaceService as one pipeline sees it, counting that camera's calls and worker CPU."""

    def __init__(self, service: FaceService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self.calls = 0
        self.cpu_s = 0.0

    @property
    def has_gallery(self) -> bool:
        """As FaceService: the pipeline recognises only when someone is enrolled."""
        return self.service.has_gallery

    def analyze(self, image: np.ndarray, *, recognise: bool = True) -> tuple[list[Face], float]:
        """FaceService.analyze, counted."""
        found, cpu = self.service.analyze(image, recognise=recognise)
        with self._lock:
            self.calls += 1
            self.cpu_s += cpu
        return found, cpu

    def read(self) -> tuple[int, float]:
        with self._lock:
            return self.calls, self.cpu_s


@dataclass
class Watch:
    """What the bench collects about one camera while it runs (on the loop)."""

    camera_id: str
    metered: MeteredFaces
    pipeline: CameraPipeline = field(init=False)  # built with this watch's on_analysis
    started: float = 0.0
    first_snapshot_s: float | None = None
    measuring: bool = False
    detect_ms: list[float] = field(default_factory=list)
    face_frames: int = 0
    face_events: int = 0
    motion_starts: int = 0
    visits: FaceVisits = field(default_factory=FaceVisits)
    shadow: Governor = field(default_factory=lambda: Governor(DEFAULT_BUDGET))
    level_reached: int = 0
    shadow_reached: int = 0
    window_peak: float = 0.0  # the highest CPU % of one core in any governor window
    windows: int = 0

    def on_analysis(self, analysis: Analysis) -> None:
        fresh = self.visits.new_faces(analysis.faces, time.monotonic()) if analysis.faces else []
        if not self.measuring:
            return
        if analysis.detect_ms is not None:
            self.detect_ms.append(analysis.detect_ms)
        self.face_frames += bool(analysis.faces)
        self.face_events += bool(fresh)  # the integration fires one face_detected per frame that starts visits
        self.motion_starts += analysis.motion.started

    def governor_tick(self) -> None:
        """What Camera._tick does every WINDOW_S, plus the shadow governor at the default budget."""
        self.pipeline.governor_tick()
        usage = self.pipeline.governor.last
        self.level_reached = max(self.level_reached, self.pipeline.governor.level.index)
        if usage is not None:
            self.windows += 1
            self.window_peak = max(self.window_peak, usage.cpu_percent)
            self.shadow.report(usage.cpu_percent / 100 * WINDOW_S, WINDOW_S)
            self.shadow_reached = max(self.shadow_reached, self.shadow.level.index)


def _ignore_status(status: StreamStatus) -> None:
    """The bench reads the worker's status when it samples; the pushed copies are not needed."""


@dataclass(frozen=True)
class CameraResult:
    """One camera over the measured window."""

    camera_id: str
    first_snapshot_s: float | None
    decode_fps: float  # decoded frames / window
    status_fps: float  # StreamStatus.fps at the end of the window
    analysed: int
    detections: int
    detect_ms: tuple[float, ...]
    worker_cpu_s: float  # what this camera's face calls reported
    face_frames: int
    face_events: int
    motion_starts: int
    decode_cpu_s: float
    analysis_cpu_s: float
    skipped_busy: int  # sampled frames skipped because the analysis thread was still busy
    errors: int
    level_reached: int
    shadow_reached: int
    window_peak: float
    windows: int


@dataclass(frozen=True)
class Run:
    """One run with N cameras."""

    cameras: int
    window_s: float
    results: tuple[CameraResult, ...]
    process_cpu_s: float
    worker_cpu_s: float  # the face worker process(es), from /proc (or the calls' reports without /proc)
    lag_ms: tuple[float, ...]
    face_start_s: float
    sources: SourcesCost | None
    load: tuple[float, float]  # 1-min load average at the window's start and end
    sources_pid: int | None
    worker_pids: tuple[int, ...]
    problems: tuple[str, ...]

    def share(self, cpu_s: float) -> float:
        """CPU seconds over the window as % of one core."""
        return 100.0 * cpu_s / self.window_s

    @property
    def total_percent(self) -> float:
        return self.share(self.process_cpu_s + self.worker_cpu_s)


class _Problems(logging.Handler):
    """Warnings and errors logged during a run (printed as `!!` lines instead of going to stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


async def _lag_probe(samples: list[float], measuring: Callable[[], bool]) -> None:
    """Sleep 10 ms again and again; the overshoot is how long the loop was kept from us."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_PERIOD_S)
        if measuring():
            samples.append((time.perf_counter() - before - LAG_PERIOD_S) * 1000.0)


async def _first_snapshot(watch: Watch) -> None:
    deadline = watch.started + SNAPSHOT_TIMEOUT_S
    while time.perf_counter() < deadline:
        if await watch.pipeline.jpeg():
            watch.first_snapshot_s = time.perf_counter() - watch.started
            return
        await asyncio.sleep(SNAPSHOT_POLL_S)


async def _governor_ticks(watches: Sequence[Watch]) -> None:
    while True:
        await asyncio.sleep(WINDOW_S)
        for watch in watches:
            watch.governor_tick()


def _visitor_frame() -> np.ndarray:
    """A 640x480 frame with the demo's visitor, to load the face worker's models before the cameras start."""
    with importlib.resources.files("hub").joinpath("demo_assets", "visitor.jpg").open("rb") as file:
        face = np.asarray(Image.open(file).convert("RGB"))[:480, :480]
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    h, w = face.shape[:2]
    frame[480 - h :, 160 : 160 + w] = face
    return frame


async def one_run(count: int, args: argparse.Namespace) -> Run:
    """Sources up, face worker warm, N pipelines started and timed to their first snapshot, one window measured."""
    problems = _Problems()
    root = logging.getLogger()
    root.addHandler(problems)
    sources = Sources(count, visit_every=args.visit_every, first_visit=args.first_visit, fps=args.fps)
    service: FaceService | None = None
    watches: list[Watch] = []
    tasks: list[asyncio.Task[None]] = []
    cost: SourcesCost | None = None
    sources_pid: int | None = None
    try:
        found = await sources.start()
        sources_pid = sources.pid
        conf = CONFIG_SCHEMA({"cameras": [
            {"name": f"cam{i + 1}", "sub_url": s.url, "username": s.username, "password": s.password, "auth": "digest",
             "motion": {"fps": 4}, "faces": {"enabled": True, "detect_per_s": 2, "recognise": args.recognise},
             "cpu_budget": BENCH_BUDGET} for i, s in enumerate(found)]})  # fmt: skip
        service = FaceService(max_distance=conf["face_match_distance"])
        t0 = time.perf_counter()
        warm, _ = await asyncio.to_thread(service.analyze, _visitor_frame(), recognise=True)
        face_start_s = time.perf_counter() - t0
        # A household with someone enrolled (the visitor: the cost is the same for anyone), so every
        # detection is also described and matched: the worst case. Nobody enrolled = detection only.
        if args.recognise and warm and warm[0].descriptor is not None:
            gallery = Gallery()
            gallery.add("Resident", warm[0].descriptor)
            service.set_gallery(gallery)
        worker_pids = tuple(pid for pid in child_processes() if pid != sources.pid)
        loop = asyncio.get_running_loop()
        for camera in conf["cameras"]:
            metered = MeteredFaces(service)
            url = with_credentials(camera_urls(camera).analysed, camera.get("username"), camera.get("password"))
            watch = Watch(camera["id"], metered)
            # The proxy counts this camera's share of the shared worker; the pipeline calls only `analyze`.
            watch.pipeline = CameraPipeline(camera_id=camera["id"], url=url, settings=camera,
                                            faces=cast(FaceService, metered), loop=loop,
                                            on_analysis=watch.on_analysis, on_status=_ignore_status)  # fmt: skip
            watches.append(watch)
        lag: list[float] = []
        measuring = False
        tasks.append(asyncio.create_task(_lag_probe(lag, lambda: measuring), name="bench lag probe"))
        tasks.append(asyncio.create_task(_governor_ticks(watches), name="bench governor"))
        snapshots = []
        for watch in watches:
            watch.started = time.perf_counter()
            watch.pipeline.start()
            snapshots.append(asyncio.create_task(_first_snapshot(watch), name=f"bench snapshot {watch.camera_id}"))
        await asyncio.gather(*snapshots)
        await asyncio.sleep(args.warmup)

        def sample() -> tuple[float, float, float, dict[str, float], dict[int, float], list[Any]]:
            frames = [(w.pipeline.worker.status.frames, w.metered.read(), w.pipeline.counters.analysed,
                       w.pipeline.counters.skipped_busy) for w in watches]  # fmt: skip
            return time.perf_counter(), time.process_time(), os.getloadavg()[0], thread_cpu(), child_processes(), frames

        for watch in watches:
            watch.measuring = True
        measuring = True
        wall0, cpu0, load0, threads0, children0, counters0 = sample()
        await asyncio.sleep(args.seconds)
        wall1, cpu1, load1, threads1, children1, counters1 = sample()
        measuring = False
        for watch in watches:
            watch.measuring = False
        window = wall1 - wall0

        def thread_delta(prefix: str) -> float:
            names = [n for n in threads1 if n.startswith(prefix)]
            return sum(threads1[n] - threads0.get(n, 0.0) for n in names)

        results = []
        for watch, (frames0, (calls0, wcpu0), analysed0, busy0), (frames1, (calls1, wcpu1), analysed1, busy1) in zip(
                watches, counters0, counters1, strict=True):  # fmt: skip
            status, cid = watch.pipeline.worker.status, watch.camera_id
            results.append(CameraResult(
                cid, watch.first_snapshot_s, (frames1 - frames0) / window, status.fps, analysed1 - analysed0,
                calls1 - calls0, tuple(watch.detect_ms), wcpu1 - wcpu0, watch.face_frames, watch.face_events,
                watch.motion_starts, thread_delta(f"rtsp-{cid}"), thread_delta(f"camera-{cid}_"),
                busy1 - busy0, watch.pipeline.counters.errors, watch.level_reached,
                watch.shadow_reached, watch.window_peak, watch.windows))  # fmt: skip
        worker_pids_now = [pid for pid in worker_pids if pid in children0 and pid in children1]
        if worker_pids_now:
            worker_cpu = sum(children1[pid] - children0[pid] for pid in worker_pids_now)
        else:  # no /proc: what the calls reported (misses the worker's unpickling of the frames)
            worker_cpu = sum(r.worker_cpu_s for r in results)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watch in watches:
            await watch.pipeline.stop()
        if service is not None:
            await asyncio.to_thread(service.close)
        cost = await sources.stop()
        root.removeHandler(problems)
    return Run(count, window, tuple(results), cpu1 - cpu0, worker_cpu, tuple(lag), face_start_s, cost, (load0, load1),
               sources_pid, worker_pids, tuple(problems.lines))  # fmt: skip


# -- the report ----------------------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _per_camera(run: Run, value: Callable[[CameraResult], float]) -> float:
    return _mean([value(r) for r in run.results])


def _detections(run: Run) -> list[float]:
    return [ms for r in run.results for ms in r.detect_ms]


def _worker_ms(run: Run) -> float:
    calls = sum(r.detections for r in run.results)
    return 1000.0 * sum(r.worker_cpu_s for r in run.results) / calls if calls else float("nan")


def _snapshots(run: Run) -> list[float]:
    return [r.first_snapshot_s if r.first_snapshot_s is not None else math.inf for r in run.results]


def _threads(run: Run) -> float:
    return sum(r.decode_cpu_s + r.analysis_cpu_s for r in run.results)


def _sources_percent(run: Run) -> float:
    """The sources' CPU over their whole life (start to stop), as % of one core: load on the same machine."""
    return 100.0 * run.sources.cpu_s / run.sources.wall_s if run.sources and run.sources.wall_s else float("nan")


# (label, value of a run, digits). Per-camera rows are means over the run's cameras.
ROWS: tuple[tuple[str, Callable[[Run], float], int], ...] = (
    ("decode fps per camera (frames / window)", lambda r: _per_camera(r, lambda c: c.decode_fps), 1),
    ("  StreamStatus.fps at the end", lambda r: _per_camera(r, lambda c: c.status_fps), 1),
    ("analysed frames per s per camera", lambda r: _per_camera(r, lambda c: c.analysed / r.window_s), 2),
    ("samples skipped, analysis busy, per s", lambda r: _per_camera(r, lambda c: c.skipped_busy / r.window_s), 2),
    ("detections per s per camera", lambda r: _per_camera(r, lambda c: c.detections / r.window_s), 2),
    ("detect ms per frame, mean (call)", lambda r: _mean(_detections(r)), 1),
    ("detect ms per frame, p95 (call)", lambda r: percentile(_detections(r), 0.95), 1),
    ("  face worker CPU ms per detection", _worker_ms, 1),
    ("frames with faces per camera", lambda r: _per_camera(r, lambda c: c.face_frames), 1),
    ("face events (visits) per camera", lambda r: _per_camera(r, lambda c: c.face_events), 1),
    ("motion starts per camera", lambda r: _per_camera(r, lambda c: c.motion_starts), 1),
    ("CPU % of one core per camera", lambda r: r.total_percent / r.cameras, 1),
    ("  decode thread", lambda r: _per_camera(r, lambda c: r.share(c.decode_cpu_s)), 1),
    ("  analysis thread (motion, boxes, IPC)", lambda r: _per_camera(r, lambda c: r.share(c.analysis_cpu_s)), 1),
    ("  face worker", lambda r: r.share(r.worker_cpu_s) / r.cameras, 1),
    ("  loop and the rest of the process", lambda r: r.share(r.process_cpu_s - _threads(r)) / r.cameras, 1),
    ("CPU % of one core, all cameras", lambda r: r.total_percent, 1),
    ("  hub process (process_time)", lambda r: r.share(r.process_cpu_s), 1),
    ("  face worker process", lambda r: r.share(r.worker_cpu_s), 1),
    ("event-loop lag p50 ms (10 ms sleeps)", lambda r: percentile(r.lag_ms, 0.5), 2),
    ("event-loop lag p99 ms", lambda r: percentile(r.lag_ms, 0.99), 2),
    ("event-loop lag max ms", lambda r: max(r.lag_ms, default=float("nan")), 1),
    ("first snapshot s, slowest camera", lambda r: max(_snapshots(r)), 2),
    ("first snapshot s, median camera", lambda r: statistics.median(_snapshots(r)), 2),
    ("face worker start s (before the cameras)", lambda r: r.face_start_s, 2),
    ("sources' process CPU % (not the hub's)", _sources_percent, 1),
    ("load average (1 min) at window start", lambda r: r.load[0], 2),
)  # fmt: skip
LABEL_WIDTH = 44
CELL_WIDTH = 22


def _cell(values: Sequence[float], digits: int) -> str:
    """`min/median` over runs, or the single value."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{min(values):.{digits}f}/{statistics.median(values):.{digits}f}"


def format_report(runs: dict[int, list[Run]], args: argparse.Namespace) -> str:
    """The table (a column per camera count, ratios to N=1), the verdicts, the governor and any problems."""
    counts = sorted(runs)
    repeats = len(runs[counts[0]])
    base = 1 if 1 in runs else counts[0]
    lines = [
        (f"Cameras: {args.fps:g} fps 640x480 H.264 demo cameras in a separate process, a visitor every "
         f"{args.visit_every:g} s; motion 4 fps, 2 detections/s, recognition "
         f"{'on' if args.recognise else 'OFF'}, one shared face worker; "
         f"window {args.seconds:g} s after {args.warmup:g} s warm-up"),
        (f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
         f"{repeats} run(s) of each" + (", cells are min/median over runs" if repeats > 1 else "")
         + f"; x N={base}: median over the N={base} median"),
        f"{'':<{LABEL_WIDTH}}" + "".join(f"{f'N={n}':>{CELL_WIDTH}}" for n in counts),
    ]  # fmt: skip
    for label, value, digits in ROWS:
        cells = []
        base_median = statistics.median([value(r) for r in runs[base]])
        for n in counts:
            values = [value(r) for r in runs[n]]
            cell = _cell(values, digits)
            if n != base and base_median and math.isfinite(base_median):
                cell += f" ({statistics.median(values) / base_median:.2f}x)"
            cells.append(f"{cell:>{CELL_WIDTH}}")
        lines.append(f"{label:<{LABEL_WIDTH}}" + "".join(cells))
    lines.append("-" * (LABEL_WIDTH + CELL_WIDTH * len(counts)))
    lines.extend(_verdicts(runs))
    lines.extend(_governor(runs))
    for n in counts:
        for index, run in enumerate(runs[n]):
            tag = f"N={n} run {index + 1}"
            lines.extend(f"  !! {tag}: {line}" for line in run.problems[:5])
            for r in run.results:
                if r.first_snapshot_s is None:
                    lines.append(f"  !! {tag}: {r.camera_id} gave no snapshot within {SNAPSHOT_TIMEOUT_S:g} s")
                if r.errors:
                    lines.append(f"  !! {tag}: {r.camera_id} failed to analyse {r.errors} frames")
    return "\n".join(lines)


def _verdicts(runs: dict[int, list[Run]]) -> list[str]:
    lines = []
    if GOAL_CAMERAS in runs:
        total = statistics.median([r.total_percent for r in runs[GOAL_CAMERAS]])
        verdict = "PASS" if total <= GOAL_CORE_PERCENT else "MISS"
        lines.append(f"{GOAL_CAMERAS} cameras within one core (hub process + face worker <= {GOAL_CORE_PERCENT:g} % "
                     f"of one core): {verdict} ({total:.0f} %)")  # fmt: skip
    else:
        top = max(runs)
        per = statistics.median([r.total_percent / r.cameras for r in runs[top]])
        lines.append(f"{GOAL_CAMERAS} cameras within one core: not measured (no N={GOAL_CAMERAS} run); "
                     f"{GOAL_CAMERAS} x N={top}'s per-camera share would be {GOAL_CAMERAS * per:.0f} %")  # fmt: skip
    slowest = max(s for n in runs for r in runs[n] for s in _snapshots(r))
    verdict = "PASS" if slowest < GOAL_SNAPSHOT_S else "MISS"
    shown = f"{slowest:.2f} s" if math.isfinite(slowest) else "a camera gave none"
    lines.append(f"first snapshot under {GOAL_SNAPSHOT_S:g} s after start (slowest camera of every run): "
                 f"{verdict} ({shown})")  # fmt: skip
    return lines


def _governor(runs: dict[int, list[Run]]) -> list[str]:
    every = [(n, r) for n in sorted(runs) for run in runs[n] for r in run.results]
    shed = sorted({f"N={n} {r.camera_id}: {LEVELS[r.level_reached].label}" for n, r in every if r.level_reached})
    lines = [f"governor: cpu_budget {BENCH_BUDGET:g} % on every camera, so it does not shed work while we measure; "
             + ("levels reached: " + "; ".join(shed) if shed else "every camera stayed at full")]  # fmt: skip
    peak = max((r.window_peak for _, r in every), default=0.0)
    if not any(r.windows for _, r in every):
        lines.append(f"at the default cpu_budget {DEFAULT_BUDGET:g} %: no {WINDOW_S:g}-s governor window closed "
                     "(run longer to see what it would do)")  # fmt: skip
        return lines
    would = sorted({f"N={n} {r.camera_id}: {LEVELS[r.shadow_reached].label}" for n, r in every if r.shadow_reached})
    lines.append(f"at the default cpu_budget {DEFAULT_BUDGET:g} % (the same {WINDOW_S:g}-s windows, highest "
                 f"{peak:.0f} % of a core): " + ("would have stepped to " + "; ".join(would) if would else
                                                 "every camera would have stayed at full"))  # fmt: skip
    return lines


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure and print; returns the runs by camera count and the report (for the smoke test)."""
    parser = argparse.ArgumentParser(prog="python -m bench.camera", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", default="1,2,4", help="camera counts to run, comma-separated (baseline: 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window of each run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds between the last first snapshot and the window")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each count, each on fresh sources; min/median")
    parser.add_argument("--visit-every", type=float, default=10.0, help="seconds between the demo cameras' visitors")
    parser.add_argument("--first-visit", type=float, default=2.0, help="seconds to the first visitor")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second of each camera")
    parser.add_argument("--no-recognise", dest="recognise", action="store_false",
                        help="detect faces without describing them (what recognition costs, by difference)")
    args = parser.parse_args(argv)
    try:
        counts = sorted({int(part) for part in args.cameras.split(",") if part.strip()})
    except ValueError:
        parser.error("--cameras takes counts like 1,2,4")
    if not counts or counts[0] < 1 or args.seconds <= 0 or args.warmup < 0 or args.repeat < 1:
        parser.error("--cameras must be >= 1, --seconds > 0, --warmup >= 0, --repeat >= 1")

    async def run_all() -> dict[int, list[Run]]:
        runs: dict[int, list[Run]] = {n: [] for n in counts}
        for _ in range(args.repeat):
            for n in counts:
                runs[n].append(await one_run(n, args))
        return runs

    runs = asyncio.run(run_all())
    report = format_report(runs, args)
    print(report)
    sys.stdout.flush()
    return {"runs": runs, "args": args, "report": report}


if __name__ == "__main__":
    main()
