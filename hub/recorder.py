"""State and event history in SQLite: batched commits, daily purge, queries for charts.

The bus listener only appends to an in-memory queue; a clock timer hands the queue to the
database writer thread every `commit_interval`, so history may lose at most that much on a
crash. A commit that fails for a transient reason (the file is locked) keeps its rows and
is retried on the next tick; past `max_pending_rows` the oldest rows are dropped, loudly.

Attributes are stored once per distinct JSON text in `state_attributes`. Purge keeps the
newest row of every entity, however old, so `last_states()` can still restore an entity
that has not changed in weeks (an alarm panel armed for a long holiday).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
import sqlite_utils

from .bus import EVENT_SERVICE_CALLED, EVENT_STATE_CHANGED, MATCH_ALL, Bus, Context, Event
from .clock import Clock, Repeating
from .errors import TransientError
from .states import State, split_entity_id
from .storage import Database, Migration

_LOGGER = logging.getLogger(__name__)

# Service data can carry alarm codes and credentials, which do not belong in history.
DEFAULT_EXCLUDE_EVENT_TYPES: tuple[str, ...] = (EVENT_SERVICE_CALLED,)
DEFAULT_MAX_PENDING_ROWS = 100_000
# Rows per transaction: a backlog after an outage is written in slices, so other writers
# (the outbox) never wait behind one huge transaction.
COMMIT_CHUNK = 5_000
PURGE_CHUNK = 10_000
_DAY = 86_400.0


def _create_schema(db: sqlite_utils.Database) -> None:
    # One statement per execute: executescript() would COMMIT the migration's transaction.
    for sql in (
        "CREATE TABLE state_attributes (id INTEGER PRIMARY KEY, hash INTEGER NOT NULL, shared_attrs TEXT NOT NULL)",
        "CREATE INDEX ix_state_attributes_hash ON state_attributes(hash)",
        "CREATE TABLE states (id INTEGER PRIMARY KEY, entity_id TEXT NOT NULL, state TEXT,"
        " attributes_id INTEGER REFERENCES state_attributes(id), last_changed REAL NOT NULL,"
        " last_updated REAL NOT NULL, context_id TEXT, context_parent_id TEXT, context_user_id TEXT, origin TEXT)",
        "CREATE INDEX ix_states_entity_id_last_updated ON states(entity_id, last_updated)",
        "CREATE INDEX ix_states_last_updated ON states(last_updated)",
        "CREATE INDEX ix_states_attributes_id ON states(attributes_id)",
        "CREATE TABLE events (id INTEGER PRIMARY KEY, event_type TEXT NOT NULL, data TEXT NOT NULL,"
        " event_origin TEXT, time_fired REAL NOT NULL, context_id TEXT, context_parent_id TEXT,"
        " context_user_id TEXT, origin TEXT)",
        "CREATE INDEX ix_events_event_type_time_fired ON events(event_type, time_fired)",
        "CREATE INDEX ix_events_time_fired ON events(time_fired)",
    ):
        db.execute(sql)


MIGRATIONS: list[Migration] = [_create_schema]

_INSERT_STATE = (
    "INSERT INTO states (entity_id, state, attributes_id, last_changed, last_updated,"
    " context_id, context_parent_id, context_user_id, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO events (event_type, data, event_origin, time_fired,"
    " context_id, context_parent_id, context_user_id, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_STATE_COLUMNS = "s.state, a.shared_attrs, s.last_changed, s.last_updated"
_STATE_FROM = "FROM states s LEFT JOIN state_attributes a ON a.id = s.attributes_id"
# A JSON number is exactly what counts as numeric: rejects 'unknown', 'nan', 'inf', 'on'.
_NUMERIC = "CASE WHEN json_valid(state) THEN json_type(state) IN ('integer', 'real') ELSE 0 END"
_PURGE_STATES = (
    "DELETE FROM states WHERE id IN (SELECT id FROM states WHERE last_updated < ?"
    " AND (state IS NULL OR id NOT IN (SELECT MAX(id) FROM states GROUP BY entity_id)) LIMIT ?)"
)
_PURGE_EVENTS = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time_fired < ? LIMIT ?)"
_PURGE_ATTRIBUTES = (
    "DELETE FROM state_attributes WHERE NOT EXISTS"
    " (SELECT 1 FROM states WHERE states.attributes_id = state_attributes.id)"
)


@dataclass(frozen=True, slots=True)
class _StateRow:
    entity_id: str
    state: State | None  # None: the entity was removed
    time_fired: float
    context: Context


@dataclass(frozen=True, slots=True)
class _EventRow:
    event_type: str
    data: str
    origin: str
    time_fired: float
    context: Context


_Row = _StateRow | _EventRow


class Recorder:
    """Records state changes and events to the database and answers history queries."""

    def __init__(
        self,
        hub_bus: Bus,
        db: Database,
        *,
        clock: Clock,
        commit_interval: float | timedelta = 1.0,
        keep_days: float = 10,
        exclude_entities: Iterable[str] = (),
        exclude_domains: Iterable[str] = (),
        exclude_event_types: Iterable[str] = DEFAULT_EXCLUDE_EVENT_TYPES,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
    ) -> None:
        self._bus = hub_bus
        self._db = db
        self._clock = clock
        interval = commit_interval.total_seconds() if isinstance(commit_interval, timedelta) else commit_interval
        if interval <= 0:
            raise ValueError(f"commit_interval must be positive, got {interval}")
        self._commit_interval = float(interval)
        self._keep_days = keep_days
        self._exclude_entities = frozenset(exclude_entities)
        self._exclude_domains = frozenset(exclude_domains)
        self._exclude_event_types = frozenset(exclude_event_types)
        self._max_pending = max_pending_rows
        self._queue: deque[_Row] = deque()
        self._dropped = 0
        self._failing = False
        self._unlisten: Callable[[], None] | None = None
        self._timers: list[Repeating] = []
        self._commit_task: asyncio.Task[None] | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self._purge_lock = asyncio.Lock()

    @property
    def pending_rows(self) -> int:
        """Rows recorded in memory but not committed yet."""
        return len(self._queue)

    async def start(self) -> None:
        """Create or migrate the tables, start listening, committing and purging."""
        await self._db.migrate("recorder", MIGRATIONS)
        self._unlisten = self._bus.listen(MATCH_ALL, self._on_event, owner="recorder")
        self._timers = [
            self._clock.every(self._commit_interval, self._on_commit_tick),
            self._clock.every(timedelta(days=1), self._on_purge_tick),
        ]
        # Purge once at start too: a hub restarted more often than daily would never purge.
        self._on_purge_tick()

    async def stop(self) -> None:
        """Stop listening, cancel timers and the purge, and commit what is pending."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        if self._purge_task is not None:
            self._purge_task.cancel()
            await asyncio.gather(self._purge_task, return_exceptions=True)
            self._purge_task = None
        try:
            await self.flush()
        except Exception as err:  # noqa: BLE001 - stopping must finish; say what is lost
            _LOGGER.error("Recorder stopped with %d rows not written: %s", len(self._queue), err)
            self._queue.clear()

    async def wait_for_purge(self) -> None:
        """Wait until a background (scheduled) purge, if one is running, has finished."""
        task = self._purge_task
        if task is not None and not task.done():
            await asyncio.shield(task)

    def _on_event(self, event: Event) -> None:
        etype = event.event_type
        if etype in self._exclude_event_types:
            return
        row: _Row
        if etype == EVENT_STATE_CHANGED:
            entity_id = event.data.get("entity_id")
            if not isinstance(entity_id, str) or self._excluded(entity_id):
                return
            new = event.data.get("new_state")
            if isinstance(new, State):
                row = _StateRow(entity_id, new, event.time_fired, new.context)
            else:
                row = _StateRow(entity_id, None, event.time_fired, event.context)
        else:
            # Serialised now: the firer may mutate its data dict after fire() returns.
            row = _EventRow(etype, _dumps(event.data), event.origin.value, event.time_fired, event.context)
        if len(self._queue) >= self._max_pending:
            self._queue.popleft()
            self._note_dropped(1)
        self._queue.append(row)

    def _excluded(self, entity_id: str) -> bool:
        return entity_id in self._exclude_entities or split_entity_id(entity_id)[0] in self._exclude_domains

    def _note_dropped(self, count: int) -> None:
        if self._dropped == 0:
            _LOGGER.error(
                "Recorder queue is full (%d rows) because the database refuses writes; dropping the oldest rows",
                self._max_pending,
            )
        self._dropped += count

    def _on_commit_tick(self) -> None:
        if self._queue and (self._commit_task is None or self._commit_task.done()):
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_logged(), name="recorder:commit")

    async def flush(self) -> None:
        """Commit every pending row now; raises if the database refuses (rows are kept if transient)."""
        while True:
            task = self._commit_task
            if task is not None and not task.done():
                # Shielded: a cancelled caller must not cancel a batch half-way into the writer.
                await asyncio.shield(task)
                continue
            if not self._queue:
                return
            self._commit_task = task = asyncio.get_running_loop().create_task(
                self._commit_all(), name="recorder:flush"
            )
            await asyncio.shield(task)
            return

    async def _commit_logged(self) -> None:
        try:
            await self._commit_all()
        except Exception:  # noqa: BLE001 - _commit_all logged it; kept rows wait for the next tick
            pass

    async def _commit_all(self) -> None:
        while self._queue:
            chunk = [self._queue.popleft() for _ in range(min(len(self._queue), COMMIT_CHUNK))]
            try:
                await self._db.run(partial(_write_rows, rows=chunk))
            except (TransientError, sqlite3.OperationalError) as err:
                self._requeue(chunk)
                if not self._failing:
                    self._failing = True
                    _LOGGER.warning(
                        "Recorder cannot write %d rows yet, retrying every %ss: %s",
                        len(self._queue), self._commit_interval, err,
                    )
                raise
            except Exception:
                _LOGGER.exception("Recorder dropped %d rows it could not write", len(chunk))
                raise
            if self._failing:
                self._failing = False
                _LOGGER.warning("Recorder writes to the database again")
            if self._dropped:
                _LOGGER.error("Recorder dropped %d rows while the database refused writes", self._dropped)
                self._dropped = 0

    def _requeue(self, chunk: list[_Row]) -> None:
        self._queue.extendleft(reversed(chunk))
        excess = len(self._queue) - self._max_pending
        for _ in range(excess):
            self._queue.popleft()
        if excess > 0:
            self._note_dropped(excess)

    def _on_purge_tick(self) -> None:
        if self._purge_task is None or self._purge_task.done():
            self._purge_task = asyncio.get_running_loop().create_task(self._purge_logged(), name="recorder:purge")

    async def _purge_logged(self) -> None:
        try:
            await self.purge()
        except (TransientError, sqlite3.OperationalError) as err:
            _LOGGER.warning("Recorder purge postponed to its next run: %s", err)
        except Exception:  # noqa: BLE001 - a background task reports, never raises
            _LOGGER.exception("Recorder purge failed")

    async def purge(self, keep_days: float | None = None) -> dict[str, int]:
        """Delete rows older than `keep_days` (default: the configured value) and unused attributes."""
        days = self._keep_days if keep_days is None else keep_days
        cutoff = self._clock.time() - days * _DAY
        counts = {"states": 0, "events": 0, "state_attributes": 0}
        async with self._purge_lock:
            for table, sql in (("states", _PURGE_STATES), ("events", _PURGE_EVENTS)):
                while True:  # a slice per transaction, so commits interleave with a big purge
                    deleted = await self._db.run(_rowcount(sql, (cutoff, PURGE_CHUNK)))
                    counts[table] += deleted
                    if deleted < PURGE_CHUNK:
                        break
            counts["state_attributes"] = await self._db.run(_rowcount(_PURGE_ATTRIBUTES, ()))
        if any(counts.values()):
            _LOGGER.info("Recorder purged rows older than %s days: %s", days, counts)
        return counts

    async def history(self, entity_id: str, start: float, end: float) -> list[dict[str, Any]]:
        """States of `entity_id` in [start, end), led by the state in force at `start`; None state = removed."""

        def query(db: sqlite_utils.Database) -> list[dict[str, Any]]:
            conn = db.conn
            prior = conn.execute(
                f"SELECT {_STATE_COLUMNS} {_STATE_FROM} WHERE s.entity_id = ? AND s.last_updated < ?"
                " ORDER BY s.last_updated DESC, s.id DESC LIMIT 1",
                (entity_id, start),
            ).fetchall()
            rows = conn.execute(
                f"SELECT {_STATE_COLUMNS} {_STATE_FROM} WHERE s.entity_id = ? AND s.last_updated >= ?"
                " AND s.last_updated < ? ORDER BY s.last_updated, s.id",
                (entity_id, start, end),
            ).fetchall()
            # A removal before `start` means nothing was in force; it would only draw a gap.
            return [_history_row(r) for r in prior if r[0] is not None] + [_history_row(r) for r in rows]

        return await self._db.run(query)

    async def statistics(
        self, entity_id: str, start: float, end: float, bucket_seconds: float, *, now: float | None = None
    ) -> list[dict[str, float]]:
        """min/mean/max/count of numeric states per bucket of [start, end).

        Only changes are recorded, so a bucket with no sample still had the value in force:
        it is filled with that value (count 0) while the value is numeric, up to `now`. A bucket
        after the entity went unavailable (or any non-numeric state) stays empty: a gap.
        """
        if bucket_seconds <= 0:
            raise ValueError(f"bucket_seconds must be positive, got {bucket_seconds}")
        stop = min(end, self._clock.time() if now is None else now)

        def query(db: sqlite_utils.Database) -> tuple[list[tuple[int, float, float, float, int]], dict[int, Any], Any]:
            # mean is the plain mean of the samples, not weighted by how long each lasted.
            stats = db.conn.execute(
                "SELECT CAST((last_updated - ?1) / ?2 AS INTEGER) AS bucket, MIN(v), AVG(v), MAX(v), COUNT(*)"
                " FROM (SELECT last_updated, CAST(state AS REAL) AS v FROM states"
                f" WHERE entity_id = ?3 AND last_updated >= ?1 AND last_updated < ?4 AND {_NUMERIC})"
                " GROUP BY bucket ORDER BY bucket",
                (start, bucket_seconds, entity_id, end),
            ).fetchall()
            # The last state of each bucket, numeric or not (SQLite takes the bare column from the MAX row).
            last = dict(
                (b, v) for b, v, _ in db.conn.execute(
                    "SELECT CAST((last_updated - ?1) / ?2 AS INTEGER) AS bucket, state, MAX(last_updated)"
                    " FROM states WHERE entity_id = ?3 AND last_updated >= ?1 AND last_updated < ?4 GROUP BY bucket",
                    (start, bucket_seconds, entity_id, end),
                )
            )
            before = db.conn.execute(
                "SELECT state FROM states WHERE entity_id = ? AND last_updated < ? ORDER BY last_updated DESC LIMIT 1",
                (entity_id, start),
            ).fetchone()
            return stats, last, before[0] if before else None

        stats, last, carried = await self._db.run(query)
        by_bucket = {b: (lo, mean, hi, n) for b, lo, mean, hi, n in stats}
        out: list[dict[str, float]] = []
        buckets = math.ceil((stop - start) / bucket_seconds) if stop > start else 0
        for b in range(buckets):
            if b in by_bucket:
                lo, mean, hi, n = by_bucket[b]
                out.append({"start": start + b * bucket_seconds, "min": lo, "mean": mean, "max": hi, "count": n})
            elif b not in last:  # no change at all in this bucket (one with only text states is a gap)
                value = _as_number(carried)
                if value is not None:
                    out.append({"start": start + b * bucket_seconds, "min": value, "mean": value, "max": value, "count": 0})
            if b in last:
                carried = last[b]
        return out

    async def events(
        self, event_type: str | None = None, start: float = 0.0, end: float = math.inf, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The first `limit` events (of one type, or all) fired in [start, end), oldest first."""

        def query(db: sqlite_utils.Database) -> list[dict[str, Any]]:
            of_type = "" if event_type is None else "event_type = ? AND "
            params = ([] if event_type is None else [event_type]) + [start, end, limit]
            rows = db.conn.execute(
                "SELECT event_type, data, event_origin, time_fired, context_id, context_parent_id, context_user_id,"
                f" origin FROM events WHERE {of_type}time_fired >= ? AND time_fired < ?"
                " ORDER BY time_fired, id LIMIT ?",
                params,
            ).fetchall()
            return [
                {"event_type": etype, "data": orjson.loads(data), "origin": origin, "time_fired": fired,
                 "context": {"id": cid, "user_id": uid, "parent_id": pid, "origin": corigin}}
                for etype, data, origin, fired, cid, pid, uid, corigin in rows
            ]  # fmt: skip

        return await self._db.run(query)

    async def last_states(self) -> dict[str, State]:
        """The newest recorded state of every entity that was not removed, for restoring after a restart."""

        def query(db: sqlite_utils.Database) -> dict[str, State]:
            rows = db.conn.execute(
                "SELECT s.entity_id, s.state, a.shared_attrs, s.last_changed, s.last_updated, s.context_id,"
                f" s.context_parent_id, s.context_user_id, s.origin {_STATE_FROM}"
                " JOIN (SELECT MAX(id) AS id FROM states GROUP BY entity_id) newest ON newest.id = s.id"
                " WHERE s.state IS NOT NULL"
            ).fetchall()
            result: dict[str, State] = {}
            for eid, state, attrs, changed, updated, cid, pid, uid, origin in rows:
                ids = {"id": cid} if cid is not None else {}
                context = Context(**ids, user_id=uid, parent_id=pid, origin=origin)
                result[eid] = State(eid, state, orjson.loads(attrs) if attrs else {}, changed, updated, context)
            return result

        return await self._db.run(query)


def _write_rows(db: sqlite_utils.Database, rows: list[_Row]) -> None:
    """Insert one batch of rows; runs on the writer thread inside the batch's transaction."""
    conn = db.conn
    attribute_ids: dict[str, int] = {}
    states: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for row in rows:
        ctx = (row.context.id, row.context.parent_id, row.context.user_id, row.context.origin)
        if isinstance(row, _EventRow):
            events.append((row.event_type, row.data, row.origin, row.time_fired, *ctx))
        elif (st := row.state) is None:
            states.append((row.entity_id, None, None, row.time_fired, row.time_fired, *ctx))
        else:
            # Serialised here, off the loop: a State and its attributes never change.
            attrs = _dumps(st.attributes)
            attributes_id = attribute_ids.get(attrs)
            if attributes_id is None:
                attributes_id = attribute_ids[attrs] = _attributes_id(conn, attrs)
            states.append((st.entity_id, st.state, attributes_id, st.last_changed, st.last_updated, *ctx))
    if states:
        conn.executemany(_INSERT_STATE, states)
    if events:
        conn.executemany(_INSERT_EVENT, events)


def _rowcount(sql: str, params: tuple[Any, ...]) -> Callable[[sqlite_utils.Database], int]:
    """Work for the writer thread: run one statement, return how many rows it changed."""
    return lambda db: db.conn.execute(sql, params).rowcount


def _attributes_id(conn: sqlite3.Connection, attrs: str) -> int:
    """Id of the stored attributes with exactly this JSON text, inserting it if new."""
    digest = int.from_bytes(hashlib.blake2b(attrs.encode(), digest_size=8).digest(), "big", signed=True)
    # The hash only narrows the search; the text comparison makes a collision harmless.
    found = conn.execute(
        "SELECT id FROM state_attributes WHERE hash = ? AND shared_attrs = ?", (digest, attrs)
    ).fetchone()
    if found is not None:
        return int(found[0])
    cursor = conn.execute("INSERT INTO state_attributes (hash, shared_attrs) VALUES (?, ?)", (digest, attrs))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _as_number(state: Any) -> float | None:
    """The state as a finite number, or None (unavailable, unknown, text, removed)."""
    if state is None:
        return None
    try:
        value = float(state)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _history_row(row: tuple[Any, ...]) -> dict[str, Any]:
    state, attrs, changed, updated = row
    return {"state": state, "attributes": orjson.loads(attrs) if attrs else {}, "last_changed": changed,
            "last_updated": updated}  # fmt: skip


def _json_default(value: Any) -> Any:
    if isinstance(value, (State, Context)):
        return value.as_dict()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _dumps(value: Any) -> str:
    """JSON text of event data or attributes; never raises, whatever an integration put in."""
    if not isinstance(value, dict) and isinstance(value, Mapping):
        value = dict(value)
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # Integers past 64 bits, cycles, nesting too deep: keep the top level readable.
        if isinstance(value, Mapping):
            return orjson.dumps({str(k): str(v) for k, v in value.items()}).decode()
        return orjson.dumps(str(value)).decode()
