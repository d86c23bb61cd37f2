"""Resupply's entities: per tank the status of its order, per supplier the spending this month."""

from __future__ import annotations

from typing import Any

from hub.entities import Entity, EntityDescription

from .orders import Order

DOMAIN = "resupply"
ORDER = EntityDescription(key="order", name="Order", icon="mdi:truck-delivery")
MONTH_SPEND = EntityDescription(key="month_spend", name="Spent this month", state_class="total",
                                suggested_display_precision=2, icon="mdi:cash")  # fmt: skip


class TankOrderSensor(Entity):
    """State: the open order's status, or `none`; attributes say what, how much, when and why."""

    domain = "sensor"
    entity_description = ORDER
    has_entity_name = False

    def __init__(self, tank_entity: str, tank_name: str, supplier_name: str) -> None:
        self.unique_id = f"order:{tank_entity}"
        self.suggested_object_id = f"{tank_entity.partition('.')[2]}_order"  # sensor.cistern_level_order
        self.name = f"{tank_name} order"
        self.tank_entity = tank_entity
        self.supplier_name = supplier_name
        self.order: Order | None = None
        self.reason: str | None = None  # the policy's last decision, e.g. "quiet hours until 07:00"
        self.link_error: str | None = None  # e.g. "supplier unreachable since 14:02: connection refused"

    @property
    def native_value(self) -> str:
        return self.order.status if self.order is not None and self.order.is_open else "none"

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        order = self.order if self.order is not None and self.order.is_open else None
        return {
            "tank": self.tank_entity,
            "supplier": self.supplier_name,
            "order_id": order.id if order else None,
            "quantity_l": order.quantity_l if order else None,
            "price": (order.price if order.price is not None else order.price_estimate) if order else None,
            "currency": order.currency if order else None,
            "eta": order.eta if order else None,
            "reason": self.reason,
            "last_error": self.link_error,
        }

    def show(self, order: Order | None = None, *, reason: str | None = None, link_error: str | None = None,
             keep: bool = True) -> None:  # fmt: skip
        """Update what the sensor shows; `keep` leaves unspecified fields as they were."""
        if order is not None or not keep:
            self.order = order
        if reason is not None or not keep:
            self.reason = reason
        if link_error is not None or not keep:
            self.link_error = link_error
        self.write_state()


class MonthSpendSensor(Entity):
    """What this household committed to one supplier this calendar month (hub time zone)."""

    domain = "sensor"
    entity_description = MONTH_SPEND
    has_entity_name = False

    def __init__(self, supplier_id: str, supplier_name: str, currency: str) -> None:
        self.unique_id = f"month_spend:{supplier_id}"
        self.suggested_object_id = f"{supplier_id}_month_spend"
        self.name = f"{supplier_name} spent this month"
        self.unit_of_measurement = currency
        self.amount = 0.0

    @property
    def native_value(self) -> float:
        return self.amount

    def show(self, amount: float) -> None:
        self.amount = amount
        self.write_state()


__all__ = ["DOMAIN", "MonthSpendSensor", "TankOrderSensor"]
