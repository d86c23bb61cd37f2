"""Spike filter, consumption estimate and delivery detection on seeded synthetic series."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from hub.tanks.forecast import (
    ConsumptionEstimator,
    Filtered,
    PlausibilityFilter,
    Refill,
    RefillDetector,
    days_until_empty,
)

T0 = 1_700_000_000.0  # a realistic epoch, so bucketing by floor(t / bucket) is exercised for real
DAY = 86400.0


def series(
    *, seed: int, days: float, dt: float, start_l: float, per_day: float, noise_l: float,
    deliveries: tuple[tuple[float, float, float], ...] = (), spike_rate: float = 0.0,
) -> Iterator[tuple[float, float]]:
    """(t, litres): steady draw, Gaussian noise (sigma noise_l), deliveries (start_s, litres, duration_s)."""
    rng = random.Random(seed)
    v, t = start_l, T0
    while t < T0 + days * DAY:
        v -= per_day * dt / DAY
        for start, litres, duration in deliveries:
            if T0 + start <= t < T0 + start + duration:
                v += litres * dt / duration
        x = v + rng.gauss(0.0, noise_l)
        if spike_rate and rng.random() < spike_rate:
            x *= 1.4  # an echo off a ripple: +40 %
        yield t, x
        t += dt


# --- PlausibilityFilter -------------------------------------------------------------------------

def feed(f: PlausibilityFilter, values: list[float], dt: float = 10.0) -> list[Filtered]:
    return [f.update(T0 + i * dt, v) for i, v in enumerate(values)]


def test_single_spike_never_moves_the_level() -> None:
    out = feed(PlausibilityFilter(), [50.0] * 5 + [90.0] + [50.0] * 3)
    assert [o.value for o in out] == [50.0] * 9
    assert out[5] == Filtered(value=50.0, accepted=False, reason="awaiting_confirmation")
    assert [o.accepted for o in out] == [True] * 5 + [False] + [True] * 3
    assert out[0].reason == "initial" and out[6].reason == "within_step"


def test_two_spikes_in_a_row_are_still_rejected() -> None:
    out = feed(PlausibilityFilter(confirm=3), [50.0] * 5 + [90.0, 88.0] + [50.0])
    assert [o.value for o in out] == [50.0] * 8


def test_step_confirmed_by_k_readings_is_accepted() -> None:
    out = feed(PlausibilityFilter(confirm=3), [50.0] * 5 + [80.0] * 4 + [80.5])
    assert [o.accepted for o in out[5:8]] == [False, False, False]
    assert [o.value for o in out[5:8]] == [50.0, 50.0, 50.0]
    assert out[8] == Filtered(value=80.0, accepted=True, reason="confirmed_step")
    assert out[9] == Filtered(value=80.0, accepted=True, reason="within_step")


def test_scattered_far_readings_do_not_confirm_each_other() -> None:
    # 80, 20, 80, 20: far from 50 and from each other, so no jump is ever confirmed
    out = feed(PlausibilityFilter(confirm=2), [50.0] * 5 + [80.0, 20.0, 80.0, 20.0])
    assert all(o.value == 50.0 for o in out)
    assert not any(o.accepted for o in out[5:])


def test_filter_in_litres_and_slow_ramp() -> None:
    f = PlausibilityFilter(max_step_pct=10.0, full_scale=10_000.0)  # threshold 1,000 L
    out = feed(f, [6000.0] * 5 + [8400.0] + [6000.0 + 30 * i for i in range(1, 41)])
    assert out[5].value == 6000.0 and not out[5].accepted
    assert all(o.accepted for o in out[6:])  # a truck's 30 L per reading is never a jump
    assert out[-1].value == pytest.approx(6000.0 + 30 * 38)  # median of the last 5: lags 2 readings


def test_filter_rejects_bad_input() -> None:
    f = PlausibilityFilter()
    f.update(T0, 1.0)
    with pytest.raises(ValueError):
        f.update(T0 - 1, 1.0)
    with pytest.raises(ValueError):
        f.update(T0 + 1, float("nan"))


# --- ConsumptionEstimator -----------------------------------------------------------------------

def run_estimator(est: ConsumptionEstimator, samples: Iterator[tuple[float, float]]) -> list[tuple[float, float | None]]:
    return [(t, est.update(t, v)) for t, v in samples]


def test_estimate_within_5_percent_of_600_l_per_day() -> None:
    out = run_estimator(ConsumptionEstimator(), series(seed=1, days=3, dt=60, start_l=8000, per_day=600, noise_l=30))
    assert all(r is None for t, r in out if t < T0 + 6 * 3600)  # a quarter window before any estimate
    settled = [r for t, r in out if t >= T0 + DAY]
    assert all(r is not None and abs(r - 600) <= 0.05 * 600 for r in settled)
    assert out[-1][1] == pytest.approx(600, rel=0.05)


def test_estimate_through_a_refill_stays_600_and_never_negative() -> None:
    samples = series(seed=2, days=3, dt=60, start_l=8000, per_day=600, noise_l=30,
                     deliveries=((1.5 * DAY, 5000.0, 1500.0),), spike_rate=0.02)
    out = run_estimator(ConsumptionEstimator(), samples)
    rates = [r for _, r in out if r is not None]
    assert min(rates) >= 0.0
    settled = [r for t, r in out if t >= T0 + DAY]
    assert all(r is not None and abs(r - 600) <= 0.05 * 600 for r in settled)


def test_estimate_is_none_for_a_flat_or_rising_tank() -> None:
    est = ConsumptionEstimator(window_s=6 * 3600)
    out = run_estimator(est, series(seed=3, days=1, dt=60, start_l=500, per_day=-20, noise_l=1))
    assert out[-1][1] == 0.0
    assert days_until_empty(500.0, 0.0, est.rate_l_per_day) is None


def test_estimator_window_bounds() -> None:
    with pytest.raises(ValueError):
        ConsumptionEstimator(window_s=3600)
    with pytest.raises(ValueError):
        ConsumptionEstimator(window_s=4 * DAY)


def test_estimator_state_is_bounded_at_one_second_polling() -> None:
    est = ConsumptionEstimator(window_s=6 * 3600)
    for t, v in series(seed=4, days=0.5, dt=1, start_l=8000, per_day=600, noise_l=30):
        est.update(t, v)
    assert len(est._points) <= est.BUCKETS + 2
    assert est._open is not None and len(est._open.values) < 128
    assert est.rate_l_per_day == pytest.approx(600, rel=0.05)


@pytest.mark.parametrize(
    ("volume", "usable_min", "rate", "expected"),
    [(1000.0, 100.0, 300.0, 3.0), (90.0, 100.0, 300.0, 0.0), (1000.0, 0.0, 0.0, None),
     (1000.0, 0.0, -5.0, None), (1000.0, 0.0, None, None), (1000.0, 0.0, 1e-12, None)],
)
def test_days_until_empty(volume: float, usable_min: float, rate: float | None, expected: float | None) -> None:
    assert days_until_empty(volume, usable_min, rate) == expected


# --- RefillDetector -----------------------------------------------------------------------------

def refills(det: RefillDetector, samples: Iterator[tuple[float, float]]) -> list[Refill]:
    return [r for t, v in samples if (r := det.update(t, v)) is not None]


def test_water_truck_5000_l_over_25_minutes_is_one_refill() -> None:
    samples = series(seed=5, days=1, dt=10, start_l=4000, per_day=600, noise_l=30,
                     deliveries=((0.5 * DAY, 5000.0, 1500.0),))
    found = refills(RefillDetector(min_rise_l=200, confirm_s=300), samples)
    assert len(found) == 1
    r = found[0]
    assert r.litres_delivered == pytest.approx(5000, rel=0.02)
    assert r.litres_after - r.litres_before == r.litres_delivered
    assert r.litres_before == pytest.approx(4000 - 300, abs=30)
    assert abs(r.started_at - (T0 + 0.5 * DAY)) <= 60  # within a minute of the truck starting
    assert abs(r.ended_at - (T0 + 0.5 * DAY + 1500)) <= 300


def test_a_fast_draining_tank_polled_slowly_measures_the_truck_not_the_drain() -> None:
    """Idle level from the last confirm_s only: 32 slow polls would reach back hours of use.

    The demo's shape: 1,100 L drawn at 2,400 L/day (x60 tank time), polled every 300 s of tank
    time, a 690 L truck over 15 minutes.
    """
    samples = series(seed=11, days=0.5, dt=300, start_l=700, per_day=2400, noise_l=2,
                     deliveries=((0.4 * DAY, 690.0, 900.0),))
    found = refills(RefillDetector(min_rise_l=55, confirm_s=900), samples)
    assert len(found) == 1
    # The gauge sees the net rise: the house keeps drawing water while the truck pumps (900 s) and
    # "before" and "after" are medians over confirm_s on either side (half of each, on average).
    drawn = 2400 * (900 + 900) / DAY
    assert found[0].litres_delivered == pytest.approx(690 - drawn, rel=0.04)  # was 511 L: 20 % short


def test_noise_alone_is_never_a_refill() -> None:
    samples = series(seed=6, days=2, dt=10, start_l=8000, per_day=600, noise_l=30, spike_rate=0.01)
    assert refills(RefillDetector(min_rise_l=200, confirm_s=300), samples) == []


def test_two_deliveries_a_day_apart_are_two() -> None:
    samples = series(seed=7, days=2.5, dt=10, start_l=3000, per_day=600, noise_l=30,
                     deliveries=((0.4 * DAY, 5000.0, 1500.0), (1.4 * DAY, 3000.0, 1200.0)))
    found = refills(RefillDetector(min_rise_l=200, confirm_s=300), samples)
    assert [round(r.litres_delivered, -2) for r in found] == [5000, 3000]
    assert found[1].started_at - found[0].started_at == pytest.approx(DAY, abs=120)


def test_lp_gas_delivery_of_150_l() -> None:
    # 300 L tank at 10 %, the pipa pumps 150 L in 4 minutes; a percent gauge is good to ~1.5 L
    samples = series(seed=8, days=1, dt=10, start_l=30, per_day=1.5, noise_l=1.5,
                     deliveries=((0.6 * DAY, 150.0, 240.0),))
    found = refills(RefillDetector(min_rise_l=20, confirm_s=300), samples)
    assert len(found) == 1
    assert found[0].litres_delivered == pytest.approx(150, rel=0.02)


def test_a_short_surge_that_falls_back_is_not_a_refill() -> None:
    # +400 L held for 2 minutes (sloshing after a pump start), then back: shorter than confirm_s
    det = RefillDetector(min_rise_l=200, confirm_s=300)
    values = [5000.0] * 60 + [5400.0] * 12 + [5000.0] * 60
    assert [r for i, v in enumerate(values) if (r := det.update(T0 + 10 * i, v))] == []
