"""One camera's pipeline against GStreamer's RTSP server: a face comes and goes, a mug comes and goes.

The slides are a grey wall and the same wall with a picture pasted in (a small part of the frame,
so the motion detector sees something arrive rather than a new scene). Face analysis runs in the
real worker process.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from cam_helpers import RtspServer
from face_images import ASTRONAUT_FACE, BACKGROUND, HEIGHT, WIDTH
from PIL import Image
from waiting import until

from integrations.rtsp_camera.config import CONFIG_SCHEMA
from integrations.rtsp_camera.faces import Gallery
from integrations.rtsp_camera.pipeline import Analysis, CameraPipeline, FaceVisits
from integrations.rtsp_camera.presets import with_credentials
from integrations.rtsp_camera.recognition import FaceService
from integrations.rtsp_camera.stream import StreamStatus


def wall_with(picture: np.ndarray | None) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), BACKGROUND, dtype=np.uint8)
    if picture is not None:
        h, w = picture.shape[:2]
        y, x = (HEIGHT - h) // 2, (WIDTH - w) // 2
        frame[y : y + h, x : x + w] = picture
    return frame


def head_and_shoulders() -> np.ndarray:
    x, y, w, h = ASTRONAUT_FACE
    return np.ascontiguousarray(skimage.data.astronaut()[y - 50 : y + h + 90, x - 60 : x + w + 60, :3])


def mug() -> np.ndarray:
    coffee = skimage.data.coffee()[:, :, :3]
    return np.asarray(Image.fromarray(coffee).resize((200, 133)))


def write_slides(folder: Path, pictures: list[np.ndarray | None]) -> Path:
    folder.mkdir()
    for index, picture in enumerate(pictures):
        Image.fromarray(wall_with(picture)).save(folder / f"slide{index}.png")
    return folder


@pytest.fixture
def faces() -> Iterator[FaceService]:
    """The real worker process (per test: the conftest fails a test that leaves threads behind)."""
    service = FaceService()
    yield service
    service.close()


class Collected:
    def __init__(self) -> None:
        self.analyses: list[Analysis] = []
        self.statuses: list[StreamStatus] = []

    def with_faces(self) -> list[Analysis]:
        return [a for a in self.analyses if a.faces]


def pipeline_for(url: str, service: FaceService, seen: Collected, **camera: object) -> CameraPipeline:
    settings = CONFIG_SCHEMA({"cameras": [{"name": "Door", "sub_url": url, **camera}]})["cameras"][0]
    return CameraPipeline(
        camera_id="door", url=url, settings=settings, faces=service, loop=asyncio.get_running_loop(),
        on_analysis=seen.analyses.append, on_status=seen.statuses.append,
    )  # fmt: skip


async def run_until(pipeline: CameraPipeline, predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    pipeline.start()
    try:
        await until(predicate, what, timeout=timeout)
    finally:
        await pipeline.stop()


async def test_a_face_arriving_is_found_then_recognised_once_enrolled(
    rtsp_server: Callable[..., RtspServer], faces: FaceService, tmp_path: Path
) -> None:
    slides = write_slides(tmp_path / "slides", [None, head_and_shoulders()])
    server = rtsp_server(slides=slides, slide_seconds=3, width=WIDTH, height=HEIGHT, fps=10)
    url = with_credentials(server.url("/slides"), server.user, server.password)
    seen = Collected()
    faces.set_gallery(Gallery())
    await run_until(pipeline_for(url, faces, seen, motion={"fps": 5}), lambda: bool(seen.with_faces()), "a face")
    first = seen.with_faces()[0]
    assert first.motion.motion and first.faces is not None and len(first.faces) == 1
    face = first.faces[0]
    assert not face.known and face.name is None
    x, y, w, h = face.box.as_list()
    assert abs((x + w / 2) - WIDTH / 2) < 60 and abs((y + h / 2) - HEIGHT / 2) < 90  # the pasted face, centred
    assert first.jpeg is not None and first.jpeg[:2] == b"\xff\xd8"
    assert first.detect_ms is not None and first.detect_ms > 0
    assert any(s.state == "streaming" for s in seen.statuses)

    assert face.descriptor is None and face.distance is None  # nobody enrolled: detected, not described
    [enrolled], _ = faces.analyze(wall_with(head_and_shoulders()))  # as enrolment does, from a picture
    assert enrolled.descriptor is not None
    gallery = Gallery()
    gallery.add("Ana", enrolled.descriptor)
    faces.set_gallery(gallery)
    seen = Collected()
    await run_until(pipeline_for(url, faces, seen, motion={"fps": 5}), lambda: bool(seen.with_faces()), "Ana")
    again = seen.with_faces()[0].faces
    assert again is not None and [(f.known, f.name) for f in again] == [(True, "Ana")]


async def test_something_without_a_face_moves_and_no_face_is_reported(
    rtsp_server: Callable[..., RtspServer], faces: FaceService, tmp_path: Path
) -> None:
    slides = write_slides(tmp_path / "slides", [None, mug()])
    server = rtsp_server(slides=slides, slide_seconds=2, width=WIDTH, height=HEIGHT, fps=10)
    url = with_credentials(server.url("/slides"), server.user, server.password)
    seen = Collected()
    pipeline = pipeline_for(url, faces, seen, motion={"fps": 5})
    detections = lambda: sum(1 for a in seen.analyses if a.faces is not None)
    await run_until(pipeline, lambda: detections() >= 3, "three face detections on the moving mug")
    assert any(a.motion.started for a in seen.analyses)
    assert seen.with_faces() == []
    assert pipeline.counters.detections >= 3


async def test_snapshot_and_live_share_one_encode_per_frame(
    rtsp_server: Callable[..., RtspServer], faces: FaceService
) -> None:
    server = rtsp_server(fps=15)
    url = with_credentials(server.url("/test"), server.user, server.password)
    seen = Collected()
    pipeline = pipeline_for(url, faces, seen, faces={"enabled": False})
    pipeline.start()
    try:
        await until(lambda: pipeline.worker.latest is not None, "a first frame", timeout=30)
        jpeg = await pipeline.jpeg()
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        with Image.open(io.BytesIO(jpeg)) as picture:
            assert picture.size == (320, 240)
        frames: list[bytes] = []
        started = asyncio.get_running_loop().time()
        async for part in pipeline.live():
            frames.append(part)
            if len(frames) == 12:
                break
        elapsed = asyncio.get_running_loop().time() - started
        assert len(set(frames)) == 12  # each a new frame
        assert elapsed >= 11 / 10 * 0.9  # never faster than LIVE_MAX_FPS
        frame = pipeline.worker.latest
        assert frame is not None
        a, b = await asyncio.gather(pipeline.jpeg(), pipeline.jpeg())
        assert a is b or a == b  # concurrent callers share the encode of one frame
    finally:
        await pipeline.stop()
    assert not pipeline.worker.running


def test_face_visits_fire_once_per_resident_and_per_stranger_count() -> None:
    from integrations.rtsp_camera.faces import Box, Face

    visits = FaceVisits(gap_s=60)
    ana = Face(Box(100, 100, 80, 90, 1.0), True, "Ana", 0.2)
    stranger = Face(Box(0, 200, 60, 80, 1.0), False, None, 0.8)
    assert visits.new_faces((ana,), 0.0) == [ana]
    walked = Face(Box(400, 110, 80, 90, 1.0), True, "Ana", 0.2)  # far across the picture: still Ana's visit
    assert visits.new_faces((walked,), 0.5) == []
    assert visits.new_faces((walked, stranger), 9.0) == [stranger]
    moved = Face(Box(250, 200, 120, 125, 1.0), False, None, 0.8)  # the stranger walked up (260 px on)
    assert visits.new_faces((moved,), 9.2) == []
    other = Face(Box(40, 300, 80, 90, 1.0), False, None, 0.9)
    assert visits.new_faces((moved, other), 20.0) == [other]  # two strangers at once: one more visit
    assert visits.new_faces((other,), 30.0) == []
    assert visits.new_faces((walked,), 65.0) == []  # Ana was refreshed at 9 s
    assert visits.new_faces((walked,), 130.0) == [walked]  # gone longer than the gap: a new visit
    assert visits.new_faces((stranger,), 195.0) == [stranger]


async def test_over_its_cpu_budget_a_camera_sheds_detection_then_decodes_keyframes_only(
    rtsp_server: Callable[..., RtspServer], faces: FaceService
) -> None:
    server = rtsp_server(fps=15)
    url = with_credentials(server.url("/test"), server.user, server.password)
    seen = Collected()
    pipeline = pipeline_for(url, faces, seen, cpu_budget=1, faces={"enabled": False})
    pipeline.start()
    try:
        await until(lambda: pipeline.worker.status.fps > 10, "full-rate decoding", timeout=30)
        levels = []
        for _ in range(12):  # windows of 0.5 s instead of 10 s: the governor only sees CPU over wall time
            await asyncio.sleep(0.5)
            pipeline.governor_tick()
            levels.append(pipeline.governor.level.index)
            if pipeline.governor.level.keyframes_only:
                break
        assert levels[-1] == 3 and levels == sorted(levels), levels  # one step at a time, never back
        assert pipeline.worker.keyframes_only
        usage = pipeline.governor.last
        assert usage is not None and usage.cpu_percent > 1  # decoding 320x240 at 15 fps costs more than 1 %
        await until(lambda: pipeline.worker.status.fps < 3, "keyframe-only decoding", timeout=30)
    finally:
        await pipeline.stop()
