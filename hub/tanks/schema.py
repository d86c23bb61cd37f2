"""The `tank:` block every tank integration accepts (shape, size, commodity, mounting, usable range).

```yaml
tank: {shape: horizontal_cylinder, capacity_l: 300, head: ellipsoidal_2to1, commodity: lp_gas,
       mounting: {type: bottom, sensor_offset_m: 0.0}, usable_min_pct: 5, usable_max_pct: 85}
```
`tank_schema()` validates the keys; `build_tank(conf)` makes the `Tank` and raises vol.Invalid with the
path of what does not add up; `buildable` is the same as a voluptuous validator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import voluptuous as vol

from hub.config.schemas import number
from hub.tanks.geometry import (
    Bottom,
    HorizontalCylinder,
    Mounting,
    PercentGauge,
    Pressure,
    Rectangular,
    Shape,
    Tank,
    Ultrasonic,
    VerticalCylinder,
)

SHAPES = ("vertical_cylinder", "horizontal_cylinder", "rectangular")
HEADS = ("flat", "hemispherical", "ellipsoidal_2to1")
COMMODITIES = ("water", "lp_gas")
# ultrasonic: distance from above; pressure: Pa at the bottom; percent: % of volume (LP gauge sender);
# bottom: liquid height from below (a Mopeka under an LP tank).
MOUNTINGS = ("ultrasonic", "pressure", "percent", "bottom")
DIMENSIONS = {
    "vertical_cylinder": ("diameter_m", "height_m"),
    "horizontal_cylinder": ("diameter_m", "length_m"),
    "rectangular": ("length_m", "width_m", "height_m"),
}
LP_GAS_DENSITY_KG_M3 = 540.0  # a typical propane/butane mix; liquid LP gas is ~500-580


def _alternatives(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def mounting_schema(kinds: Sequence[str] = MOUNTINGS) -> vol.Schema:
    """`{type: ..., ...}` for the given mounting kinds; keys a kind does not use are accepted and ignored."""
    return vol.Schema(
        {
            vol.Required("type"): vol.In(tuple(kinds), msg=f"expected {_alternatives(kinds)}"),
            vol.Optional("mount_height_m"): number,
            vol.Optional("dead_band_m", default=0.2): number,
            vol.Optional("sensor_offset_m", default=0.0): number,
            vol.Optional("fluid_density_kg_m3"): number,
        }
    )


def tank_schema(
    *, mountings: Sequence[str] = MOUNTINGS, commodity: str | None = None, mounting: str | None = None
) -> vol.Schema:
    """The `tank:` block; a `commodity` or `mounting` given here is the default, so that key becomes optional."""
    kinds = mounting_schema(mountings)
    mounting_value = vol.Any(
        vol.All(str, lambda v: {"type": v}, kinds), kinds,
        msg=f"expected {_alternatives(mountings)}, or a mapping with type",
    )  # fmt: skip
    commodity_key = vol.Required("commodity") if commodity is None else vol.Optional("commodity", default=commodity)
    mounting_key = vol.Required("mounting") if mounting is None else vol.Optional("mounting", default=mounting)
    return vol.Schema(
        {
            vol.Required("shape"): vol.In(SHAPES, msg=f"expected one of {', '.join(SHAPES)}"),
            vol.Optional("dimensions"): {str: number},
            vol.Optional("capacity_l"): number,
            vol.Optional("head", default="ellipsoidal_2to1"): vol.In(HEADS),
            commodity_key: vol.In(COMMODITIES, msg="expected water or lp_gas"),
            mounting_key: mounting_value,
            vol.Optional("usable_min_pct"): number,
            vol.Optional("usable_max_pct"): number,
        }
    )


TANK_SCHEMA = tank_schema()


def _mounting(conf: dict[str, Any]) -> Mounting:
    m = conf["mounting"]
    if m["type"] == "ultrasonic":
        if "mount_height_m" not in m:
            raise vol.Invalid("required for an ultrasonic mounting", path=["mounting", "mount_height_m"])
        return Ultrasonic(mount_height_m=m["mount_height_m"], dead_band_m=m["dead_band_m"])
    if m["type"] == "pressure":
        default = 1000.0 if conf["commodity"] == "water" else LP_GAS_DENSITY_KG_M3
        return Pressure(sensor_offset_m=m["sensor_offset_m"], fluid_density_kg_m3=m.get("fluid_density_kg_m3", default))
    if m["type"] == "bottom":
        return Bottom(sensor_offset_m=m["sensor_offset_m"])
    return PercentGauge()


def build_tank(conf: dict[str, Any]) -> Tank:
    """The tank model of a validated `tank:` block; ValueError/vol.Invalid when it does not add up."""
    mounting = _mounting(conf)
    usable = {"usable_min_pct": conf.get("usable_min_pct"), "usable_max_pct": conf.get("usable_max_pct")}
    shape_kind = conf["shape"]
    if "dimensions" in conf:
        dims = conf["dimensions"]
        want = DIMENSIONS[shape_kind]
        missing = [k for k in want if k not in dims]
        if missing or set(dims) - set(want):
            raise vol.Invalid(f"{shape_kind} needs exactly {', '.join(want)}", path=["dimensions"])
        shape: Shape
        if shape_kind == "vertical_cylinder":
            shape = VerticalCylinder(**dims)
        elif shape_kind == "horizontal_cylinder":
            shape = HorizontalCylinder(**dims, head=conf["head"])
        else:
            shape = Rectangular(**dims)
        return Tank(shape=shape, commodity=conf["commodity"], mounting=mounting, **usable)
    if "capacity_l" not in conf:
        raise vol.Invalid("give dimensions or capacity_l", path=["capacity_l"])
    return Tank.from_capacity(conf["capacity_l"], shape_kind, commodity=conf["commodity"], mounting=mounting,
                              head=conf["head"], **usable)  # fmt: skip


def buildable(conf: dict[str, Any]) -> dict[str, Any]:
    """A validator after `tank_schema()`: the block must make a tank (errors keep their key path)."""
    try:
        build_tank(conf)
    except vol.Invalid:
        raise
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return conf


__all__ = ["MOUNTINGS", "SHAPES", "TANK_SCHEMA", "build_tank", "buildable", "mounting_schema", "tank_schema"]
