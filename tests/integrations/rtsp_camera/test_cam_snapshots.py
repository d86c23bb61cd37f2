"""Snapshots: boxes drawn in their colours, JPEG files with rows in the hub's real database, retention."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hub.storage.database import Database
from integrations.rtsp_camera.snapshots import (
    DAY_S,
    KNOWN_COLOUR,
    MOTION_COLOUR,
    UNKNOWN_COLOUR,
    SnapshotStore,
    encode_jpeg,
    render,
)

T0 = 1_768_478_400.0  # 2026-01-15 12:00 UTC


@dataclass(frozen=True)
class _Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class _Face:
    box: _Box
    known: bool
    name: str | None


def _decode(jpeg: bytes) -> np.ndarray:
    assert jpeg[:2] == b"\xff\xd8"
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)


def _near(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixel - np.array(colour)) <= tolerance))


def test_render_draws_known_green_unknown_red_and_motion_amber() -> None:
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    ana = _Face(_Box(100, 120, 120, 140), True, "Ana")
    stranger = _Face(_Box(400, 150, 100, 120), False, None)
    picture = _decode(render(frame, [ana, stranger], motion_box=(60, 60, 500, 360), quality=95))
    # Middle of each border (left edge, 1 px in): the face's colour.
    assert _near(picture[120 + 70, 101], KNOWN_COLOUR)
    assert _near(picture[150 + 60, 401], UNKNOWN_COLOUR)
    assert _near(picture[120 + 139, 100 + 60], KNOWN_COLOUR)  # bottom edge
    assert _near(picture[300, 60], MOTION_COLOUR, 60)  # thin amber: JPEG halves its colour resolution
    # The box's inside and the rest of the frame are untouched grey.
    assert _near(picture[120 + 70, 160], (90, 90, 90), 8)
    assert _near(picture[20, 20], (90, 90, 90), 8)
    # Labels are filled tags above the boxes in the same colour, with white text on them.
    tag_known = picture[108:118, 101:125]  # just above Ana's box
    tag_unknown = picture[138:148, 401:450]
    for tag, colour in ((tag_known, KNOWN_COLOUR), (tag_unknown, UNKNOWN_COLOUR)):
        assert (np.abs(tag - colour).sum(axis=2) < 60).mean() > 0.25  # the tag's fill
        assert (tag.min(axis=2) > 200).any()  # white letters
        assert (np.abs(tag - 90).sum(axis=2) < 30).mean() < 0.05  # no background shows through
    # "unknown" is wider than "Ana": the unknown tag reaches further right.
    assert (np.abs(picture[130:149, 440:480] - UNKNOWN_COLOUR).sum(axis=2) < 60).any()
    assert not (np.abs(picture[100:119, 160:200] - KNOWN_COLOUR).sum(axis=2) < 60).any()


def test_a_face_at_the_top_edge_gets_its_label_inside_the_box() -> None:
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    picture = _decode(render(frame, [_Face(_Box(200, 0, 120, 140), False, None)], quality=95))
    assert _near(picture[70, 201], UNKNOWN_COLOUR)
    assert (np.abs(picture[3:15, 205:240] - UNKNOWN_COLOUR).sum(axis=2) < 60).mean() > 0.4


def test_encode_jpeg_round_trips_and_refuses_other_arrays() -> None:
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:, 32:] = (200, 30, 30)
    picture = _decode(encode_jpeg(frame, quality=95))
    assert picture.shape == (48, 64, 3) and _near(picture[24, 50], (200, 30, 30), 12) and _near(picture[24, 10], (0, 0, 0), 12)
    with pytest.raises(ValueError):
        encode_jpeg(np.zeros((48, 64), dtype=np.uint8))


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(tmp_path / "hub.db")
    await db.start()
    yield db
    await db.stop()


def _jpeg(value: int) -> bytes:
    return encode_jpeg(np.full((24, 32, 3), value, dtype=np.uint8))


async def test_add_get_list_with_files_and_rows(database: Database, tmp_path: Path) -> None:
    clock = _Clock()
    store = SnapshotStore(tmp_path / "snapshots", database, time=clock)
    await store.start()
    await store.start()  # idempotent
    first = await store.add("Front door", "face", _jpeg(10), {"faces": [{"name": "Ana", "known": True}]})
    clock.now += 5
    second = await store.add("Garden", "motion", _jpeg(200))
    assert await store.get(first) == _jpeg(10)
    info = await store.info(first)
    assert (info.camera, info.kind, info.time, info.meta) == ("Front door", "face", T0, {"faces": [{"name": "Ana", "known": True}]})
    assert (tmp_path / "snapshots" / info.file).read_bytes() == _jpeg(10)
    assert info.file == f"front_door/{first}.jpg"
    assert [s.id for s in await store.list()] == [second, first]  # newest first
    assert [s.id for s in await store.list(camera="Front door")] == [first]
    assert [s.id for s in await store.list(limit=1)] == [second]
    rows = await database.run(lambda db: db.execute("SELECT count(*) FROM rtsp_camera_snapshots").fetchone()[0])
    assert rows == 2
    with pytest.raises(ValueError):
        await store.add("Garden", "motion", b"not a jpeg")
    with pytest.raises(KeyError):
        await store.get(999)


async def test_prune_by_age_and_by_count(database: Database, tmp_path: Path) -> None:
    clock = _Clock()
    store = SnapshotStore(tmp_path / "snapshots", database, time=clock)
    await store.start()
    ids = []
    for day in range(10):  # one snapshot a day for 10 days
        clock.now = T0 + day * DAY_S
        ids.append(await store.add("Front door", "motion", _jpeg(day)))
    files = {i: tmp_path / "snapshots" / (await store.info(i)).file for i in ids}
    now = T0 + 9 * DAY_S + 60
    # Age: keep 3 days -> days 7, 8, 9 remain (day 6 is 3 days and a minute old).
    assert await store.prune(now, keep_days=3, max_count=100) == 7
    assert [s.id for s in await store.list()] == ids[:6:-1]
    for old in ids[:7]:
        assert not files[old].exists()
        with pytest.raises(KeyError):
            await store.get(old)
        with pytest.raises(KeyError):
            await store.info(old)
    # Count: the newest 2 stay.
    assert await store.prune(now, keep_days=30, max_count=2) == 1
    assert [s.id for s in await store.list()] == [ids[9], ids[8]]
    assert not files[ids[7]].exists() and files[ids[8]].exists()
    # A file deleted behind the store's back: get says KeyError, prune is not bothered.
    files[ids[8]].unlink()
    with pytest.raises(KeyError):
        await store.get(ids[8])
    assert await store.prune(now, keep_days=30, max_count=1) == 1
    assert [s.id for s in await store.list()] == [ids[9]]
    assert await store.prune(now, keep_days=30, max_count=1) == 0
    # Ids are never reused after pruning.
    assert await store.add("Front door", "motion", _jpeg(1)) == ids[-1] + 1
