"""The `modbus_tank:` block: buses, their tanks, and user register profiles.

```yaml
modbus_tank:
  profiles: {cistern_radar: {...}}          # PROFILE_SCHEMA, see docs/modbus_tank.md
  buses:
    - {name: rs485, type: serial, port: /dev/ttyUSB0, baudrate: 9600,
       tanks: [{name: Cistern, unit_id: 1, profile: generic_hydrostatic, scan_interval: 30,
                tank: {shape: rectangular, capacity_l: 10000, commodity: water,
                       mounting: {type: pressure}}}]}
    - {name: gw, type: tcp, host: 192.168.1.20, port: 502, tanks: [...]}
```
Every error carries its key path (`buses -> 0 -> tanks -> 1 -> unit_id: ...`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import voluptuous as vol

from hub.config.schemas import (
    merge,
    modbus_device_schema,
    period_at_least,
    polling_schema,
    positive_int,
    seconds,
    serial_port_schema,
    slug,
    tcp_endpoint_schema,
    time_period,
)
from hub.tanks.schema import TANK_SCHEMA, build_tank

from .profiles import BUILTIN_PROFILES, Profile, load_user_profiles

_LOGGER = logging.getLogger(__name__)

# Which mounting can turn which profile quantity into a level.
_MOUNTING_QUANTITIES = {
    "ultrasonic": ("distance",),
    "pressure": ("pressure", "depth", "level"),
    "percent": ("level",),
    "bottom": ("level",),  # metres of liquid measured from below
}

def pin_code(value: Any) -> int:
    """A device PIN: up to six digits (text or a number); the error never repeats it."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit() or len(text) > 6:
        raise vol.Invalid("a PIN is up to six digits")
    return int(text)


SENSOR_SCHEMA = vol.Schema(
    merge(
        modbus_device_schema,
        polling_schema,
        {
            vol.Required("profile"): str,
            vol.Required("tank"): TANK_SCHEMA,
            # Where the tank is (e.g. "Patio", "Azotea"); the dashboard groups cards by area.
            vol.Optional("area"): str,
            vol.Optional("failures_before_unavailable", default=3): positive_int,
            # How long a rise must hold still before it counts as one delivery (docs/modbus_tank.md).
            vol.Optional("refill_settle", default=timedelta(minutes=5)): vol.All(
                time_period, period_at_least(timedelta(seconds=1))
            ),
        },
    )
)

_BUS_COMMON = {vol.Required("name"): slug, vol.Required("type"): str, vol.Optional("tanks", default=list): [SENSOR_SCHEMA]}
SERIAL_BUS_SCHEMA = vol.Schema(merge(_BUS_COMMON, serial_port_schema))
TCP_BUS_SCHEMA = vol.Schema(
    merge(
        _BUS_COMMON,
        tcp_endpoint_schema,
        {
            vol.Optional("timeout", default=1.0): seconds,
            vol.Optional("framer", default="socket"): vol.In(("socket", "rtu")),
            # Our tank sensor's Wi-Fi variant: the PIN on its label, written on every connection.
            vol.Optional("pin"): pin_code,
        },
    )
)


def _bus(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping")
    kind = value.get("type")
    if kind == "serial":
        return SERIAL_BUS_SCHEMA(value)
    if kind == "tcp":
        return TCP_BUS_SCHEMA(value)
    raise vol.Invalid("expected serial or tcp", path=["type"])


def _cross_check(config: dict[str, Any]) -> dict[str, Any]:
    """Profiles exist and fit the mounting, unit ids and names are unique, tanks add up."""
    profiles: dict[str, Profile] = {**BUILTIN_PROFILES, **config["profiles"]}
    bus_names: set[str] = set()
    for b, bus in enumerate(config["buses"]):
        if bus["name"] in bus_names:
            raise vol.Invalid(f"bus name {bus['name']!r} is used twice", path=["buses", b, "name"])
        bus_names.add(bus["name"])
        if bus["type"] == "serial" and bus["parity"] == "N" and bus["stopbits"] == 1:
            _LOGGER.warning("bus %s: 8N1 has 10-bit characters; Modbus RTU asks for 8N2 without parity", bus["name"])
        units: set[int] = set()
        for t, sensor in enumerate(bus["tanks"]):
            path = ["buses", b, "tanks", t]
            if sensor["unit_id"] in units:
                raise vol.Invalid(f"unit id {sensor['unit_id']} is used twice on bus {bus['name']}", path=[*path, "unit_id"])
            units.add(sensor["unit_id"])
            profile = profiles.get(sensor["profile"])
            if profile is None:
                raise vol.Invalid(f"unknown profile; known: {', '.join(sorted(profiles))}", path=[*path, "profile"])
            kind = sensor["tank"]["mounting"]["type"]
            if profile.quantity not in _MOUNTING_QUANTITIES[kind]:
                raise vol.Invalid(
                    f"profile {profile.name} measures {profile.quantity}; a {kind} mounting cannot use it",
                    path=[*path, "tank", "mounting", "type"],
                )
            try:
                build_tank(sensor["tank"])
            except vol.Invalid as err:
                raise vol.Invalid(err.msg, path=[*path, "tank", *err.path]) from None
            except ValueError as err:
                raise vol.Invalid(str(err), path=[*path, "tank"]) from None
    return config


def _profiles(value: Any) -> dict[str, Profile]:
    try:
        return load_user_profiles(value)
    except vol.MultipleInvalid as err:
        raise vol.MultipleInvalid([vol.Invalid(e.msg, path=e.path) for e in err.errors]) from None


CONFIG_SCHEMA = vol.All(
    vol.Schema({vol.Optional("profiles", default=dict): _profiles, vol.Optional("buses", default=list): [_bus]}),
    _cross_check,
)


def resolve_profile(config: dict[str, Any], name: str) -> Profile:
    return {**BUILTIN_PROFILES, **config["profiles"]}[name]
