"""The ordering policy as tables: threshold, days, hysteresis, glitches, interval, quiet hours, cap."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from integrations.resupply.policy import (
    Decision,
    History,
    Policy,
    TankSnapshot,
    decide,
    in_quiet_hours,
    month_key,
    quiet_hours_end,
)
from integrations.resupply.quantity import ByLitre, Loads, SupplierTerms

TZ = ZoneInfo("America/Mexico_City")  # UTC-6 all year since 2022


def local(day: int, hour: int, minute: int = 0) -> float:
    """Epoch seconds of 2026-11-<day> hh:mm in Mexico City."""
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


NOW = local(26, 12)
H = 3600.0
TRUCK = SupplierTerms(sells=Loads(sizes_l=(5000, 10000)), lead_time_s=24 * H, price_per_litre=0.12, currency="MXN")
GAS = SupplierTerms(sells=ByLitre(increment_l=1, minimum_l=20), lead_time_s=6 * H, price_per_litre=10.0,
                    currency="MXN")
POLICY = Policy(below_pct=25, days_margin_days=1, target_pct=90, hysteresis_pct=10, confirm_for_s=600,
                min_interval_s=12 * H, quiet_hours=None, monthly_cap=None, approval=False)
CONFIRMED = History(low_since=NOW - 600)  # low long enough already


def cistern(level: float | None, days: float | None = None, capacity: float = 20000) -> TankSnapshot:
    return TankSnapshot(level_pct=level, capacity_l=capacity, days_until_empty=days, max_pct=95)


CASES: list[Any] = [
    # --- threshold
    pytest.param(cistern(24), POLICY, TRUCK, CONFIRMED, NOW,
                 "order", "level 24 % under 25 %: ordering 10,000 L, about 1,200.00 MXN", 10000, None,
                 id="under-threshold-orders"),
    pytest.param(cistern(25), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "level 25 %, not under 25 %", None, None, id="at-threshold-is-not-low"),
    pytest.param(cistern(60, days=9.5), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "level 60 %, not under 25 %, 9.5 days until empty", None, None, id="full-enough"),
    # --- days until empty vs lead time + margin (1 d + 1 d)
    pytest.param(cistern(40, days=1.5), POLICY, TRUCK, CONFIRMED, NOW,
                 "order", "1.5 days until empty, under lead time 1.0 days + margin 1.0 days", 10000, None,
                 id="days-under-lead-plus-margin"),
    pytest.param(cistern(40, days=2.0), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "not under 25 %, 2.0 days until empty", None, None, id="days-equal-lead-plus-margin"),
    pytest.param(cistern(40, days=None), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "level 40 %, not under 25 %", None, None, id="days-unknown-level-ok"),
    # --- hysteresis: disarmed after an order, armed again at below + hysteresis = 35 %
    pytest.param(cistern(27), POLICY, TRUCK, History(armed=False, last_order_at=NOW - 48 * H), NOW,
                 "none", "level 27 %: after the last order it must rise to 35 % before the next", None, None,
                 id="tiny-rise-stays-disarmed"),
    pytest.param(cistern(20), POLICY, TRUCK, History(armed=False, low_since=NOW - 3 * H), NOW,
                 "none", "must rise to 35 %", None, None, id="disarmed-low-never-reorders"),
    pytest.param(cistern(36), POLICY, TRUCK, History(armed=False), NOW,
                 "none", "level 36 %, not under 25 %", None, None, id="rise-above-rearms"),
    # --- confirm_for: a fresh low reading waits 10 min
    pytest.param(cistern(20), POLICY, TRUCK, History(), NOW,
                 "wait", "level 20 % under 25 %; making sure it holds for 10 min (until 12:10)", None, NOW + 600,
                 id="first-low-reading-waits"),
    pytest.param(cistern(20), POLICY, TRUCK, History(low_since=NOW - 599), NOW,
                 "wait", "making sure it holds", None, NOW + 1, id="confirm-one-second-short"),
    pytest.param(cistern(20), POLICY, TRUCK, History(low_since=NOW - 600), NOW,
                 "order", "level 20 % under 25 %: ordering 10,000 L", 10000, None, id="confirm-elapsed-orders"),
    # --- min_interval 12 h
    pytest.param(cistern(20), POLICY, TRUCK, replace(CONFIRMED, last_order_at=NOW - 11 * H), NOW,
                 "wait", "the last order was 11.0 h ago, the next is allowed at 13:00", None, NOW + H,
                 id="min-interval-waits"),
    pytest.param(cistern(20), POLICY, TRUCK, replace(CONFIRMED, last_order_at=NOW - 12 * H), NOW,
                 "order", "ordering 10,000 L", 10000, None, id="min-interval-elapsed"),
    # --- quiet hours 22:00-07:00 across midnight, Mexico City wall clock
    pytest.param(cistern(20), replace(POLICY, quiet_hours=(time(22), time(7))), TRUCK,
                 History(low_since=local(26, 23, 0)), local(26, 23, 30),
                 "wait", "level 20 % under 25 %; quiet hours until 07:00", None,
                 datetime(2026, 11, 27, 13, 0, tzinfo=UTC).timestamp(), id="quiet-before-midnight"),
    pytest.param(cistern(20), replace(POLICY, quiet_hours=(time(22), time(7))), TRUCK,
                 History(low_since=local(26, 2, 0)), local(26, 3, 0),
                 "wait", "quiet hours until 07:00", None,
                 datetime(2026, 11, 26, 13, 0, tzinfo=UTC).timestamp(), id="quiet-after-midnight"),
    pytest.param(cistern(20), replace(POLICY, quiet_hours=(time(22), time(7))), TRUCK,
                 History(low_since=local(26, 3, 0)), local(26, 7, 0),
                 "order", "ordering 10,000 L", 10000, None, id="quiet-ended-at-7"),
    pytest.param(cistern(20), replace(POLICY, quiet_hours=(time(22), time(7))), TRUCK,
                 History(low_since=local(26, 21, 0)), local(26, 21, 59),
                 "order", "ordering 10,000 L", 10000, None, id="before-quiet-orders"),
    # --- quantity: nothing the supplier sells fits (5,000 L cistern at 20 %: 3,750 L free under 95 %)
    pytest.param(cistern(20, capacity=5000), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "level 20 % under 25 %; not ordering: the smallest load (5,000 L) does not fit: "
                 "3,750 L free under 95 %", 0, None, id="no-load-fits"),
    # --- monthly cap 3,000 MXN; 10,000 L at 0.12 = 1,200 MXN
    pytest.param(cistern(20), replace(POLICY, monthly_cap=3000), TRUCK, replace(CONFIRMED, spent_this_month=2000),
                 NOW, "none", "monthly cap: 2,000.00 of 3,000.00 MXN spent, this order 1,200.00 MXN", 10000, None,
                 id="over-monthly-cap"),
    pytest.param(cistern(20), replace(POLICY, monthly_cap=3000), TRUCK, replace(CONFIRMED, spent_this_month=1800),
                 NOW, "order", "ordering 10,000 L, about 1,200.00 MXN", 10000, None, id="exactly-at-cap-orders"),
    pytest.param(cistern(20), replace(POLICY, monthly_cap=3000), replace(TRUCK, price_per_litre=None), CONFIRMED,
                 NOW, "none", "monthly cap set but the supplier has no price", 10000, None, id="cap-without-price"),
    # --- open order, unavailable level
    pytest.param(cistern(10), POLICY, TRUCK, replace(CONFIRMED, open_order=True), NOW,
                 "none", "an order for this tank is already open", None, None, id="open-order"),
    pytest.param(cistern(None), POLICY, TRUCK, CONFIRMED, NOW,
                 "none", "the tank level is unavailable", None, None, id="level-unavailable"),
    # --- gas by the litre: 300 L tank at 10 %, usable max 85 % -> 225 L
    pytest.param(TankSnapshot(level_pct=10, capacity_l=300, max_pct=85, commodity="lp_gas"),
                 replace(POLICY, target_pct=85), GAS, CONFIRMED, NOW,
                 "order", "level 10 % under 25 %: ordering 225 L, about 2,250.00 MXN", 225, None, id="gas-by-litre"),
]


@pytest.mark.parametrize(
    ("snapshot", "policy", "terms", "history", "now", "action", "reason", "quantity", "wait_until"), CASES
)
def test_decide(
    snapshot: TankSnapshot, policy: Policy, terms: SupplierTerms, history: History, now: float,
    action: str, reason: str, quantity: float | None, wait_until: float | None,
) -> None:
    decision = decide(snapshot, policy, terms, history, now=now, tz=TZ)
    assert decision.action == action
    assert reason in decision.reason
    assert decision.quantity_l == quantity
    assert decision.wait_until == wait_until
    if action == "order":
        assert decision.history == replace(history, armed=False, low_since=None, last_order_at=now)
        price = terms.price_per_litre
        assert quantity is not None
        assert decision.price_estimate == (None if price is None else pytest.approx(quantity * price))


@pytest.mark.parametrize(
    ("snapshot", "history", "expected"),
    [
        # Not low: the low reading is forgotten.
        (cistern(60), History(low_since=NOW - 60), History(low_since=None)),
        # First low reading: remembered from now.
        (cistern(20), History(), History(low_since=NOW)),
        # Still low: the first time is kept, not moved.
        (cistern(20), History(low_since=NOW - 300), History(low_since=NOW - 300)),
        # Unavailable: nothing changes, the confirmation clock keeps running.
        (cistern(None), History(low_since=NOW - 300), History(low_since=NOW - 300)),
        # Open order: disarmed.
        (cistern(20), History(open_order=True, low_since=NOW - 300), History(open_order=True, armed=False)),
        # Disarmed and a tiny rise: still disarmed.
        (cistern(30), History(armed=False), History(armed=False)),
        # Disarmed and a rise to 35 %: armed again.
        (cistern(35), History(armed=False), History(armed=True)),
    ],
)
def test_history_updates(snapshot: TankSnapshot, history: History, expected: History) -> None:
    assert decide(snapshot, POLICY, TRUCK, history, now=NOW, tz=TZ).history == expected


def run(readings: list[tuple[float, float | None]], history: History, policy: Policy = POLICY) -> list[Decision]:
    """Feed readings (seconds after NOW, level %) through decide, threading the history."""
    decisions = []
    for offset, level in readings:
        decision = decide(cistern(level), policy, TRUCK, history, now=NOW + offset, tz=TZ)
        decisions.append(decision)
        history = decision.history
    return decisions


def test_single_low_reading_then_back_up_never_orders() -> None:
    decisions = run([(0, 60), (60, 12), (120, 61), (720, 60), (1200, 60)], History())
    assert [d.action for d in decisions] == ["none", "wait", "none", "none", "none"]
    assert decisions[1].wait_until == NOW + 60 + 600
    assert decisions[2].history.low_since is None


def test_low_that_holds_orders_once_then_hysteresis() -> None:
    decisions = run(
        [(0, 20), (300, 20), (600, 20), (900, 20), (13 * H, 27), (14 * H, 20), (20 * H, 90), (40 * H, 22),
         (40 * H + 600, 22)],
        History(),
    )
    assert [d.action for d in decisions] == ["wait", "wait", "order", "none", "none", "none", "none", "wait", "order"]
    assert decisions[2].history.armed is False
    assert decisions[6].history.armed is True  # the delivery lifted it to 90 %


def test_dropout_does_not_restart_confirmation() -> None:
    decisions = run([(0, 20), (300, None), (600, 20)], History())
    assert [d.action for d in decisions] == ["wait", "none", "order"]


def test_quiet_hours_helpers() -> None:
    quiet = (time(22), time(7))
    assert in_quiet_hours(quiet, datetime(2026, 11, 26, 22, 0, tzinfo=TZ))
    assert in_quiet_hours(quiet, datetime(2026, 11, 27, 6, 59, tzinfo=TZ))
    assert not in_quiet_hours(quiet, datetime(2026, 11, 27, 7, 0, tzinfo=TZ))
    assert not in_quiet_hours(quiet, datetime(2026, 11, 26, 12, 0, tzinfo=TZ))
    day = (time(9), time(17))
    assert in_quiet_hours(day, datetime(2026, 11, 26, 12, 0, tzinfo=TZ))
    assert not in_quiet_hours(day, datetime(2026, 11, 26, 17, 0, tzinfo=TZ))
    assert quiet_hours_end(day, local(26, 12), TZ) == local(26, 17)
    assert quiet_hours_end(quiet, local(26, 7), TZ) == local(27, 7)


def test_month_key_uses_local_time() -> None:
    # 2026-12-01 03:00 UTC is still 30 November 21:00 in Mexico City.
    t = datetime(2026, 12, 1, 3, 0, tzinfo=UTC).timestamp()
    assert month_key(t, TZ) == "2026-11"
    assert month_key(t, UTC) == "2026-12"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"below_pct": 90, "target_pct": 90},
        {"target_pct": 101},
        {"confirm_for_s": -1},
        {"monthly_cap": -5},
        {"quiet_hours": (time(7), time(7))},
        {"quiet_hours": (time(22, tzinfo=UTC), time(7))},
    ],
)
def test_invalid_policy_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Policy(**kwargs)
