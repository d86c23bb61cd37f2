"""CONFIG_SCHEMA: valid blocks, and invalid ones with their exact key path."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol

from hub.tanks.geometry import Pressure, VerticalCylinder
from integrations.modbus_tank.config import CONFIG_SCHEMA, build_tank


def _tank(**over: Any) -> dict[str, Any]:
    return {"name": "Cistern", "unit_id": 1, "profile": "generic_hydrostatic",
            "tank": {"shape": "vertical_cylinder", "dimensions": {"diameter_m": 1.0, "height_m": 2.0},
                     "commodity": "water", "mounting": "pressure"}, **over}  # fmt: skip


def _block(*tanks: dict[str, Any], **bus: Any) -> dict[str, Any]:
    return {"buses": [{"name": "rs485", "type": "serial", "port": "/dev/ttyUSB0", "tanks": list(tanks), **bus}]}


def _error(block: dict[str, Any]) -> tuple[list[Any], str]:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA(block)
    err = info.value.errors[0] if isinstance(info.value, vol.MultipleInvalid) else info.value
    return list(err.path), err.msg


def test_defaults_and_tank_model() -> None:
    config = CONFIG_SCHEMA(_block(_tank()))
    bus = config["buses"][0]
    assert (bus["baudrate"], bus["parity"], bus["timeout"]) == (9600, "N", 1.0)
    sensor = bus["tanks"][0]
    assert sensor["scan_interval"].total_seconds() == 30 and sensor["failures_before_unavailable"] == 3
    tank = build_tank(sensor["tank"])
    assert tank.shape == VerticalCylinder(diameter_m=1.0, height_m=2.0) and tank.mounting == Pressure()
    assert CONFIG_SCHEMA({}) == {"profiles": {}, "buses": []}


def test_tcp_bus_and_user_profile() -> None:
    block = {
        "profiles": {"radar": {"quantity": "distance", "value": {"address": 0x100, "function": 4, "unit": "m"}}},
        "buses": [{"name": "gw", "type": "tcp", "host": "192.168.1.20", "port": 502, "tanks": [
            _tank(profile="radar", tank={"shape": "rectangular", "capacity_l": 10000, "commodity": "water",
                                         "mounting": {"type": "ultrasonic", "mount_height_m": 2.0}})]}],
    }  # fmt: skip
    config = CONFIG_SCHEMA(block)
    assert config["profiles"]["radar"].value.function == 4 and config["buses"][0]["framer"] == "socket"


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        (_block(_tank(), _tank(name="Other")), ["buses", 0, "tanks", 1, "unit_id"], "unit id 1 is used twice on bus rs485"),
        (_block(_tank(profile="nope")), ["buses", 0, "tanks", 0, "profile"],
         "unknown profile; known: dfrobot_urm14, generic_hydrostatic, maderas_tank_v1, seeed_s_yw_01b"),
        (_block(_tank(profile="dfrobot_urm14")), ["buses", 0, "tanks", 0, "tank", "mounting", "type"],
         "profile dfrobot_urm14 measures distance; a pressure mounting cannot use it"),
        (_block(_tank(unit_id=0)), ["buses", 0, "tanks", 0, "unit_id"], "expected a Modbus unit id between 1 and 247"),
        (_block(type="usb"), ["buses", 0, "type"], "expected serial or tcp"),
        (_block(_tank(tank={"shape": "rectangular", "commodity": "water", "mounting": "pressure"})),
         ["buses", 0, "tanks", 0, "tank", "capacity_l"], "give dimensions or capacity_l"),
        (_block(_tank(profile="dfrobot_urm14", tank={"shape": "rectangular", "capacity_l": 1000, "commodity": "water",
                                                     "mounting": "ultrasonic"})),
         ["buses", 0, "tanks", 0, "tank", "mounting", "mount_height_m"], "required for an ultrasonic mounting"),
        ({"profiles": {"x": {"quantity": "depth"}}}, ["profiles", "x", "value"], "required key not provided"),
    ],
)  # fmt: skip
def test_errors_name_the_key(block: dict[str, Any], path: list[Any], message: str) -> None:
    assert _error(block) == (path, message)


def test_bus_names_unique() -> None:
    bus = {"name": "rs485", "type": "serial", "port": "/dev/ttyUSB0"}
    assert _error({"buses": [bus, {**bus, "port": "/dev/ttyUSB1"}]}) == (
        ["buses", 1, "name"], "bus name 'rs485' is used twice")


def test_tank_area_is_optional_text() -> None:
    from integrations.modbus_tank.config import SENSOR_SCHEMA

    base = {"name": "Cistern", "unit_id": 1, "profile": "maderas_tank_v1",
            "tank": {"shape": "rectangular", "dimensions": {"length_m": 1, "width_m": 1, "height_m": 1},
                     "commodity": "water", "mounting": {"type": "ultrasonic", "mount_height_m": 1.2}}}  # fmt: skip
    assert "area" not in SENSOR_SCHEMA(base)
    assert SENSOR_SCHEMA({**base, "area": "Patio"})["area"] == "Patio"
