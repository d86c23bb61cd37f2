"""Traces: what one automation run did, step by step, and the store of the last few per automation.

A `Trace` is filled in while its run goes (the dashboard may read a running one); everything in it
is JSON-safe (repr of anything else) and each variable or result is cut to 4 KiB, so a trace can
always be stored and shown. `TraceStore` keeps the newest N per automation in memory and in the
table `automation_traces`, and reads them back at start.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from enum import Enum
from typing import Any

import orjson
import sqlite_utils

from ..bus import new_id
from ..storage import Database, DatabaseError

_LOGGER = logging.getLogger(__name__)

MAX_VALUE_BYTES = 4096  # one variable, result or trigger value in a trace
MAX_STEPS = 1000  # a repeat of 10,000 iterations must not make a trace of 10,000 steps
DEFAULT_STORED_TRACES = 10
_MAX_DEPTH = 12

RUNNING = "running"
FINISHED = "finished"
STOPPED = "stopped"
CONDITION_FAILED = "condition_failed"
ERROR = "error"
CANCELLED = "cancelled"
RESTARTED = "restarted"
END_STATES = (FINISHED, STOPPED, CONDITION_FAILED, ERROR, CANCELLED, RESTARTED)


def _create_tables(db: sqlite_utils.Database) -> None:
    # One statement per execute: executescript() would commit the migration's transaction.
    for sql in (
        (
            "CREATE TABLE automation_traces (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE,"
            " automation_id TEXT NOT NULL, started REAL NOT NULL, data TEXT NOT NULL)"
        ),
        "CREATE INDEX ix_automation_traces_automation ON automation_traces(automation_id, seq)",
        "CREATE TABLE automation_enabled (automation_id TEXT PRIMARY KEY, enabled INTEGER NOT NULL)",
        "CREATE TABLE automation_last_triggered (automation_id TEXT PRIMARY KEY, last_triggered REAL NOT NULL)",
    ):
        db.execute(sql)


# The tables of the "automation" component: traces here, enabled flags and last_triggered for the engine.
MIGRATIONS = [_create_tables]


def json_safe(value: Any, limit: int = MAX_VALUE_BYTES) -> Any:
    """`value` as plain JSON types (repr of anything else); longer than `limit` bytes -> a cut string."""
    plain = _plain(value, 0)
    if limit <= 0:
        return plain
    encoded = orjson.dumps(plain)
    if len(encoded) <= limit:
        return plain
    return encoded[:limit].decode("utf-8", errors="ignore") + "… (truncated)"


def _plain(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return str(value)  # NodeStr / SecretStr -> the plain text (secrets never reach a template's output)
    if depth >= _MAX_DEPTH:
        return repr(value)[:200]
    if isinstance(value, Enum):
        return _plain(value.value, depth + 1)
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):  # State, Context, Event
        try:
            return _plain(as_dict(), depth + 1)
        except Exception:  # a trace must never fail on a strange value: fall back to its repr
            _LOGGER.debug("as_dict of %r failed in a trace", type(value), exc_info=True)
    return repr(value)


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One action of a run: where it is in the YAML, when it ran, and what came of it."""

    path: str
    action: str
    alias: str | None
    started: float
    duration: float | None = None
    result: Any = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path, "action": self.action, "alias": self.alias, "started": self.started,
            "duration": self.duration, "result": self.result, "error": self.error,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConditionStep:
    """One condition's outcome and why."""

    path: str
    result: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "result": self.result, "reason": self.reason}


@dataclass(slots=True)
class Trace:
    """One run of one automation, filled in while it runs."""

    automation_id: str
    started: float
    trigger_description: str = ""
    trigger_variables: dict[str, Any] = field(default_factory=dict)
    context_id: str | None = None
    run_id: str = field(default_factory=new_id)
    state: str = RUNNING
    finished: float | None = None
    error: str | None = None
    conditions: list[ConditionStep] = field(default_factory=list)
    steps: list[TraceStep] = field(default_factory=list)
    dropped_steps: int = 0

    @classmethod
    def begin(
        cls,
        automation_id: str,
        started: float,
        *,
        description: str,
        variables: Mapping[str, Any],
        context_id: str | None,
    ) -> Trace:
        """A new running trace with the trigger's variables made JSON-safe."""
        safe = {str(k): json_safe(v) for k, v in variables.items()}
        return cls(automation_id, started, description, safe, context_id)

    def add_condition(self, path: str, result: bool, reason: str) -> None:
        """Record one condition's outcome."""
        self.conditions.append(ConditionStep(path, bool(result), reason))

    def begin_step(self, path: str, action: str, alias: str | None, started: float) -> int:
        """Record that an action started; returns its index for `end_step` (-1 when past MAX_STEPS)."""
        if len(self.steps) >= MAX_STEPS:
            self.dropped_steps += 1
            return -1
        self.steps.append(TraceStep(path, action, alias, started))
        return len(self.steps) - 1

    def end_step(self, index: int, finished: float, *, result: Any = None, error: str | None = None) -> None:
        """Record an action's duration and its result or error."""
        if index < 0:
            return
        step = self.steps[index]
        self.steps[index] = replace(
            step, duration=max(0.0, finished - step.started), result=json_safe(result), error=error
        )

    def finish(self, state: str, finished: float, error: str | None = None) -> None:
        """Close the trace with its end state (once; later calls are ignored)."""
        if self.state != RUNNING:
            return
        self.state = state
        self.finished = finished
        self.error = error

    def summary(self) -> dict[str, Any]:
        """The list form: run id, times, end state, trigger description, error."""
        return {
            "run_id": self.run_id, "started": self.started, "finished": self.finished, "state": self.state,
            "trigger": self.trigger_description, "error": self.error,
        }  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """The full form the API returns and the database keeps."""
        steps = [s.as_dict() for s in self.steps]
        if self.dropped_steps:
            steps.append(
                TraceStep("", "truncated", None, self.finished or self.started, 0.0,
                          {"dropped_steps": self.dropped_steps}).as_dict()
            )  # fmt: skip
        return {
            "run_id": self.run_id,
            "automation_id": self.automation_id,
            "context_id": self.context_id,
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "error": self.error,
            "trigger": {"description": self.trigger_description, "variables": self.trigger_variables},
            "conditions": [c.as_dict() for c in self.conditions],
            "steps": steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """Rebuild a stored trace (the inverse of `as_dict`)."""
        trigger = data.get("trigger") or {}
        return cls(
            automation_id=data["automation_id"],
            started=float(data["started"]),
            trigger_description=trigger.get("description", ""),
            trigger_variables=dict(trigger.get("variables") or {}),
            context_id=data.get("context_id"),
            run_id=data["run_id"],
            state=data.get("state", FINISHED),
            finished=data.get("finished"),
            error=data.get("error"),
            conditions=[ConditionStep(c["path"], bool(c["result"]), c["reason"]) for c in data.get("conditions", ())],
            steps=[
                TraceStep(s["path"], s["action"], s.get("alias"), s["started"], s.get("duration"), s.get("result"),
                          s.get("error"))
                for s in data.get("steps", ())
            ],
        )  # fmt: skip


class TraceStore:
    """The newest traces of each automation, in memory for the API and in the database across restarts."""

    def __init__(self, db: Database, *, default_keep: int = DEFAULT_STORED_TRACES) -> None:
        self._db = db
        self._default_keep = default_keep
        self._keep: dict[str, int] = {}
        self._traces: dict[str, dict[str, Trace]] = {}  # automation id -> run id -> trace, oldest first

    async def load(self) -> None:
        """Create the tables if needed and read the stored traces back."""
        await self._db.migrate("automation", MIGRATIONS)

        def read(db: sqlite_utils.Database) -> list[tuple[str, str]]:
            return list(db.execute("SELECT automation_id, data FROM automation_traces ORDER BY seq").fetchall())

        for automation_id, data in await self._db.run(read):
            try:
                trace = Trace.from_dict(orjson.loads(data))
            except (ValueError, KeyError, TypeError):
                _LOGGER.warning("Skipping an unreadable stored trace of automation %s", automation_id)
                continue
            if trace.state == RUNNING:  # the hub stopped without closing it
                trace.state = CANCELLED
            self._traces.setdefault(automation_id, {})[trace.run_id] = trace
        for automation_id in list(self._traces):
            self._trim(automation_id)

    def set_keep(self, automation_id: str, keep: int) -> None:
        """How many finished traces to keep for one automation (`stored_traces:`)."""
        self._keep[automation_id] = max(1, keep)
        self._trim(automation_id)

    def add(self, trace: Trace) -> None:
        """Show a trace that has started (running traces are never trimmed away)."""
        self._traces.setdefault(trace.automation_id, {})[trace.run_id] = trace
        self._trim(trace.automation_id)

    def save(self, trace: Trace) -> None:
        """Persist a finished trace and drop the oldest beyond the limit; never blocks the loop."""
        self._traces.setdefault(trace.automation_id, {})[trace.run_id] = trace
        self._trim(trace.automation_id)
        keep = self._keep.get(trace.automation_id, self._default_keep)
        data = orjson.dumps(trace.as_dict()).decode()
        row = (trace.run_id, trace.automation_id, trace.started, data)

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT OR REPLACE INTO automation_traces (run_id, automation_id, started, data) VALUES (?, ?, ?, ?)",
                list(row),
            )
            db.execute(
                "DELETE FROM automation_traces WHERE automation_id = ? AND seq NOT IN"
                " (SELECT seq FROM automation_traces WHERE automation_id = ? ORDER BY seq DESC LIMIT ?)",
                [row[1], row[1], keep],
            )

        # Queued to the writer thread rather than awaited: a run that is being cancelled (hub
        # stop, restart mode) must still get its trace out, and the database drains its queue
        # before it closes.
        try:
            future = self._db.submit(write)
        except DatabaseError:  # closed: a trace that cannot be written must not break the run
            _LOGGER.warning("Trace %s of automation %s not stored: database closed", trace.run_id, trace.automation_id)
            return
        future.add_done_callback(_log_failure)

    def recent(self, automation_id: str) -> list[Trace]:
        """Traces of one automation, newest first."""
        return list(reversed(self._traces.get(automation_id, {}).values()))

    def get(self, automation_id: str, run_id: str) -> Trace | None:
        """One trace, or None."""
        return self._traces.get(automation_id, {}).get(run_id)

    def automations(self) -> Iterable[str]:
        """Ids of automations with traces."""
        return list(self._traces)

    def _trim(self, automation_id: str) -> None:
        traces = self._traces.get(automation_id)
        if not traces:
            return
        keep = self._keep.get(automation_id, self._default_keep)
        finished = [t for t in traces.values() if t.state != RUNNING]
        for trace in finished[: max(0, len(finished) - keep)]:
            del traces[trace.run_id]


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _LOGGER.error("Storing an automation trace failed: %s", future.exception())
