"""Order quantities: fill towards the target, rounded to loads or litres, never past the maximum."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from integrations.resupply.quantity import (
    ByLitre,
    Loads,
    SupplierTerms,
    format_days,
    format_litres,
    format_money,
    format_pct,
    order_quantity,
)

TRUCK = SupplierTerms(sells=Loads(sizes_l=(5000, 10000)))
GAS = SupplierTerms(sells=ByLitre(increment_l=1, minimum_l=20))


@pytest.mark.parametrize(
    ("capacity", "volume", "target", "maximum", "terms", "expected"),
    [
        # need 0.9 x 20,000 - 4,000 = 14,000: 10,000 (or 5,000 + 5,000); 15,000 would overshoot.
        (20000, 4000, 90, 95, TRUCK, 10000),
        # need 16,000: 10,000 + 5,000, a mix with repetition.
        (20000, 2000, 90, 95, TRUCK, 15000),
        # need 18,000 from empty: 10,000 + 5,000 (20,000 passes the need).
        (20000, 0, 90, 95, TRUCK, 15000),
        # need 5,000 exactly.
        (20000, 13000, 90, 95, TRUCK, 5000),
        # need 4,000 < the smallest load, but 5,000 still fits under 95 % (exactly 5,000 free).
        (20000, 14000, 90, 95, TRUCK, 5000),
        # 5,000 + 5,000 + 5,000 = 15,000 beats 7,000 + 7,000 = 14,000 under a need of 16,000.
        (20000, 2000, 90, 95, SupplierTerms(sells=Loads(sizes_l=(5000, 7000))), 15000),
        # 7,000 + 5,000 = 12,000 is the best under 13,000 (no 5,000 + 5,000 + ... reaches 13,000).
        (20000, 5000, 90, 95, SupplierTerms(sells=Loads(sizes_l=(7000, 5000))), 12000),
        # Gas by the litre into a 300 L tank at 10 % with max 85 %: 0.85 x 300 - 30 = 225 L.
        (300, 30, 85, 85, GAS, 225),
        # Rounded down to the increment: need 224.5 L -> 220 L in steps of 10.
        (300, 30.5, 85, 85, SupplierTerms(sells=ByLitre(increment_l=10, minimum_l=20)), 220),
        # Below the minimum but the minimum fits under the maximum: the minimum.
        (300, 245, 85, 90, GAS, 20),
        # The target above the maximum is clamped: need = 85 % of 300 - 30.
        (300, 30, 95, 85, GAS, 225),
    ],
)
def test_order_quantity(
    capacity: float, volume: float, target: float, maximum: float, terms: SupplierTerms, expected: float
) -> None:
    result = order_quantity(capacity_l=capacity, volume_l=volume, target_pct=target, max_pct=maximum, terms=terms)
    assert result.quantity_l == expected
    assert format_litres(expected) in result.reason


def test_smallest_load_that_does_not_fit_says_why() -> None:
    result = order_quantity(capacity_l=20000, volume_l=15800, target_pct=90, max_pct=95, terms=TRUCK)
    assert result.quantity_l == 0
    assert result.reason == "the smallest load (5,000 L) does not fit: 3,200 L free under 95 %"


def test_minimum_that_does_not_fit_orders_nothing() -> None:
    result = order_quantity(capacity_l=300, volume_l=250, target_pct=85, max_pct=85, terms=GAS)
    assert result.quantity_l == 0
    assert result.reason == "the minimum order (20 L) does not fit: 5 L free under 85 %"


@pytest.mark.parametrize(("volume", "word"), [(19500, "maximum"), (18500, "target")])
def test_full_tank_orders_nothing(volume: float, word: str) -> None:
    result = order_quantity(capacity_l=20000, volume_l=volume, target_pct=90, max_pct=95, terms=TRUCK)
    assert result.quantity_l == 0
    assert word in result.reason


def test_litre_increment_below_need_orders_one_increment_when_it_fits() -> None:
    terms = SupplierTerms(sells=ByLitre(increment_l=50, minimum_l=0))
    result = order_quantity(capacity_l=300, volume_l=230, target_pct=85, max_pct=95, terms=terms)
    assert result.quantity_l == 50  # need 25 L, but the supplier pumps 50 L steps and 55 L are free


@pytest.mark.parametrize(
    "sells",
    [
        lambda: Loads(sizes_l=()),
        lambda: Loads(sizes_l=(0,)),
        lambda: Loads(sizes_l=(5000.5,)),  # type: ignore[arg-type]
        lambda: ByLitre(increment_l=0),
        lambda: ByLitre(minimum_l=-1),
    ],
)
def test_invalid_terms_are_refused(sells: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        sells()


def test_loads_accept_whole_floats() -> None:
    assert Loads(sizes_l=(5000.0, 10000)).sizes_l == (5000, 10000)  # type: ignore[arg-type]


def test_formats() -> None:
    assert format_litres(1100.4) == "1,100 L"
    assert format_pct(22.0) == "22 %"
    assert format_pct(24.56) == "24.6 %"
    assert format_days(4) == "4.0 days"
    assert format_money(660, "MXN") == "660.00 MXN"
    assert format_money(2950, None) == "2,950.00"
