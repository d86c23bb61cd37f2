"""Outbox behaviour on a manual clock: order, backoff, failures, retry, restart, isolation."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.bus import Context
from hub.clock import ManualClock
from hub.errors import PermanentError, TransientError
from hub.outbox import MessageState, Outbox, OutboxClosed, OutboxError, OutboxMessage
from hub.storage.database import Database


class FakeSender:
    """Records every attempt with the clock's monotonic time; fails as scripted per payload 'n'."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.attempts: list[tuple[str, int, float]] = []  # (id, seq, monotonic)
        self.delivered: list[OutboxMessage] = []
        self.script: dict[int, list[BaseException]] = {}
        self.always: BaseException | None = None

    async def __call__(self, msg: OutboxMessage) -> None:
        self.attempts.append((msg.id, msg.seq, self.clock.monotonic()))
        if self.always is not None:
            raise self.always
        queued = self.script.get(msg.payload["n"])
        if queued:
            raise queued.pop(0)
        self.delivered.append(msg)

    @property
    def delivered_n(self) -> list[int]:
        return [m.payload["n"] for m in self.delivered]


async def until(predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 5.0) -> None:
    """Wait for the database writer thread to catch up; time on the manual clock does not move."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = predicate()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "hub.db")
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
async def outbox(db: Database, clock: ManualClock) -> AsyncIterator[Outbox]:
    box = Outbox(db, clock=clock, rng=random.Random(7))
    await box.start()
    yield box
    await box.stop()
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not leftovers, f"outbox left tasks behind: {leftovers}"


async def test_enqueue_is_committed_before_it_returns(outbox: Outbox, db: Database, clock: ManualClock) -> None:
    ctx = Context()
    msg = await outbox.enqueue("alarms", {"n": 1, "zone": "kitchen"}, context=ctx)
    rows = await db.run(lambda d: d.execute("SELECT id, seq, state, context_id, payload FROM outbox").fetchall())
    assert rows == [(msg.id, 1, "pending", ctx.id, '{"n":1,"zone":"kitchen"}')]
    assert msg == await outbox.get(msg.id)
    assert msg.state is MessageState.PENDING and msg.created == clock.time() and msg.attempts == 0


async def test_messages_of_a_channel_go_out_in_seq_order(outbox: Outbox, clock: ManualClock) -> None:
    sender = FakeSender(clock)
    for n in range(5):
        await outbox.enqueue("orders", {"n": n})
    sender.script[2] = [TransientError("supplier down")]
    outbox.register_channel("orders", sender, base_backoff=1.0)
    await until(lambda: len(sender.attempts) == 3, "first failure of message 2")
    await until(lambda: clock.pending == 1, "backoff timer")
    assert sender.delivered_n == [0, 1]  # 3 and 4 wait behind the failing 2
    await clock.advance(1.3)
    await until(lambda: len(sender.delivered) == 5, "all delivered")
    assert sender.delivered_n == [0, 1, 2, 3, 4]
    assert [m.seq for m in sender.delivered] == [1, 2, 3, 4, 5]
    stored = await outbox.list(channel="orders")
    assert [m.state for m in stored] == [MessageState.DELIVERED] * 5
    assert stored[2].attempts == 2 and stored[2].last_error == "TransientError: supplier down"


@pytest.mark.parametrize("error", [TransientError("down"), OSError("unreachable"), TimeoutError()])
async def test_backoff_grows_exponentially_within_jitter_and_is_capped(
    outbox: Outbox, clock: ManualClock, error: BaseException
) -> None:
    sender = FakeSender(clock)
    sender.always = error
    msg = await outbox.enqueue("alarms", {"n": 0})
    outbox.register_channel("alarms", sender, base_backoff=2.0, max_backoff=60.0, jitter=0.25)
    for attempt in range(1, 10):
        await until(lambda: len(sender.attempts) == attempt, f"attempt {attempt}")
        stored = await outbox.get(msg.id)
        assert stored is not None
        await until(lambda: clock.pending == 1, "backoff timer")
        # Jump exactly to the stored next attempt: the worker must fire then, not later.
        await clock.advance(stored.next_attempt - clock.time() + 1e-6)
    await until(lambda: len(sender.attempts) == 10, "tenth attempt")
    times = [t for _, _, t in sender.attempts]
    gaps = [b - a for a, b in zip(times, times[1:])]
    for n, gap in enumerate(gaps, start=1):
        nominal = min(60.0, 2.0 * 2 ** (n - 1))
        assert nominal * 0.75 - 1e-6 <= gap <= nominal * 1.25 + 1e-6, (n, gap)
    assert max(gaps) <= 75.0 + 1e-6
    assert len({round(g / min(60.0, 2.0 * 2 ** i), 6) for i, g in enumerate(gaps)}) > 1, "no jitter seen"
    assert {i for i, _, _ in sender.attempts} == {msg.id}  # the id never changes across retries
    sender.always = None
    await clock.advance(100)
    await until(lambda: len(sender.delivered) == 1, "delivery once the link is back")


async def test_permanent_failure_is_parked_and_the_next_goes_out(outbox: Outbox, clock: ManualClock) -> None:
    sender = FakeSender(clock)
    sender.script[0] = [PermanentError("rejected: unknown account")]
    first = await outbox.enqueue("orders", {"n": 0})
    await outbox.enqueue("orders", {"n": 1})
    outbox.register_channel("orders", sender)
    await until(lambda: len(sender.delivered) == 1, "second message")
    assert sender.delivered_n == [1]
    failed = await outbox.get(first.id)
    assert failed is not None and failed.state is MessageState.FAILED
    assert failed.last_error == "PermanentError: rejected: unknown account" and failed.attempts == 1
    assert [m.id for m in await outbox.list(state="failed")] == [first.id]

    again = await outbox.retry(first.id)
    assert again.state is MessageState.PENDING and again.attempts == 0
    await until(lambda: len(sender.delivered) == 2, "retried message")
    assert sender.delivered_n == [1, 0] and sender.delivered[1].id == first.id
    assert (await outbox.get(first.id)).state is MessageState.DELIVERED  # type: ignore[union-attr]
    with pytest.raises(OutboxError, match="already delivered"):
        await outbox.retry(first.id)
    with pytest.raises(OutboxError, match="no outbox message"):
        await outbox.retry("nope")


async def test_unexpected_error_is_retried_and_logged_with_traceback_once(
    outbox: Outbox, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = FakeSender(clock)
    sender.script[0] = [ValueError("bug in sender")] * 3
    await outbox.enqueue("alarms", {"n": 0})
    with caplog.at_level(logging.DEBUG, logger="hub.outbox"):
        outbox.register_channel("alarms", sender, base_backoff=1.0, jitter=0.0)
        while not sender.delivered:
            await until(lambda: clock.pending == 1 or bool(sender.delivered), "backoff timer or delivery")
            await clock.advance(10)
    assert len(sender.attempts) == 4
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert len(with_traceback) == 1 and "unexpectedly" in with_traceback[0].getMessage()


async def test_cancel_skips_a_message(outbox: Outbox, clock: ManualClock) -> None:
    sender = FakeSender(clock)
    doomed = await outbox.enqueue("orders", {"n": 0})
    await outbox.enqueue("orders", {"n": 1})
    cancelled = await outbox.cancel(doomed.id)
    assert cancelled.state is MessageState.CANCELLED
    outbox.register_channel("orders", sender)
    await until(lambda: len(sender.delivered) == 1, "delivery")
    assert sender.delivered_n == [1]
    assert (await outbox.stats())["orders"]["cancelled"] == 1


async def test_restart_delivers_rows_left_pending(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "hub.db"
    db = Database(path)
    await db.start()
    box = Outbox(db, clock=clock)
    await box.start()
    sender = FakeSender(clock)
    sender.always = TransientError("link down")
    ids = [(await box.enqueue("alarms", {"n": n})).id for n in range(3)]
    box.register_channel("alarms", sender, base_backoff=30.0)
    await until(lambda: len(sender.attempts) == 1, "first attempt")
    await until(lambda: clock.pending == 1, "backoff timer")
    await box.stop()
    await db.stop()

    db2 = Database(path)
    await db2.start()
    box2 = Outbox(db2, clock=clock)
    await box2.start()
    sender2 = FakeSender(clock)
    try:
        box2.register_channel("alarms", sender2, base_backoff=30.0)
        await until(lambda: clock.pending == 1, "the stored backoff is honoured")
        assert sender2.attempts == []
        await clock.advance(40)
        await until(lambda: len(sender2.delivered) == 3, "delivery after restart")
        assert [m.id for m in sender2.delivered] == ids
        assert sender2.delivered[0].attempts == 1  # the attempt of the first run is remembered
        more = await box2.enqueue("alarms", {"n": 3})
        assert more.seq == 4
    finally:
        await box2.stop()
        await db2.stop()


async def test_a_stuck_channel_does_not_delay_another(outbox: Outbox, clock: ManualClock) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def stuck(msg: OutboxMessage) -> None:
        started.set()
        await release.wait()  # a sender hung on a dead TCP connection

    fast = FakeSender(clock)
    outbox.register_channel("command_center", stuck)
    outbox.register_channel("orders", fast)
    await outbox.enqueue("command_center", {"n": 0})
    async with asyncio.timeout(5):
        await started.wait()
    for n in range(3):
        await outbox.enqueue("orders", {"n": n})
    await until(lambda: len(fast.delivered) == 3, "the other channel")
    stats = await outbox.stats()
    assert stats["command_center"]["pending"] == 1 and stats["orders"]["delivered"] == 3
    # stop() cancels the hung sender; the message stays pending for the next run.


async def test_unregister_stops_the_worker_and_keeps_messages(outbox: Outbox, clock: ManualClock) -> None:
    sender = FakeSender(clock)
    unregister = outbox.register_channel("orders", sender)
    with pytest.raises(OutboxError, match="already has a sender"):
        outbox.register_channel("orders", sender)
    unregister()
    await until(lambda: not any(t.get_name() == "outbox:orders" for t in asyncio.all_tasks()), "worker gone")
    msg = await outbox.enqueue("orders", {"n": 0})
    await clock.advance(10)
    assert sender.attempts == []
    outbox.register_channel("orders", sender)
    await until(lambda: len(sender.delivered) == 1, "delivery after re-register")
    assert sender.delivered[0].id == msg.id


async def test_enqueue_after_stop_raises(db: Database, clock: ManualClock) -> None:
    box = Outbox(db, clock=clock)
    with pytest.raises(OutboxClosed, match="not started"):
        await box.enqueue("alarms", {"n": 0})
    await box.start()
    await box.stop()
    with pytest.raises(OutboxClosed, match="stopped"):
        await box.enqueue("alarms", {"n": 0})
    with pytest.raises(OutboxClosed):
        box.register_channel("alarms", FakeSender(clock))


async def test_payload_must_be_json(outbox: Outbox) -> None:
    with pytest.raises(TypeError):
        await outbox.enqueue("alarms", {"n": object()})
    assert await outbox.list() == []


async def test_stats_and_purge(outbox: Outbox, clock: ManualClock) -> None:
    sender = FakeSender(clock)
    sender.script[1] = [PermanentError("bad order")]
    for n in range(3):
        await outbox.enqueue("orders", {"n": n})
    await clock.advance(50)
    await outbox.enqueue("alarms", {"n": 9})
    stats = await outbox.stats()
    assert stats["orders"] == {"pending": 3, "delivered": 0, "failed": 0, "cancelled": 0, "oldest_pending_age": 50.0}
    assert stats["alarms"]["oldest_pending_age"] == 0.0
    outbox.register_channel("orders", sender)
    await until(lambda: len(sender.attempts) == 3, "all attempted")
    await until(lambda: _count(outbox, "orders", "delivered", 2), "delivered marked")
    stats = await outbox.stats()
    assert stats["orders"] == {"pending": 0, "delivered": 2, "failed": 1, "cancelled": 0, "oldest_pending_age": None}

    assert await outbox.purge_delivered(3600) == 0
    await clock.advance(3601)
    assert await outbox.purge_delivered(3600) == 2
    assert [m.payload["n"] for m in await outbox.list(channel="orders")] == [1]
    # Purging never lets a channel reuse a seq.
    assert (await outbox.enqueue("orders", {"n": 3})).seq == 4


async def _count(outbox: Outbox, channel: str, state: str, expected: int) -> bool:
    stats: dict[str, Any] = await outbox.stats()
    return bool(stats.get(channel, {}).get(state) == expected)


async def test_injected_task_factory_names_workers(db: Database, clock: ManualClock) -> None:
    made: list[str] = []

    def create_task(coro: Any, name: str) -> asyncio.Task[Any]:
        made.append(name)
        return asyncio.get_running_loop().create_task(coro, name=name)

    box = Outbox(db, clock=clock, create_task=create_task)
    await box.start()
    box.register_channel("alarms", FakeSender(clock))
    await box.stop()
    assert made == ["outbox:alarms"]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "outbox:alarms" and not t.done()]


async def test_caller_chosen_id_and_own_row_commit_together(outbox: Outbox, db: Database) -> None:
    """An order row and its message commit in one transaction; a failing `also` stores neither."""

    def make_table(conn: Any) -> None:
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, state TEXT)")

    await db.run(make_table)
    msg = await outbox.enqueue(
        "resupply.x", {"order": "o1"}, message_id="o1",
        also=lambda conn: conn.execute("INSERT INTO orders VALUES ('o1', 'queued')"),
    )  # fmt: skip
    assert msg.id == "o1"
    assert await db.run(lambda conn: conn.execute("SELECT state FROM orders").fetchall()) == [("queued",)]

    def fail(conn: Any) -> None:
        conn.execute("INSERT INTO orders VALUES ('o2', 'queued')")
        raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError, match="own write failed"):
        await outbox.enqueue("resupply.x", {"order": "o2"}, message_id="o2", also=fail)
    assert await outbox.get("o2") is None
    assert await db.run(lambda conn: conn.execute("SELECT id FROM orders").fetchall()) == [("o1",)]
    # The same id twice is refused: one order never becomes two messages.
    with pytest.raises(sqlite3.IntegrityError):
        await outbox.enqueue("resupply.x", {"order": "o1"}, message_id="o1")
    assert [m.id for m in await outbox.list(channel="resupply.x")] == ["o1"]
