"""A hub killed with SIGKILL while it sends a water order still leaves exactly one order at the supplier.

The example supplier runs here, on loopback; a real hub runs in a child process
(resupply_crash_child.py) that decides to order on its first run and is SIGKILLed at one point
of the sending; then the child is started again on the same directory until it reports the order
through. The kill points:

a. before the request reaches the supplier: a gate in front of the service holds the create
   request (the supplier never sees it); the hub dies once its order is queued, or once the
   request is in flight into the gate;
b. after the supplier created the order but before the hub heard: the service's
   `/_control/slow` fault holds the answer back; the restarted hub resends with the same
   Idempotency-Key and must get the same order back, not a second one;
c. right after the answer: once the answer is written to the socket (the hub may or may not have
   read it), or once the hub has committed the order as sent (its outbox message may still be
   pending, so the restart runs the sender again and it must not send again).

Then the supplier holds exactly one order, and the hub's database (read after the last child
exited) exactly one order row, sent or confirmed, with the supplier's id, and its outbox message
delivered.

The kill before the order row exists (while the policy decides) is too narrow a window to hit
from outside; the last test checks in process that the commits come in the safe order there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import children
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from children import Child
from resupply_helpers import TANK, Setup, until

from examples.supplier_service import SupplierService, create_app
from hub.runtime import DB_FILENAME

CHILD = Path(__file__).with_name("resupply_crash_child.py")
REPO = Path(__file__).resolve().parents[3]
API_KEY, CUSTOMER = "crash-key", "MAD-0042"
HELD_ANSWER_S = 30.0  # far longer than a child lives: the hub never hears this answer
WAIT_S = 30.0  # for one kill point or one child's run to the end
RESTARTS = 3
POLL = 0.005

CONFIG = """\
hub:
  name: Casa Maderas
http:
  server_port: 0
resupply:
  suppliers:
    - id: pipas
      name: Pipas El Marqués
      commodity: water
      type: http_api
      url: {url}
      api_key: {api_key}
      customer_id: {customer}
      timeout: 60
      sells: {{loads: [1000, 2000]}}
      price_per_litre: 0.12
  tanks:
    - tank: sensor.cistern_level
      supplier: pipas
      below_pct: 25
      confirm_for: 0
      min_interval: 0
"""


@dataclass
class Gate:
    """In front of the supplier: holds create requests before the service sees them, and says when it answered."""

    holding: bool = False
    held: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        creating = request.method == "POST" and request.path == "/v1/orders"
        if creating and self.holding:
            self.held.set()
            while request.transport is not None:  # until the hub that sent it is dead
                await asyncio.sleep(POLL)
            return web.Response(status=503)  # to nobody
        response = await handler(request)
        if creating:
            # Written out before telling anyone, so a kill on `answered` lands after the answer left.
            await response.prepare(request)
            await response.write_eof()
            self.answered.set()
        return response


@dataclass
class Rig:
    """The supplier service behind its gate, on loopback."""

    service: SupplierService
    gate: Gate
    url: str


async def start_child(config_dir: Path, which: str, stderr_path: Path) -> Child:
    return await children.start_child(CHILD, [str(config_dir), which], stderr_path=stderr_path, cwd=REPO,
                                      name="resupply-crash-child")  # fmt: skip


def order_line(status: str) -> Callable[[str], bool]:
    return lambda line: line.startswith("ORDER ") and line.endswith(f" {status}")


async def when_queued(rig: Rig, child: Child) -> None:
    await child.line(order_line("queued"))


async def when_in_flight(rig: Rig, child: Child) -> None:
    await rig.gate.held.wait()


async def when_processed(rig: Rig, child: Child) -> None:
    await until(lambda: rig.service.counters["distinct_orders"] == 1, what="the supplier to create the order", timeout=WAIT_S)


async def when_answered(rig: Rig, child: Child) -> None:
    await rig.gate.answered.wait()


async def when_sent(rig: Rig, child: Child) -> None:
    await child.line(order_line("sent"))


@dataclass(frozen=True)
class KillPoint:
    """Where in the sending the first child dies, and what the supplier must have seen by then."""

    name: str
    moment: Callable[[Rig, Child], Awaitable[None]]
    hold: bool = False  # the gate keeps every create request of the first run from the supplier
    slow: bool = False  # the supplier answers the first create request too late for the hub
    seen_at_kill: tuple[int, ...] = (0, 1)  # orders the supplier may hold when the kill lands
    resent: bool = False  # the restarted hub must have sent the create request again


KILL_POINTS = [
    KillPoint("a-queued", when_queued, hold=True, seen_at_kill=(0,)),
    KillPoint("a-in-flight", when_in_flight, hold=True, seen_at_kill=(0,)),
    KillPoint("b-processed-1", when_processed, slow=True, seen_at_kill=(1,), resent=True),
    KillPoint("b-processed-2", when_processed, slow=True, seen_at_kill=(1,), resent=True),
    KillPoint("c-answered", when_answered, seen_at_kill=(1,)),
    KillPoint("c-sent", when_sent, seen_at_kill=(1,)),
]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    service = SupplierService(api_keys={API_KEY: CUSTOMER}, prices={"water": 0.12}, loads={"water": [1000, 2000]},
                              control_token="control")  # fmt: skip
    gate = Gate()
    app = create_app(service)
    app.middlewares.insert(0, gate.middleware)  # outermost: a held request never reaches the service
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield Rig(service, gate, f"http://{host}:{port}/v1")
    await runner.cleanup()
    await service.close()


def stored(db_path: Path) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
    """(id, status, supplier_ref) of every order row and (id, state) of every outbox row, read-only."""
    conn = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        orders = conn.execute("SELECT id, status, supplier_ref FROM resupply_orders").fetchall()
        messages = conn.execute("SELECT id, state FROM outbox").fetchall()
    finally:
        conn.close()
    return orders, messages


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
async def test_kill_9_while_sending_leaves_one_order_at_the_supplier(
    point: KillPoint, rig: Rig, tmp_path: Path
) -> None:
    service, gate = rig.service, rig.gate
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(
        CONFIG.format(url=rig.url, api_key=API_KEY, customer=CUSTOMER), encoding="utf-8"
    )
    gate.holding = point.hold
    if point.slow:
        service.slow_next(HELD_ANSWER_S, count=1)
    began = time.monotonic()

    child = await start_child(config_dir, "first", tmp_path / "first.err")
    try:
        async with asyncio.timeout(WAIT_S):
            await point.moment(rig, child)
        child.proc.kill()
        assert await child.end() == -9, (tmp_path / "first.err").read_text()
    finally:
        await child.close()
    first_lines = child.lines
    assert first_lines[0] == "READY" and not [line for line in first_lines if line.startswith("DONE")]
    assert service.counters["distinct_orders"] in point.seen_at_kill
    if point.hold:
        assert service.counters["create_requests"] == 0, "the held request reached the supplier"
    if point.slow:
        assert not [line for line in first_lines if order_line("sent")(line)], "the hub heard the held answer"
    gate.holding = False
    requests_at_kill = service.counters["create_requests"]

    lines: list[str] = []
    for run in range(RESTARTS):
        err = tmp_path / f"again-{run}.err"
        child = await start_child(config_dir, "again", err)
        try:
            async with asyncio.timeout(WAIT_S):
                code = await child.end()
        finally:
            await child.close()
        lines = child.lines
        assert code == 0, f"{lines} {err.read_text()}"
        if any(line.startswith("DONE") for line in lines):
            break
    assert lines[-1] in ("DONE sent", "DONE confirmed"), lines
    assert not [line for line in lines if order_line("created")(line)], "a restart decided a second order"

    # The supplier holds exactly one order; resends reused it.
    assert service.counters["distinct_orders"] == 1
    assert service.counters["create_requests"] >= 1
    if point.resent:
        assert service.counters["create_requests"] == requests_at_kill + 1 == 2
    if point.hold:
        assert service.counters["create_requests"] == 1  # the held request died with the hub
    [supplier_order] = service.orders()
    # The hub's database, read only once the last child has exited.
    orders, messages = stored(config_dir / DB_FILENAME)
    [(order_id, status, supplier_ref)] = orders
    assert status in ("sent", "confirmed")
    assert supplier_ref == supplier_order["id"]
    assert supplier_order["idempotency_key"] == order_id
    assert (order_id, "delivered") in messages
    assert f"ORDER {order_id} queued" in first_lines
    print(
        f"\nresupply crash {point.name}: {service.counters['create_requests']} create requests, "
        f"1 order {supplier_order['id']}, {time.monotonic() - began:.1f} s"
    )


async def test_the_order_row_commits_before_the_memory_that_the_tank_ordered(resupply_setup: Setup) -> None:
    """A kill between the two commits must leave an open order (the next evaluation disarms the tank),
    never a tank remembered as disarmed with no order: it would not order again until refilled by hand."""
    setup = resupply_setup
    manager = await setup.start(confirm_for=0, min_interval=0)
    statements: list[str] = []
    await setup.hub.db.run(lambda db: db.conn.set_trace_callback(statements.append))
    try:
        setup.level(10)
        await until(lambda: manager.store.open_for(TANK), what="an order")
        await manager.settle()
    finally:
        await setup.hub.db.run(lambda db: db.conn.set_trace_callback(None))
    writes = [s.split()[2] for s in statements if s.startswith("INSERT INTO resupply_")]
    assert "resupply_orders" in writes and "resupply_tanks" in writes, statements
    assert writes.index("resupply_orders") < writes.index("resupply_tanks"), writes
    memory = await manager.store.tank_memory(TANK)
    assert memory[1] is False and memory[2] is not None  # disarmed, with the order's time
