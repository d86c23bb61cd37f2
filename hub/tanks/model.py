"""One tank over time: raw readings in; level, volume, consumption, days left and deliveries out.

Per reading: PlausibilityFilter -> Tank.measure -> ConsumptionEstimator / RefillDetector, all fed with
the time the caller passes (the hub's clock in integrations, plain numbers in tests). What an
integration publishes from it is the same for every tank sensor: the `tank` state attribute
(docs/dashboard.md) that resupply reads, and the `tank_refilled` event it listens for.
"""

from __future__ import annotations

from typing import Any

from hub.tanks.forecast import (
    ConsumptionEstimator,
    Filtered,
    PlausibilityFilter,
    Refill,
    RefillDetector,
    days_until_empty,
)
from hub.tanks.geometry import Bottom, G, Pressure, Tank, TankLevel, Ultrasonic

EVENT_TANK_REFILLED = "tank_refilled"
REFILL_MIN_SHARE = 0.05  # a delivery is at least 5 % of the tank; noise is far below that
CONSUMPTION_MIN_RISE_L = 50.0  # ConsumptionEstimator's default: a bucket this far up starts a new segment


def reading_full_scale(tank: Tank) -> float:
    """The span of a raw reading for the tank's mounting: what the filter's max step is a share of."""
    m = tank.mounting
    if isinstance(m, Ultrasonic):
        return m.mount_height_m
    if isinstance(m, Pressure):
        return tank.shape.height_m * m.fluid_density_kg_m3 * G
    if isinstance(m, Bottom):
        return tank.shape.height_m
    return 100.0


class TankModel:
    """The running model of one tank; `update(t, reading)` takes a raw reading in the mounting's unit."""

    def __init__(self, tank: Tank, *, refill_settle_s: float = 300.0) -> None:
        self.tank = tank
        self.filter = PlausibilityFilter(full_scale=reading_full_scale(tank))
        min_rise_l = max(tank.capacity_l * REFILL_MIN_SHARE, 1.0)
        # Segments of the consumption estimate split at a delivery: for small tanks (a 30 kg cylinder
        # swapped) a delivery is well under the estimator's 50 L default, so take the refill threshold.
        self.consumption = ConsumptionEstimator(min_rise_l=min(CONSUMPTION_MIN_RISE_L, min_rise_l))
        self.refills = RefillDetector(min_rise_l=min_rise_l, confirm_s=refill_settle_s)
        self.filtered: Filtered | None = None
        self.level: TankLevel | None = None
        self.rate: float | None = None  # L/day, None until the estimator has seen enough

    def update(self, t: float, reading: float) -> Refill | None:
        """Take one raw reading at time t (s); returns a Refill when one was just confirmed."""
        self.filtered = self.filter.update(t, reading)
        self.level = self.tank.measure(self.filtered.value)
        self.rate = self.consumption.update(t, self.level.volume_l)
        return self.refills.update(t, self.level.volume_l)

    @property
    def days_left(self) -> float | None:
        """Days until the usable minimum at the current rate; None while either is unknown."""
        if self.level is None:
            return None
        return days_until_empty(self.level.volume_l, self.tank.usable_min_l, self.rate)

    def attribute(self) -> dict[str, Any]:
        """The dashboard's `tank` attribute (docs/dashboard.md), which resupply also reads."""
        return {
            "commodity": self.tank.commodity,
            "volume_l": None if self.level is None else round(self.level.volume_l, 1),
            "capacity_l": round(self.tank.capacity_l, 1),
            "days_until_empty": None if self.days_left is None else round(self.days_left, 1),
            "usable_min_pct": self.tank.usable_min_pct,
            "usable_max_pct": self.tank.usable_max_pct,
        }

    def level_attributes(self) -> dict[str, Any]:
        """Attributes of a tank's level entity: `tank`, and `out_of_range` while the reading is clamped."""
        attrs: dict[str, Any] = {"tank": self.attribute()}
        if self.level is not None and self.level.out_of_range:
            attrs["out_of_range"] = True
        return attrs

    def refilled_event(self, entity_id: str, refill: Refill) -> dict[str, Any]:
        """The data of `tank_refilled`; `entity_id` is the tank's level entity (what resupply plans name)."""
        return {
            "entity_id": entity_id, "litres_delivered": refill.litres_delivered,
            "litres_before": refill.litres_before, "litres_after": refill.litres_after,
            "started_at": refill.started_at, "ended_at": refill.ended_at, "commodity": self.tank.commodity,
        }  # fmt: skip


__all__ = ["EVENT_TANK_REFILLED", "TankModel", "reading_full_scale"]
