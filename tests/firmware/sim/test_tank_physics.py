"""SimulatedTank: consumption follows the profile, refills add their litres, seeds repeat."""

from __future__ import annotations

import pytest

from firmware.sim.tank_physics import (
    LP_GAS_HOUSEHOLD,
    SECONDS_PER_DAY,
    WATER_FAMILY,
    DemoTime,
    SimulatedTank,
    UsageProfile,
)

DAY = SECONDS_PER_DAY


def water_tank(**kwargs: object) -> SimulatedTank:
    params: dict[str, object] = {
        "capacity_l": 5000.0, "height_m": 2.0, "mount_height_m": 2.3, "start_pct": 90.0, "seed": 7,
    }
    params.update(kwargs)
    return SimulatedTank(**params)  # type: ignore[arg-type]


def test_a_family_uses_about_600_litres_a_day() -> None:
    tank = water_tank()
    for day in range(1, 6):
        before = tank.consumed_l
        tank.volume_l_at(day * DAY)
        used = tank.consumed_l - before
        assert 600 * (1 - WATER_FAMILY.day_variation) <= used <= 600 * (1 + WATER_FAMILY.day_variation)
    assert tank.volume_l_at(5 * DAY) == pytest.approx(4500 - tank.consumed_l)


def test_lp_gas_uses_about_3_litres_a_day() -> None:
    tank = SimulatedTank(120.0, 1.0, 1.1, 80.0, LP_GAS_HOUSEHOLD, seed=3)
    tank.volume_l_at(10 * DAY)
    assert 25.0 <= tank.consumed_l <= 35.0


def test_morning_and_evening_peaks_beat_the_night() -> None:
    tank = water_tank()
    night = tank.consumption_lps(3 * 3600)
    morning = tank.consumption_lps(7 * 3600 + 1800)
    evening = tank.consumption_lps(19 * 3600 + 1800)
    assert morning > 10 * night and evening > 10 * night


def test_a_truck_adds_its_litres_over_its_duration() -> None:
    tank = water_tank(start_pct=20.0, spike_probability=0.0)
    tank.schedule_refill(start_s=3 * 3600, litres=3000, duration_s=30 * 60)
    before = tank.volume_l_at(3 * 3600)  # night: almost no use
    halfway = tank.volume_l_at(3 * 3600 + 15 * 60)
    after = tank.volume_l_at(3 * 3600 + 30 * 60)
    assert halfway - before == pytest.approx(1500, abs=5)
    assert after - before == pytest.approx(3000, abs=10)
    assert tank.delivered_l == pytest.approx(3000)


def test_a_refill_never_overfills() -> None:
    tank = water_tank(start_pct=95.0)
    tank.schedule_refill(0, 2000, 600)
    assert tank.volume_l_at(3600) <= 5000.0


def test_the_tank_orders_a_truck_when_low() -> None:
    tank = water_tank(start_pct=35.0, auto_refill_below_pct=30.0)
    tank.volume_l_at(3 * DAY)
    assert tank.refills and tank.refills[0].auto
    assert tank.delivered_l > 0
    assert tank.volume_l_at(3 * DAY) > 1500


def test_empty_tank_stops_at_zero() -> None:
    tank = water_tank(start_pct=1.0)
    assert tank.volume_l_at(DAY) == 0.0
    assert tank.consumed_l == pytest.approx(50.0)


def test_volume_does_not_depend_on_how_often_it_is_asked() -> None:
    fine, coarse = water_tank(), water_tank()
    for step in range(1, 97):
        fine.volume_l_at(step * 900)
    assert fine.volume_l_at(DAY) == pytest.approx(coarse.volume_l_at(DAY))
    assert coarse.volume_l_at(0.5 * DAY) < coarse.volume_l_at(DAY) + 1000  # going back recomputes


def test_readings_repeat_with_the_seed_and_differ_without() -> None:
    one, two, other = water_tank(seed=11), water_tank(seed=11), water_tank(seed=12)
    series = [one.distance_mm_at(t * 60) for t in range(200)]
    assert series == [two.distance_mm_at(t * 60) for t in range(200)]
    assert series != [other.distance_mm_at(t * 60) for t in range(200)]


def test_distance_noise_and_spikes() -> None:
    tank = water_tank(spike_probability=0.05, noise_mm=2.0)
    true = tank.true_distance_mm_at(0)
    assert true == pytest.approx(2300 - 0.9 * 2000)
    readings = [tank.distance_mm_at(0) for _ in range(1000)]
    close = [r for r in readings if abs(r - true) < 10]
    spikes = [r for r in readings if r < true * 0.85]
    assert len(close) > 900
    assert 20 <= len(spikes) <= 90  # about 5 %: short echoes, never longer ones


def test_echo_time_follows_the_speed_of_sound() -> None:
    tank = water_tank(noise_mm=0.0, spike_probability=0.0)
    # 500 mm at 20 degC: c = 343.42 m/s, round trip 1 m -> 2911.9 us.
    assert tank.echo_us_at(0, 20.0) == 2912
    assert tank.echo_us_at(0, 0.0) > tank.echo_us_at(0, 30.0)


def test_demo_time_scales_real_seconds() -> None:
    assert DemoTime(60).tank_seconds(60) == 3600


def test_bad_profiles_and_geometry_are_refused() -> None:
    with pytest.raises(ValueError):
        UsageProfile("x", 1.0, (1.0,) * 23)
    with pytest.raises(ValueError):
        SimulatedTank(1000, 2.0, 1.5, 50)
