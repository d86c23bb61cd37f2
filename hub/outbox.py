"""Durable at-least-once delivery of alarms and orders, one ordered queue per channel.

A message is committed (and fsynced) to the `outbox` table before `enqueue` returns, so
nobody is told about an alarm or an order that a `kill -9` could still lose. One worker
task per registered channel hands messages to the channel's sender strictly in `seq`
order, retries transient failures with exponential backoff and jitter, and parks permanent
failures as 'failed' for a person to retry. A message's `id` never changes, so receivers
de-duplicate the resends that a crash between "sent" and "marked delivered" causes.

Error tree:

HubError
 +-- OutboxError             misuse of the outbox (unknown message, wrong state)
      +-- OutboxClosed       the outbox is not started, or already stopped
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import orjson
import sqlite_utils

from .bus import Context, new_id
from .clock import Clock, Timer
from .errors import HubError, PermanentError, TransientError
from .storage.database import Database

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

TaskFactory = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]
Sender = Callable[["OutboxMessage"], Awaitable[None]]

# Failures that say "the link is down, try again later" without being our own error types.
# HTTP client errors are not listed: aiohttp costs 0.2 s to import and the runtime must start
# fast, so senders translate them to TransientError (anything unknown is retried anyway).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, OSError, asyncio.TimeoutError)


class OutboxError(HubError):
    """The outbox was asked for something it cannot do."""


class OutboxClosed(OutboxError):
    """The outbox is not started or has been stopped; nothing can be queued."""


class MessageState(StrEnum):
    """Where a message is in its life; only 'pending' messages are attempted."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One queued message as stored; `id` is what receivers de-duplicate by."""

    id: str
    channel: str
    seq: int
    payload: dict[str, Any]
    attempts: int
    state: MessageState
    last_error: str | None
    created: float
    delivered: float | None
    context_id: str | None
    next_attempt: float


def _migration_1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            seq INTEGER NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created REAL NOT NULL,
            next_attempt REAL NOT NULL,
            delivered REAL,
            context_id TEXT,
            UNIQUE (channel, seq)
        )"""
    )
    db.execute("CREATE INDEX outbox_channel_state_seq ON outbox (channel, state, seq)")
    # The last seq handed out per channel lives apart from the rows, so purging delivered
    # rows never lets a channel reuse a seq (which would reorder a receiver's view).
    db.execute("CREATE TABLE outbox_channels (channel TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)")


MIGRATIONS = [_migration_1]

_COLUMNS = "id, channel, seq, payload, attempts, state, last_error, created, delivered, context_id, next_attempt"


def _row_to_message(row: tuple[Any, ...]) -> OutboxMessage:
    # _COLUMNS lists the dataclass fields in order; only payload and state need converting.
    id_, channel, seq, payload, attempts, state, last_error, created, delivered, context_id, next_attempt = row
    return OutboxMessage(
        id_, channel, seq, orjson.loads(payload), attempts, MessageState(state), last_error, created, delivered,
        context_id, next_attempt,
    )


def _fetch(db: sqlite_utils.Database, message_id: str) -> OutboxMessage | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", [message_id]).fetchone()
    return None if row is None else _row_to_message(row)


def _head(db: sqlite_utils.Database, channel: str) -> OutboxMessage | None:
    """The lowest-seq pending message of a channel: the only one its worker may attempt."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE channel = ? AND state = 'pending' ORDER BY seq LIMIT 1",
        [channel],
    ).fetchone()
    return None if row is None else _row_to_message(row)


class _Channel:
    """A registered channel: its sender, backoff settings and worker task."""

    def __init__(self, name: str, sender: Sender, base: float, cap: float, jitter: float) -> None:
        self.name = name
        self.sender = sender
        self.base_backoff = base
        self.max_backoff = cap
        self.jitter = jitter
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        # (message id, stored next_attempt, monotonic deadline): wall time is read once per
        # schedule, so a wall clock stepped backwards (a Pi without RTC syncing NTP) cannot
        # stall the channel for longer than one capped backoff.
        self.deadline: tuple[str, float, float] | None = None
        self.failing = False
        self.traced: str | None = None  # message whose unexpected error was already logged with traceback

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Delay before the next try after `attempts` failures, capped, then jittered."""
        raw = min(self.max_backoff, self.base_backoff * 2.0 ** min(attempts - 1, 60))
        return raw * rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)

    @property
    def longest_wait(self) -> float:
        return self.max_backoff * (1.0 + self.jitter)


class Outbox:
    """The durable queue; create once, `start`, register channels, `stop` before the database."""

    def __init__(
        self, db: Database, *, clock: Clock, create_task: TaskFactory | None = None, rng: random.Random | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._create_task = create_task or self._default_create_task
        self._rng = rng or random.Random()
        self._channels: dict[str, _Channel] = {}
        self._workers: set[asyncio.Task[Any]] = set()  # every worker until it has ended
        self._started = False
        self._stopped = False

    async def start(self) -> None:
        """Create or upgrade the outbox tables."""
        if self._stopped:
            raise OutboxClosed("outbox was stopped; create a new one")
        await self._db.migrate("outbox", MIGRATIONS)
        self._started = True

    async def stop(self) -> None:
        """Cancel every worker and wait for them; pending messages stay for the next start."""
        self._stopped = True
        self._channels.clear()
        # Includes workers of channels unregistered earlier that have not finished yet.
        workers = builtins.list(self._workers)
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    def _check_open(self) -> None:
        if self._stopped:
            raise OutboxClosed("outbox is stopped; the message was not queued")
        if not self._started:
            raise OutboxClosed("outbox is not started; call start() first")

    async def enqueue(
        self,
        channel: str,
        payload: dict[str, Any],
        *,
        context: Context | None = None,
        message_id: str | None = None,
        also: Callable[[sqlite_utils.Database], Any] | None = None,
    ) -> OutboxMessage:
        """Store a message durably, then wake the channel's worker; returns after the commit.

        `message_id` lets the caller choose the stable id (an order id, so the receiver's
        idempotency key and the message are one); a second enqueue with the same id raises
        `sqlite3.IntegrityError` and stores nothing. `also(db)` runs in the same transaction,
        so a caller's own row (an order marked queued) and the message commit together or not at all.
        """
        self._check_open()
        body = orjson.dumps(payload).decode()  # fails here, not in the worker, if not JSON-able
        message_id = message_id or new_id()
        now = self._clock.time()
        context_id = context.id if context is not None else None

        def insert(db: sqlite_utils.Database) -> OutboxMessage:
            seq = db.execute(
                "INSERT INTO outbox_channels (channel, last_seq) VALUES (?, 1) "
                "ON CONFLICT(channel) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                [channel],
            ).fetchall()[0][0]  # fetchall: a RETURNING statement left open would block COMMIT
            db.execute(
                f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, 0, 'pending', NULL, ?, NULL, ?, ?)",
                [message_id, channel, seq, body, now, context_id, now],
            )
            if also is not None:
                also(db)
            return _fetch(db, message_id)  # type: ignore[return-value]

        return await self._write(insert, wake=channel)

    def register_channel(
        self,
        channel: str,
        sender: Sender,
        *,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        jitter: float = 0.2,
    ) -> Callable[[], None]:
        """Deliver `channel`'s messages through `sender`, starting with rows left from earlier runs."""
        self._check_open()
        if channel in self._channels:
            raise OutboxError(f"outbox channel {channel!r} already has a sender")
        if not 0 < base_backoff <= max_backoff or not 0 <= jitter < 1:
            raise ValueError("need 0 < base_backoff <= max_backoff and 0 <= jitter < 1")
        ch = _Channel(channel, sender, base_backoff, max_backoff, jitter)
        self._channels[channel] = ch
        ch.task = self._create_task(self._worker(ch), f"outbox:{channel}")
        self._workers.add(ch.task)
        ch.task.add_done_callback(self._worker_done)

        def unregister() -> None:
            if self._channels.get(channel) is ch:
                del self._channels[channel]
                if ch.task is not None:
                    ch.task.cancel()

        return unregister

    async def get(self, message_id: str) -> OutboxMessage | None:
        """The stored message, or None if unknown (or purged)."""
        return await self._db.run(lambda db: _fetch(db, message_id))

    async def list(
        self, channel: str | None = None, state: MessageState | str | None = None, limit: int = 100
    ) -> builtins.list[OutboxMessage]:
        """Messages, oldest first by channel then seq, optionally filtered."""
        where, args = [], []
        if channel is not None:
            where.append("channel = ?")
            args.append(channel)
        if state is not None:
            where.append("state = ?")
            args.append(MessageState(state).value)
        sql = f"SELECT {_COLUMNS} FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY channel, seq LIMIT ?"

        def query(db: sqlite_utils.Database) -> builtins.list[OutboxMessage]:
            return [_row_to_message(r) for r in db.execute(sql, [*args, limit]).fetchall()]

        return await self._db.run(query)

    async def stats(self) -> dict[str, dict[str, Any]]:
        """Per channel: counts by state and the age in seconds of the oldest pending message."""
        now = self._clock.time()

        def query(db: sqlite_utils.Database) -> builtins.list[tuple[Any, ...]]:
            return db.execute(
                "SELECT channel, state, COUNT(*), MIN(created) FROM outbox GROUP BY channel, state"
            ).fetchall()

        rows = await self._db.run(query)
        result: dict[str, dict[str, Any]] = {}
        for name in [*self._channels, *(r[0] for r in rows)]:
            result.setdefault(
                name, {"pending": 0, "delivered": 0, "failed": 0, "cancelled": 0, "oldest_pending_age": None}
            )
        for name, state, count, oldest in rows:
            result[name][state] = count
            if state == MessageState.PENDING:
                result[name]["oldest_pending_age"] = max(0.0, now - oldest)
        return result

    async def retry(self, message_id: str) -> OutboxMessage:
        """Put a failed or cancelled message back in the queue (or retry a pending one now)."""
        # attempts restart so the backoff starts short again; last_error stays for the record.
        return await self._change(message_id, "state = 'pending', attempts = 0, next_attempt = ?", [self._clock.time()])

    async def cancel(self, message_id: str) -> OutboxMessage:
        """Give up on a pending or failed message; an attempt already in flight may still land."""
        return await self._change(message_id, "state = 'cancelled'", [])

    async def purge_delivered(self, older_than_seconds: float) -> int:
        """Delete delivered messages delivered longer ago than this; returns how many."""
        cutoff = self._clock.time() - older_than_seconds

        def purge(db: sqlite_utils.Database) -> int:
            cur = db.execute("DELETE FROM outbox WHERE state = 'delivered' AND delivered < ?", [cutoff])
            return int(cur.rowcount)

        return await self._write(purge)

    # -- internals ------------------------------------------------------------------------

    async def _change(self, message_id: str, assignments: str, args: builtins.list[Any]) -> OutboxMessage:
        self._check_open()

        def change(db: sqlite_utils.Database) -> OutboxMessage:
            msg = _fetch(db, message_id)
            if msg is None:
                raise OutboxError(f"no outbox message {message_id}")
            if msg.state == MessageState.DELIVERED:
                raise OutboxError(f"outbox message {message_id} was already delivered")
            db.execute(f"UPDATE outbox SET {assignments} WHERE id = ?", [*args, message_id])
            return _fetch(db, message_id)  # type: ignore[return-value]

        msg = await self._write(change)
        self._wake(msg.channel)  # the head of its channel may have changed
        return msg

    async def _write(self, fn: Callable[[sqlite_utils.Database], T], *, wake: str | None = None) -> T:
        fut = asyncio.wrap_future(self._db.submit(fn))
        if wake is not None:

            def committed(done: asyncio.Future[T]) -> None:
                # Wake from the future, not after the await, so a caller cancelled
                # mid-commit still gets its (committed) message moving.
                if not done.cancelled() and done.exception() is None:
                    self._wake(wake)

            fut.add_done_callback(committed)
        # Shielded: once queued the write happens regardless; a cancelled caller must not
        # leave us believing a row is pending when it was marked delivered, or vice versa.
        return await asyncio.shield(fut)

    def _wake(self, channel: str) -> None:
        ch = self._channels.get(channel)
        if ch is not None:
            ch.wake.set()

    async def _wait(self, ch: _Channel, delay: float | None) -> None:
        """Sleep on the injected clock until `delay` passes or something wakes the channel."""
        timer: Timer | None = None if delay is None else self._clock.call_later(delay, ch.wake.set)
        try:
            await ch.wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    async def _worker(self, ch: _Channel) -> None:
        db_failures = 0
        while True:
            # Clear before reading so an enqueue that commits during the read is not missed.
            ch.wake.clear()
            try:
                head = await self._db.run(lambda db: _head(db, ch.name))
                if head is None:
                    await self._wait(ch, None)
                    continue
                delay = self._remaining(ch, head)
                if delay > 0:
                    # Re-read after any wake: a retry() or cancel() may have changed the head.
                    await self._wait(ch, delay)
                    continue
                await self._attempt(ch, head)
                db_failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database itself failed (locked, disk full): keep the worker alive.
                db_failures += 1
                delay = ch.backoff(db_failures, self._rng)
                _LOGGER.exception("Outbox channel %s: database error; retrying in %.1f s", ch.name, delay)
                await self._clock.sleep(delay)

    def _remaining(self, ch: _Channel, head: OutboxMessage) -> float:
        mono = self._clock.monotonic()
        key = (head.id, head.next_attempt)
        if ch.deadline is None or ch.deadline[:2] != key:
            wait = min(head.next_attempt - self._clock.time(), ch.longest_wait)
            ch.deadline = (*key, mono + wait)
        return ch.deadline[2] - mono

    async def _attempt(self, ch: _Channel, msg: OutboxMessage) -> None:
        try:
            await ch.sender(msg)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being stopped: the message stays pending for the next run
            await self._record_failure(ch, msg, "cancelled inside the sender", permanent=False)
        except PermanentError as err:
            _LOGGER.error("Outbox channel %s: message %s failed permanently: %s", ch.name, msg.id, err)
            await self._record_failure(ch, msg, _describe(err), permanent=True)
        except TRANSIENT_ERRORS as err:
            await self._record_failure(ch, msg, _describe(err), permanent=False)
        except Exception as err:
            if ch.traced != msg.id:
                ch.traced = msg.id
                _LOGGER.exception("Outbox channel %s: sender raised unexpectedly on %s", ch.name, msg.id)
            await self._record_failure(ch, msg, _describe(err), permanent=False)
        else:
            now = self._clock.time()
            await self._write(
                lambda db: db.execute(
                    "UPDATE outbox SET state = 'delivered', delivered = ?, attempts = attempts + 1 WHERE id = ?",
                    [now, msg.id],
                )
            )
            if ch.failing:
                ch.failing = False
                _LOGGER.info("Outbox channel %s: delivering again", ch.name)

    async def _record_failure(self, ch: _Channel, msg: OutboxMessage, error: str, *, permanent: bool) -> None:
        attempts = msg.attempts + 1
        now = self._clock.time()
        if permanent:
            sql, args = "UPDATE outbox SET state = 'failed', attempts = ?, last_error = ?", [attempts, error]
        else:
            delay = ch.backoff(attempts, self._rng)
            sql = "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt = ?"
            args = [attempts, error, now + delay]
            # The deadline is known exactly here; no need to read the wall clock back.
            ch.deadline = (msg.id, now + delay, self._clock.monotonic() + delay)
            if not ch.failing:
                ch.failing = True
                _LOGGER.warning("Outbox channel %s: delivery failing (%s); retrying with backoff", ch.name, error)
            else:
                _LOGGER.debug("Outbox channel %s: attempt %d of %s failed: %s", ch.name, attempts, msg.id, error)
        # Only a still-pending row is touched: a cancel() that raced the attempt wins.
        await self._write(lambda db: db.execute(sql + " WHERE id = ? AND state = 'pending'", [*args, msg.id]))

    def _default_create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return asyncio.get_running_loop().create_task(coro, name=name)  # owned through self._workers

    def _worker_done(self, task: asyncio.Task[Any]) -> None:
        self._workers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Outbox worker %s ended", task.get_name(), exc_info=task.exception())


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
