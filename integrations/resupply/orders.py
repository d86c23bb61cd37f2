"""Orders in the database: the `resupply_orders` table, its lifecycle and the policy's memory.

Every change is one transaction on the database's writer thread that reads the row, checks the
transition against `ALLOWED`, writes the row and a line of `resupply_order_events`. A partial
unique index on `tank` over the open statuses is what makes "at most one open order per tank"
true even if two triggers race: the second insert fails and nothing is stored.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import sqlite_utils

from .errors import OrderStateError
from .models import OPEN_STATUSES, OrderStatus

S = OrderStatus
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.AWAITING_APPROVAL: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.SENT, S.CONFIRMED, S.DELIVERED, S.FAILED, S.CANCELLED}),
    S.SENT: frozenset({S.CONFIRMED, S.DELIVERED, S.FAILED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.DELIVERED, S.FAILED, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Which timestamp column a status stamps when it is entered.
_STAMP = {S.SENT: "sent", S.CONFIRMED: "confirmed", S.DELIVERED: "delivered"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Order:
    """One row of `resupply_orders`; `as_api()` is what the API, events and the dashboard see."""

    id: str
    tank: str
    tank_name: str
    supplier: str
    supplier_name: str
    commodity: str
    status: str
    quantity_l: float
    currency: str
    created: float
    reason: str = ""
    price_estimate: float | None = None
    price: float | None = None
    sent: float | None = None
    confirmed: float | None = None
    eta: float | None = None
    delivered: float | None = None
    delivered_l: float | None = None
    supplier_delivered_l: float | None = None
    short: bool = False
    last_error: str | None = None
    supplier_message: str | None = None
    supplier_ref: str | None = None
    supplier_status: str | None = None
    approved_by: str | None = None
    cancelled_by: str | None = None
    delivery_note: str | None = None
    context_id: str | None = None
    updated: float = 0.0

    @property
    def state(self) -> OrderStatus:
        return OrderStatus(self.status)

    @property
    def is_open(self) -> bool:
        return self.state.open

    def as_api(self) -> dict[str, Any]:
        """The order as docs/resupply.md's API gives it (internal bookkeeping left out)."""
        data = asdict(self)
        for key in ("context_id", "updated", "cancelled_by"):
            data.pop(key)
        return data


_COLUMNS = tuple(f.name for f in fields(Order))
_OPEN_SQL = ", ".join(f"'{s}'" for s in OPEN_STATUSES)


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE resupply_orders (
            id TEXT PRIMARY KEY, tank TEXT NOT NULL, tank_name TEXT NOT NULL, supplier TEXT NOT NULL,
            supplier_name TEXT NOT NULL, commodity TEXT NOT NULL, status TEXT NOT NULL,
            quantity_l REAL NOT NULL, currency TEXT NOT NULL, created REAL NOT NULL, reason TEXT NOT NULL,
            price_estimate REAL, price REAL, sent REAL, confirmed REAL, eta REAL, delivered REAL,
            delivered_l REAL, supplier_delivered_l REAL, short INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            supplier_message TEXT, supplier_ref TEXT, supplier_status TEXT, approved_by TEXT, cancelled_by TEXT,
            delivery_note TEXT, context_id TEXT, updated REAL NOT NULL)"""
    )
    db.execute(f"CREATE UNIQUE INDEX resupply_one_open_per_tank ON resupply_orders (tank) WHERE status IN ({_OPEN_SQL})")
    db.execute("CREATE INDEX resupply_orders_created ON resupply_orders (created)")
    db.execute("CREATE INDEX resupply_orders_ref ON resupply_orders (supplier, supplier_ref)")
    db.execute(
        "CREATE TABLE resupply_order_events (order_id TEXT NOT NULL, time REAL NOT NULL, status TEXT NOT NULL, "
        "note TEXT)"
    )
    db.execute("CREATE INDEX resupply_order_events_order ON resupply_order_events (order_id, time)")
    # What the policy must remember across restarts: since when a tank is low, whether it is armed.
    db.execute(
        "CREATE TABLE resupply_tanks (tank TEXT PRIMARY KEY, low_since REAL, armed INTEGER NOT NULL, "
        "last_order_at REAL)"
    )


MIGRATIONS = (_migrate_1,)


def _row_to_order(row: sqlite3.Row | tuple[Any, ...]) -> Order:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["short"] = bool(data["short"])
    return Order(**data)


def fetch(db: sqlite_utils.Database, order_id: str) -> Order | None:
    """The order with this id, read inside the caller's transaction."""
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM resupply_orders WHERE id = ?", [order_id]).fetchone()
    return None if row is None else _row_to_order(row)


def insert(db: sqlite_utils.Database, order: Order, note: str | None = None) -> None:
    """Store a new order; OrderStateError when its tank already has an open one."""
    values = [getattr(order, c) for c in _COLUMNS]
    values[_COLUMNS.index("short")] = int(order.short)
    try:
        db.execute(f"INSERT INTO resupply_orders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                   values)  # fmt: skip
    except sqlite3.IntegrityError as err:
        if "resupply_orders.tank" in str(err) or "resupply_one_open" in str(err):
            raise OrderStateError(f"{order.tank} already has an open order") from err
        raise
    _log(db, order.id, order.created, order.status, note or order.reason)


def transition(
    db: sqlite_utils.Database, order_id: str, to: OrderStatus | None, *, now: float, note: str | None = None,
    **changes: Any,
) -> tuple[Order, Order]:  # fmt: skip
    """Move an order to `to` (None: only update fields); returns (before, after). OrderStateError if not allowed."""
    before = fetch(db, order_id)
    if before is None:
        raise OrderStateError(f"no order {order_id}")
    if to is not None and to.value != before.status:
        if to not in ALLOWED[before.state]:
            raise OrderStateError(f"order {order_id} is {before.status}; it cannot become {to.value}")
        changes["status"] = to.value
        if to in _STAMP and getattr(before, _STAMP[to]) is None:
            changes.setdefault(_STAMP[to], now)
    after = replace(before, **changes, updated=now)
    assignments = {k: (int(v) if k == "short" else v) for k, v in changes.items()}
    assignments["updated"] = now
    db.execute(
        f"UPDATE resupply_orders SET {', '.join(f'{k} = ?' for k in assignments)} WHERE id = ?",
        [*assignments.values(), order_id],
    )
    if after.status != before.status or note:
        _log(db, order_id, now, after.status, note)
    return before, after


def _log(db: sqlite_utils.Database, order_id: str, now: float, status: str, note: str | None) -> None:
    db.execute("INSERT INTO resupply_order_events VALUES (?, ?, ?, ?)", [order_id, now, status, note])


class OrderStore:
    """Async access to the orders through the hub's database (one writer thread)."""

    def __init__(self, db: Any, *, time: Callable[[], float]) -> None:
        self._db = db
        self._time = time

    async def start(self) -> None:
        await self._db.migrate("resupply", MIGRATIONS)

    async def get(self, order_id: str) -> Order | None:
        return await self._db.run(lambda db: fetch(db, order_id))

    async def create(self, order: Order, note: str | None = None) -> Order:
        await self._db.run(lambda db: insert(db, order, note))
        return order

    async def transition(self, order_id: str, to: OrderStatus | None, *, note: str | None = None,
                         **changes: Any) -> tuple[Order, Order]:  # fmt: skip
        now = self._time()
        return await self._db.run(
            lambda db: transition(db, order_id, to, now=now, note=note, **changes)
        )

    async def open_for(self, tank: str) -> Order | None:
        def query(db: sqlite_utils.Database) -> Order | None:
            row = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM resupply_orders WHERE tank = ? AND status IN ({_OPEN_SQL})", [tank]
            ).fetchone()
            return None if row is None else _row_to_order(row)

        return await self._db.run(query)

    async def by_supplier_ref(self, supplier: str, ref: str) -> Order | None:
        def query(db: sqlite_utils.Database) -> Order | None:
            row = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM resupply_orders WHERE supplier = ? AND (supplier_ref = ? OR id = ?) "
                "ORDER BY created DESC LIMIT 1", [supplier, ref, ref],
            ).fetchone()  # fmt: skip
            return None if row is None else _row_to_order(row)

        return await self._db.run(query)

    async def list(self, status: str = "all", *, limit: int = 100) -> builtins.list[Order]:
        """Newest first; `status` is open, closed or all."""
        where = {"open": f"WHERE status IN ({_OPEN_SQL})", "closed": f"WHERE status NOT IN ({_OPEN_SQL})"}.get(status, "")

        def query(db: sqlite_utils.Database) -> builtins.list[Order]:
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM resupply_orders {where} ORDER BY created DESC, id DESC LIMIT ?",
                [limit],
            ).fetchall()
            return [_row_to_order(r) for r in rows]

        return await self._db.run(query)

    async def events(self, order_id: str) -> builtins.list[tuple[float, str, str | None]]:
        return await self._db.run(
            lambda db: db.execute("SELECT time, status, note FROM resupply_order_events WHERE order_id = ? "
                                  "ORDER BY rowid", [order_id]).fetchall()
        )

    async def spent(self, *, since: float, tank: str | None = None, supplier: str | None = None) -> float:
        """Money committed since `since`: the price paid, or the estimate, of every order not failed or cancelled."""
        clauses, args = ["created >= ?", "status NOT IN ('failed', 'cancelled')"], [since]
        if tank is not None:
            clauses.append("tank = ?")
            args.append(tank)  # type: ignore[arg-type]
        if supplier is not None:
            clauses.append("supplier = ?")
            args.append(supplier)  # type: ignore[arg-type]

        def query(db: sqlite_utils.Database) -> float:
            row = db.execute(
                f"SELECT COALESCE(SUM(COALESCE(price, price_estimate, 0)), 0) FROM resupply_orders "
                f"WHERE {' AND '.join(clauses)}", args,
            ).fetchone()  # fmt: skip
            return float(row[0])

        return await self._db.run(query)

    async def tank_memory(self, tank: str) -> tuple[float | None, bool, float | None]:
        """(low_since, armed, last_order_at) remembered for the policy; a new tank is armed."""
        row = await self._db.run(
            lambda db: db.execute("SELECT low_since, armed, last_order_at FROM resupply_tanks WHERE tank = ?",
                                  [tank]).fetchone()
        )
        return (None, True, None) if row is None else (row[0], bool(row[1]), row[2])

    async def remember(self, tank: str, *, low_since: float | None, armed: bool, last_order_at: float | None) -> None:
        await self._db.run(lambda db: remember(db, tank, low_since=low_since, armed=armed, last_order_at=last_order_at))


def remember(db: sqlite_utils.Database, tank: str, *, low_since: float | None, armed: bool,
             last_order_at: float | None) -> None:  # fmt: skip
    db.execute(
        "INSERT INTO resupply_tanks VALUES (?, ?, ?, ?) ON CONFLICT(tank) DO UPDATE SET "
        "low_since = excluded.low_since, armed = excluded.armed, last_order_at = excluded.last_order_at",
        [tank, low_since, int(armed), last_order_at],
    )


__all__ = ["ALLOWED", "MIGRATIONS", "Order", "OrderStore", "fetch", "insert", "remember", "transition"]
