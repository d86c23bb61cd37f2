"""The shared tank model: the bottom mounting, TankModel over plain times, and the `tank:` schema."""

from __future__ import annotations

import math

import pytest
import voluptuous as vol

from hub.tanks.geometry import Bottom, HorizontalCylinder, PercentGauge, Pressure, Tank, Ultrasonic, VerticalCylinder
from hub.tanks.model import TankModel, reading_full_scale
from hub.tanks.schema import TANK_SCHEMA, build_tank, buildable, tank_schema

CYLINDER = VerticalCylinder(diameter_m=0.36, height_m=1.0)  # about a 30 kg LP cylinder's water capacity


def test_bottom_mounting_reads_the_liquid_height() -> None:
    tank = Tank(shape=CYLINDER, commodity="lp_gas", mounting=Bottom())
    level = tank.measure(0.5)
    assert level.level_m == 0.5 and level.level_pct == 50.0
    assert level.volume_l == pytest.approx(math.pi * 0.18**2 * 0.5 * 1000)
    assert level.usable_pct == pytest.approx((50 - 5) / (85 - 5) * 100)
    offset = Tank(shape=CYLINDER, commodity="lp_gas", mounting=Bottom(sensor_offset_m=0.01)).measure(0.49)
    assert offset.level_m == pytest.approx(0.5) and not offset.out_of_range
    high = tank.measure(1.2)  # an echo off the top of a cylinder lying on its side, say
    assert high.out_of_range and high.level_m == 1.0
    with pytest.raises(ValueError, match="sensor_offset_m must be finite"):
        Bottom(sensor_offset_m=math.nan)


def test_full_scale_per_mounting() -> None:
    shape = HorizontalCylinder(diameter_m=0.6, length_m=0.9)
    assert reading_full_scale(Tank(shape=shape, commodity="lp_gas", mounting=Bottom())) == 0.6
    assert reading_full_scale(Tank(shape=shape, commodity="lp_gas", mounting=PercentGauge())) == 100.0
    assert reading_full_scale(Tank(shape=shape, commodity="water", mounting=Ultrasonic(mount_height_m=0.8))) == 0.8
    pressure = Tank(shape=shape, commodity="water", mounting=Pressure())
    assert reading_full_scale(pressure) == pytest.approx(0.6 * 1000 * 9.80665)


def test_model_tracks_level_rate_and_a_cylinder_swap() -> None:
    tank = Tank(shape=CYLINDER, commodity="lp_gas", mounting=Bottom())
    model = TankModel(tank, refill_settle_s=120)
    assert model.attribute()["volume_l"] is None and model.days_left is None
    per_m = tank.capacity_l  # litres per metre of height (1 m tall)
    # 2 L/day for a day, a reading every 5 minutes.
    t, litres, refills = 0.0, 60.0, []
    for _ in range(288):
        refills.append(model.update(t, litres / per_m))
        t, litres = t + 300, litres - 2.0 * 300 / 86400
    assert model.rate == pytest.approx(2.0, rel=0.05)
    assert model.level is not None and model.level.volume_l == pytest.approx(litres, abs=0.1)
    assert model.days_left == pytest.approx((model.level.volume_l - tank.usable_min_l) / model.rate)
    # A swap to a full cylinder (+30 L, far under the estimator's 50 L default) is a delivery,
    # and the consumption estimate does not read it as gas flowing back in.
    for _ in range(12):
        refills.append(model.update(t, (litres + 30.0) / per_m))
        t += 30
    [refill] = [r for r in refills if r is not None]
    assert refill.litres_delivered == pytest.approx(30.0, abs=0.5)
    assert model.consumption.min_rise_l == pytest.approx(tank.capacity_l * 0.05)
    attribute = model.attribute()
    assert attribute["commodity"] == "lp_gas" and attribute["volume_l"] == round(model.level.volume_l, 1)
    event = model.refilled_event("sensor.cylinder_level", refill)
    assert event["entity_id"] == "sensor.cylinder_level" and event["litres_delivered"] == refill.litres_delivered
    assert event["commodity"] == "lp_gas"


def test_level_attributes_flag_a_clamped_reading() -> None:
    model = TankModel(Tank(shape=CYLINDER, commodity="water", mounting=Bottom()))
    model.update(0.0, 0.5)
    assert "out_of_range" not in model.level_attributes()
    model = TankModel(Tank(shape=CYLINDER, commodity="water", mounting=Bottom()))
    model.update(0.0, 1.5)
    assert model.level_attributes()["out_of_range"] is True and model.level_attributes()["tank"]["capacity_l"] > 0


def test_schema_defaults_and_restricted_mountings() -> None:
    conf = TANK_SCHEMA({"shape": "vertical_cylinder", "dimensions": {"diameter_m": 0.36, "height_m": 1},
                        "commodity": "lp_gas", "mounting": "bottom"})  # fmt: skip
    assert build_tank(conf).mounting == Bottom() and build_tank(conf).shape == CYLINDER
    with pytest.raises(vol.Invalid, match="required key not provided"):
        TANK_SCHEMA({"shape": "rectangular", "capacity_l": 1000, "mounting": "pressure"})
    mopeka = vol.All(tank_schema(mountings=("bottom",), commodity="lp_gas", mounting="bottom"), buildable)
    conf = mopeka({"shape": "horizontal_cylinder", "capacity_l": 300})
    assert (conf["commodity"], conf["mounting"]["type"], conf["head"]) == ("lp_gas", "bottom", "ellipsoidal_2to1")
    assert build_tank(conf).capacity_l == pytest.approx(300.0)
    with pytest.raises(vol.Invalid, match="expected bottom, or a mapping with type"):
        mopeka({"shape": "horizontal_cylinder", "capacity_l": 300, "mounting": "pressure"})
    with pytest.raises(vol.Invalid, match="horizontal_cylinder needs exactly diameter_m, length_m") as info:
        mopeka({"shape": "horizontal_cylinder", "dimensions": {"diameter_m": 0.6}})
    assert info.value.path == ["dimensions"]
    with pytest.raises(vol.Invalid, match="diameter_m must be a positive finite number"):
        mopeka({"shape": "vertical_cylinder", "dimensions": {"diameter_m": -1, "height_m": 1}})
