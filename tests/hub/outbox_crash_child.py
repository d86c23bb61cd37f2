"""Child process of the outbox crash test: a hub that only queues and delivers, and gets killed.

Usage: outbox_crash_child.py DB_PATH URL START COUNT

Opens the database and outbox with the real clock, registers the channels (which resumes
whatever the previous, killed, child left pending), prints READY, then enqueues COUNT
messages numbered from START (alternating channels), printing `ENQUEUED <id>` only after
each enqueue returned. Then it delivers until nothing is pending and exits 0. COUNT 0 is
the final drain. Exit 2 if draining takes longer than DRAIN_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from hub.clock import RealClock
from hub.errors import TransientError
from hub.outbox import Outbox, OutboxMessage
from hub.storage.database import Database

CHANNELS = ("alarms", "orders")
DRAIN_TIMEOUT = 20.0


async def main(db_path: str, url: str, start: int, count: int) -> int:
    db = Database(db_path)
    await db.start()
    outbox = Outbox(db, clock=RealClock())
    await outbox.start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0))

    async def send(msg: OutboxMessage) -> None:
        body = {"id": msg.id, "channel": msg.channel, "seq": msg.seq, "payload": msg.payload}
        async with session.post(url, json=body) as resp:
            if resp.status >= 500:
                raise TransientError(f"receiver answered {resp.status}")
            resp.raise_for_status()

    try:
        for channel in CHANNELS:
            outbox.register_channel(channel, send, base_backoff=0.05, max_backoff=0.4, jitter=0.2)
        print("READY", flush=True)
        for n in range(start, start + count):
            msg = await outbox.enqueue(CHANNELS[n % 2], {"n": n})
            print(f"ENQUEUED {msg.id}", flush=True)
            await asyncio.sleep(0.003)  # spread enqueues over the window the test may kill in
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while any(s["pending"] for s in (await outbox.stats()).values()):
                await asyncio.sleep(0.02)
        print("DRAINED", flush=True)
        return 0
    except TimeoutError:
        print(f"NOT DRAINED {await outbox.stats()}", file=sys.stderr, flush=True)
        return 2
    finally:
        await outbox.stop()
        await session.close()
        await db.stop()


if __name__ == "__main__":
    path, target, first, how_many = sys.argv[1:5]
    sys.exit(asyncio.run(main(path, target, int(first), int(how_many))))
