"""Did the delivery match the order? The tank's measured rise against the litres ordered."""

from __future__ import annotations

import math
from dataclasses import dataclass

from integrations.resupply.quantity import format_litres, format_pct

DELIVERY_NOT_SEEN = "delivery not seen at the tank"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeliveryCheck:
    """Measured against ordered litres; `short` when below the tolerance."""

    measured_l: float
    ordered_l: float
    short: bool
    shortfall_l: float  # >= 0; an over-delivery is no shortfall
    shortfall_pct: float  # of the ordered litres

    @property
    def summary(self) -> str:
        """A sentence for the order's history, e.g. 'delivered 9,400 L of 10,000 L (6 % short)'."""
        text = f"delivered {format_litres(self.measured_l)} of {format_litres(self.ordered_l)}"
        return f"{text} ({format_pct(self.shortfall_pct)} short)" if self.short else text


def check_delivery(*, ordered_l: float, measured_l: float, tolerance_pct: float) -> DeliveryCheck:
    """Short when measured < ordered x (1 - tolerance); the tank gauge's own error is the tolerance."""
    if not (math.isfinite(ordered_l) and ordered_l > 0):
        raise ValueError(f"ordered_l must be positive, got {ordered_l!r}")
    if not math.isfinite(measured_l):
        raise ValueError(f"measured_l must be finite, got {measured_l!r}")
    if not (math.isfinite(tolerance_pct) and 0 <= tolerance_pct < 100):
        raise ValueError(f"tolerance_pct must be within [0, 100), got {tolerance_pct!r}")
    shortfall = max(0.0, ordered_l - measured_l)
    return DeliveryCheck(
        measured_l=measured_l,
        ordered_l=ordered_l,
        short=measured_l < ordered_l * (1 - tolerance_pct / 100.0),
        shortfall_l=shortfall,
        shortfall_pct=shortfall / ordered_l * 100.0,
    )


def delivery_overdue(*, reported_at: float, now: float, window_s: float) -> bool:
    """Whether a delivery the supplier reported at `reported_at` should have shown as a rise by now."""
    return now >= reported_at + window_s


__all__ = ["DELIVERY_NOT_SEEN", "DeliveryCheck", "check_delivery", "delivery_overdue"]
