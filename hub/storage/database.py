"""The hub's SQLite file, owned by one writer thread that a queue feeds.

The event loop never touches SQLite: `await db.run(fn)` queues `fn(db)` for the writer
thread, which runs it inside its own transaction and commits before the awaiting
coroutine resumes. The file is in WAL mode with `synchronous=FULL`, so a commit that has
been acknowledged survives a `kill -9` and a power cut (the outbox depends on this).

Each component owns a list of migrations; `migrate(component, steps)` applies the ones
not yet recorded in `schema_versions`, each in its own transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from ..errors import HubError, PermanentError, TransientError

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
Migration = Callable[[sqlite_utils.Database], None]
Work = Callable[[sqlite_utils.Database], Any]

_STOP = object()


class DatabaseError(HubError):
    """Base of database failures."""


class DatabaseLocked(DatabaseError, TransientError):
    """Another process held a write lock on the file for longer than the busy timeout."""


class DatabaseInUse(DatabaseError, PermanentError):
    """Another hub process already owns this database file."""


class DatabaseCorrupt(DatabaseError, PermanentError):
    """The file is not a readable SQLite database."""


class Database:
    """The one SQLite database of a hub, used only through its writer thread."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.recovered_from: Path | None = None  # where a corrupt file was moved, for the dashboard
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._db: sqlite_utils.Database | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether the writer thread accepts work."""
        return self._thread is not None and not self._closed

    async def start(self) -> None:
        """Take the lock file, open (or recover) the database and start the writer thread."""
        if self._thread is not None:
            raise DatabaseError(f"database {self.path.name} is already started")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        # A fresh queue and flag per start, so a stopped Database can be started again.
        self._queue = queue.SimpleQueue()
        self._closed = False
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        thread = self._thread = threading.Thread(
            target=self._thread_main, args=(asyncio.get_running_loop(), ready), name=f"db-writer:{self.path.name}",
            # Daemon: a stop that overran its deadline must not keep the process alive; SQLite's
            # journal makes an interrupted transaction roll back on the next open.
            daemon=True,
        )
        thread.start()
        try:
            await ready
            await self.migrate("core", CORE_MIGRATIONS)
        except BaseException:
            # Also on cancellation: a writer that did open must be told to stop, or join() never returns.
            self._closed = True
            self._queue.put(_STOP)
            thread.join()
            self._thread = None
            self._release_lock()
            raise

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `fn(db)` on the writer thread in one transaction; resumes after the commit."""
        return await asyncio.wrap_future(self.submit(fn))

    def submit(self, fn: Callable[[sqlite_utils.Database], T]) -> concurrent.futures.Future[T]:
        """Queue `fn(db)` without waiting; returns a concurrent future of its result."""
        if not self.running:
            raise DatabaseError(f"database {self.path.name} is not open")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put((fn, fut))
        return fut

    async def migrate(self, component: str, steps: Sequence[Migration]) -> int:
        """Apply the migrations of `component` not yet applied; returns its schema version."""

        def apply(db: sqlite_utils.Database) -> int:
            row = db.execute("SELECT version FROM schema_versions WHERE component = ?", [component]).fetchone()
            version = row[0] if row else 0
            if version > len(steps):
                raise DatabaseError(
                    f"database schema of {component!r} is version {version}, newer than this hub knows "
                    f"({len(steps)}); was the hub downgraded?"
                )
            # All pending steps and the new version commit together: a crash leaves the old version.
            for index in range(version, len(steps)):
                steps[index](db)
                db.execute(
                    "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    [component, index + 1],
                )
                _LOGGER.info("Migrating %s schema to version %d", component, index + 1)
            return len(steps)

        return await self.run(apply)

    async def stop(self) -> None:
        """Finish queued work, close the file and stop the thread."""
        if self._thread is None or self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None
        self._release_lock()

    # -- writer thread ----------------------------------------------------------------

    def _thread_main(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            self._db = self._open()
        except BaseException as err:  # report to start() and end the thread
            loop.call_soon_threadsafe(_set_exception, ready, err)
            return
        loop.call_soon_threadsafe(_set_result, ready, None)
        db = self._db
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            conn = db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = fn(db)
                if conn.in_transaction:
                    conn.execute("COMMIT")
            except sqlite3.OperationalError as err:
                _rollback(conn)
                if "locked" in str(err) or "busy" in str(err):
                    fut.set_exception(
                        DatabaseLocked(f"database {self.path} is locked by another process: {err}")
                    )
                else:
                    fut.set_exception(err)
            except BaseException as err:  # noqa: BLE001 - handed to the caller
                _rollback(conn)
                fut.set_exception(err)
            else:
                fut.set_result(result)
        db.conn.close()

    def _open(self) -> sqlite_utils.Database:
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise DatabaseLocked(f"database {self.path} is locked by another process: {err}") from None
            if not _is_corrupt(err):
                # Cannot open, I/O error, read-only, disk full: the file may be fine, so never move it aside.
                raise DatabaseError(f"cannot open database {self.path}: {err}") from err
            moved = self._corrupt_name()
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    src.rename(Path(str(moved) + suffix))
            self.recovered_from = moved
            _LOGGER.error(
                "Database %s is corrupt (%s); moved it to %s and started a new one", self.path, err, moved.name
            )
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            raise DatabaseCorrupt(f"database {self.path} is unusable even after moving it aside: {err}") from err

    def _corrupt_name(self) -> Path:
        # rename() silently replaces an existing file: never overwrite an earlier corrupt copy.
        base = f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        candidate, n = self.path.with_name(base), 1
        while candidate.exists():
            candidate, n = self.path.with_name(f"{base}-{n}"), n + 1
        return candidate

    def _connect(self) -> sqlite_utils.Database:
        # The file holds token signing keys and password hashes: readable by the hub's user only.
        # SQLite gives the -wal and -shm files the same permissions as the database file.
        if not self.path.exists():
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        # Autocommit mode: the writer loop opens and commits each transaction itself.
        conn = sqlite3.connect(
            self.path, check_same_thread=False, timeout=self.busy_timeout, isolation_level=None
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            row = conn.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise _QuickCheckFailed(f"integrity check failed: {row[0] if row else 'no result'}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        return sqlite_utils.Database(conn)

    # -- lock file ----------------------------------------------------------------------

    def _take_lock(self) -> None:
        lock_path = Path(str(self.path) + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DatabaseInUse(
                f"database {self.path} is in use by another hub process (pid {holder}); "
                "stop it or use another config directory"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class _QuickCheckFailed(sqlite3.DatabaseError):
    """The file opened, but SQLite's own quick check found damage."""


def _is_corrupt(err: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is damaged (not that it cannot be reached)."""
    if isinstance(err, _QuickCheckFailed):
        return True
    code = getattr(err, "sqlite_errorcode", None)
    # Extended result codes keep the primary code in the low byte.
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], err: BaseException) -> None:
    if not fut.done():
        fut.set_exception(err)


# The runtime's own tables are created by the modules that own them (entities, config
# entries, recorder, outbox), each through `migrate(component, steps)`.
CORE_MIGRATIONS: list[Migration] = []
