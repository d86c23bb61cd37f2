"""Tank geometry and sensor mounting: a raw level reading in, level, volume and usable share out.

Shared by every integration that measures a tank (modbus_tank, ble_climate's Mopeka sensors), which
is why it lives in the core: integrations may not import each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Commodity = Literal["water", "lp_gas"]
HeadKind = Literal["flat", "hemispherical", "ellipsoidal_2to1"]
ShapeKind = Literal["vertical_cylinder", "horizontal_cylinder", "rectangular"]

G = 9.80665  # standard gravity, m/s^2 (CGPM 1901, exact by definition)
LEVEL_TOLERANCE_M = 1e-6
_SLACK_M = 1e-9  # float rounding at the walls is not "out of range"

# Head volume factor f: both heads together hold f * (4/3) * pi * R^3 when full.
_HEAD_FACTOR: dict[str, float] = {"flat": 0.0, "hemispherical": 1.0, "ellipsoidal_2to1": 0.5}

# Usable range in % of capacity by commodity.
# Water 0-100: the brief's choice; a cistern's foot valve usually sits a few cm above the floor,
# so households may want to raise usable_min_pct.
# LP gas 5-85: industry practice as given to us, not checked against the NOM text: tanks are
# filled to 80-85 % by volume to leave room for liquid expansion (gauge dials mark ~85 % in red),
# and below ~5 % the vapour supply becomes unreliable. Both bounds stay configurable.
_USABLE_DEFAULTS: dict[str, tuple[float, float]] = {"water": (0.0, 100.0), "lp_gas": (5.0, 85.0)}


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _check_level(level_m: float, height_m: float) -> None:
    if not (math.isfinite(level_m) and -_SLACK_M <= level_m <= height_m + _SLACK_M):
        raise ValueError(f"level {level_m!r} m outside 0..{height_m} m")


def _check_volume(volume_l: float, capacity_l: float) -> None:
    if not (math.isfinite(volume_l) and -1e-9 <= volume_l <= capacity_l * (1 + 1e-12)):
        raise ValueError(f"volume {volume_l!r} L outside 0..{capacity_l} L")


def _bisect_level(f: Callable[[float], float], volume_l: float, height_m: float, tol_m: float) -> float:
    """Invert a strictly increasing volume curve by bisection to within tol_m."""
    lo, hi = 0.0, height_m
    while hi - lo > tol_m:
        mid = 0.5 * (lo + hi)
        if f(mid) < volume_l:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


class _Prism:
    """Straight walls: volume is the footprint times the level, so both directions are exact."""

    height_m: float

    @property
    def footprint_m2(self) -> float:
        """Horizontal cross-section, the same at every height."""
        raise NotImplementedError

    @property
    def capacity_l(self) -> float:
        """Geometric volume in litres."""
        return self.volume_at(self.height_m)

    def volume_at(self, level_m: float) -> float:
        """Litres below a liquid level measured from the bottom."""
        _check_level(level_m, self.height_m)
        return self.footprint_m2 * min(max(level_m, 0.0), self.height_m) * 1000.0

    def level_at(self, volume_l: float) -> float:
        """Liquid level in metres holding volume_l (linear, so exact)."""
        _check_volume(volume_l, self.capacity_l)
        return min(max(volume_l, 0.0) / 1000.0 / self.footprint_m2, self.height_m)


@dataclass(frozen=True, kw_only=True)
class VerticalCylinder(_Prism):
    """An upright cylinder: rooftop tanks (tinacos)."""

    diameter_m: float
    height_m: float

    def __post_init__(self) -> None:
        _positive("diameter_m", self.diameter_m)
        _positive("height_m", self.height_m)

    @property
    def footprint_m2(self) -> float:
        return math.pi * (self.diameter_m / 2) ** 2


@dataclass(frozen=True, kw_only=True)
class Rectangular(_Prism):
    """A box: underground and ground-level cisterns."""

    length_m: float
    width_m: float
    height_m: float

    def __post_init__(self) -> None:
        _positive("length_m", self.length_m)
        _positive("width_m", self.width_m)
        _positive("height_m", self.height_m)

    @property
    def footprint_m2(self) -> float:
        return self.length_m * self.width_m


@dataclass(frozen=True, kw_only=True)
class HorizontalCylinder:
    """A lying cylinder with optional domed heads: stationary LP-gas tanks; length_m is the straight shell."""

    diameter_m: float
    length_m: float
    head: HeadKind = "flat"

    def __post_init__(self) -> None:
        _positive("diameter_m", self.diameter_m)
        _positive("length_m", self.length_m)
        if self.head not in _HEAD_FACTOR:
            raise ValueError(f"head must be one of {sorted(_HEAD_FACTOR)}, got {self.head!r}")

    @property
    def height_m(self) -> float:
        """Geometric height: the diameter."""
        return self.diameter_m

    @property
    def head_depth_m(self) -> float:
        """How far each head sticks out beyond the shell: R, R/2 or 0."""
        return self.diameter_m / 2 * _HEAD_FACTOR[self.head]

    @property
    def overall_length_m(self) -> float:
        """Shell plus both heads, what a tape measure gives end to end."""
        return self.length_m + 2 * self.head_depth_m

    @property
    def capacity_l(self) -> float:
        """Geometric volume in litres (shell plus heads)."""
        return self.volume_at(self.diameter_m)

    def volume_at(self, level_m: float) -> float:
        """Litres below a liquid level measured from the bottom of the shell."""
        _check_level(level_m, self.diameter_m)
        r = self.diameter_m / 2
        h = min(max(level_m, 0.0), self.diameter_m)
        # Shell: the wetted cross-section is a circular segment of depth h,
        #   A(h) = R^2 acos((R - h) / R) - (R - h) sqrt(2 R h - h^2),
        # times the straight length. A(R) = pi R^2 / 2 and A(2R) = pi R^2, as they should be.
        segment = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(2 * r * h - h * h, 0.0))
        # Heads: the two heads of one tank put together form a solid of revolution about the
        # horizontal tank axis: a sphere of radius R (hemispherical heads) or a spheroid with
        # semi-axes R, R and R/2 along the axis (2:1 ellipsoidal heads, depth D/4). Cutting either
        # by a horizontal plane at depth h gives the spherical cap pi h^2 (3R - h) / 3, the
        # spheroid's being the sphere's squeezed along the (horizontal) axis, so scaled by 1/2.
        # Hence both heads together hold f * pi h^2 (3R - h) / 3 with f = 1, 1/2 or 0 (flat).
        heads = _HEAD_FACTOR[self.head] * math.pi * h * h * (3 * r - h) / 3
        return (segment * self.length_m + heads) * 1000.0

    def level_at(self, volume_l: float, *, tol_m: float = LEVEL_TOLERANCE_M) -> float:
        """Liquid level in metres holding volume_l, by bisection to within tol_m."""
        _check_volume(volume_l, self.capacity_l)
        return _bisect_level(self.volume_at, volume_l, self.diameter_m, tol_m)


Shape = VerticalCylinder | HorizontalCylinder | Rectangular


@dataclass(frozen=True, kw_only=True)
class Ultrasonic:
    """A downward-looking distance sensor; mount_height_m is from the sensor face to the tank bottom."""

    mount_height_m: float
    dead_band_m: float = 0.2  # echoes closer than this are not measurable

    def __post_init__(self) -> None:
        _positive("mount_height_m", self.mount_height_m)
        if not (math.isfinite(self.dead_band_m) and 0 <= self.dead_band_m < self.mount_height_m):
            raise ValueError(f"dead_band_m must be in 0..mount_height_m, got {self.dead_band_m!r}")


@dataclass(frozen=True, kw_only=True)
class Pressure:
    """A submerged (or bottom-tapped) pressure sensor reading gauge pressure in Pa."""

    sensor_offset_m: float = 0.0  # height of the sensing point above the tank bottom
    fluid_density_kg_m3: float = 1000.0  # water; liquid LP gas is ~500-580 depending on the mix

    def __post_init__(self) -> None:
        _positive("fluid_density_kg_m3", self.fluid_density_kg_m3)
        if not math.isfinite(self.sensor_offset_m):
            raise ValueError("sensor_offset_m must be finite")


@dataclass(frozen=True, kw_only=True)
class PercentGauge:
    """A reading already in % of capacity by volume: an LP-gas float gauge with a hall-effect sender."""


@dataclass(frozen=True, kw_only=True)
class Bottom:
    """An upward-looking sensor under the tank reading the liquid height in m: a Mopeka on an LP tank."""

    # Added to the reading: where the sensor's zero sits relative to the inside of the tank bottom
    # (a calibration, usually a few mm; negative when the sensor reads high).
    sensor_offset_m: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.sensor_offset_m):
            raise ValueError("sensor_offset_m must be finite")


Mounting = Ultrasonic | Pressure | PercentGauge | Bottom


@dataclass(frozen=True, kw_only=True)
class TankLevel:
    """One measurement: level_pct is % of geometric height; fill_pct_of_capacity is % of volume."""

    level_m: float
    level_pct: float  # 0..100 of the shape's height: NOT what an LP gauge shows
    volume_l: float  # liquid volume (for LP gas: liquid, not vapour)
    usable_pct: float  # 0 at usable_min_pct, 100 at usable_max_pct; may go outside
    fill_pct_of_capacity: float  # 0..100 of capacity by volume: what an LP gauge shows
    out_of_range: bool = False  # reading outside what the sensor/tank can mean; values are clamped


@dataclass(frozen=True, kw_only=True)
class Tank:
    """A shape, a commodity, how it is measured and which share of it is usable."""

    shape: Shape
    commodity: Commodity
    mounting: Mounting
    # % of capacity by volume; None takes the commodity default (_USABLE_DEFAULTS).
    usable_min_pct: float | None = None
    usable_max_pct: float | None = None
    _bounds: tuple[float, float] = field(init=False, repr=False, compare=False, default=(0.0, 100.0))

    def __post_init__(self) -> None:
        if self.commodity not in _USABLE_DEFAULTS:
            raise ValueError(f"commodity must be one of {sorted(_USABLE_DEFAULTS)}, got {self.commodity!r}")
        default_min, default_max = _USABLE_DEFAULTS[self.commodity]
        lo = default_min if self.usable_min_pct is None else self.usable_min_pct
        hi = default_max if self.usable_max_pct is None else self.usable_max_pct
        if not (0.0 <= lo < hi <= 100.0):
            raise ValueError(f"need 0 <= usable_min_pct < usable_max_pct <= 100, got {lo}, {hi}")
        # Frozen: resolve the defaults once so every reader sees numbers, never None.
        object.__setattr__(self, "usable_min_pct", lo)
        object.__setattr__(self, "usable_max_pct", hi)
        object.__setattr__(self, "_bounds", (lo, hi))

    @classmethod
    def from_capacity(
        cls,
        capacity_l: float,
        shape_kind: ShapeKind,
        *,
        commodity: Commodity,
        mounting: Mounting,
        head: HeadKind = "ellipsoidal_2to1",
        usable_min_pct: float | None = None,
        usable_max_pct: float | None = None,
    ) -> Tank:
        """A tank of the nominal capacity with typical proportions, for when nobody measured it."""
        _positive("capacity_l", capacity_l)
        v = capacity_l / 1000.0
        shape: Shape
        if shape_kind == "vertical_cylinder":
            # Rotomoulded rooftop tanks are a little taller than wide (1,100 L: ~1.1 m x 1.35 m).
            d = (4 * v / (1.2 * math.pi)) ** (1 / 3)
            shape = VerticalCylinder(diameter_m=d, height_m=1.2 * d)
        elif shape_kind == "horizontal_cylinder":
            # Shell length 3R (1.5 D): a 300 L tank with 2:1 heads comes out ~0.59 m x 1.19 m overall,
            # close to the 300 L stationary LP tanks sold here. V = pi R^2 3R + f 4/3 pi R^3.
            f = _HEAD_FACTOR.get(head, -1.0)
            if f < 0:
                raise ValueError(f"head must be one of {sorted(_HEAD_FACTOR)}, got {head!r}")
            r = (v / (math.pi * (3 + 4 * f / 3))) ** (1 / 3)
            shape = HorizontalCylinder(diameter_m=2 * r, length_m=3 * r, head=head)
        elif shape_kind == "rectangular":
            # A square cistern 1.5 times as wide as deep (10,000 L: ~2.5 x 2.5 x 1.65 m).
            h = (v / 2.25) ** (1 / 3)
            shape = Rectangular(length_m=1.5 * h, width_m=1.5 * h, height_m=h)
        else:
            raise ValueError(f"unknown shape_kind {shape_kind!r}")
        return cls(shape=shape, commodity=commodity, mounting=mounting,
                   usable_min_pct=usable_min_pct, usable_max_pct=usable_max_pct)

    @property
    def capacity_l(self) -> float:
        """Geometric capacity in litres."""
        return self.shape.capacity_l

    @property
    def usable_min_l(self) -> float:
        """Litres at the bottom of the usable range (for LP gas, the 5 % heel)."""
        return self.capacity_l * self._bounds[0] / 100.0

    @property
    def usable_max_l(self) -> float:
        """Litres at the top of the usable range (for LP gas, the 85 % fill limit)."""
        return self.capacity_l * self._bounds[1] / 100.0

    def measure(self, reading: float) -> TankLevel:
        """Convert a raw reading (m of distance, Pa, % of volume or m of height, by mounting) to a TankLevel."""
        if not math.isfinite(reading):
            raise ValueError(f"reading must be finite, got {reading!r}")
        shape, m, height = self.shape, self.mounting, self.shape.height_m
        out = False
        if isinstance(m, PercentGauge):
            pct = reading
            if not 0.0 <= pct <= 100.0:
                pct, out = min(max(pct, 0.0), 100.0), True
            volume = self.capacity_l * pct / 100.0
            level = shape.level_at(volume)
        else:
            if isinstance(m, Ultrasonic):
                distance = reading
                # Inside the dead band the echo is the sensor's own ringing; beyond the mount height
                # it is a reflection off something else. Either way the number means nothing.
                if distance < m.dead_band_m - _SLACK_M:
                    distance, out = m.dead_band_m, True
                elif distance > m.mount_height_m + _SLACK_M:
                    distance, out = m.mount_height_m, True
                level = m.mount_height_m - distance
            elif isinstance(m, Pressure):
                # Hydrostatic head: p = rho g h, plus the height of the sensing point.
                level = reading / (m.fluid_density_kg_m3 * G) + m.sensor_offset_m
            else:
                level = reading + m.sensor_offset_m
            if level < -_SLACK_M or level > height + _SLACK_M:
                out = True
            level = min(max(level, 0.0), height)
            volume = shape.volume_at(level)
        capacity = self.capacity_l
        fill_pct = 100.0 * volume / capacity
        lo, hi = self._bounds
        return TankLevel(
            level_m=level,
            level_pct=100.0 * level / height,
            volume_l=volume,
            usable_pct=100.0 * (fill_pct - lo) / (hi - lo),
            fill_pct_of_capacity=fill_pct,
            out_of_range=out,
        )
