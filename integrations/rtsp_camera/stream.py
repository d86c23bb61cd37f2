"""The stream worker: one thread per camera that keeps the latest decoded frame and says how the stream is.

PyAV (FFmpeg) opens the RTSP URL over TCP, decodes video on this thread only (so the thread's CPU
time is the camera's decode cost) and converts each frame to an RGB numpy array. A stream that
gives no frame for `stall_after` seconds, or ends, is closed and reopened with backoff.

Blocking reads are bounded by PyAV's interrupt timeout: FFmpeg's RTSP demuxer gives up after about
two read timeouts on a frozen camera (measured), so the read timeout is half of `stall_after`.
A killed camera closes its socket and is noticed at once. Closing the container from another
thread is unsafe and PyAV offers no external interrupt, so `stop()` is immediate while frames flow
but waits out the read timeout against a frozen camera (and `open_timeout` during an open).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import av
import av.container
import av.error
import av.video.frame
import numpy as np
import numpy.typing as npt

from integrations.rtsp_camera.presets import redact

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
State = Literal["connecting", "streaming", "stalled", "stopped", "failed"]
# Low-latency opening (TESTING.md "RTSP cameras": first frame in ~1.2 s): read little before decoding.
BASE_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "200000", "probesize": "65536", "fflags": "nobuffer"}
CALLBACK_LOG_EVERY = 60.0  # s between log lines about a failing callback, so a bad one cannot flood the log


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture: `image` is uint8 (height, width, 3) RGB, C-contiguous and read-only (shared)."""

    image: npt.NDArray[np.uint8]
    index: int  # decoded frames since the worker started, from 1
    pts: float | None  # presentation time in the stream, seconds
    received_monotonic: float
    width: int
    height: int


@dataclass(frozen=True)
class StreamStatus:
    """How one camera's stream is doing, with the counters the entities and the CPU governor read."""

    state: State
    reason: str
    since: float  # time.monotonic() of the last state change
    reconnects: int  # open attempts after the first
    frames: int  # decoded frames since start
    decode_errors: int
    fps: float  # decoded frames per second over the last `fps_window` seconds; 0 unless streaming
    codec: str | None
    width: int | None
    height: int | None
    cpu_seconds: float  # time.thread_time() of the worker thread
    keyframes_only: bool


class _OpenFailed(Exception):
    """The stream could not be opened; the message is a sentence for the resident."""


def describe_open_error(err: Exception, timeout: float, elapsed: float = 0.0) -> str:
    """A resident-readable sentence for an exception from av.open (never the URL: it may hold the password)."""
    detail = getattr(err, "strerror", None) or type(err).__name__
    if isinstance(err, av.error.HTTPUnauthorizedError):
        return "the camera refused the credentials (401 Unauthorized)"
    if isinstance(err, av.error.HTTPForbiddenError):
        return "the camera refused access to this stream (403 Forbidden)"
    if isinstance(err, av.error.HTTPNotFoundError):
        return "the camera has no stream at this address (404 Not Found)"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused by the camera"
    # A silent camera surfaces as InvalidDataError once the interrupt timeout fires (TESTING.md): time tells.
    if isinstance(err, (av.error.ExitError, av.error.TimeoutError, TimeoutError)) or elapsed >= timeout:
        return f"the camera did not answer within {timeout:g} s"
    if isinstance(err, av.error.InvalidDataError):
        return "the camera sent nothing the decoder could use"
    return f"cannot open the stream: {detail}"


class StreamWorker:
    """Decodes one camera's stream on its own daemon thread; the newest frame wins, nothing queues.

    `on_frame(frame)` and `on_status(status)` are called on the worker thread: they must be quick
    (hand the frame to another thread or the loop with call_soon_threadsafe) and must not block,
    or the stream falls behind and stalls. `on_status` is called on every state change and about
    every `status_every` seconds while streaming (fps and CPU move).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "camera",
        on_frame: Callable[[Frame], None] | None = None,
        on_status: Callable[[StreamStatus], None] | None = None,
        stall_after: float = 5.0,
        open_timeout: float = 10.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        backoff_reset_after: float = 60.0,
        keyframes_only: bool = False,
        status_every: float = 1.0,
        fps_window: float = 5.0,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self._url = url
        self.name = name
        self._on_frame = on_frame
        self._on_status = on_status
        self._stall_after = stall_after
        self._open_timeout = open_timeout
        self._backoff = (backoff_initial, backoff_max, backoff_reset_after)
        self._status_every = status_every
        self._fps_window = fps_window
        # FFmpeg's socket timeout (µs; FFmpeg 8 knows "timeout", not the old "stimeout") backs up PyAV's.
        self._options = {**BASE_OPTIONS, "timeout": str(int(max(stall_after, open_timeout) * 1e6)), **(options or {})}
        self._keyframes_only = keyframes_only
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._latest: Frame | None = None
        self._frame_times: collections.deque[float] = collections.deque()
        self._state: State = "stopped"
        self._reason = "not started"
        self._since = time.monotonic()
        self._reconnects = 0
        self._frames = 0
        self._decode_errors = 0
        self._codec: str | None = None
        self._size: tuple[int, int] | None = None
        self._cpu = 0.0
        self._callback_logged = 0.0

    # ------------------------------------------------------------------ public API

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is not None:
            raise RuntimeError(f"stream worker {self.name} already started")
        with self._lock:
            self._state, self._reason, self._since = "connecting", "starting", time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"rtsp-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to end and wait up to `timeout` s; True when it has ended (or never started)."""
        if self._thread is None:
            return True
        self._stop.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        """True while the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def latest(self) -> Frame | None:
        """The newest decoded frame, or None before the first."""
        return self._latest

    @property
    def keyframes_only(self) -> bool:
        """Whether only keyframes are decoded (the CPU governor's last resort: about 1 fps)."""
        return self._keyframes_only

    @keyframes_only.setter
    def keyframes_only(self, value: bool) -> None:
        # Read by the worker before each packet; a bool assignment is atomic.
        self._keyframes_only = value

    @property
    def status(self) -> StreamStatus:
        """A consistent snapshot of the stream's state and counters."""
        with self._lock:
            now = time.monotonic()
            fps = self._fps(now) if self._state == "streaming" else 0.0
            width, height = self._size or (None, None)
            return StreamStatus(
                self._state,
                self._reason,
                self._since,
                self._reconnects,
                self._frames,
                self._decode_errors,
                fps,
                self._codec,
                width,
                height,
                self._cpu,
                self._keyframes_only,
            )

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        initial, maximum, reset_after = self._backoff
        delay = initial
        first = True
        self._set_state("connecting", "opening the stream")
        try:
            while not self._stop.is_set():
                if not first:
                    with self._lock:
                        self._reconnects += 1
                    self._set_state("connecting", self._reason)
                first = False
                try:
                    container = self._open()
                except _OpenFailed as failure:
                    self._set_state("failed", str(failure))
                else:
                    try:
                        opened = time.monotonic()
                        reason = self._pump(container)
                    finally:
                        container.close()
                    if self._stop.is_set():
                        break
                    if time.monotonic() - opened >= reset_after:
                        delay = initial  # a good minute: the camera is back to normal
                    self._set_state("stalled", reason)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, maximum)
        except Exception:  # a bug here must not kill the camera silently
            _LOGGER.exception("stream worker %s crashed (%s)", self.name, redact(self._url))
            self._set_state("failed", "internal error in the stream worker (see the log)")
            return
        self._set_state("stopped", "stopped")

    def _open(self) -> av.container.InputContainer:
        """Open the stream and find its video; raise _OpenFailed with a readable reason."""
        started = time.monotonic()
        try:
            container = av.open(
                self._url,
                options=self._options,
                timeout=(self._open_timeout, self._stall_after / 2),
            )
        except (av.error.FFmpegError, OSError) as err:
            _LOGGER.debug("opening %s failed: %r", redact(self._url), err)
            elapsed = time.monotonic() - started
            raise _OpenFailed(describe_open_error(err, self._open_timeout, elapsed)) from None
        if not container.streams.video:
            container.close()
            raise _OpenFailed("the stream has no video")
        return container

    def _pump(self, container: av.container.InputContainer) -> str:
        """Decode until the stream stalls, ends or the worker stops; return why it ended."""
        stream = container.streams.video[0]
        context = stream.codec_context
        context.thread_count = 1  # decode on this thread: its thread_time() is the camera's cost
        with self._lock:
            self._codec = context.name.upper()
        applied: str | None = None
        last_frame = last_status = time.monotonic()
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return "stopped"
                wanted: Literal["NONKEY", "DEFAULT"] = "NONKEY" if self._keyframes_only else "DEFAULT"
                if wanted != applied:
                    context.skip_frame = wanted
                    applied = wanted
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    # One broken packet costs its frames, not the stream.
                    with self._lock:
                        self._decode_errors += 1
                    frames = []
                for frame in frames:
                    if isinstance(frame, av.video.frame.VideoFrame):
                        last_frame = self._deliver(frame)
                now = time.monotonic()
                if now - last_frame > self._stall_after:
                    return f"no frames for {now - last_frame:.0f} s"
                if now - last_status >= self._status_every:
                    last_status = now
                    self._emit()
        except av.error.FFmpegError:
            # The interrupt timeout (ExitError) or the socket timeout on a frozen camera.
            return f"no frames for {time.monotonic() - last_frame:.0f} s"
        return "the camera ended the stream"

    def _deliver(self, frame: av.video.frame.VideoFrame) -> float:
        """Convert, publish and hand out one frame; return when it was received."""
        image: npt.NDArray[np.uint8] = np.ascontiguousarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        image.flags.writeable = False
        received = time.monotonic()
        with self._lock:
            self._frames += 1
            self._frame_times.append(received)
            self._size = (frame.width, frame.height)
            self._cpu = time.thread_time()
            index = self._frames
        self._latest = Frame(image, index, frame.time, received, frame.width, frame.height)
        if self._state != "streaming":
            self._set_state("streaming", f"receiving {self._codec} {frame.width}x{frame.height}")
        if self._on_frame is not None:
            self._call(self._on_frame, self._latest)
        return received

    # ------------------------------------------------------------------ helpers

    def _fps(self, now: float) -> float:
        """Frames per second over the window ending now (caller holds the lock)."""
        times = self._frame_times
        while times and times[0] < now - self._fps_window:
            times.popleft()
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def _set_state(self, state: State, reason: str) -> None:
        """Record a state change and tell on_status."""
        with self._lock:
            if threading.current_thread() is self._thread:
                self._cpu = time.thread_time()
            self._state, self._reason, self._since = state, reason, time.monotonic()
        if state == "failed" or state == "stalled":
            _LOGGER.info("camera %s %s: %s", self.name, state, reason)
        self._emit()

    def _emit(self) -> None:
        if self._on_status is not None:
            if threading.current_thread() is self._thread:
                with self._lock:
                    self._cpu = time.thread_time()
            self._call(self._on_status, self.status)

    def _call(self, callback: Callable[[T], None], value: T) -> None:
        """Run a caller's callback; its exception is logged (rate-limited), never fatal to the stream."""
        try:
            callback(value)
        except Exception:
            now = time.monotonic()
            if now - self._callback_logged >= CALLBACK_LOG_EVERY:
                self._callback_logged = now
                _LOGGER.exception("camera %s: a stream callback failed", self.name)
