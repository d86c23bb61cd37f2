"""One camera's flow: stream worker -> motion -> faces -> events, with decoding and detection off the loop.

Threads: the stream worker decodes on its own thread and calls `_on_frame` there; a sampled frame
goes to this camera's single analysis thread (motion every 1/fps s, face detection on motion at
most `detect_per_s`, in the face worker process: recognition.py), never queued: while the analysis
thread is busy, frames are skipped. Results
cross into the event loop with `call_soon_threadsafe`; everything that touches the hub (events,
snapshots in the database, entities) happens on the loop. JPEGs for the snapshot endpoint and the
live view are encoded once per frame, whoever asks, in the default executor.
CPU: the worker's and the analysis thread's `thread_time()`, the face worker's CPU for this camera's
frames and the JPEG encodes are this camera's cost; every `budget.WINDOW_S` the governor compares it with the budget and sets the level.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .budget import Governor, Level
from .faces import Face
from .motion import MotionDetector, MotionResult
from .recognition import FaceService
from .snapshots import encode_jpeg, render
from .stream import Frame, StreamStatus, StreamWorker

_LOGGER = logging.getLogger(__name__)

LIVE_MAX_FPS = 10.0
# PyAV cannot interrupt an open or a read from outside: a stream thread that is still opening a slow
# camera ends by itself (it is a daemon) once FFmpeg's timeout fires; the hub does not wait for it.
STOP_JOIN_S = 3.0
# A resident seen again within this time, or as many strangers as were seen at once within it, is
# the same visit. Detection runs only on motion, so someone standing still at the door is not seen
# for a while: the gap covers that. Place is not used: someone walking up to the door moves several
# face widths between two detections (the demo camera: 260 px between detections 0.16 s apart).
VISIT_GAP_S = 60.0


@dataclass(frozen=True)
class Analysis:
    """What the analysis thread found in one sampled frame (crosses into the loop)."""

    frame_index: int
    motion: MotionResult
    faces: tuple[Face, ...] | None  # None: no detection ran on this frame
    jpeg: bytes | None  # the frame with boxes drawn, when faces were found or motion started
    detect_ms: float | None


@dataclass
class Counters:
    """What the camera entity and /api/rtsp_camera/cameras show about the analysis."""

    analysed: int = 0
    skipped_busy: int = 0
    detections: int = 0
    detect_ms: float | None = None
    last_motion: float | None = None
    last_face: float | None = None
    faces_seen: int = 0
    errors: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _next_deadline(previous: float, now: float, period: float) -> float:
    """The next sample time on a steady grid (a period from the last deadline, not from this frame,
    so 4 samples a second on a 10 fps stream stay 4, not 3.3); restarted after a pause."""
    return previous + period if now - previous < period else now + period


class FaceVisits:
    """Turns per-frame faces into visits, so one person at the door is one event, not one per detection.

    A known face starts a visit when that resident has not been seen within the gap. Unknown faces
    cannot be told apart, so they are counted: a frame with more strangers than were seen at once
    within the gap starts that many more visits.
    """

    def __init__(self, gap_s: float = VISIT_GAP_S) -> None:
        self.gap_s = gap_s
        self._residents: dict[str, float] = {}  # name -> last seen
        self._strangers: list[float] = []  # one last-seen time per stranger seen at once

    def new_faces(self, faces: tuple[Face, ...], now: float) -> list[Face]:
        """The faces that start a visit; every face refreshes the visit it belongs to."""
        self._residents = {name: t for name, t in self._residents.items() if now - t <= self.gap_s}
        self._strangers = [t for t in self._strangers if now - t <= self.gap_s]
        fresh: list[Face] = []
        strangers = [face for face in faces if not (face.known and face.name)]
        for face in faces:
            if face.known and face.name:
                if face.name not in self._residents:
                    fresh.append(face)
                self._residents[face.name] = now
        fresh.extend(strangers[len(self._strangers) :])
        if strangers:
            self._strangers = [now] * max(len(strangers), len(self._strangers))
        return fresh


class CameraPipeline:
    """Runs one camera: stream, sampling, analysis, governor, JPEG cache; results go to the callbacks on the loop."""

    def __init__(
        self,
        *,
        camera_id: str,
        url: str,
        settings: dict[str, Any],
        faces: FaceService | None,
        loop: asyncio.AbstractEventLoop,
        on_analysis: Callable[[Analysis], None],
        on_status: Callable[[StreamStatus], None],
        worker_factory: Callable[..., StreamWorker] = StreamWorker,
    ) -> None:
        self.camera_id = camera_id
        self._loop = loop
        self._on_analysis = on_analysis
        self._on_status = on_status
        self._motion_cfg = settings["motion"]
        self._faces_cfg = settings["faces"]
        self.faces = faces if self._faces_cfg["enabled"] else None
        self.governor = Governor(settings["cpu_budget"])
        self.counters = Counters()
        self._detector = MotionDetector(sensitivity=self._motion_cfg["sensitivity"], min_area=self._motion_cfg["min_area"])
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"camera-{camera_id}")
        self._busy = threading.Event()
        self._level: Level = self.governor.level
        self._next_sample = 0.0
        self._next_detect = 0.0
        self._cpu_lock = threading.Lock()
        self._extra_cpu = 0.0  # analysis thread + JPEG encodes, seconds
        self._window: tuple[float, float] | None = None  # (cpu, monotonic) at the start of the governor window
        self._jpeg: tuple[int, asyncio.Future[bytes]] | None = None  # (frame index, its encode)
        self._live_waiters: set[asyncio.Future[None]] = set()
        self._live_clients = 0
        self._last_wake = 0.0
        self._closed = False
        self.worker = worker_factory(
            url, name=camera_id, on_frame=self._on_frame, on_status=self._status_from_thread,
            stall_after=settings["stall_after"],
        )  # fmt: skip

    # ---- lifecycle

    def start(self) -> None:
        """Start decoding (the worker thread) and the first governor window."""
        self._window = (self._cpu_total(), time.monotonic())
        self.worker.start()

    async def stop(self) -> None:
        """Stop the worker and the analysis thread (both joined off the loop); wake live viewers to end."""
        self._closed = True
        self._wake_live()
        if not await asyncio.to_thread(self.worker.stop, STOP_JOIN_S):
            _LOGGER.info("Camera %s: the stream thread is still waiting on the camera; it ends on its own",
                         self.camera_id)  # fmt: skip
        await asyncio.to_thread(self._executor.shutdown, True, cancel_futures=True)

    # ---- worker thread

    def _on_frame(self, frame: Frame) -> None:
        now = frame.received_monotonic
        if self._live_clients and now - self._last_wake >= 1.0 / LIVE_MAX_FPS:
            self._last_wake = now
            self._loop.call_soon_threadsafe(self._wake_live)
        if not self._motion_cfg["enabled"] or now < self._next_sample or self._closed:
            return
        if self._busy.is_set():
            self.counters.skipped_busy += 1
            return
        self._next_sample = _next_deadline(self._next_sample, now, 1.0 / (self._motion_cfg["fps"] * self._level.motion_factor))
        self._busy.set()
        try:
            self._executor.submit(self._analyse, frame)
        except RuntimeError:  # shut down between the check and the submit
            self._busy.clear()

    def _status_from_thread(self, status: StreamStatus) -> None:
        if not self._closed:
            self._loop.call_soon_threadsafe(self._on_status, status)

    # ---- analysis thread

    def _analyse(self, frame: Frame) -> None:
        started = time.thread_time()
        try:
            result = self._detector.update(frame.image, frame.received_monotonic)
            faces: tuple[Face, ...] | None = None
            detect_ms: float | None = None
            jpeg: bytes | None = None
            now = frame.received_monotonic
            if self.faces is not None and result.motion and now >= self._next_detect:
                period = 1.0 / (self._faces_cfg["detect_per_s"] * self._level.detect_factor)
                self._next_detect = _next_deadline(self._next_detect, now, period)
                t0 = time.perf_counter()
                # Describing a face is ~80 % of a camera's cost (bench/camera.py); with nobody enrolled
                # every face is unknown anyway, so only detect.
                recognise = self._faces_cfg["recognise"] and self.faces.has_gallery
                found, worker_cpu = self.faces.analyze(frame.image, recognise=recognise)
                detect_ms = (time.perf_counter() - t0) * 1000.0
                faces = tuple(found)
                with self._cpu_lock:
                    self._extra_cpu += worker_cpu
                if faces:
                    jpeg = render(frame.image, faces, result.box)
            if jpeg is None and result.started:
                jpeg = render(frame.image, (), result.box)
            analysis = Analysis(frame.index, result, faces, jpeg, detect_ms)
            if not self._closed:
                self._loop.call_soon_threadsafe(self._deliver, analysis)
        except Exception as err:  # a bad frame or a model error must not end the camera's analysis
            self.counters.errors += 1
            self.counters.last_error = f"{type(err).__name__}: {err}"
            _LOGGER.exception("Camera %s: analysing frame %d failed", self.camera_id, frame.index)
        finally:
            with self._cpu_lock:
                self._extra_cpu += time.thread_time() - started
            self._busy.clear()

    # ---- loop

    def _deliver(self, analysis: Analysis) -> None:
        counters = self.counters
        counters.analysed += 1
        if analysis.detect_ms is not None:
            counters.detections += 1
            counters.detect_ms = analysis.detect_ms if counters.detect_ms is None else (
                0.8 * counters.detect_ms + 0.2 * analysis.detect_ms)  # fmt: skip
        self._on_analysis(analysis)

    def governor_tick(self) -> None:
        """Close one budget window: measure, let the governor choose, apply the level to the worker."""
        cpu, wall = self._cpu_total(), time.monotonic()
        if self._window is None:
            self._window = (cpu, wall)
            return
        cpu0, wall0 = self._window
        self._window = (cpu, wall)
        if wall - wall0 <= 0:
            return
        self.governor.report(max(cpu - cpu0, 0.0), wall - wall0)
        if self.governor.level is not self._level:
            _LOGGER.info("Camera %s: CPU %.0f %% of a core against a budget of %.0f %%: %s", self.camera_id,
                         self.governor.last.cpu_percent if self.governor.last else 0.0,
                         self.governor.budget_percent, self.governor.level.label)  # fmt: skip
            self._level = self.governor.level
            self.worker.keyframes_only = self._level.keyframes_only

    def _cpu_total(self) -> float:
        with self._cpu_lock:
            extra = self._extra_cpu
        return self.worker.status.cpu_seconds + extra

    # ---- pictures

    async def jpeg(self) -> bytes | None:
        """The latest frame as JPEG, encoded once per frame for every caller; None before the first frame."""
        frame = self.worker.latest
        if frame is None:
            return None
        cached = self._jpeg
        if cached is not None and cached[0] == frame.index:
            return await asyncio.shield(cached[1])
        future = self._loop.run_in_executor(None, self._encode, frame)
        self._jpeg = (frame.index, future)
        return await asyncio.shield(future)

    def _encode(self, frame: Frame) -> bytes:
        started = time.thread_time()
        try:
            return encode_jpeg(frame.image)
        finally:
            with self._cpu_lock:
                self._extra_cpu += time.thread_time() - started

    async def live(self) -> AsyncIterator[bytes]:
        """JPEGs of new frames, at most LIVE_MAX_FPS; a slow reader gets the newest frame, never a backlog."""
        self._live_clients += 1
        last = -1
        try:
            while not self._closed:
                frame = self.worker.latest
                if frame is not None and frame.index != last:
                    last = frame.index
                    data = await self.jpeg()
                    if data is not None:
                        yield data
                waiter = self._loop.create_future()
                self._live_waiters.add(waiter)
                try:
                    await asyncio.wait_for(waiter, timeout=5.0)
                except TimeoutError:
                    continue  # no new frame for 5 s: look again (the stream may be stalled)
                finally:
                    self._live_waiters.discard(waiter)
        finally:
            self._live_clients -= 1

    @property
    def live_clients(self) -> int:
        """How many live views are open now."""
        return self._live_clients

    def _wake_live(self) -> None:
        waiters, self._live_waiters = self._live_waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def faces_now(self, service: FaceService) -> list[Face]:
        """The faces in the current frame, described (for enrolment); [] without a frame."""
        frame = self.worker.latest
        if frame is None:
            return []
        found, _ = await asyncio.to_thread(service.analyze, frame.image, recognise=True)
        return found
