"""Camera snapshots: JPEG encoding with the faces and motion drawn on, and their storage and retention.

Files live under one directory (a folder per camera, `<id>.jpg`), with a row each in the hub's
database (`rtsp_camera_snapshots`, schema component `rtsp_camera_snapshots`). The store works through
anything with the hub database's `run(fn)` / `migrate(component, steps)` (hub.db): every file write,
read and delete runs inside the same writer-thread call as its row, so a row and its file come and go
together and the event loop never touches the disk.

Thread-safety: `render` and `encode_jpeg` are pure (any thread; ~5 ms for 640x480). `SnapshotStore`
is used from the event loop only (its methods are coroutines).
"""

from __future__ import annotations

import builtins
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import sqlite_utils
from PIL import Image, ImageDraw, ImageFont

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

KNOWN_COLOUR = (0, 200, 0)  # an enrolled resident
UNKNOWN_COLOUR = (230, 0, 0)  # a face nobody enrolled
MOTION_COLOUR = (255, 190, 0)  # where the picture changed
UNKNOWN_LABEL = "unknown"
COMPONENT = "rtsp_camera_snapshots"
TABLE = "rtsp_camera_snapshots"
DAY_S = 86_400.0


class BoxLike(Protocol):
    """A box in frame pixels (faces.Box has these)."""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...
    @property
    def w(self) -> int: ...
    @property
    def h(self) -> int: ...


class FaceLike(Protocol):
    """What rendering needs of a face (faces.Face has these), so this module does not load dlib."""

    @property
    def box(self) -> BoxLike: ...
    @property
    def known(self) -> bool: ...
    @property
    def name(self) -> str | None: ...


def _pil(image: np.ndarray) -> Image.Image:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB frame of shape (h, w, 3), got {image.dtype} {image.shape}")
    return Image.fromarray(image, mode="RGB")


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_jpeg(image: np.ndarray, quality: int = 80) -> bytes:
    """An RGB frame as JPEG bytes."""
    return _jpeg(_pil(image), quality)


def render(
    image: np.ndarray, faces: Iterable[FaceLike] = (), motion_box: tuple[int, int, int, int] | None = None,
    *, quality: int = 80,
) -> bytes:  # fmt: skip
    """The frame as JPEG with the motion box (amber) and each face boxed and labelled: known green, unknown red."""
    picture = _pil(image).copy()
    draw = ImageDraw.Draw(picture)
    width = max(2, picture.width // 240)  # 2-3 px on a sub stream, thicker on a main stream
    font = ImageFont.load_default(size=max(12, picture.height // 32))
    if motion_box is not None:
        x, y, w, h = motion_box
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline=MOTION_COLOUR, width=width)
    for face in faces:
        box = face.box
        colour = KNOWN_COLOUR if face.known else UNKNOWN_COLOUR
        draw.rectangle((box.x, box.y, box.x + box.w - 1, box.y + box.h - 1), outline=colour, width=width)
        label = face.name if face.known and face.name else UNKNOWN_LABEL
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        pad = 2
        # Above the box when there is room, else inside its top edge.
        ty = box.y - (bottom - top) - 2 * pad if box.y >= (bottom - top) + 2 * pad else box.y + width
        draw.rectangle((box.x, ty, box.x + right - left + 2 * pad, ty + bottom - top + 2 * pad), fill=colour)
        draw.text((box.x + pad - left, ty + pad - top), label, fill=(255, 255, 255), font=font)
    return _jpeg(picture, quality)


# -- storage -------------------------------------------------------------------------------------------------


class SnapshotDatabase(Protocol):
    """The part of the hub's database (`hub.storage.database.Database`) the store uses."""

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T: ...

    async def migrate(self, component: str, steps: Sequence[Callable[[sqlite_utils.Database], None]]) -> int: ...


def _migrate_1(db: sqlite_utils.Database) -> None:
    # AUTOINCREMENT: ids are never reused, so a pruned snapshot's URL never shows a newer picture.
    db.execute(
        f"""CREATE TABLE {TABLE} (
            id INTEGER PRIMARY KEY AUTOINCREMENT, camera TEXT NOT NULL, kind TEXT NOT NULL,
            time REAL NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL, meta TEXT NOT NULL)"""
    )
    db.execute(f"CREATE INDEX {TABLE}_time ON {TABLE} (time)")
    db.execute(f"CREATE INDEX {TABLE}_camera_time ON {TABLE} (camera, time)")


MIGRATIONS = (_migrate_1,)
_COLUMNS = "id, camera, kind, time, file, size, meta"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One stored snapshot's row; `file` is relative to the store's directory."""

    id: int
    camera: str
    kind: str  # e.g. "motion", "face", "manual"
    time: float
    file: str
    size: int
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the views."""
        return {"id": self.id, "camera": self.camera, "kind": self.kind, "time": self.time, "size": self.size,
                "meta": dict(self.meta)}  # fmt: skip


def _snapshot(row: Sequence[Any]) -> Snapshot:
    return Snapshot(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))


def _folder(camera: str) -> str:
    """A file-system-safe folder name for a camera ("Front door" -> "front_door")."""
    return re.sub(r"[^a-z0-9_-]+", "_", camera.lower()).strip("_") or "camera"


class SnapshotStore:
    """JPEG files with a row each; `prune` keeps them within an age and a count. Loop-only."""

    def __init__(self, directory: str | Path, db: SnapshotDatabase, *, time: Callable[[], float]) -> None:
        self.directory = Path(directory)
        self.db = db
        self._time = time

    async def start(self) -> None:
        """Create the table (once) and the directory."""
        await self.db.migrate(COMPONENT, MIGRATIONS)
        await self.db.run(lambda _db: self.directory.mkdir(parents=True, exist_ok=True))

    async def add(self, camera: str, kind: str, jpeg: bytes, meta: Mapping[str, Any] | None = None) -> int:
        """Store one JPEG; its id."""
        if not jpeg.startswith(b"\xff\xd8"):
            raise ValueError("a snapshot must be JPEG bytes")
        text = json.dumps(dict(meta or {}), separators=(",", ":"))
        now = self._time()

        def write(db: sqlite_utils.Database) -> int:
            cursor = db.execute(f"INSERT INTO {TABLE} (camera, kind, time, file, size, meta) VALUES (?, ?, ?, '', ?, ?)",
                                [camera, kind, now, len(jpeg), text])  # fmt: skip
            snapshot_id = int(cursor.lastrowid or 0)
            relative = f"{_folder(camera)}/{snapshot_id}.jpg"
            path = self.directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written before the commit: if the disk fails, the row rolls back with it.
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(jpeg)
            temporary.replace(path)
            db.execute(f"UPDATE {TABLE} SET file = ? WHERE id = ?", [relative, snapshot_id])
            return snapshot_id

        return await self.db.run(write)

    async def info(self, snapshot_id: int) -> Snapshot:
        """The row of one snapshot; KeyError when there is none (never stored, or pruned)."""

        def read(db: sqlite_utils.Database) -> Snapshot | None:
            row = db.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE id = ?", [snapshot_id]).fetchone()
            return None if row is None else _snapshot(row)

        snapshot = await self.db.run(read)
        if snapshot is None:
            raise KeyError(snapshot_id)
        return snapshot

    async def get(self, snapshot_id: int) -> bytes:
        """The JPEG bytes; KeyError when the row or its file is gone."""

        def read(db: sqlite_utils.Database) -> bytes | None:
            row = db.execute(f"SELECT file FROM {TABLE} WHERE id = ?", [snapshot_id]).fetchone()
            if row is None:
                return None
            try:
                return (self.directory / row[0]).read_bytes()
            except FileNotFoundError:
                return None

        data = await self.db.run(read)
        if data is None:
            raise KeyError(snapshot_id)
        return data

    async def list(self, camera: str | None = None, limit: int = 50) -> builtins.list[Snapshot]:
        """The newest snapshots first, of one camera or all."""
        where, args = ("WHERE camera = ?", [camera]) if camera is not None else ("", [])

        def query(db: sqlite_utils.Database) -> builtins.list[Snapshot]:
            rows = db.execute(f"SELECT {_COLUMNS} FROM {TABLE} {where} ORDER BY time DESC, id DESC LIMIT ?",
                              [*args, limit]).fetchall()  # fmt: skip
            return [_snapshot(row) for row in rows]

        return await self.db.run(query)

    async def prune(self, now: float, keep_days: float, max_count: int) -> int:
        """Delete snapshots older than `keep_days` and all but the newest `max_count`; how many went."""
        cutoff = now - keep_days * DAY_S

        def delete(db: sqlite_utils.Database) -> int:
            rows = db.execute(
                f"SELECT id, file FROM {TABLE} WHERE time < ? OR id NOT IN "
                f"(SELECT id FROM {TABLE} ORDER BY time DESC, id DESC LIMIT ?)",
                [cutoff, max(0, max_count)],
            ).fetchall()
            for _snapshot_id, relative in rows:
                try:
                    (self.directory / relative).unlink(missing_ok=True)  # already gone is what we wanted
                except OSError as err:
                    _LOGGER.warning("Cannot delete snapshot file %s: %s", relative, err)
            db.conn.executemany(f"DELETE FROM {TABLE} WHERE id = ?", [(row[0],) for row in rows])
            return len(rows)

        return await self.db.run(delete)
