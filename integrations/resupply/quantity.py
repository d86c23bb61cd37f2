"""How much to order: fill towards the target, rounded to what the supplier actually sells.

Rules (docs/resupply.md, "Quantity"): need = target % x capacity - volume, never above the usable
maximum. By the litre: round down to the increment, at least the minimum. By loads (a water truck
carries 5,000 or 10,000 L): the largest sum of loads <= need, repetition allowed; when no load fits
under need, the smallest load that still fits under the usable maximum; otherwise nothing.

Also the number formats every resident-facing reason of resupply uses ("1,100 L", "22 %").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

# Float noise guard: 85 % of 300 L must floor to 255 L, not 254 L.
_EPS = 1e-9


def format_litres(litres: float) -> str:
    """'1,100 L': whole litres with thousands separators."""
    return f"{round(litres):,} L"


def format_pct(pct: float) -> str:
    """'22 %' for whole numbers, '22.5 %' otherwise."""
    rounded = round(pct, 1)
    return f"{rounded:.0f} %" if rounded == int(rounded) else f"{rounded:.1f} %"


def format_days(days: float) -> str:
    """'4.0 days'."""
    return f"{days:.1f} days"


def format_money(amount: float, currency: str | None) -> str:
    """'1,660.00 MXN' (just the number when the currency is unknown)."""
    return f"{amount:,.2f} {currency}" if currency else f"{amount:,.2f}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Loads:
    """A supplier that delivers whole truck loads only, e.g. (5000, 10000) L."""

    sizes_l: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.sizes_l:
            raise ValueError("loads must name at least one size")
        for size in self.sizes_l:
            whole = isinstance(size, int) or (isinstance(size, float) and size.is_integer())
            if isinstance(size, bool) or not whole or size <= 0:
                raise ValueError(f"a load must be a positive whole number of litres, got {size!r}")
        # YAML may hand over 5000.0; the loads search needs ints.
        object.__setattr__(self, "sizes_l", tuple(int(size) for size in self.sizes_l))


@dataclass(frozen=True, kw_only=True, slots=True)
class ByLitre:
    """A supplier that pumps any amount in steps of `increment_l`, at least `minimum_l`."""

    increment_l: float = 1.0
    minimum_l: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.increment_l) and self.increment_l > 0):
            raise ValueError(f"increment_l must be positive, got {self.increment_l!r}")
        if not (math.isfinite(self.minimum_l) and self.minimum_l >= 0):
            raise ValueError(f"minimum_l must be >= 0, got {self.minimum_l!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class SupplierTerms:
    """What a supplier sells and on what terms; the policy reads lead time and price too."""

    sells: Loads | ByLitre
    lead_time_s: float = 0.0
    price_per_litre: float | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lead_time_s) and self.lead_time_s >= 0):
            raise ValueError(f"lead_time_s must be >= 0, got {self.lead_time_s!r}")
        if self.price_per_litre is not None and not (
            math.isfinite(self.price_per_litre) and self.price_per_litre >= 0
        ):
            raise ValueError(f"price_per_litre must be >= 0, got {self.price_per_litre!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class QuantityResult:
    """The litres to order (0: nothing the supplier sells fits) and why, in words."""

    quantity_l: float
    reason: str


def _largest_sum_of_loads(sizes: tuple[int, ...], limit: float) -> int:
    """Largest sum of loads (any count of each) <= limit; 0 when even the smallest is too big."""
    if limit < min(sizes):
        return 0
    unit = reduce(math.gcd, sizes)
    steps = math.floor(limit / unit + _EPS)
    parts = sorted({size // unit for size in sizes})
    # Bit i of `reachable`: i units can be made of whole loads. Each round adds one more load to
    # every sum, so it settles after at most limit / smallest load rounds (a few dozen trucks).
    mask = (1 << (steps + 1)) - 1
    reachable = 1
    while True:
        grown = reachable
        for part in parts:
            grown |= (grown << part) & mask
        if grown == reachable:
            break
        reachable = grown
    return (reachable.bit_length() - 1) * unit


def order_quantity(
    *, capacity_l: float, volume_l: float, target_pct: float, max_pct: float, terms: SupplierTerms
) -> QuantityResult:
    """Litres to order to fill towards target_pct without passing max_pct, as the supplier sells them."""
    if not (math.isfinite(capacity_l) and capacity_l > 0):
        raise ValueError(f"capacity_l must be positive, got {capacity_l!r}")
    if not math.isfinite(volume_l):
        raise ValueError(f"volume_l must be finite, got {volume_l!r}")
    # pct x capacity / 100 (not pct / 100 x capacity): 85 x 300 / 100 is exactly 255.0.
    room = max_pct * capacity_l / 100.0 - volume_l
    need = min(target_pct * capacity_l / 100.0 - volume_l, room)
    if room <= _EPS:
        return QuantityResult(
            quantity_l=0.0,
            reason=f"the tank holds {format_litres(volume_l)}, already at its maximum of {format_pct(max_pct)}",
        )
    if need <= _EPS:
        return QuantityResult(
            quantity_l=0.0,
            reason=f"the tank holds {format_litres(volume_l)}, already at the target of {format_pct(target_pct)}",
        )
    free = f"{format_litres(room)} free under {format_pct(max_pct)}"
    sells = terms.sells
    if isinstance(sells, ByLitre):
        quantity = math.floor(need / sells.increment_l + _EPS) * sells.increment_l
        smallest_sale = max(sells.minimum_l, sells.increment_l)
        if quantity < smallest_sale - _EPS:
            if smallest_sale > room + _EPS:
                return QuantityResult(
                    quantity_l=0.0,
                    reason=f"the minimum order ({format_litres(smallest_sale)}) does not fit: {free}",
                )
            return QuantityResult(
                quantity_l=float(smallest_sale),
                reason=f"{format_litres(smallest_sale)}, the supplier's minimum ({format_litres(need)} needed)",
            )
        return QuantityResult(
            quantity_l=float(quantity),
            reason=f"{format_litres(quantity)} to fill to {format_pct(target_pct)}",
        )
    sizes = sells.sizes_l
    listing = " / ".join(f"{size:,}" for size in sorted(set(sizes)))
    best = _largest_sum_of_loads(sizes, need)
    if best > 0:
        return QuantityResult(
            quantity_l=float(best),
            reason=f"{format_litres(best)} in loads of {listing} L ({format_litres(need)} would fill to "
            f"{format_pct(target_pct)})",
        )
    smallest = min(sizes)
    if smallest <= room + _EPS:
        # Less than a load is missing to the target, but a whole one still fits under the maximum.
        return QuantityResult(
            quantity_l=float(smallest),
            reason=f"one load of {format_litres(smallest)}, the smallest the supplier sells ({free})",
        )
    return QuantityResult(
        quantity_l=0.0, reason=f"the smallest load ({format_litres(smallest)}) does not fit: {free}"
    )


__all__ = [
    "ByLitre",
    "Loads",
    "QuantityResult",
    "SupplierTerms",
    "format_days",
    "format_litres",
    "format_money",
    "format_pct",
    "order_quantity",
]
