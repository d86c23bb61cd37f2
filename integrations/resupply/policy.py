"""When to order water or gas for one tank, and how much: a pure function of a reading and its past.

`decide()` applies the rules of docs/resupply.md in this order, the first that matches wins:

1. an order is open -> none (and the tank is disarmed, see hysteresis);
2. the level is unknown (sensor unavailable) -> none; nothing else changes, so a dropout neither
   orders nor restarts the confirmation of a low reading;
3. not armed -> none, unless the level rose to below_pct + hysteresis_pct, which re-arms it;
4. not low -> none, and the low reading is forgotten (a glitch never orders);
5. low for less than confirm_for -> wait until it has held that long;
6. the last order is younger than min_interval -> wait until it is not;
7. inside quiet hours (local time, may span midnight) -> wait until they end;
8. nothing the supplier sells fits -> none, with the reason;
9. over the monthly cap -> none, with the numbers;
10. else order.

"Low" means level < below_pct, or days until empty < lead time + days_margin.

Choice, monthly cap without a price: when a cap is set but the supplier has no price per litre,
the cap cannot be checked, so the policy refuses ("monthly cap set but the supplier has no
price") rather than risk spending past it; the resident can still order by hand.

The returned History is the tank's next history: low_since set or cleared, armed flipped. On
an order it is disarmed and last_order_at = now; spent_this_month is left to the caller, which
adds the real price once the supplier confirms it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from integrations.resupply.quantity import (
    SupplierTerms,
    format_days,
    format_litres,
    format_money,
    format_pct,
    order_quantity,
)

DAY_S = 86400.0

Action = Literal["order", "wait", "none"]


@dataclass(frozen=True, kw_only=True, slots=True)
class TankSnapshot:
    """One reading of a tank; level None means unavailable or unknown."""

    level_pct: float | None
    capacity_l: float
    volume_l: float | None = None  # None: derived from level_pct x capacity_l
    days_until_empty: float | None = None
    max_pct: float = 100.0  # the usable maximum (LP gas: 85 %)
    commodity: str = "water"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.capacity_l) and self.capacity_l > 0):
            raise ValueError(f"capacity_l must be positive, got {self.capacity_l!r}")
        if not 0 < self.max_pct <= 100:
            raise ValueError(f"max_pct must be within (0, 100], got {self.max_pct!r}")

    @property
    def litres(self) -> float | None:
        """The volume in the tank, from the reading or from the level."""
        if self.volume_l is not None:
            return self.volume_l
        if self.level_pct is None:
            return None
        return self.level_pct * self.capacity_l / 100.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Policy:
    """A tank's ordering rules (the `resupply.tanks[]` entry of the configuration)."""

    below_pct: float = 25.0
    days_margin_days: float = 1.0
    target_pct: float = 90.0
    hysteresis_pct: float = 10.0
    confirm_for_s: float = 600.0
    min_interval_s: float = 12 * 3600.0
    quiet_hours: tuple[time, time] | None = None  # (start, end) local; start > end spans midnight
    monthly_cap: float | None = None  # in the supplier's currency
    approval: bool = True  # a resident approves before anything is sent (the manager's concern)

    def __post_init__(self) -> None:
        if not 0 <= self.below_pct < self.target_pct <= 100:
            raise ValueError(
                f"need 0 <= below_pct < target_pct <= 100, got {self.below_pct!r} and {self.target_pct!r}"
            )
        for name in ("days_margin_days", "hysteresis_pct", "confirm_for_s", "min_interval_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.monthly_cap is not None and not (math.isfinite(self.monthly_cap) and self.monthly_cap >= 0):
            raise ValueError(f"monthly_cap must be >= 0, got {self.monthly_cap!r}")
        if self.quiet_hours is not None:
            start, end = self.quiet_hours
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("quiet_hours are local wall-clock times, without a time zone")
            if start == end:
                raise ValueError("quiet_hours start and end must differ")


@dataclass(frozen=True, kw_only=True, slots=True)
class History:
    """What the policy remembers about a tank between two readings."""

    open_order: bool = False
    last_order_at: float | None = None
    low_since: float | None = None
    armed: bool = True
    spent_this_month: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What to do now, why (a sentence for a resident), and the tank's next history."""

    action: Action
    reason: str
    history: History
    quantity_l: float | None = None
    price_estimate: float | None = None
    wait_until: float | None = None


def month_key(now: float, tz: tzinfo) -> str:
    """The calendar month of `now` in the hub's time zone, e.g. '2026-11' (keys the spending total)."""
    return datetime.fromtimestamp(now, tz).strftime("%Y-%m")


def in_quiet_hours(quiet: tuple[time, time], local: datetime) -> bool:
    """Whether the local wall-clock time is inside [start, end), which may span midnight."""
    start, end = quiet
    t = local.time().replace(tzinfo=None)
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_hours_end(quiet: tuple[time, time], now: float, tz: tzinfo) -> float:
    """The next end of quiet hours after `now`, as epoch seconds."""
    end = quiet[1]
    today: date = datetime.fromtimestamp(now, tz).date()
    # Built from the wall-clock date, so a DST change in between still lands on `end`.
    candidate = datetime.combine(today, end, tzinfo=tz).timestamp()
    if candidate <= now:
        candidate = datetime.combine(today + timedelta(days=1), end, tzinfo=tz).timestamp()
    return candidate


def _clock(at: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M")


def _when(at: float, now: float, tz: tzinfo) -> str:
    """'07:00' when today (local), else '2026-11-27 07:00'."""
    moment = datetime.fromtimestamp(at, tz)
    if moment.date() == datetime.fromtimestamp(now, tz).date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{seconds / 3600:.1f} h"


def _low_reason(snapshot: TankSnapshot, policy: Policy, terms: SupplierTerms) -> str | None:
    """Why the tank counts as low, or None when it does not."""
    level = snapshot.level_pct
    assert level is not None
    if level < policy.below_pct:
        return f"level {format_pct(level)} under {format_pct(policy.below_pct)}"
    days = snapshot.days_until_empty
    lead_days = terms.lead_time_s / DAY_S
    if days is not None and days < lead_days + policy.days_margin_days:
        return (
            f"{format_days(days)} until empty, under lead time {format_days(lead_days)} "
            f"+ margin {format_days(policy.days_margin_days)}"
        )
    return None


def decide(
    snapshot: TankSnapshot, policy: Policy, terms: SupplierTerms, history: History, *, now: float, tz: tzinfo
) -> Decision:
    """Apply the tank's policy to one reading at `now` (epoch s); quiet hours are read in `tz`."""
    if history.open_order:
        return Decision(
            action="none",
            reason="an order for this tank is already open",
            history=replace(history, armed=False, low_since=None),
        )
    level = snapshot.level_pct
    if level is None or not math.isfinite(level):
        return Decision(action="none", reason="the tank level is unavailable", history=history)

    rearm_pct = policy.below_pct + policy.hysteresis_pct
    if not history.armed:
        if level < rearm_pct:
            return Decision(
                action="none",
                reason=f"level {format_pct(level)}: after the last order it must rise to "
                f"{format_pct(rearm_pct)} before the next",
                history=replace(history, low_since=None),
            )
        history = replace(history, armed=True)

    why = _low_reason(snapshot, policy, terms)
    if why is None:
        days = snapshot.days_until_empty
        tail = f", {format_days(days)} until empty" if days is not None else ""
        return Decision(
            action="none",
            reason=f"level {format_pct(level)}, not under {format_pct(policy.below_pct)}{tail}",
            history=replace(history, low_since=None),
        )

    low_since = history.low_since if history.low_since is not None else now
    history = replace(history, low_since=low_since)
    confirmed_at = low_since + policy.confirm_for_s
    if now < confirmed_at:
        return Decision(
            action="wait",
            reason=f"{why}; making sure it holds for {_duration(policy.confirm_for_s)} "
            f"(until {_clock(confirmed_at, tz)})",
            history=history,
            wait_until=confirmed_at,
        )

    if history.last_order_at is not None and now < history.last_order_at + policy.min_interval_s:
        allowed_at = history.last_order_at + policy.min_interval_s
        return Decision(
            action="wait",
            reason=f"{why}; the last order was {_duration(now - history.last_order_at)} ago, "
            f"the next is allowed at {_when(allowed_at, now, tz)}",
            history=history,
            wait_until=allowed_at,
        )

    if policy.quiet_hours is not None and in_quiet_hours(policy.quiet_hours, datetime.fromtimestamp(now, tz)):
        end = quiet_hours_end(policy.quiet_hours, now, tz)
        return Decision(
            action="wait",
            reason=f"{why}; quiet hours until {policy.quiet_hours[1].strftime('%H:%M')}",
            history=history,
            wait_until=end,
        )

    volume = snapshot.litres
    assert volume is not None  # level is known here
    result = order_quantity(
        capacity_l=snapshot.capacity_l,
        volume_l=volume,
        target_pct=min(policy.target_pct, snapshot.max_pct),
        max_pct=snapshot.max_pct,
        terms=terms,
    )
    if result.quantity_l <= 0:
        return Decision(
            action="none", reason=f"{why}; not ordering: {result.reason}", history=history, quantity_l=0.0
        )

    price = result.quantity_l * terms.price_per_litre if terms.price_per_litre is not None else None
    if policy.monthly_cap is not None:
        if price is None:
            return Decision(
                action="none",
                reason=f"{why}; not ordering: monthly cap set but the supplier has no price",
                history=history,
                quantity_l=result.quantity_l,
            )
        if history.spent_this_month + price > policy.monthly_cap + 1e-9:
            return Decision(
                action="none",
                reason=f"{why}; not ordering, monthly cap: {format_money(history.spent_this_month, None)} of "
                f"{format_money(policy.monthly_cap, terms.currency)} spent, this order "
                f"{format_money(price, terms.currency)}",
                history=history,
                quantity_l=result.quantity_l,
                price_estimate=price,
            )

    cost = f", about {format_money(price, terms.currency)}" if price is not None else ""
    return Decision(
        action="order",
        reason=f"{why}: ordering {format_litres(result.quantity_l)}{cost}",
        history=replace(history, armed=False, low_since=None, last_order_at=now),
        quantity_l=result.quantity_l,
        price_estimate=price,
    )


__all__ = [
    "Action",
    "Decision",
    "History",
    "Policy",
    "SupplierTerms",
    "TankSnapshot",
    "decide",
    "in_quiet_hours",
    "month_key",
    "quiet_hours_end",
]
