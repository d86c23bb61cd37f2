"""The table `discovered`: one row per (domain, unique id), kept so "ignore" survives a restart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
import sqlite_utils

from .models import Ask, Discovered, Found, jsonable

if TYPE_CHECKING:
    from ..storage import Database


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE discovered (id TEXT PRIMARY KEY, domain TEXT NOT NULL, unique_id TEXT NOT NULL, "
        "title TEXT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL, origin TEXT, found TEXT NOT NULL, "
        "asks TEXT NOT NULL, details TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL, "
        "ignored INTEGER NOT NULL DEFAULT 0, present INTEGER NOT NULL DEFAULT 1)"
    )
    db.execute("CREATE UNIQUE INDEX discovered_unique ON discovered (domain, unique_id)")
    db.execute("CREATE INDEX discovered_origin ON discovered (origin)")


MIGRATIONS = (_migrate_1,)
COMPONENT = "discovered"

_COLUMNS = ("id", "domain", "unique_id", "title", "kind", "source", "origin", "found", "asks", "details",
            "first_seen", "last_seen", "ignored", "present")  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM discovered"


def _row(item: Discovered) -> list[Any]:
    return [
        item.id, item.domain, item.unique_id, item.title, item.kind, item.source, item.found.origin,
        orjson.dumps(item.found.as_dict()).decode(), orjson.dumps([a.as_dict() for a in item.asks]).decode(),
        orjson.dumps(jsonable(item.details)).decode(), item.first_seen, item.last_seen,
        int(item.ignored), int(item.present),
    ]  # fmt: skip


def _item(row: Sequence[Any]) -> Discovered:
    data = dict(zip(_COLUMNS, row, strict=True))
    return Discovered(
        id=data["id"], domain=data["domain"], unique_id=data["unique_id"], title=data["title"], kind=data["kind"],
        source=data["source"], found=Found.from_dict(orjson.loads(data["found"])),
        asks=tuple(Ask.from_dict(a) for a in orjson.loads(data["asks"])), details=orjson.loads(data["details"]),
        first_seen=data["first_seen"], last_seen=data["last_seen"], ignored=bool(data["ignored"]),
        present=bool(data["present"]),
    )  # fmt: skip


class DiscoveredStore:
    """Reads and writes the Discovered list; every call is one statement on the database thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(self) -> None:
        """Create or migrate the table."""
        await self._db.migrate(COMPONENT, MIGRATIONS)

    async def all(self, *, ignored: bool = False) -> list[Discovered]:
        """Rows, newest sighting first; ignored ones only when asked."""
        where = "" if ignored else " WHERE ignored = 0"
        rows = await self._db.run(lambda db: db.execute(f"{_SELECT}{where} ORDER BY last_seen DESC, id").fetchall())
        return [_item(r) for r in rows]

    async def get(self, item_id: str) -> Discovered | None:
        """The row with this id, if any."""
        row = await self._db.run(lambda db: db.execute(f"{_SELECT} WHERE id = ?", [item_id]).fetchone())
        return _item(row) if row is not None else None

    async def find(self, domain: str, unique_id: str) -> Discovered | None:
        """The row of this (domain, unique id), if any."""
        sql = f"{_SELECT} WHERE domain = ? AND unique_id = ?"
        row = await self._db.run(lambda db: db.execute(sql, [domain, unique_id]).fetchone())
        return _item(row) if row is not None else None

    async def put(self, item: Discovered) -> None:
        """Insert or replace the row (by id)."""
        values = _row(item)
        sql = f"INSERT OR REPLACE INTO discovered ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        await self._db.run(lambda db: db.execute(sql, values))

    async def delete(self, item_id: str) -> bool:
        """Remove the row; False if there was none."""
        count = await self._db.run(lambda db: db.execute("DELETE FROM discovered WHERE id = ?", [item_id]).rowcount)
        return bool(count)

    async def expire(self, before: float, refreshed_sources: tuple[str, ...]) -> int:
        """Delete rows not seen since `before` that are gone (said goodbye) or come from a source that keeps
        refreshing what is still there; ignored rows stay (they keep the device hidden). How many."""
        marks = ", ".join("?" * len(refreshed_sources)) or "NULL"
        sql = (f"DELETE FROM discovered WHERE ignored = 0 AND last_seen < ? "
               f"AND (present = 0 OR source IN ({marks}))")  # fmt: skip
        count = await self._db.run(lambda db: db.execute(sql, [before, *refreshed_sources]).rowcount)
        return int(count)

    async def mark_gone(self, origin: str) -> int:
        """The device behind `origin` said goodbye: keep its rows, marked not present; how many."""
        sql = "UPDATE discovered SET present = 0 WHERE origin = ? AND present = 1"
        count = await self._db.run(lambda db: db.execute(sql, [origin]).rowcount)
        return int(count)
