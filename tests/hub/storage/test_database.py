"""The SQLite writer thread: migrations, transactions, locking, corrupt-file recovery."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlite_utils

from hub.errors import PermanentError, TransientError
from hub.storage import Database, DatabaseError, DatabaseInUse, DatabaseLocked


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "hub.db"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[Database]:
    database = Database(path, busy_timeout=0.2)
    await database.start()
    yield database
    await database.stop()


def _create_items(d: sqlite_utils.Database) -> None:
    d.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")


def _insert(name: str) -> Callable[[sqlite_utils.Database], int | None]:
    return lambda d: d.execute("INSERT INTO items (name) VALUES (?)", [name]).lastrowid


def _names(d: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in d.execute("SELECT name FROM items ORDER BY id").fetchall()]


def _step(calls: list[str], name: str) -> Callable[[sqlite_utils.Database], None]:
    def step(d: sqlite_utils.Database) -> None:
        calls.append(name)
        d.execute(f"CREATE TABLE {name} (x)")

    return step


async def test_migrations_run_once_and_are_versioned_across_restarts(path: Path) -> None:
    calls: list[str] = []
    steps = [_step(calls, "t1"), _step(calls, "t2")]
    first = Database(path)
    await first.start()
    assert await first.migrate("widget", steps) == 2
    assert await first.migrate("widget", steps) == 2
    assert calls == ["t1", "t2"]
    await first.stop()

    second = Database(path)
    await second.start()
    try:
        assert await second.migrate("widget", steps) == 2
        assert calls == ["t1", "t2"]
        # A later release adds one step: only that one runs.
        assert await second.migrate("widget", [*steps, _step(calls, "t3")]) == 3
        assert calls == ["t1", "t2", "t3"]
        version = await second.run(
            lambda d: d.execute("SELECT version FROM schema_versions WHERE component = 'widget'").fetchone()[0]
        )
        assert version == 3
    finally:
        await second.stop()


async def test_stored_version_newer_than_known_is_refused(db: Database) -> None:
    await db.migrate("widget", [_create_items, lambda d: None])
    with pytest.raises(DatabaseError, match=r"'widget' is version 2, newer than this hub knows \(1\)"):
        await db.migrate("widget", [_create_items])


async def test_failed_migration_step_leaves_the_old_version(db: Database) -> None:
    def boom(d: sqlite_utils.Database) -> None:
        raise RuntimeError("step 2 failed")

    with pytest.raises(RuntimeError, match="step 2 failed"):
        await db.migrate("widget", [_create_items, boom])
    # Steps and version bump share one transaction, so step 1 is undone too.
    assert await db.run(lambda d: d["items"].exists()) is False
    assert await db.migrate("widget", [_create_items]) == 1


async def test_work_runs_on_the_writer_thread(db: Database) -> None:
    loop_thread = threading.get_ident()
    worker = await db.run(lambda d: threading.get_ident())
    assert worker != loop_thread
    assert await db.run(lambda d: threading.current_thread().name) == "db-writer:hub.db"


async def test_exception_rolls_back_only_its_own_transaction(db: Database) -> None:
    await db.run(_create_items)
    await db.run(_insert("kept"))

    def half_then_fail(d: sqlite_utils.Database) -> None:
        d.execute("INSERT INTO items (name) VALUES ('lost')")
        raise ValueError("bad reading")

    with pytest.raises(ValueError, match="bad reading"):
        await db.run(half_then_fail)
    await db.run(_insert("after"))
    assert await db.run(_names) == ["kept", "after"]


async def test_second_database_on_the_same_file_is_refused(db: Database, path: Path) -> None:
    other = Database(path)
    with pytest.raises(DatabaseInUse, match="in use by another hub process") as info:
        await other.start()
    assert isinstance(info.value, PermanentError)
    assert not other.running
    assert await db.run(lambda d: 1) == 1  # the first one is unaffected


async def test_corrupt_file_is_moved_aside_and_a_fresh_database_works(path: Path) -> None:
    garbage = random.Random(7).randbytes(8192)
    path.write_bytes(garbage)
    database = Database(path)
    await database.start()
    try:
        moved = database.recovered_from
        assert moved is not None
        assert moved.name.startswith("hub.db.corrupt-")
        assert moved.read_bytes() == garbage
        await database.run(_create_items)
        await database.run(_insert("fresh"))
        assert await database.run(_names) == ["fresh"]
    finally:
        await database.stop()


async def test_unopenable_path_is_an_error_not_a_corruption(path: Path) -> None:
    # SQLite cannot open a directory; such a failure must never move the path aside.
    path.mkdir()
    database = Database(path)
    with pytest.raises(DatabaseError, match="cannot open database"):
        await database.start()
    assert path.is_dir()
    assert database.recovered_from is None
    assert not list(path.parent.glob("*.corrupt-*"))


async def test_write_lock_held_elsewhere_raises_database_locked(db: Database, path: Path) -> None:
    await db.run(_create_items)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseLocked, match="locked by another process") as info:
            await db.run(_insert("blocked"))
        assert isinstance(info.value, TransientError)
        other.execute("ROLLBACK")
    finally:
        other.close()
    await db.run(_insert("later"))
    assert await db.run(_names) == ["later"]


async def test_stop_drains_queued_work(path: Path) -> None:
    database = Database(path)
    await database.start()
    await database.run(_create_items)
    futures = [database.submit(_insert(f"n{i}")) for i in range(50)]
    await database.stop()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(DatabaseError, match="not open"):
        await database.run(_names)

    reopened = Database(path)
    await reopened.start()
    try:
        assert await reopened.run(_names) == [f"n{i}" for i in range(50)]
    finally:
        await reopened.stop()


async def test_a_stopped_database_can_start_again(path: Path) -> None:
    database = Database(path)
    await database.start()
    await database.run(_create_items)
    await database.stop()
    await database.start()
    try:
        await database.run(_insert("again"))
        assert await database.run(_names) == ["again"]
    finally:
        await database.stop()


async def test_cancelled_start_stops_the_writer_and_releases_the_lock(path: Path) -> None:
    database = Database(path)
    task = asyncio.get_running_loop().create_task(database.start())
    await asyncio.sleep(0)  # start() is now waiting for the writer to open the file
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    again = Database(path)
    await again.start()
    await again.stop()


async def test_wal_and_full_synchronous_are_on(db: Database) -> None:
    assert await db.run(lambda d: d.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    assert await db.run(lambda d: d.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL


async def test_new_database_file_is_private(tmp_path: Path) -> None:
    db = Database(tmp_path / "private.db")
    await db.start()
    try:
        await db.run(lambda d: d.execute("CREATE TABLE t (x)"))
        assert (tmp_path / "private.db").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "private.db-wal").stat().st_mode & 0o777 == 0o600
    finally:
        await db.stop()
