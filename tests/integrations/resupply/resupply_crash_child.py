"""Child process of the resupply crash test: a real hub that orders water once, and gets killed.

Usage: resupply_crash_child.py CONFIG_DIR first|again

Starts `hub.runtime.Hub` on CONFIG_DIR with the real clock (the parent wrote configuration.yaml:
resupply with one http_api supplier and the tank sensor.cistern_level) and prints READY. On the
`first` run it writes the tank's level state itself (there is no tank integration here), low
enough that the policy orders at once; `again` runs only start, so whatever the killed run left
is recovered by the outbox and the manager, and nothing new is decided. Order events are printed
as `ORDER <id> <status>` once committed. When the one order is sent or confirmed and its outbox
message delivered, it prints `DONE <status>`, stops the hub and exits 0. Exit 2 if resupply did
not load or nothing finished within FINISH_TIMEOUT; exit 3 if the order failed or was cancelled.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from hub.bus import Event
from hub.clock import RealClock
from hub.runtime import Hub

TANK = "sensor.cistern_level"
TANK_STATE = ("10", {"friendly_name": "Cistern", "unit_of_measurement": "%",
                     "tank": {"commodity": "water", "volume_l": 1000, "capacity_l": 10000, "days_until_empty": None}})  # fmt: skip
ORDER_EVENTS = ("order_created", "order_sent", "order_confirmed", "order_failed", "order_cancelled")
FINISHED = ("sent", "confirmed")
GIVEN_UP = ("failed", "cancelled")
FINISH_TIMEOUT = 30.0
POLL = 0.02


def say(line: str) -> None:
    print(line, flush=True)  # the parent kills on some of these lines: they must not wait in a buffer


async def orders(hub: Hub) -> list[tuple[str, str, str | None]]:
    """(id, status, supplier_ref) of every order row."""
    rows = await hub.db.run(lambda db: db.execute("SELECT id, status, supplier_ref FROM resupply_orders").fetchall())
    return [(row[0], row[1], row[2]) for row in rows]


async def finished(hub: Hub) -> tuple[str, int] | None:
    """(what to print, exit code) once the order is through or has given up; None while it is on its way."""
    rows = await orders(hub)
    if len(rows) > 1:
        return f"DUPLICATE {' '.join(row[0] for row in rows)}", 3
    if not rows:
        return None
    order_id, status, _ = rows[0]
    if status in GIVEN_UP:
        return f"GAVE UP {order_id} {status}", 3
    message = await hub.outbox.get(order_id)
    if status in FINISHED and message is not None and message.state.value == "delivered":
        return f"DONE {status}", 0
    return None


async def main(config_dir: Path, first: bool) -> int:
    hub = Hub(config_dir, clock=RealClock())
    await hub.start()
    try:
        if hub.integrations.status("resupply").state.value != "loaded":
            print(f"resupply did not load: {hub.integrations.status('resupply')}", file=sys.stderr, flush=True)
            return 2

        def on_order(event: Event) -> None:
            say(f"ORDER {event.data['id']} {event.data['status']}")

        for event_type in ORDER_EVENTS:
            hub.bus.listen(event_type, on_order)
        say("READY")
        if first:
            state, attributes = TANK_STATE
            hub.states.set(TANK, state, attributes)
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                while (outcome := await finished(hub)) is None:
                    await asyncio.sleep(POLL)
        except TimeoutError:
            print(f"NOT FINISHED: orders {await orders(hub)}", file=sys.stderr, flush=True)
            return 2
        text, code = outcome
        say(text)
        return code
    finally:
        await hub.stop()


def run(argv: list[str]) -> Any:
    config_dir, which = argv[1:3]
    if which not in ("first", "again"):
        raise SystemExit(f"usage: {argv[0]} CONFIG_DIR first|again")
    return asyncio.run(main(Path(config_dir), which == "first"))


if __name__ == "__main__":
    sys.exit(run(sys.argv))
