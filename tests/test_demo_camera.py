"""`hub demo`'s camera: the RTSP server (hub/rtsp_sim.py) and the porch with its visitor (hub/demo_camera.py).

The independent peer is FFmpeg's RTSP client through PyAV (and the hub's own StreamWorker on top
of it); the hub's probe checks the Digest path; dlib's HOG detector (the one the hub uses) says
whether the visitor's face is there.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import av
import av.error
import numpy as np
import pytest
import yaml
from waiting import until

from hub.config import SECRETS_FILE
from hub.demo_camera import (
    AREA,
    PASSWORD_SECRET,
    STAND_S,
    WALK_S,
    DemoCamera,
    PorchScene,
    VisitSchedule,
    camera_block,
    camera_secrets,
)
from hub.rtsp_sim import (
    BadRequest,
    RequestParser,
    digest_params,
    digest_valid,
    rtp_packet,
    rtp_payloads,
    split_annexb,
)
from integrations.rtsp_camera.config import CONFIG_SCHEMA
from integrations.rtsp_camera.faces import FaceDetector
from integrations.rtsp_camera.rtsp import ResponseParser, digest_authorization, parse_challenges, probe
from integrations.rtsp_camera.stream import BASE_OPTIONS, Frame, StreamWorker

NO_VISIT = 10_000.0  # a first visit far beyond any test


@pytest.fixture
async def camera(tmp_path: Path) -> AsyncIterator[DemoCamera]:
    (tmp_path / SECRETS_FILE).write_text(camera_secrets(), encoding="utf-8")
    async with DemoCamera(tmp_path, first_visit=NO_VISIT) as cam:
        yield cam


def _url(cam: DemoCamera, password: str | None = None, user: str | None = None) -> str:
    user = cam.username if user is None else user
    password = cam.password if password is None else password
    return f"rtsp://{user}:{password}@127.0.0.1:{cam.port}/front_door" if user else cam.url


def _read_frames(url: str, count: int, options: dict[str, str] | None = None) -> tuple[list[np.ndarray], float]:
    """Open with FFmpeg (PyAV), decode `count` frames; return them and the time to the first (blocking)."""
    started = time.monotonic()
    first = 0.0
    frames: list[np.ndarray] = []
    with av.open(url, options={**BASE_OPTIONS, **(options or {})}, timeout=(20.0, 10.0)) as container:
        for frame in container.decode(video=0):
            if not frames:
                first = time.monotonic() - started
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= count:
                break
    return frames, first


# --------------------------------------------------------------------------- FFmpeg as the client


async def test_ffmpeg_decodes_640x480_with_the_right_credentials(camera: DemoCamera) -> None:
    frames, first = await asyncio.to_thread(_read_frames, _url(camera), 15)
    print(f"PyAV over TCP: first frame after {first:.2f} s")
    assert len(frames) == 15
    assert all(f.shape == (480, 640, 3) for f in frames)
    assert camera.server is not None and camera.server.bad_requests == 0


async def test_ffmpeg_without_a_transport_option_gets_frames(camera: DemoCamera) -> None:
    """FFmpeg asks for UDP first; the 461 makes it ask again over TCP."""
    def read() -> int:
        with av.open(_url(camera), timeout=(20.0, 10.0)) as container:
            for frame in container.decode(video=0):
                return int(frame.width)
        return 0

    assert await asyncio.to_thread(read) == 640


@pytest.mark.parametrize("who", ["wrong password", "no credentials"])
async def test_ffmpeg_is_refused_401(camera: DemoCamera, who: str) -> None:
    url = _url(camera, password="not-the-password") if who == "wrong password" else camera.url
    with pytest.raises(av.error.HTTPUnauthorizedError):
        await asyncio.to_thread(_read_frames, url, 1)
    assert camera.clients() == []


async def test_two_clients_at_once_both_get_frames(camera: DemoCamera) -> None:
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, len(camera.clients()))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        first, second = await asyncio.gather(
            asyncio.to_thread(_read_frames, _url(camera), 30), asyncio.to_thread(_read_frames, _url(camera), 30)
        )
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert len(first[0]) == len(second[0]) == 30
    assert most == 2


async def test_encoder_cost_is_measured(camera: DemoCamera) -> None:
    before = camera.encoder_stats
    frames, _ = await asyncio.to_thread(_read_frames, _url(camera), 40)
    after = camera.encoder_stats
    made = after.frames - before.frames
    video = made / camera.fps
    render, encode = after.render_cpu_s - before.render_cpu_s, after.encode_cpu_s - before.encode_cpu_s
    print(f"encoder at 640x480 {camera.fps:g} fps: drawing {100 * render / video:.1f}% and "
          f"x264 {100 * encode / video:.1f}% of a core")  # fmt: skip
    assert len(frames) == 40 and made >= 40
    assert encode > 0 and render > 0


async def test_stream_worker_reads_the_demo_camera(camera: DemoCamera) -> None:
    """The hub's own stream worker (what rtsp_camera runs per camera) streams it."""
    worker = StreamWorker(_url(camera), name="demo-door", open_timeout=20.0)
    worker.start()
    try:
        await until(lambda: worker.status.frames >= 10, "10 frames through the stream worker", timeout=60)
        status = worker.status
        assert status.state == "streaming"
        assert (status.codec, status.width, status.height) == ("H264", 640, 480)
    finally:
        assert await asyncio.to_thread(worker.stop)


# --------------------------------------------------------------------------- the hub's probe


async def test_probe_says_ok_with_digest(camera: DemoCamera) -> None:
    result = await probe(camera.url, camera.username, camera.password)
    assert result.status == "ok", result.reason
    assert (result.auth, result.codec, result.width, result.height) == ("digest", "H264", 640, 480)


async def test_probe_says_auth_failed_with_a_wrong_password(camera: DemoCamera) -> None:
    result = await probe(camera.url, camera.username, "wrong")
    assert result.status == "auth_failed"
    assert "refused user admin" in result.reason


# --------------------------------------------------------------------------- hostile and slow clients


async def _exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO THERE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"DESCRIBE rtsp://127.0.0.1/front_door RTSP/1.0\r\nCSeq 1\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + b"X-Pad: " + b"a" * 20_000 + b"\r\n\r\n",
        b"\x00\xff\x13\x37" * 3000,
    ],
)
async def test_garbage_gets_400_and_the_server_lives_on(camera: DemoCamera, garbage: bytes) -> None:
    answer = await _exchange(camera.port, garbage)
    assert answer.startswith(b"RTSP/1.0 400 Bad Request\r\n")
    assert camera.server is not None and camera.server.bad_requests == 1
    result = await probe(camera.url, camera.username, camera.password)
    assert result.status == "ok", result.reason


async def test_a_huge_body_is_refused_before_it_is_read(camera: DemoCamera) -> None:
    request = b"GET_PARAMETER rtsp://127.0.0.1/front_door RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 999999999\r\n\r\n"
    assert (await _exchange(camera.port, request)).startswith(b"RTSP/1.0 413 ")


async def test_a_request_without_cseq_is_a_bad_request(camera: DemoCamera) -> None:
    assert (await _exchange(camera.port, b"OPTIONS * RTSP/1.0\r\n\r\n")).startswith(b"RTSP/1.0 400 ")


async def test_request_parser_keeps_nothing_of_interleaved_frames() -> None:
    parser = RequestParser(max_head=1024, max_body=64)
    frame = b"$\x01" + (60000).to_bytes(2, "big")
    assert parser.feed(frame + b"x" * 30000) == []
    assert parser.buffered == 0
    requests = parser.feed(b"y" * 30000 + b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n")
    assert [(r.method, r.header("cseq")) for r in requests] == [("OPTIONS", "7")]
    with pytest.raises(BadRequest):
        parser.feed(b"OPTIONS * RTSP/1.0\r\n" + b"X: y\r\n" * 300)


class _RawClient:
    """A hand-made RTSP client that plays the stream and then stops reading (a frozen viewer)."""

    def __init__(self, cam: DemoCamera) -> None:
        self.cam = cam
        self.url = cam.url
        self.cseq = 0
        self.parser = ResponseParser()
        self.auth: str | None = None

    async def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the server notices at once
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.cam.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)

    async def request(self, method: str, uri: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        for _ in range(2):
            self.cseq += 1
            extra = dict(headers or {})
            if self.auth:
                extra["Authorization"] = self.auth
            lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *(f"{k}: {v}" for k, v in extra.items())]
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            response = None
            while response is None:
                self.parser.feed(await asyncio.wait_for(self.reader.read(4096), 10))
                response = self.parser.next_response()
            if response.status == 401 and self.auth is None:
                challenge = parse_challenges(response.header_all("WWW-Authenticate"))[0]
                self.auth = digest_authorization(challenge, self.cam.username, self.cam.password, method, uri)
                continue
            assert response.status == 200, (method, response.status)
            self.auth = None  # the digest covers the method and URI: make it again for the next request
            return {k.lower(): v for k, v in response.headers}
        raise AssertionError("refused twice")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


    async def play(self) -> None:
        """DESCRIBE, SETUP over TCP, PLAY; after this the test reads nothing more."""
        await self.request("DESCRIBE", self.url, {"Accept": "application/sdp"})
        setup = await self.request("SETUP", f"{self.url}/trackID=1",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})  # fmt: skip
        session = setup["session"].split(";")[0]
        await self.request("PLAY", f"{self.url}/", {"Session": session, "Range": "npt=0.000-"})


async def test_a_client_that_stops_reading_costs_a_bounded_queue(camera: DemoCamera) -> None:
    client = _RawClient(camera)
    await client.open()
    try:
        await client.play()
        # From here on nothing is read: the socket fills, then asyncio's buffer, then the queue.
        seen: list[int] = []

        def dropping() -> bool:
            (stats,) = camera.clients()
            seen.append(stats.queued)
            assert stats.queued <= stats.queue_bound
            assert stats.write_buffer <= 64 * 1024 + 256 * 1024  # asyncio's high-water mark plus one picture
            return stats.dropped > 2 * stats.queue_bound

        await until(dropping, "the frozen client's pictures to be dropped", timeout=60)
        assert max(seen) <= camera.clients()[0].queue_bound
        # Meanwhile a healthy client is served as usual.
        frames, _ = await asyncio.to_thread(_read_frames, _url(camera), 5)
        assert len(frames) == 5
    finally:
        await client.close()
    await until(lambda: camera.clients() == [], "the frozen client to be gone")


async def test_stop_does_not_wait_for_a_frozen_client(tmp_path: Path) -> None:
    cam = DemoCamera(tmp_path, first_visit=NO_VISIT)
    await cam.start()
    client = _RawClient(cam)
    try:
        await client.open()
        await client.play()
        await until(lambda: cam.clients() and cam.clients()[0].dropped > 0, "the frozen client's queue to overflow",
                    timeout=60)  # fmt: skip
    finally:
        async with asyncio.timeout(30):
            await cam.stop()
        await client.close()
    assert cam.server is None and cam.clients() == []


# --------------------------------------------------------------------------- the visitor


async def test_dlib_sees_the_visitor_only_while_at_the_door(camera: DemoCamera) -> None:
    detector = FaceDetector()
    worker = StreamWorker(_url(camera), name="demo-faces", open_timeout=20.0)
    worker.start()
    try:
        latest: list[Frame] = []

        def frame_after(index: int) -> bool:
            frame = worker.latest
            if frame is not None and frame.index > index:
                latest[:] = [frame]
                return True
            return False

        await until(lambda: frame_after(5), "frames before the visit", timeout=60)
        assert camera.phase == "away"
        assert await asyncio.to_thread(detector.detect, latest[0].image) == []

        camera.trigger_visit()
        await until(lambda: camera.phase == "at the door", "the visitor at the door", timeout=2 * WALK_S + 5)
        await asyncio.sleep(2.0)  # frames from before the visitor stood still have left the pipeline
        for _ in range(3):
            index = latest[0].index
            await until(functools.partial(frame_after, index + 2), "a newer frame", timeout=20)
            assert camera.phase == "at the door"
            faces = await asyncio.to_thread(detector.detect, latest[0].image)
            assert len(faces) == 1, faces
            assert 90 <= faces[0].h <= 200
    finally:
        assert await asyncio.to_thread(worker.stop)


@pytest.mark.parametrize("hour", [3, 7, 12, 19])
def test_the_scene_shows_one_face_during_a_visit_and_none_outside(hour: int) -> None:
    detector = FaceDetector()
    schedule = VisitSchedule(0.0, first=1.0, every=100.0)
    scene = PorchScene(640, 480, schedule, lambda: datetime(2026, 1, 15, hour, 20))
    away = scene.render(0.5)
    standing = scene.render(1.0 + WALK_S + STAND_S / 2)
    assert schedule.at(1.0 + WALK_S + STAND_S / 2)[0] == "at the door"
    assert away.shape == standing.shape == (480, 640, 3)
    assert detector.detect(away) == []
    assert len(detector.detect(standing)) == 1
    assert schedule.at(1.0 + 2 * WALK_S + STAND_S + 1)[0] == "away"
    assert detector.detect(scene.render(1.0 + 2 * WALK_S + STAND_S + 1)) == []


def test_the_sky_follows_the_time_of_day() -> None:
    schedule = VisitSchedule(0.0, first=NO_VISIT)
    night = PorchScene(640, 480, schedule, lambda: datetime(2026, 1, 15, 2, 0)).render(0.0)
    noon = PorchScene(640, 480, schedule, lambda: datetime(2026, 1, 15, 12, 0)).render(0.0)
    sky_night, sky_noon = night[40:70, 300:340].mean(axis=(0, 1)), noon[40:70, 300:340].mean(axis=(0, 1))
    assert sky_noon.sum() > 2 * sky_night.sum()
    assert sky_noon[2] > sky_noon[0]  # blue


def test_visit_schedule() -> None:
    schedule = VisitSchedule(100.0, first=20.0, every=120.0)
    assert schedule.at(119.0)[0] == "away"
    assert schedule.at(121.0)[0] == "arriving"
    assert schedule.at(120.0 + WALK_S + 1)[0] == "at the door"
    assert schedule.at(120.0 + WALK_S + STAND_S + 1)[0] == "leaving"
    assert schedule.at(120.0 + schedule.length + 1)[0] == "away"
    assert schedule.at(241.0)[0] == "arriving"  # the next, `every` later
    schedule.trigger(300.0)
    assert schedule.at(300.5)[0] == "arriving"
    schedule.trigger(301.0)  # already coming: no second visitor
    assert schedule.at(300.0 + WALK_S + 0.5)[0] == "at the door"


# --------------------------------------------------------------------------- wire formats and config


def test_fu_a_fragments_rebuild_the_nal_unit() -> None:
    nal = bytes([0x65]) + bytes(range(256)) * 20
    payloads = rtp_payloads(nal, limit=1400)
    assert len(payloads) == 4 and all(len(p) <= 1400 for p in payloads)
    assert all(p[0] == 0x60 | 28 for p in payloads)  # FU indicator: NRI of the NAL, type 28
    assert payloads[0][1] == 0x80 | 5 and payloads[-1][1] == 0x40 | 5 and payloads[1][1] == 5
    assert bytes([0x65]) + b"".join(p[2:] for p in payloads) == nal
    assert rtp_payloads(b"\x68small") == [b"\x68small"]
    packet = rtp_packet(b"\x65", seq=65537, timestamp=2**32 + 5, ssrc=0xDEADBEEF, marker=True)
    assert packet[:12] == bytes.fromhex("80e0000100000005deadbeef")


def test_annexb_split() -> None:
    data = b"\x00\x00\x00\x01\x67abc\x00\x00\x01\x68de\x00\x00\x00\x01\x65fgh"
    assert list(split_annexb(data)) == [b"\x67abc", b"\x68de", b"\x65fgh"]


def test_digest_check_against_the_camera_vector() -> None:
    """PROTOCOLS.md 9.1's camera-style vector, and what changes make it fail."""
    uri = "rtsp://192.168.1.64:554/Streaming/Channels/101"
    header = (f'Digest username="admin", realm="IP Camera(12345)", nonce="4f6e2d9b1c0a", uri="{uri}", '
              'response="b6858a1c93f7ec3f1e7e42762d6a7efb"')  # fmt: skip
    params = digest_params(header)
    assert params is not None
    args = {"username": "admin", "password": "12345", "realm": "IP Camera(12345)", "nonce": "4f6e2d9b1c0a",
            "method": "DESCRIBE", "uri": uri}  # fmt: skip
    assert digest_valid(params, **args)
    assert not digest_valid(params, **{**args, "password": "1234"})
    assert not digest_valid(params, **{**args, "method": "PLAY"})
    assert not digest_valid(params, **{**args, "nonce": "other"})
    assert digest_params("Basic YWRtaW46MTIzNDU=") is None


def test_camera_block_is_a_valid_rtsp_camera_config() -> None:
    text = camera_block(8554)
    block = yaml.safe_load(text.replace("!secret ", "secret-"))["rtsp_camera"]
    (cam,) = CONFIG_SCHEMA(block)["cameras"]
    assert cam["sub_url"] == cam["main_url"] == "rtsp://127.0.0.1:8554/front_door"
    assert (cam["username"], cam["password"], cam["area"], cam["cpu_budget"]) == (
        "admin", f"secret-{PASSWORD_SECRET}", AREA, 25)  # fmt: skip
    assert cam["motion"]["enabled"] and cam["faces"]["enabled"]


async def test_password_comes_from_secrets_and_block_names_the_port(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILE).write_text(camera_secrets(), encoding="utf-8")
    written = yaml.safe_load((tmp_path / SECRETS_FILE).read_text(encoding="utf-8"))[PASSWORD_SECRET]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", written)
    assert written != yaml.safe_load(camera_secrets())[PASSWORD_SECRET]
    cam = DemoCamera(tmp_path, first_visit=NO_VISIT)
    with pytest.raises(RuntimeError):
        cam.camera_block()
    async with cam:
        assert cam.password == written
        assert f"rtsp://127.0.0.1:{cam.port}/front_door" in cam.camera_block()
        assert cam.url == f"rtsp://127.0.0.1:{cam.port}/front_door"
    assert cam.server is None
