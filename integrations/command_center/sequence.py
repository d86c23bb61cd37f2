"""DC-09 sequence numbers (0001-9999, wrapping) per receiver group, kept across restarts.

Numbers are handed out from blocks reserved in the `command_center_sequences` table: the
reservation commits before any number of the block is used, so a hub that restarts (or is
killed) continues after the block and never reuses a number it may just have sent. A restart
skips the unused rest of a block; receivers accept gaps (the number only pairs an ACK with its
message), not a repeat of a number with different content.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlite_utils

MAX_SEQUENCE = 9999
BLOCK = 50
COMPONENT = "command_center"


def _migration_1(db: sqlite_utils.Database) -> None:
    # `reserved` counts upwards without wrapping; the number on the wire is derived from it.
    db.execute("CREATE TABLE command_center_sequences (receiver_group TEXT PRIMARY KEY, reserved INTEGER NOT NULL)")


MIGRATIONS = [_migration_1]


def wire_number(counter: int) -> int:
    """The 1..9999 number sent for the counter's value (1 -> 1, 9999 -> 9999, 10000 -> 1)."""
    return (counter - 1) % MAX_SEQUENCE + 1


class SequenceStore:
    """Hands out the next sequence number of one receiver group; `await start()` first."""

    def __init__(self, db: Any, group: str, *, block: int = BLOCK) -> None:
        self._db = db
        self._group = group
        self._block = block
        self._next = 0  # next counter value to hand out
        self._reserved = 0  # counter values up to this one are reserved in the database
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Create the table if needed and continue after the last reserved block (never reusing it)."""
        await self._db.migrate(COMPONENT, MIGRATIONS)
        group = self._group

        def read(db: sqlite_utils.Database) -> int:
            row = db.execute(
                "SELECT reserved FROM command_center_sequences WHERE receiver_group = ?", [group]
            ).fetchone()
            return int(row[0]) if row else 0

        self._reserved = await self._db.run(read)
        self._next = self._reserved + 1
        # Reserved now, so the first alarm after a start does not wait for this commit.
        await self._reserve(self._next + self._block - 1)

    async def next(self) -> int:
        """The next number on the wire; reserves a new block (one commit) every `block` numbers."""
        async with self._lock:
            if self._next > self._reserved:
                await self._reserve(self._next + self._block - 1)
            counter = self._next
            self._next += 1
            return wire_number(counter)

    async def _reserve(self, upto: int) -> None:
        group = self._group

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO command_center_sequences (receiver_group, reserved) VALUES (?, ?) "
                "ON CONFLICT(receiver_group) DO UPDATE SET reserved = excluded.reserved",
                [group, upto],
            )

        await self._db.run(write)
        self._reserved = upto


__all__ = ["BLOCK", "MAX_SEQUENCE", "SequenceStore", "wire_number"]
