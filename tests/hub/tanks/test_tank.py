"""Tank geometry and mounting conversions against closed forms and hand-computed numbers."""

from __future__ import annotations

import math

import pytest

from hub.tanks.geometry import (
    HorizontalCylinder,
    PercentGauge,
    Pressure,
    Rectangular,
    Tank,
    Ultrasonic,
    VerticalCylinder,
)

PI = math.pi
SQ3 = math.sqrt(3)
REL = 1e-12  # closed forms vs the implementation: float rounding only


def close(a: float, b: float, rel: float = REL, abs_: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# --- geometry: full / half / empty --------------------------------------------------------------

def test_vertical_cylinder_closed_form() -> None:
    # d = 1 m, h = 2 m: V = pi r^2 h = pi * 0.25 * 2 m^3 = 1570.796... L
    s = VerticalCylinder(diameter_m=1.0, height_m=2.0)
    assert close(s.capacity_l, 500 * PI)
    assert close(s.volume_at(1.0), 250 * PI)
    assert s.volume_at(0.0) == 0.0


def test_rectangular_closed_form() -> None:
    s = Rectangular(length_m=2.0, width_m=1.5, height_m=1.0)
    assert close(s.capacity_l, 3000.0)
    assert close(s.volume_at(0.5), 1500.0)
    assert s.volume_at(0.0) == 0.0
    assert close(s.level_at(750.0), 0.25)


@pytest.mark.parametrize(
    ("depth_frac", "area_over_r2"),
    [
        # circular segment A(h) = R^2 acos((R-h)/R) - (R-h) sqrt(2Rh - h^2), worked by hand:
        (0.0, 0.0),
        (0.25, PI / 3 - SQ3 / 4),  # h = R/2: acos(1/2) = pi/3, (R/2) * (sqrt(3)/2) R
        (0.5, PI / 2),  # h = R: half the circle
        (0.75, 2 * PI / 3 + SQ3 / 4),  # h = 3R/2: the full circle minus the 25 % segment
        (1.0, PI),
    ],
)
def test_horizontal_flat_vs_circular_segment(depth_frac: float, area_over_r2: float) -> None:
    r, length = 0.5, 2.0
    s = HorizontalCylinder(diameter_m=2 * r, length_m=length)
    assert close(s.volume_at(depth_frac * 2 * r), area_over_r2 * r * r * length * 1000)


@pytest.mark.parametrize(
    ("head", "factor"), [("flat", 0.0), ("hemispherical", 1.0), ("ellipsoidal_2to1", 0.5)]
)
@pytest.mark.parametrize(
    ("depth_frac", "cap_over_r3"),
    [
        # both heads = f * spherical cap pi h^2 (3R - h) / 3
        (0.0, 0.0),
        (0.25, 5 * PI / 24),  # h = R/2: pi (R^2/4)(5R/2)/3
        (0.5, 2 * PI / 3),  # half a sphere
        (0.75, 9 * PI / 8),  # h = 3R/2: pi (9R^2/4)(3R/2)/3
        (1.0, 4 * PI / 3),  # the whole sphere
    ],
)
def test_horizontal_heads(head: str, factor: float, depth_frac: float, cap_over_r3: float) -> None:
    r, length = 0.3, 0.9
    flat = HorizontalCylinder(diameter_m=2 * r, length_m=length)
    domed = HorizontalCylinder(diameter_m=2 * r, length_m=length, head=head)  # type: ignore[arg-type]
    h = depth_frac * 2 * r
    assert close(domed.volume_at(h), flat.volume_at(h) + factor * cap_over_r3 * r**3 * 1000)


def test_hemispherical_heads_add_a_sphere_at_full() -> None:
    s = HorizontalCylinder(diameter_m=0.6, length_m=0.9, head="hemispherical")
    assert close(s.capacity_l, (PI * 0.09 * 0.9 + 4 / 3 * PI * 0.027) * 1000)
    assert close(s.overall_length_m, 1.5)
    assert close(HorizontalCylinder(diameter_m=0.6, length_m=0.9, head="ellipsoidal_2to1").overall_length_m, 1.2)


@pytest.mark.parametrize(
    "shape",
    [
        VerticalCylinder(diameter_m=1.1, height_m=1.35),
        Rectangular(length_m=2.5, width_m=2.5, height_m=1.6),
        HorizontalCylinder(diameter_m=0.6, length_m=0.9),
        HorizontalCylinder(diameter_m=0.6, length_m=0.9, head="hemispherical"),
        HorizontalCylinder(diameter_m=0.6, length_m=0.9, head="ellipsoidal_2to1"),
    ],
)
def test_level_at_inverts_volume_at(shape: VerticalCylinder | Rectangular | HorizontalCylinder) -> None:
    for i in range(0, 101):
        h = shape.height_m * i / 100
        assert abs(shape.level_at(shape.volume_at(h)) - h) <= 1e-6
    assert shape.level_at(0.0) <= 1e-6
    assert abs(shape.level_at(shape.capacity_l) - shape.height_m) <= 1e-6


def test_geometry_rejects_impossible_inputs() -> None:
    s = HorizontalCylinder(diameter_m=0.6, length_m=0.9)
    with pytest.raises(ValueError):
        s.volume_at(-0.01)
    with pytest.raises(ValueError):
        s.volume_at(0.61)
    with pytest.raises(ValueError):
        s.level_at(s.capacity_l + 1)
    with pytest.raises(ValueError):
        VerticalCylinder(diameter_m=0.0, height_m=1.0)
    with pytest.raises(ValueError):
        HorizontalCylinder(diameter_m=1.0, length_m=1.0, head="torispherical")  # type: ignore[arg-type]


# --- from_capacity ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["vertical_cylinder", "horizontal_cylinder", "rectangular"])
def test_from_capacity_hits_the_capacity(kind: str) -> None:
    tank = Tank.from_capacity(1100.0, kind, commodity="water", mounting=PercentGauge())  # type: ignore[arg-type]
    assert close(tank.capacity_l, 1100.0, rel=1e-9)


def test_from_capacity_300_l_lp_tank_proportions() -> None:
    tank = Tank.from_capacity(300.0, "horizontal_cylinder", commodity="lp_gas", mounting=PercentGauge())
    shape = tank.shape
    assert isinstance(shape, HorizontalCylinder)
    assert shape.head == "ellipsoidal_2to1"
    # R^3 = V / (pi (3 + 2/3)) = 0.3 / (11 pi / 3) -> R = 0.29637 m
    assert math.isclose(shape.diameter_m, 2 * (0.9 / (11 * PI)) ** (1 / 3), rel_tol=1e-12)
    assert 0.58 < shape.diameter_m < 0.60 and 1.15 < shape.overall_length_m < 1.2
    assert close(tank.capacity_l, 300.0, rel=1e-9)


# --- mounting conversions -----------------------------------------------------------------------

def water_box(mounting: Ultrasonic | Pressure | PercentGauge) -> Tank:
    # 1 m x 1 m x 2 m: 1 mm of level = 1 L
    return Tank(shape=Rectangular(length_m=1.0, width_m=1.0, height_m=2.0), commodity="water", mounting=mounting)


def test_ultrasonic_distance_to_level() -> None:
    m = water_box(Ultrasonic(mount_height_m=2.0)).measure(0.5)
    assert close(m.level_m, 1.5) and close(m.level_pct, 75.0) and close(m.volume_l, 1500.0)
    assert close(m.fill_pct_of_capacity, 75.0) and close(m.usable_pct, 75.0)
    assert not m.out_of_range


def test_pressure_to_level() -> None:
    # 14710 Pa / (1000 kg/m^3 * 9.80665 m/s^2) = 1.4999975 m
    m = water_box(Pressure()).measure(14710.0)
    assert abs(m.level_m - 1.5) < 1e-5 and not m.out_of_range
    assert abs(m.level_m - 14710.0 / 9806.65) < 1e-12
    offset = water_box(Pressure(sensor_offset_m=0.1)).measure(14710.0)
    assert abs(offset.level_m - (14710.0 / 9806.65 + 0.1)) < 1e-12


@pytest.mark.parametrize(
    ("mounting", "reading", "level_m"),
    [
        (Ultrasonic(mount_height_m=2.0), 0.1, 1.8),  # inside the 0.2 m dead band: clamped to it
        (Ultrasonic(mount_height_m=2.0), 2.5, 0.0),  # farther than the bottom
        (Ultrasonic(mount_height_m=2.5), 0.3, 2.0),  # 2.2 m of level in a 2 m tank: overfull
        (Pressure(), -500.0, 0.0),  # negative gauge pressure
        (Pressure(), 25000.0, 2.0),  # 2.55 m of head in a 2 m tank
        (PercentGauge(), 101.0, 2.0),
        (PercentGauge(), -1.0, 0.0),
    ],
)
def test_out_of_range_is_flagged_and_clamped(
    mounting: Ultrasonic | Pressure | PercentGauge, reading: float, level_m: float
) -> None:
    m = water_box(mounting).measure(reading)
    assert m.out_of_range
    assert close(m.level_m, level_m)


@pytest.mark.parametrize(
    ("mounting", "reading"),
    [(Ultrasonic(mount_height_m=2.0), 0.2), (Ultrasonic(mount_height_m=2.0), 2.0), (Pressure(), 0.0),
     (PercentGauge(), 100.0), (PercentGauge(), 0.0)],
)
def test_edges_are_in_range(mounting: Ultrasonic | Pressure | PercentGauge, reading: float) -> None:
    assert not water_box(mounting).measure(reading).out_of_range


def test_non_finite_reading_raises() -> None:
    with pytest.raises(ValueError):
        water_box(Pressure()).measure(math.nan)


# --- commodities and usable range ---------------------------------------------------------------

def lp_tank(mounting: Ultrasonic | Pressure | PercentGauge = PercentGauge()) -> Tank:
    return Tank(shape=HorizontalCylinder(diameter_m=1.0, length_m=2.0), commodity="lp_gas", mounting=mounting)


def test_defaults_by_commodity() -> None:
    assert (water_box(PercentGauge()).usable_min_pct, water_box(PercentGauge()).usable_max_pct) == (0.0, 100.0)
    assert (lp_tank().usable_min_pct, lp_tank().usable_max_pct) == (5.0, 85.0)
    assert close(lp_tank().usable_min_l, 0.05 * 500 * PI) and close(lp_tank().usable_max_l, 0.85 * 500 * PI)
    with pytest.raises(ValueError):
        Tank(shape=Rectangular(length_m=1, width_m=1, height_m=1), commodity="water", mounting=PercentGauge(),
             usable_min_pct=60.0, usable_max_pct=40.0)


@pytest.mark.parametrize(("gauge_pct", "usable_pct"), [(5.0, 0.0), (85.0, 100.0), (45.0, 50.0), (0.0, -6.25),
                                                       (95.0, 112.5)])
def test_lp_usable_mapping(gauge_pct: float, usable_pct: float) -> None:
    m = lp_tank().measure(gauge_pct)
    assert close(m.usable_pct, usable_pct, abs_=1e-9)
    assert close(m.fill_pct_of_capacity, gauge_pct, abs_=1e-9)
    assert not m.out_of_range


def test_lp_level_pct_is_not_fill_pct() -> None:
    # Level at a quarter of the diameter holds (pi/3 - sqrt(3)/4) / pi = 19.55 % of the volume.
    m = lp_tank(Ultrasonic(mount_height_m=1.2)).measure(0.95)
    assert close(m.level_m, 0.25) and close(m.level_pct, 25.0)
    assert close(m.fill_pct_of_capacity, 100 * (PI / 3 - SQ3 / 4) / PI)
    # A gauge showing 19.55 % puts the level at 25 % of the height (bisection, 1e-6 m).
    g = lp_tank().measure(100 * (PI / 3 - SQ3 / 4) / PI)
    assert abs(g.level_m - 0.25) <= 1e-6
