"""The outbox's promise under `kill -9`: nothing committed is lost, receivers can de-duplicate.

A real receiver (aiohttp on 127.0.0.1) and a real hub process (outbox_crash_child.py) that is
SIGKILLed at random moments, cycle after cycle; each new child resumes what the last one left.
The receiver answers some posts slowly (so kills land while a post is in flight and the
"delivered" commit never happens) and some with 503 (so retries and backoff are exercised).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

CHILD = Path(__file__).with_name("outbox_crash_child.py")
REPO = Path(__file__).resolve().parents[2]
CYCLES = 25
PER_CYCLE = 12
SEED = 20260115


@dataclass
class Receiver:
    """Records every accepted post in arrival order, the way a command centre would store it."""

    rng: random.Random
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        roll = self.rng.random()
        if roll < 0.10:
            self.rejected += 1
            return web.Response(status=503, text="busy")
        # Stored on arrival: if the answer is lost (the sender was killed) the sender resends.
        self.accepted.append(body)
        if roll < 0.35:
            await asyncio.sleep(self.rng.uniform(0.01, 0.08))
        return web.Response(text="ok")


UNKNOWN_EXIT = 255  # what asyncio reports when it could not read a child's exit status


async def run_child(
    args: list[str], stderr_path: Path, kill_after: float | None, from_spawn: bool
) -> tuple[list[str], int]:
    """Run one child; SIGKILL it `kill_after` seconds after READY (or after spawn)."""
    with stderr_path.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), *args, stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=REPO
        )
    lines: list[str] = []
    ready = asyncio.Event()

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode().strip()
            lines.append(line)
            if line == "READY":
                ready.set()
        ready.set()  # EOF: the child is gone, stop waiting for READY

    reader = asyncio.create_task(read(), name="crash-child-stdout")
    killed = False
    try:
        async with asyncio.timeout(40):
            if kill_after is not None:
                if not from_spawn:
                    await ready.wait()
                await asyncio.sleep(kill_after)
                if proc.returncode is None:
                    proc.kill()
                    killed = True
            await proc.wait()
            await reader
        code = proc.returncode if proc.returncode is not None else -1
        if code == UNKNOWN_EXIT:
            # Python 3.11's child watcher reports 255 ("Unknown child process pid ...") when the status
            # was reaped before its waitpid; seen once in CI under load. The child never exits with 255
            # itself (0, 1 or 2), so the status is what we know: killed by us, or drained and done.
            code = -9 if killed else (0 if "DRAINED" in lines else code)
        return lines, code
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_kill_9_loses_nothing_and_ids_make_duplicates_harmless(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    receiver = Receiver(random.Random(SEED + 1))
    app = web.Application()
    app.router.add_post("/alarm", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/alarm"
    db_path = tmp_path / "hub.db"
    began = time.monotonic()
    enqueued: list[str] = []
    killed = 0
    try:
        for cycle in range(CYCLES):
            # Most kills are timed from READY (enqueue/deliver windows); every fifth from spawn,
            # so some land in imports, opening the database, migrations and registration.
            from_spawn = cycle % 5 == 4
            delay = rng.uniform(0.0, 0.5) if from_spawn else rng.uniform(0.0, 0.3)
            args = [str(db_path), url, str(cycle * 1000), str(PER_CYCLE)]
            lines, code = await run_child(args, tmp_path / f"child-{cycle}.err", delay, from_spawn)
            killed += code == -9
            assert code in (0, -9), (tmp_path / f"child-{cycle}.err").read_text()
            enqueued += [line.split()[1] for line in lines if line.startswith("ENQUEUED ")]
        lines, code = await run_child([str(db_path), url, "0", "0"], tmp_path / "drain.err", None, False)
        assert code == 0, (tmp_path / "drain.err").read_text()
        assert "DRAINED" in lines
    finally:
        await runner.cleanup()
    duration = time.monotonic() - began

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT id, channel, seq, state FROM outbox").fetchall()
    conn.close()
    stored = {row[0]: row for row in rows}
    assert {row[3] for row in rows} == {"delivered"}

    first: dict[str, dict[str, Any]] = {}
    for body in receiver.accepted:
        seen = first.setdefault(body["id"], body)
        assert seen == body, "a resend must carry the same channel, seq and payload"
    unique_ids = set(first)

    assert set(enqueued) <= unique_ids, "an acknowledged message was never delivered"
    assert unique_ids <= set(stored), "the receiver got a message that was never committed"
    assert unique_ids == set(stored), "a committed message was never delivered"
    assert len({(b["channel"], b["seq"]) for b in first.values()}) == len(unique_ids)
    for channel in ("alarms", "orders"):
        seqs = [b["seq"] for b in first.values() if b["channel"] == channel]
        assert seqs == sorted(seqs), f"{channel} delivered out of order"
        assert len(seqs) == len(set(seqs))

    duplicates = len(receiver.accepted) - len(unique_ids)
    print(
        f"\noutbox crash test: {CYCLES} cycles ({killed} killed), {len(enqueued)} acknowledged, "
        f"{len(stored)} committed, {len(receiver.accepted)} accepted posts, {duplicates} duplicates "
        f"filtered by id, {receiver.rejected} answered 503, {duration:.1f} s"
    )
