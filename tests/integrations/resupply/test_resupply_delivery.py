"""Delivery checks: the measured rise against the litres ordered."""

from __future__ import annotations

import pytest

from integrations.resupply.delivery import DELIVERY_NOT_SEEN, check_delivery, delivery_overdue


@pytest.mark.parametrize(
    ("ordered", "measured", "tolerance", "short", "shortfall", "pct"),
    [
        (10000, 10000, 5, False, 0, 0),
        (10000, 9500, 5, False, 500, 5),  # exactly at the tolerance: not short
        (10000, 9499, 5, True, 501, 5.01),
        (10000, 8000, 5, True, 2000, 20),
        (10000, 10300, 5, False, 0, 0),  # over-delivery is no shortfall
        (225, 225, 0, False, 0, 0),
        (225, 224, 0, True, 1, 100 / 225),
    ],
)
def test_check_delivery(ordered: float, measured: float, tolerance: float, short: bool, shortfall: float,
                        pct: float) -> None:
    check = check_delivery(ordered_l=ordered, measured_l=measured, tolerance_pct=tolerance)
    assert check.short is short
    assert check.shortfall_l == pytest.approx(shortfall)
    assert check.shortfall_pct == pytest.approx(pct)
    assert (check.measured_l, check.ordered_l) == (measured, ordered)


def test_summary() -> None:
    assert check_delivery(ordered_l=10000, measured_l=8000, tolerance_pct=5).summary == (
        "delivered 8,000 L of 10,000 L (20 % short)"
    )
    assert check_delivery(ordered_l=10000, measured_l=9900, tolerance_pct=5).summary == (
        "delivered 9,900 L of 10,000 L"
    )


@pytest.mark.parametrize(("ordered", "measured", "tolerance"), [(0, 10, 5), (100, float("nan"), 5), (100, 90, 100)])
def test_invalid_inputs(ordered: float, measured: float, tolerance: float) -> None:
    with pytest.raises(ValueError):
        check_delivery(ordered_l=ordered, measured_l=measured, tolerance_pct=tolerance)


def test_delivery_overdue() -> None:
    window = 48 * 3600.0
    assert not delivery_overdue(reported_at=1000.0, now=1000.0 + window - 1, window_s=window)
    assert delivery_overdue(reported_at=1000.0, now=1000.0 + window, window_s=window)
    assert DELIVERY_NOT_SEEN == "delivery not seen at the tank"
