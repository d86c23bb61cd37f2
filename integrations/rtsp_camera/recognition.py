"""Faces off the hub's process, and the residents' enrolled faces in the database.

dlib's descriptor holds the GIL for its whole call (130-300 ms a face, measured: docs/cameras.md),
which would stall the event loop; so detection and recognition run in a worker process
(`FaceService`), one for every camera: a frame (~1 MB) and the gallery's bytes travel each call, the
models load once in the worker. The process is started with "spawn" (the hub has threads; a fork
would copy their locks), and a worker that dies is replaced on the next call.
`FaceStore` keeps one row per enrolled descriptor; the gallery is rebuilt from the rows after each
change (a household has a handful of residents).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import sqlite_utils

from .faces import DEFAULT_MAX_DISTANCE, Entry, Face, Gallery, analyze_frame

T = TypeVar("T")
TABLE = "rtsp_camera_faces"
CALL_TIMEOUT_S = 60.0  # a first call loads the models (~1 s); anything near this is a hung worker


def _worker_init() -> None:
    """In the worker: Ctrl-C and SIGTERM are for the hub, which shuts the worker down in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def analyze_timed(image: np.ndarray, gallery: bytes, recognise: bool, max_distance: float) -> tuple[list[Face], float]:
    """`analyze_frame` in the worker, with the worker's CPU seconds for the camera's budget."""
    started = time.process_time()
    faces = analyze_frame(image, gallery, recognise=recognise, max_distance=max_distance)
    return faces, time.process_time() - started


class FaceService:
    """Face analysis in a worker process against the current gallery; `analyze` blocks its calling thread."""

    def __init__(self, *, max_distance: float = DEFAULT_MAX_DISTANCE, workers: int = 1) -> None:
        self.max_distance = max_distance
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._gallery = Gallery()
        self._gallery_bytes = self._gallery.to_bytes()
        self._closed = False

    @property
    def gallery(self) -> Gallery:
        """The residents matched against (replaced as a whole by `set_gallery`)."""
        return self._gallery

    @property
    def has_gallery(self) -> bool:
        """Anyone enrolled: without, recognition can only say "unknown"."""
        return len(self._gallery) > 0

    def set_gallery(self, gallery: Gallery) -> None:
        """Match against `gallery` from the next call on."""
        data = gallery.to_bytes()
        with self._lock:
            self._gallery, self._gallery_bytes = gallery, data

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the face service is closed")
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_init)  # fmt: skip
            return self._pool

    def analyze(self, image: np.ndarray, *, recognise: bool = True) -> tuple[list[Face], float]:
        """The faces of `image` and the worker's CPU seconds; blocks (call it from a thread, not the loop)."""
        with self._lock:
            gallery = self._gallery_bytes
        future = self._executor().submit(analyze_timed, image, gallery, recognise, self.max_distance)
        try:
            return future.result(timeout=CALL_TIMEOUT_S)
        except concurrent.futures.process.BrokenProcessPool:
            self._replace_pool()
            raise

    def _replace_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker process (joins it: call from a thread when on the loop)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class FaceDatabase(Protocol):
    """The part of hub.storage.Database the store uses."""

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T: ...

    async def migrate(self, component: str, steps: Sequence[Callable[[sqlite_utils.Database], None]]) -> int: ...


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, descriptor BLOB NOT NULL, "
        "created REAL NOT NULL, source TEXT)"
    )


@dataclass(frozen=True)
class Resident:
    """One enrolled person as the API shows them: no descriptor leaves the hub."""

    id: int  # the first descriptor's id: deleting it deletes the person
    name: str
    samples: int
    created: float

    def as_api(self) -> dict[str, Any]:
        """JSON for /api/rtsp_camera/faces."""
        return {"id": self.id, "name": self.name, "samples": self.samples, "created": self.created}


class FaceStore:
    """Enrolled descriptors, one row each; residents are the rows grouped by name."""

    def __init__(self, db: FaceDatabase, *, time: Callable[[], float]) -> None:
        self.db = db
        self._time = time

    async def start(self) -> None:
        """Create or upgrade the table."""
        await self.db.migrate("rtsp_camera_faces", [_migrate_1])

    async def gallery(self) -> Gallery:
        """Every enrolled descriptor as a Gallery (entry ids are row ids)."""

        def read(db: sqlite_utils.Database) -> list[tuple[int, str, bytes]]:
            return db.execute(f"SELECT id, name, descriptor FROM {TABLE} ORDER BY id").fetchall()

        rows = await self.db.run(read)
        return Gallery(Entry(row_id, name, np.frombuffer(blob, dtype=np.float64)) for row_id, name, blob in rows)

    async def add(self, name: str, descriptor: np.ndarray, source: str | None = None) -> int:
        """Enrol one descriptor of `name`; its row id."""
        name = name.strip()
        if not name:
            raise ValueError("a resident needs a name")
        if len(name) > 80:
            raise ValueError("a name has at most 80 characters")
        blob = np.asarray(descriptor, dtype=np.float64).reshape(-1)
        if blob.shape != (128,) or not np.all(np.isfinite(blob)):
            raise ValueError("a face descriptor is 128 finite numbers")
        created = self._time()

        def write(db: sqlite_utils.Database) -> int:
            with db.conn:
                cursor = db.execute(f"INSERT INTO {TABLE} (name, descriptor, created, source) VALUES (?, ?, ?, ?)",
                                    [name, blob.tobytes(), created, source])  # fmt: skip
            return int(cursor.lastrowid or 0)

        return await self.db.run(write)

    async def residents(self) -> list[Resident]:
        """Enrolled people, by name."""

        def read(db: sqlite_utils.Database) -> list[sqlite3.Row]:
            return db.execute(f"SELECT MIN(id), name, COUNT(*), MIN(created) FROM {TABLE} GROUP BY name ORDER BY name").fetchall()

        return [Resident(int(i), str(n), int(c), float(t)) for i, n, c, t in await self.db.run(read)]

    async def remove(self, resident_id: int) -> bool:
        """Forget the person whose first descriptor is `resident_id` (every sample of that name)."""

        def write(db: sqlite_utils.Database) -> bool:
            with db.conn:
                row = db.execute(f"SELECT name FROM {TABLE} WHERE id = ?", [resident_id]).fetchone()
                if row is None:
                    return False
                db.execute(f"DELETE FROM {TABLE} WHERE name = ?", [row[0]])
            return True

        return await self.db.run(write)
