"""The stream worker against GStreamer's RTSP server: frames, the still picture, failures, stalls and recovery."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cam_helpers import QUADRANTS, RtspServer
from waiting import until

from integrations.rtsp_camera.rtsp import probe
from integrations.rtsp_camera.stream import Frame, StreamStatus, StreamWorker

StartServer = Callable[..., RtspServer]


class Recorder:
    """Collects what a worker reports from its thread."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.statuses: list[StreamStatus] = []

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)
        del self.frames[:-200]  # keep memory flat in long tests

    def on_status(self, status: StreamStatus) -> None:
        self.statuses.append(status)

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]


@pytest.fixture
def worker() -> Iterator[Callable[..., tuple[StreamWorker, Recorder]]]:
    """Make started stream workers with a recorder each; all are stopped after the test."""
    made: list[StreamWorker] = []

    def make(url: str, **kwargs: Any) -> tuple[StreamWorker, Recorder]:
        recorder = Recorder()
        instance = StreamWorker(url, on_frame=recorder.on_frame, on_status=recorder.on_status, **kwargs)
        made.append(instance)
        instance.start()
        return instance, recorder

    yield make
    for instance in made:
        # Thawed and killed servers answer at once; a frozen one holds a read for stall_after / 2.
        assert instance.stop(timeout=30), f"worker {instance.name} did not stop"


async def test_frames_arrive_as_rgb_at_the_stream_rate(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="digest", width=640, height=480)
    started = time.monotonic()
    stream, recorder = worker(server.url("/test", "admin", "secret"), name="rate")
    first = await until(lambda: stream.latest, "the first frame", timeout=60)
    print(f"time to first frame: {time.monotonic() - started:.2f} s")
    assert first.image.shape == (480, 640, 3) and first.image.dtype == np.uint8
    assert first.image.flags.c_contiguous and not first.image.flags.writeable
    assert (first.width, first.height) == (640, 480)
    await until(lambda: len(recorder.frames) >= 45, "45 frames", timeout=60)
    frames = recorder.frames[-30:]
    assert [f.index for f in frames] == list(range(frames[0].index, frames[0].index + 30))
    # The stream's own clock says 15 fps, whatever the machine's load.
    gaps = np.diff([f.pts for f in frames if f.pts is not None])
    assert len(gaps) >= 20 and np.median(gaps) == pytest.approx(1 / 15, abs=0.01)
    status = stream.status
    assert (status.state, status.codec, status.width, status.height) == ("streaming", "H264", 640, 480)
    assert status.reason == "receiving H264 640x480"
    assert status.frames >= 45 and status.decode_errors == 0 and status.reconnects == 0
    assert 3 < status.fps < 30 and status.cpu_seconds > 0
    assert recorder.states()[:2] == ["connecting", "streaming"]
    print(f"measured {status.fps:.1f} fps, {status.cpu_seconds:.2f} s CPU for {status.frames} frames")


async def test_still_image_comes_through(rtsp_server: StartServer, worker: Any, still_png: Path) -> None:
    server = rtsp_server(auth="basic", image=still_png)
    stream, _ = worker(server.url("/still", "admin", "secret"), name="still")
    frame = await until(lambda: stream.latest, "a frame of the still image", timeout=60)
    assert frame.image.shape == (240, 320, 3)
    for i, colour in enumerate(QUADRANTS):
        x, y = (i % 2) * 160, (i // 2) * 120
        patch = frame.image[y + 20 : y + 100, x + 20 : x + 140].reshape(-1, 3).mean(axis=0)
        assert patch == pytest.approx(colour, abs=12), f"quadrant {i}"


async def test_wrong_password_fails_and_the_probe_says_why(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="digest")
    stream, recorder = worker(server.url("/test", "admin", "wrong"), name="badpw", backoff_initial=0.2)
    await until(lambda: stream.status.reconnects >= 2, "two retries", timeout=60)
    status = stream.status
    assert status.state in ("failed", "connecting")
    assert status.reason == "the camera refused the credentials (401 Unauthorized)"
    assert "failed" in recorder.states() and status.frames == 0
    assert "wrong" not in status.reason
    why = await probe(server.url("/test"), "admin", "wrong", timeout=20)
    assert (why.status, why.reason) == ("auth_failed", "the camera refused user admin (Digest)")


async def test_audio_only_and_nothing_listening_fail_with_reasons(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="none")
    audio, _ = worker(server.url("/audio"), name="audio")
    await until(lambda: audio.status.state == "failed", "audio-only to fail", timeout=60)
    assert audio.status.reason == "the stream has no video"
    server.kill()
    gone, _ = worker(server.url("/test"), name="gone")
    await until(lambda: gone.status.state == "failed", "nothing listening to fail", timeout=60)
    assert gone.status.reason == "connection refused by the camera"


async def test_killed_server_stalls_and_recovers_on_the_same_port(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="digest")
    stream, recorder = worker(
        server.url("/test", "admin", "secret"), name="kill", stall_after=3, backoff_initial=0.5, backoff_max=2
    )
    await until(lambda: stream.status.state == "streaming", "streaming", timeout=60)
    server.kill()
    killed = time.monotonic()
    await until(lambda: stream.status.state != "streaming", "the loss to be noticed", timeout=60)
    print(f"killed server noticed in {time.monotonic() - killed:.2f} s")
    stalled = [s for s in recorder.statuses if s.state == "stalled"]
    assert stalled and stalled[0].reason == "the camera ended the stream"
    await until(lambda: stream.status.state == "failed", "a failed reconnect", timeout=60)
    assert stream.status.reason == "connection refused by the camera"
    before = stream.status.frames
    server.start()
    await until(lambda: stream.status.frames > before + 10, "frames after the restart", timeout=60)
    status = stream.status
    assert status.state == "streaming" and status.reconnects >= 1
    assert recorder.states()[-1] == "streaming"


async def test_frozen_server_is_noticed_by_the_watchdog(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="none")
    stream, recorder = worker(server.url("/test"), name="frozen", stall_after=3, backoff_initial=0.5)
    await until(lambda: stream.status.state == "streaming", "streaming", timeout=60)
    server.freeze()  # the socket stays open: only the timeout can tell
    frozen = time.monotonic()
    await until(lambda: stream.status.state != "streaming", "the stall to be noticed", timeout=60)
    print(f"frozen server noticed in {time.monotonic() - frozen:.2f} s (stall_after 3 s)")
    stalled = [s for s in recorder.statuses if s.state == "stalled"]
    assert stalled and stalled[0].reason.startswith("no frames for")
    server.thaw()
    before = stream.status.frames
    await until(lambda: stream.status.frames > before + 10, "frames after the thaw", timeout=60)
    assert stream.status.state == "streaming"


async def test_keyframes_only_lowers_the_decoded_rate(rtsp_server: StartServer, worker: Any) -> None:
    server = rtsp_server(auth="none", width=160, height=120)
    stream, recorder = worker(server.url("/test"), name="keys", fps_window=2)
    await until(lambda: len(recorder.frames) >= 20, "20 frames", timeout=60)
    stream.keyframes_only = True
    count = len(recorder.frames)
    await until(lambda: len(recorder.frames) >= count + 6, "frames after the switch", timeout=60)
    # Keyframes come once a second of stream time (key-int-max=15 at 15 fps); drop the switch-over frames.
    keys = [f.pts for f in recorder.frames[-4:] if f.pts is not None]
    assert len(keys) == 4 and np.diff(keys) == pytest.approx([1.0] * 3, abs=0.01)
    await until(lambda: stream.status.fps < 3, "the measured rate to fall", timeout=60)
    assert stream.status.keyframes_only
    stream.keyframes_only = False
    await until(lambda: stream.status.fps > 5, "the full rate again", timeout=60)


async def test_stop_ends_the_thread_and_a_bad_callback_does_not(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="none", width=160, height=120)
    seen: list[int] = []

    def bad_callback(frame: Frame) -> None:
        seen.append(frame.index)
        raise ValueError("a consumer bug")

    stream = StreamWorker(server.url("/test"), name="stopme", on_frame=bad_callback)
    assert stream.stop() and stream.status.state == "stopped"  # stop before start is harmless
    stream.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            stream.start()
        await until(lambda: len(seen) >= 10, "frames despite the failing callback", timeout=60)
    finally:
        assert stream.stop(timeout=30)
    assert not stream.running and stream.status.state == "stopped"
    assert not [t for t in threading.enumerate() if t.name == "rtsp-stopme"]


async def test_silent_camera_fails_after_the_open_timeout(worker: Any) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # says nothing until the worker gives up and closes
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        stream, _ = worker(f"rtsp://127.0.0.1:{port}/live", name="silent", open_timeout=1.5, backoff_initial=5)
        await until(lambda: stream.status.state == "failed", "the open to time out", timeout=60)
        assert stream.status.reason == "the camera did not answer within 1.5 s"
        assert stream.stop(timeout=30)
    finally:
        server.close()
        await server.wait_closed()
