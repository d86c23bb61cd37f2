"""The alarm panel's tables: alarm history, users' codes and numbers, and the panel's armed mode.

Schema component `alarm_panel` (hub.db.migrate). `alarm_panel_alarms` keeps every alarm for good
(status active -> acknowledged -> restored, or active -> restored); `alarm_panel_users` is read
and written by codes.py; `alarm_panel_state` remembers the armed mode so a restart does not
disarm the house.
"""

from __future__ import annotations

import builtins
import sqlite3
from typing import Any

import sqlite_utils

from .model import Alarm, AlarmKey, Category, Kind, Mode, Status, ZoneRef


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE alarm_panel_alarms (
            id TEXT PRIMARY KEY, key TEXT NOT NULL, category TEXT NOT NULL, kind TEXT NOT NULL,
            zone_id TEXT, zone_number INTEGER, zone_name TEXT, zone_type TEXT, entity_id TEXT,
            time REAL NOT NULL, context_id TEXT, snapshot TEXT, status TEXT NOT NULL, message TEXT NOT NULL,
            mode TEXT NOT NULL, user INTEGER, raised_at REAL NOT NULL, acknowledged_by TEXT,
            acknowledged_at REAL, restored_at REAL)"""
    )
    db.execute("CREATE INDEX alarm_panel_alarms_raised ON alarm_panel_alarms (raised_at)")
    db.execute("CREATE INDEX alarm_panel_alarms_open ON alarm_panel_alarms (status) WHERE status != 'restored'")
    # One row per user who has a code or has armed / disarmed: `number` is the Contact ID user number.
    db.execute(
        "CREATE TABLE alarm_panel_users (user_id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, "
        "code_hash TEXT, updated REAL NOT NULL)"
    )
    db.execute("CREATE TABLE alarm_panel_state (id INTEGER PRIMARY KEY CHECK (id = 1), armed_mode TEXT NOT NULL, "
               "changed_by TEXT, updated REAL NOT NULL)")  # fmt: skip


MIGRATIONS = (_migrate_1,)

_COLUMNS = ("id", "key", "category", "kind", "zone_id", "zone_number", "zone_name", "zone_type", "entity_id", "time",
            "context_id", "snapshot", "status", "message", "mode", "user", "raised_at", "acknowledged_by",
            "acknowledged_at", "restored_at")  # fmt: skip
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM alarm_panel_alarms"


def _row(alarm: Alarm) -> list[Any]:
    zone = alarm.zone
    return [alarm.id, alarm.key.text(), alarm.category.value, alarm.kind.value,
            zone.id if zone else None, zone.number if zone else None, zone.name if zone else None,
            zone.type if zone else None, alarm.entity_id, alarm.time, alarm.context_id, alarm.snapshot,
            alarm.status.value, alarm.message, alarm.mode, alarm.user, alarm.raised_at, alarm.acknowledged_by,
            alarm.acknowledged_at, alarm.restored_at]  # fmt: skip


def _alarm(row: sqlite3.Row | tuple[Any, ...]) -> Alarm:
    data = dict(zip(_COLUMNS, row, strict=True))
    zone = None
    if data["zone_id"] is not None:
        zone = ZoneRef(id=data["zone_id"], number=data["zone_number"], name=data["zone_name"], type=data["zone_type"])
    return Alarm(
        id=data["id"], key=AlarmKey.parse(data["key"]), category=Category(data["category"]), kind=Kind(data["kind"]),
        zone=zone, entity_id=data["entity_id"], time=data["time"], context_id=data["context_id"],
        snapshot=data["snapshot"], status=Status(data["status"]), message=data["message"], mode=data["mode"],
        user=data["user"], raised_at=data["raised_at"], acknowledged_by=data["acknowledged_by"],
        acknowledged_at=data["acknowledged_at"], restored_at=data["restored_at"],
    )  # fmt: skip


def _fetch(db: sqlite_utils.Database, alarm_id: str) -> Alarm | None:
    row = db.execute(f"{_SELECT} WHERE id = ?", [alarm_id]).fetchone()
    return None if row is None else _alarm(row)


class AlarmStore:
    """Async access to the alarm panel's tables through the hub's database (one writer thread)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def start(self) -> None:
        await self.db.migrate("alarm_panel", MIGRATIONS)

    async def insert(self, alarm: Alarm) -> None:
        marks = ", ".join("?" * len(_COLUMNS))
        await self.db.run(lambda db: db.execute(
            f"INSERT INTO alarm_panel_alarms ({', '.join(_COLUMNS)}) VALUES ({marks})", _row(alarm)))  # fmt: skip

    async def get(self, alarm_id: str) -> Alarm | None:
        return await self.db.run(lambda db: _fetch(db, alarm_id))

    async def restore(self, alarm_id: str, at: float) -> Alarm | None:
        """Mark restored (acknowledgement fields untouched); the row as it is now."""

        def write(db: sqlite_utils.Database) -> Alarm | None:
            db.execute("UPDATE alarm_panel_alarms SET status = 'restored', restored_at = ? "
                       "WHERE id = ? AND status != 'restored'", [at, alarm_id])  # fmt: skip
            return _fetch(db, alarm_id)

        return await self.db.run(write)

    async def acknowledge(self, alarm_id: str, user_id: str | None, at: float) -> tuple[Alarm | None, bool]:
        """Record who acknowledged; (row, changed). A restored alarm keeps its status."""

        def write(db: sqlite_utils.Database) -> tuple[Alarm | None, bool]:
            alarm = _fetch(db, alarm_id)
            if alarm is None or alarm.acknowledged_at is not None:
                return alarm, False
            db.execute(
                "UPDATE alarm_panel_alarms SET acknowledged_by = ?, acknowledged_at = ?, "
                "status = CASE status WHEN 'active' THEN 'acknowledged' ELSE status END WHERE id = ?",
                [user_id, at, alarm_id],
            )
            return _fetch(db, alarm_id), True

        return await self.db.run(write)

    async def list(self, status: str = "all", *, limit: int = 200) -> builtins.list[Alarm]:
        """Newest first; `status` active (not restored: active or acknowledged) or all."""
        where = "WHERE status != 'restored'" if status == "active" else ""

        def query(db: sqlite_utils.Database) -> builtins.list[Alarm]:
            rows = db.execute(f"{_SELECT} {where} ORDER BY raised_at DESC, id DESC LIMIT ?", [limit]).fetchall()
            return [_alarm(r) for r in rows]

        return await self.db.run(query)

    async def open_alarms(self) -> builtins.list[Alarm]:
        """Every alarm not restored, oldest first (what the panel restores at start)."""
        return builtins.list(reversed(await self.list("active", limit=100_000)))

    async def save_state(self, armed_mode: Mode, changed_by: str | None, at: float) -> None:
        await self.db.run(lambda db: db.execute(
            "INSERT INTO alarm_panel_state VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "armed_mode = excluded.armed_mode, changed_by = excluded.changed_by, updated = excluded.updated",
            [armed_mode.value, changed_by, at]))  # fmt: skip

    async def load_state(self) -> tuple[Mode, str | None]:
        """(armed mode, changed_by) as last saved; disarmed for a new panel."""
        row = await self.db.run(
            lambda db: db.execute("SELECT armed_mode, changed_by FROM alarm_panel_state WHERE id = 1").fetchone()
        )
        return (Mode.DISARMED, None) if row is None else (Mode(row[0]), row[1])


__all__ = ["MIGRATIONS", "AlarmStore"]
