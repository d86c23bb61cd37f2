"""Measurement: temperature-compensated echo distance, median filter, spikes, faults, pressure."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from firmware.tank_sensor.measure import (
    LevelMeter,
    MedianFilter,
    echo_to_mm,
    head_mm,
    level_from_distance,
    loop_current_ua,
)
from firmware.tank_sensor.registers import (
    INVALID,
    MODE_PRESSURE,
    STATUS_FAULT,
    STATUS_OUT_OF_RANGE,
    STATUS_PRESSURE,
    STATUS_SPIKE,
    STATUS_VALID,
)


def reference_mm(echo_us: int, temperature_dc: int) -> int:
    """distance = t * (331.3 + 0.606 T) / 2, exactly, rounded half up."""
    speed = Fraction("331.3") + Fraction("0.606") * Fraction(temperature_dc, 10)  # m/s
    mm = Fraction(echo_us, 1_000_000) * speed * 1000 / 2
    return int(mm + Fraction(1, 2))


def test_echo_distance_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["echo_distance"]:
        expected = case["distance_mm"]
        assert echo_to_mm(case["echo_us"], case["temperature_dc"]) == expected, case
        assert reference_mm(case["echo_us"], case["temperature_dc"]) == expected


def test_echo_distance_exact_numbers() -> None:
    assert echo_to_mm(1000, 0) == 166  # 165.65 mm at 0 degC
    assert echo_to_mm(5831, 200) == 1001  # 1001.24 mm at 20 degC (343.42 m/s)
    assert echo_to_mm(5831, -100) == 948  # colder air is slower: 948.24 mm at -10 degC
    assert echo_to_mm(5831, 350) == 1028  # 1027.74 mm at 35 degC


@pytest.mark.parametrize("echo_us", [1, 117, 2915, 5831, 29000, 40000])
@pytest.mark.parametrize("temperature_dc", [-400, -1, 0, 155, 200, 850])
def test_integer_formula_matches_the_exact_one(echo_us: int, temperature_dc: int) -> None:
    assert echo_to_mm(echo_us, temperature_dc) == reference_mm(echo_us, temperature_dc)


def test_level_per_mille_from_mount_height() -> None:
    assert level_from_distance(500, 2000) == (750, False)
    assert level_from_distance(2000, 2000) == (0, False)
    assert level_from_distance(0, 2000) == (1000, False)
    assert level_from_distance(1, 3) == (667, False)  # 666.7 rounds up
    assert level_from_distance(2100, 2000) == (0, True)


def test_median_filter_rejects_a_single_spike() -> None:
    f = MedianFilter()
    for _ in range(5):
        assert f.push(1000) == (1000, False)
    assert f.push(1500) == (1000, True)
    assert f.push(1000) == (1000, False)


def test_median_filter_spike_threshold_is_50mm_or_5_percent() -> None:
    f = MedianFilter()
    for _ in range(5):
        f.push(2000)
    assert f.push(2100)[1] is False  # 100 mm is within 5 % of 2 m
    assert f.push(2101)[1] is True
    g = MedianFilter()
    for _ in range(5):
        g.push(400)
    assert g.push(450)[1] is False
    assert g.push(451)[1] is True


def test_meter_single_ripple_echo_never_moves_the_level() -> None:
    meter = LevelMeter()
    meter.set_temperature(200)
    for _ in range(5):
        meter.feed_echo(5831)  # 1001 mm
    assert meter.outputs(2000) == (STATUS_VALID, 1001, 500)
    meter.feed_echo(1200)  # an echo off a ripple: 206 mm
    assert meter.outputs(2000) == (STATUS_VALID | STATUS_SPIKE, 1001, 500)
    assert meter.spikes == 1
    meter.feed_echo(5831)
    assert meter.outputs(2000) == (STATUS_VALID, 1001, 500)
    assert meter.spikes == 1


def test_meter_sustained_step_is_accepted_once_the_median_moves() -> None:
    meter = LevelMeter()
    for _ in range(5):
        meter.feed_echo(5831)  # 1001 mm, level 500
    seen = []
    for _ in range(4):
        meter.feed_echo(2915)  # 500.5 mm at 20 degC -> 501
        seen.append(meter.outputs(2000))
    assert seen == [
        (STATUS_VALID | STATUS_SPIKE, 1001, 500),
        (STATUS_VALID | STATUS_SPIKE, 1001, 500),
        (STATUS_VALID, 501, 750),
        (STATUS_VALID, 501, 750),
    ]
    assert meter.spikes == 2


def test_meter_no_echo_sets_fault_counts_and_invalidates() -> None:
    meter = LevelMeter()
    for _ in range(3):
        meter.feed_echo(5831)
    meter.feed_echo(None)
    assert meter.outputs(2000) == (STATUS_FAULT, INVALID, INVALID)
    meter.feed_echo(-1)  # time_pulse_us timeout codes
    assert meter.sensor_errors == 2
    meter.feed_echo(5831)
    assert meter.outputs(2000) == (STATUS_VALID, 1001, 500)
    assert meter.sensor_errors == 2


def test_meter_reading_below_the_bottom_is_out_of_range() -> None:
    meter = LevelMeter()
    meter.feed_echo(11662)  # 2002 mm
    assert meter.outputs(2000) == (STATUS_VALID | STATUS_OUT_OF_RANGE, 2002, 0)


def test_meter_temperature_compensation_and_fallback() -> None:
    meter = LevelMeter()
    meter.set_temperature(-100)
    meter.feed_echo(5831)
    assert meter.outputs(2000)[1] == 948
    meter.set_temperature(None)
    assert meter.temperature_dc == 200
    meter.set_temperature(1200)  # implausible: a broken sensor, not a hot tank
    assert meter.temperature_dc == 200


def test_pressure_vectors(vectors: dict[str, Any]) -> None:
    for case in vectors["pressure"]:
        current = loop_current_ua(case["shunt_uv"])
        assert current == case["current_ua"]
        assert head_mm(current, case["full_scale_mm"]) == (case["head_mm"], False)
        meter = LevelMeter(pressure_full_scale_mm=case["full_scale_mm"])
        meter.set_mode(MODE_PRESSURE)
        meter.feed_shunt_uv(case["shunt_uv"])
        assert meter.outputs(case["mount_mm"]) == (
            STATUS_VALID | STATUS_PRESSURE,
            case["distance_mm"],
            case["level_permille"],
        )


def test_pressure_loop_limits() -> None:
    meter = LevelMeter(pressure_full_scale_mm=5000)
    meter.set_mode(MODE_PRESSURE)
    meter.feed_shunt_uv(600_000)  # 4 mA: empty
    assert meter.outputs(3000) == (STATUS_VALID | STATUS_PRESSURE, 3000, 0)
    meter.set_mode(MODE_PRESSURE)
    meter.feed_shunt_uv(585_000)  # 3.9 mA: below zero, clamped
    assert meter.outputs(3000) == (STATUS_VALID | STATUS_PRESSURE | STATUS_OUT_OF_RANGE, 3000, 0)
    meter.feed_shunt_uv(500_000)  # 3.33 mA: broken loop
    assert meter.outputs(3000) == (STATUS_PRESSURE | STATUS_FAULT, INVALID, INVALID)
    meter.feed_shunt_uv(None)
    assert meter.sensor_errors == 2
    meter.set_mode(MODE_PRESSURE)
    meter.feed_shunt_uv(3_000_000)  # 20 mA: 5 m of water in a 3 m tank
    assert meter.outputs(3000) == (STATUS_VALID | STATUS_PRESSURE | STATUS_OUT_OF_RANGE, 0, 1000)
