"""A hub killed with SIGKILL while it sends alarms loses none: every alarm reaches the receiver, each row is delivered once.

The DC-09 receiver (our scripted one, real clock) runs here on loopback and answers after 0-30 ms,
so kills land while frames are in flight. A real hub runs in a child process (cc_crash_child.py)
that raises six alarms per run and sends them; the test SIGKILLs it 0-300 ms after READY (every
fourth run 0-500 ms after spawn, so kills land in the start-up too), for several runs on the same
configuration directory; a final run raises nothing and must drain the queue and exit 0.

Asserted: every alarm the child reported queued (its row committed) reached the receiver; every id
the receiver got is a committed row; every row ends `delivered`; a duplicate at the receiver (the
kill fell between the receiver's ACK and the hub's "delivered" commit) carries the same message id
and the same data block, so the receiver de-duplicates it by the `[I<id>]` xdata; first receipts
come in the outbox's order; distinct messages never shared a sequence number, across restarts.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import children
import pytest
from cc_helpers import ScriptedReceiver
from children import Child

from hub.runtime import DB_FILENAME

CHILD = Path(__file__).with_name("cc_crash_child.py")
REPO = Path(__file__).resolve().parents[3]
KILLED_RUNS = 10
PER_RUN = 6
WAIT_S = 40.0

CONFIG = """\
hub:
  name: Casa Maderas
http:
  server_port: 0
command_center:
  account: "1234"
  receiver: R0
  line: L0
  receivers:
    - {{host: 127.0.0.1, port: {port}, protocol: tcp}}
  ack_timeout: 2
  supervision_interval: 0
"""


async def start_child(config_dir: Path, run: int, count: int, stderr_path: Path) -> Child:
    return await children.start_child(CHILD, [str(config_dir), str(run), str(count)], stderr_path=stderr_path,
                                      cwd=REPO, name="cc-crash-child")  # fmt: skip


@pytest.fixture
async def receiver() -> AsyncIterator[ScriptedReceiver]:
    rng = random.Random(9)
    peer = ScriptedReceiver("tcp", now=lambda: datetime.now(UTC), delay=lambda: rng.uniform(0.0, 0.03))
    await peer.start()
    yield peer
    await peer.stop()


def stored(db_path: Path) -> list[tuple[str, int, str]]:
    """(id, seq, state) of every DC-09 outbox row, read-only, in the channel's order."""
    conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT id, seq, state FROM outbox WHERE channel = 'command_center.dc09' ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_kill_9_while_sending_alarms_loses_none(receiver: ScriptedReceiver, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(CONFIG.format(port=receiver.port), encoding="utf-8")
    rng = random.Random(2026)
    began = time.monotonic()
    queued: list[str] = []
    killed = 0
    for run in range(KILLED_RUNS):
        child = await start_child(config_dir, run, PER_RUN, tmp_path / f"run-{run}.err")
        try:
            async with asyncio.timeout(WAIT_S):
                if run % 4 == 3:
                    await asyncio.sleep(rng.uniform(0.0, 0.5))  # may land in imports, the database, set-up
                else:
                    await child.ready()
                    await asyncio.sleep(rng.uniform(0.0, 0.3))
            if child.proc.returncode is None:
                child.proc.kill()
                killed += 1
            code = await child.end()
        finally:
            await child.close()
        assert code in (-9, 0), (tmp_path / f"run-{run}.err").read_text()
        queued += [line.split()[1] for line in child.lines if line.startswith("QUEUED ")]

    final = await start_child(config_dir, KILLED_RUNS, 0, tmp_path / "final.err")
    try:
        async with asyncio.timeout(WAIT_S):
            code = await final.end()
    finally:
        await final.close()
    assert code == 0 and final.lines[-1] == "DONE", (final.lines, (tmp_path / "final.err").read_text())

    rows = stored(config_dir / DB_FILENAME)
    row_ids = [row[0] for row in rows]
    assert killed >= KILLED_RUNS // 2, f"only {killed} children were killed"
    assert queued, "no child got as far as queueing an alarm"
    assert all(state == "delivered" for _, _, state in rows), rows
    got = [(r.msg_id or "", r.message.sequence, r.message.data) for r in receiver.accepted()]
    got_ids = [msg_id for msg_id, _, _ in got]
    # Nothing acknowledged was lost; nothing was sent that was not stored; everything stored arrived.
    assert set(queued) <= set(got_ids)
    assert set(got_ids) == set(row_ids)
    # Duplicates are resends of the same message: same id, same content.
    content: dict[str, str] = {}
    for msg_id, _, data in got:
        assert content.setdefault(msg_id, data) == data
    # First receipts in the outbox's order.
    first: list[str] = []
    for msg_id in got_ids:
        if msg_id not in first:
            first.append(msg_id)
    assert first == row_ids
    # A sequence number never went to two different messages, across all the restarts.
    owners: dict[int, str] = {}
    for msg_id, sequence, _ in got:
        assert owners.setdefault(sequence, msg_id) == msg_id, f"sequence {sequence} reused"
    print(f"\ncommand_center crash: {killed} of {KILLED_RUNS} children killed, {len(rows)} alarms, "
          f"{len(got) - len(set(got_ids))} duplicates filtered by id, {time.monotonic() - began:.1f} s")  # fmt: skip
