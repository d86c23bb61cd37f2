"""The `alarm_panel:` block (docs/alarms.md, "Configuration") and what the machine is built from.

Every error carries its key path (`zones -> 2 -> cameras: a camera zone needs cameras`).
Validators accept their own output: the hub validates a block twice (check, then setup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from hub.config.schemas import boolean, ensure_list, entity_id, slug, string, time_period

from .machine import Delays, Settings
from .model import ARMED_MODES, CAMERA_DETECTIONS, DEFAULT_MODES, Mode, Zone, ZoneType

DEFAULT_EXIT_DELAY = 60.0
DEFAULT_ENTRY_DELAY = 30.0
DEFAULT_TRIGGER_TIME = 300.0
ARMED_MODE_NAMES = tuple(m.value for m in ARMED_MODES)


def _delay(value: Any) -> float:
    """A delay in seconds (any time_period form); 0 means none."""
    seconds = time_period(value).total_seconds()
    if seconds < 0:
        raise vol.Invalid("must be 0 or more seconds")
    if seconds > 3600:
        raise vol.Invalid("must be at most one hour")
    return seconds


def _trigger_time(value: Any) -> float:
    seconds = _delay(value)
    if seconds <= 0:
        raise vol.Invalid("must be more than 0 seconds")
    return seconds


def _zone_number(value: Any) -> int:
    """Contact ID carries a zone in three digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise vol.Invalid("expected a zone number from 1 to 999")
    try:
        number = int(value)
    except ValueError:
        raise vol.Invalid("expected a zone number from 1 to 999") from None
    if not 1 <= number <= 999:
        raise vol.Invalid(f"zone number must be from 1 to 999, got {number}")
    return number


def _entities(value: Any) -> list[str]:
    return [entity_id(v) for v in (list(value) if isinstance(value, tuple) else ensure_list(value))]


MODE_DELAYS_SCHEMA = vol.Schema({vol.Optional("exit_delay"): _delay, vol.Optional("entry_delay"): _delay})

ZONE_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Required("number"): _zone_number,
        vol.Optional("name"): string,
        vol.Required("type"): vol.In([t.value for t in ZoneType]),
        vol.Optional("entities", default=[]): _entities,
        vol.Optional("cameras", default=[]): _entities,
        vol.Optional("events"): vol.All(ensure_list, [vol.In(CAMERA_DETECTIONS)]),
        vol.Optional("modes"): vol.All(ensure_list, [vol.In(ARMED_MODE_NAMES)]),
    }
)


def _check(config: dict[str, Any]) -> dict[str, Any]:
    """Cross-field rules; each error names its path."""
    errors: list[vol.Invalid] = []
    ids: set[str] = set()
    numbers: set[int] = set()
    owner: dict[str, str] = {}
    for index, zone in enumerate(config["zones"]):
        path: list[Any] = ["zones", index]
        zone.setdefault("name", zone["id"].replace("_", " ").capitalize())
        if zone["id"] in ids:
            errors.append(vol.Invalid(f"zone id '{zone['id']}' is used twice", path=[*path, "id"]))
        ids.add(zone["id"])
        if zone["number"] in numbers:
            errors.append(vol.Invalid(f"zone number {zone['number']} is used twice", path=[*path, "number"]))
        numbers.add(zone["number"])
        is_camera = zone["type"] == ZoneType.CAMERA.value
        if is_camera and not zone["cameras"]:
            errors.append(vol.Invalid("a camera zone needs `cameras`", path=[*path, "cameras"]))
        if not is_camera and zone["cameras"]:
            errors.append(vol.Invalid("only a camera zone has `cameras`", path=[*path, "cameras"]))
        if not is_camera and not zone["entities"]:
            errors.append(vol.Invalid(f"a {zone['type']} zone needs `entities`", path=[*path, "entities"]))
        if "events" in zone and not is_camera:
            errors.append(vol.Invalid("only a camera zone has `events`", path=[*path, "events"]))
        if "modes" in zone and ZoneType(zone["type"]) not in DEFAULT_MODES:
            errors.append(vol.Invalid(f"a {zone['type']} zone alarms in every mode; `modes` does not apply",
                                      path=[*path, "modes"]))  # fmt: skip
        for entity in zone["entities"]:
            if entity in owner and owner[entity] != zone["id"]:
                errors.append(vol.Invalid(f"{entity} is already in zone '{owner[entity]}'", path=[*path, "entities"]))
            owner.setdefault(entity, zone["id"])
    if errors:
        raise vol.MultipleInvalid(errors)
    return config


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("name", default="Alarm"): string,
            vol.Optional("exit_delay", default=DEFAULT_EXIT_DELAY): _delay,
            vol.Optional("entry_delay", default=DEFAULT_ENTRY_DELAY): _delay,
            vol.Optional("trigger_time", default=DEFAULT_TRIGGER_TIME): _trigger_time,
            vol.Optional("modes", default={}): vol.Schema({vol.Optional(m): MODE_DELAYS_SCHEMA for m in ARMED_MODE_NAMES}),
            vol.Optional("code_arm_required", default=False): boolean,
            vol.Optional("zones", default=[]): vol.All(ensure_list, [ZONE_SCHEMA]),
        }
    ),
    _check,
)


def build_settings(config: Mapping[str, Any]) -> Settings:
    """Delays per armed mode: the mode's own, else the block's (armed_home leaves without an exit delay)."""
    delays: dict[Mode, Delays] = {}
    for mode in ARMED_MODES:
        own = config["modes"].get(mode.value, {})
        default_exit = 0.0 if mode is Mode.ARMED_HOME else config["exit_delay"]
        delays[mode] = Delays(exit=own.get("exit_delay", default_exit), entry=own.get("entry_delay", config["entry_delay"]))
    return Settings(delays=delays, trigger_time=config["trigger_time"])


def build_zones(config: Mapping[str, Any]) -> tuple[Zone, ...]:
    zones = []
    for raw in config["zones"]:
        kind = ZoneType(raw["type"])
        modes = frozenset(Mode(m) for m in raw["modes"]) if "modes" in raw else DEFAULT_MODES.get(kind, frozenset())
        zones.append(Zone(id=raw["id"], number=raw["number"], name=raw["name"], type=kind,
                          entities=tuple(raw["entities"]), cameras=tuple(raw["cameras"]),
                          events=frozenset(raw.get("events", CAMERA_DETECTIONS)), modes=modes))  # fmt: skip
    return tuple(zones)


__all__ = ["CONFIG_SCHEMA", "build_settings", "build_zones"]
