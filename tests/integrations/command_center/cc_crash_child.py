"""Child process of the command_center crash test: a real hub that raises alarms and sends them, and gets killed.

Usage: cc_crash_child.py CONFIG_DIR RUN COUNT

Starts `hub.runtime.Hub` on CONFIG_DIR with the real clock (the parent wrote configuration.yaml:
command_center with one TCP receiver, which runs in the parent) and prints READY. Then it fires
COUNT `alarm_raised` events with ids `r<RUN>a<k>` and, once each one's outbox row is committed,
prints `QUEUED <message id>`. Whatever earlier (killed) runs left pending is sent too, since
registering the channel resumes it. When every message of the DC-09 channel is delivered it
prints `DONE`, stops the hub and exits 0. Exit 2 if command_center did not load or nothing
finished within FINISH_TIMEOUT; exit 3 if a message failed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from hub.clock import RealClock
from hub.runtime import Hub

CHANNEL = "command_center.dc09"
FINISH_TIMEOUT = 30.0
POLL = 0.01


def say(line: str) -> None:
    print(line, flush=True)  # the parent kills on these lines: they must not wait in a buffer


def record(alarm_id: str, zone: int) -> dict[str, Any]:
    return {"id": alarm_id, "category": "intrusion", "kind": "alarm",
            "zone": {"id": f"z{zone}", "number": zone, "name": f"Zona {zone}"}, "entity_id": "binary_sensor.door",
            "time": 1768478400.0 + zone, "context_id": None, "snapshot": None, "status": "active",
            "message": "Intrusión", "mode": "armed_away", "user": None}  # fmt: skip


async def states(hub: Hub) -> dict[str, str]:
    messages = await hub.outbox.list(channel=CHANNEL, limit=10000)
    return {m.id: m.state.value for m in messages}


async def main(config_dir: Path, run: int, count: int) -> int:
    hub = Hub(config_dir, clock=RealClock())
    await hub.start()
    try:
        status = hub.integrations.status("command_center")
        if status.state.value != "loaded":
            print(f"command_center did not load: {status}", file=sys.stderr, flush=True)
            return 2
        say("READY")
        for index in range(count):
            alarm_id = f"r{run:02d}a{index:02d}"
            hub.bus.fire("alarm_raised", record(alarm_id, index + 1))
            message_id = f"{alarm_id}:raised"
            while await hub.outbox.get(message_id) is None:
                await asyncio.sleep(POLL)
            say(f"QUEUED {message_id}")
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                while True:
                    current = await states(hub)
                    if any(state == "failed" for state in current.values()):
                        say(f"FAILED {current}")
                        return 3
                    if all(state == "delivered" for state in current.values()):
                        break
                    await asyncio.sleep(POLL)
        except TimeoutError:
            print(f"NOT FINISHED: {await states(hub)}", file=sys.stderr, flush=True)
            return 2
        say("DONE")
        return 0
    finally:
        await hub.stop()


def run(argv: list[str]) -> Any:
    if len(argv) != 4:
        raise SystemExit(f"usage: {argv[0]} CONFIG_DIR RUN COUNT")
    return asyncio.run(main(Path(argv[1]), int(argv[2]), int(argv[3])))


if __name__ == "__main__":
    sys.exit(run(sys.argv))
