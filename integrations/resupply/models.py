"""The vocabulary shared by resupply's pure modules and adapters: frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Commodity(str, Enum):
    WATER = "water"
    LP_GAS = "lp_gas"


class OrderStatus(str, Enum):
    """The hub's lifecycle of one order (docs/resupply.md)."""

    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"  # committed to the outbox, not yet accepted by the supplier
    SENT = "sent"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def open(self) -> bool:
        """Whether the order still blocks a new one for its tank."""
        return self not in (OrderStatus.DELIVERED, OrderStatus.FAILED, OrderStatus.CANCELLED)


OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.open)


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderRequest:
    """What is sent to a supplier; `order_id` is the idempotency key and never changes."""

    order_id: str
    commodity: str
    quantity_l: float
    reference: str  # human-readable, e.g. "Cistern 2026-11-26" (shown on the supplier's side)
    customer_id: str | None = None
    callback_url: str | None = None
    notes: str | None = None
    price_estimate: float | None = None
    currency: str | None = None
    household: str | None = None  # the hub's name, for email and webhook suppliers


@dataclass(frozen=True, kw_only=True, slots=True)
class SupplierStatus:
    """A supplier's view of one order, parsed from an API answer or a callback."""

    supplier_ref: str | None  # the supplier's own order id
    status: str  # received | confirmed | dispatched | delivered | rejected | cancelled
    eta: float | None = None  # epoch seconds
    price: float | None = None
    currency: str | None = None
    delivered_l: float | None = None
    message: str | None = None
    reference: str | None = None


SUPPLIER_STATUSES = ("received", "confirmed", "dispatched", "delivered", "rejected", "cancelled")


__all__ = ["OPEN_STATUSES", "SUPPLIER_STATUSES", "Commodity", "OrderRequest", "OrderStatus", "SupplierStatus"]
