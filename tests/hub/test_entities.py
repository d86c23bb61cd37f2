"""Entities and the entity platform: state text, attributes, availability, registry follow-up, unload."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import Any

import pytest

from hub.bus import Context
from hub.clock import ManualClock
from hub.entities import DeviceInfo, Entity, EntityDescription, EntityPlatform
from hub.registry import DeviceRegistry, EntityRegistry
from hub.runtime import Hub
from hub.scope import ScopedHub

LEVEL = EntityDescription(
    key="level", name="Level", device_class="distance", unit_of_measurement="m",
    state_class="measurement", icon="mdi:waves", suggested_display_precision=2,
)
VOLUME = EntityDescription(key="volume", name="Volume", unit_of_measurement="L", state_class="total")
CISTERN: DeviceInfo = {
    "identifiers": {("modbus_tank", "tank-1")}, "name": "Cistern", "manufacturer": "Maderas", "sw_version": "1.0",
}


class TankSensor(Entity):
    """A sensor whose value the test sets directly; records its lifecycle calls."""

    domain = "sensor"

    def __init__(self, description: EntityDescription, value: Any = None, device: DeviceInfo | None = CISTERN) -> None:
        self.entity_description = description
        self.unique_id = f"tank-1-{description.key}"
        self.device_info = device
        self.value = value
        self.calls: list[str] = []

    @property
    def native_value(self) -> Any:
        return self.value

    async def async_added(self) -> None:
        assert self.hub is not None and self.entity_id is not None
        state = self.hub.states.get(self.entity_id)
        self.calls.append(f"added:{state.state if state else None}")

    async def async_will_remove(self) -> None:
        self.calls.append("will_remove")


async def load_registries(hub: Hub) -> None:
    """What the hub's start sequence does: load both registries and hang them on the hub."""
    hub.entities = EntityRegistry(hub.db, hub.bus, clock_time=hub.clock.time)
    hub.devices = DeviceRegistry(hub.db, hub.bus, hub.entities, clock_time=hub.clock.time)
    await hub.entities.load()
    await hub.devices.load()


@pytest.fixture
async def scoped(hub: Hub) -> ScopedHub:
    await load_registries(hub)
    return hub.scoped("modbus_tank")


async def settle(scoped: ScopedHub) -> None:
    """Wait for the tasks the platform started in reaction to registry events."""
    while scoped.scope.tasks:
        await asyncio.gather(*scoped.scope.tasks)


def state_of(scoped: ScopedHub, entity_id: str) -> tuple[str, dict[str, Any]] | None:
    state = scoped.states.get(entity_id)
    return None if state is None else (state.state, dict(state.attributes))


class Mode(enum.Enum):
    filling = "filling"


@pytest.mark.parametrize(
    ("description", "value", "text"),
    [
        (LEVEL, None, "unknown"),
        (LEVEL, 1.23456, "1.23"),
        (LEVEL, 2.5, "2.50"),
        (LEVEL, -0.004, "0.00"),
        (LEVEL, 3, "3"),  # ints are not padded
        (LEVEL, float("nan"), "unknown"),
        (VOLUME, 1.23456, "1.23456"),  # no precision: as measured
        (VOLUME, True, "on"),
        (VOLUME, Mode.filling, "filling"),
        (VOLUME, "full", "full"),
    ],
)
async def test_state_text_rules(scoped: ScopedHub, description: EntityDescription, value: Any, text: str) -> None:
    entity = TankSensor(description, value)
    await EntityPlatform(scoped, "modbus_tank").add_entities([entity])
    assert scoped.states.get(entity.entity_id or "").state == text  # type: ignore[union-attr]


async def test_first_state_has_metadata_attributes_then_async_added(scoped: ScopedHub) -> None:
    level = TankSensor(LEVEL, 1.5)
    level.extra_attributes = {"raw_register": 1500, "friendly_name": "not this one"}
    level.context = Context(origin="test")
    await EntityPlatform(scoped, "modbus_tank", "entry-1").add_entities([level])

    assert level.entity_id == "sensor.cistern_level"
    assert state_of(scoped, "sensor.cistern_level") == ("1.50", {
        "raw_register": 1500, "friendly_name": "Cistern Level", "unit_of_measurement": "m",
        "device_class": "distance", "state_class": "measurement", "icon": "mdi:waves",
    })
    assert scoped.states.get("sensor.cistern_level").context.origin == "test"  # type: ignore[union-attr]
    assert level.calls == ["added:1.50"]
    entry = scoped.entities.get("sensor.cistern_level")
    device = scoped.devices.get(entry.device_id)
    assert (entry.platform, entry.config_entry_id, entry.original_name) == ("modbus_tank", "entry-1", "Level")
    assert (device.name, device.sw_version, device.config_entry_id) == ("Cistern", "1.0", "entry-1")


async def test_names_without_device_or_relative_name(scoped: ScopedHub) -> None:
    alone = TankSensor(EntityDescription(key="rain"), 3, device=None)
    alone.name = "Rain today"  # a plain attribute instead of the description's
    main = TankSensor(EntityDescription(key="main"), 1)  # no name: the device's main entity
    absolute = TankSensor(EntityDescription(key="abs", name="Water pressure"), 2)
    absolute.has_entity_name = False
    await EntityPlatform(scoped, "modbus_tank").add_entities([alone, main, absolute])
    names = {e.entity_id: state_of(scoped, str(e.entity_id))[1]["friendly_name"]  # type: ignore[index]
             for e in (alone, main, absolute)}
    assert names == {
        "sensor.rain_today": "Rain today", "sensor.cistern": "Cistern", "sensor.water_pressure": "Water pressure",
    }


async def test_availability_with_reason(scoped: ScopedHub) -> None:
    level = TankSensor(LEVEL, 1.0)
    await EntityPlatform(scoped, "modbus_tank").add_entities([level])
    level.set_available(False, reason="timeout after 3 tries")
    state, attributes = state_of(scoped, "sensor.cistern_level")  # type: ignore[misc]
    assert (state, attributes["unavailable_reason"]) == ("unavailable", "timeout after 3 tries")
    assert attributes["friendly_name"] == "Cistern Level"

    level.value = 1.25
    level.set_available(True, reason="ignored when available")
    state, attributes = state_of(scoped, "sensor.cistern_level")  # type: ignore[misc]
    assert state == "1.25" and "unavailable_reason" not in attributes
    assert level.unavailable_reason is None


async def test_disabled_entities_get_no_state_until_enabled(scoped: ScopedHub) -> None:
    await scoped.entities.async_get_or_create(
        "sensor", "modbus_tank", "tank-1-level", suggested_object_id="Cistern level"
    )
    await scoped.entities.async_update("sensor.cistern_level", disabled_by="user")
    level, volume = TankSensor(LEVEL, 1.0), TankSensor(VOLUME, 5.0)
    volume.enabled_by_default = False
    platform = EntityPlatform(scoped, "modbus_tank")
    await platform.add_entities([level, volume])

    assert scoped.states.get("sensor.cistern_level") is None
    assert scoped.states.get("sensor.cistern_volume") is None
    assert scoped.entities.get("sensor.cistern_volume").disabled_by == "integration"
    assert level.calls == [] and platform.entities == {}

    await scoped.entities.async_update("sensor.cistern_level", disabled_by=None)
    await settle(scoped)
    assert state_of(scoped, "sensor.cistern_level")[0] == "1.00"  # type: ignore[index]
    await scoped.entities.async_update("sensor.cistern_level", disabled_by="user")
    await settle(scoped)
    assert scoped.states.get("sensor.cistern_level") is None
    assert level.calls == ["added:1.00", "will_remove"]
    level.write_state()  # a late poll result after disabling writes nothing
    assert scoped.states.get("sensor.cistern_level") is None


async def test_disabled_device_hides_its_entities(scoped: ScopedHub) -> None:
    level = TankSensor(LEVEL, 1.0)
    await EntityPlatform(scoped, "modbus_tank").add_entities([level])
    assert level.device_entry is not None
    await scoped.devices.async_update(level.device_entry.id, disabled_by="user")
    await settle(scoped)
    assert scoped.states.get("sensor.cistern_level") is None
    assert level.calls == ["added:1.00", "will_remove"]


async def test_user_rename_shows_as_friendly_name_and_entity_id_moves(scoped: ScopedHub) -> None:
    level = TankSensor(LEVEL, 1.0)
    await EntityPlatform(scoped, "modbus_tank").add_entities([level])
    await scoped.entities.async_update("sensor.cistern_level", name="Water in the cistern")
    assert state_of(scoped, "sensor.cistern_level")[1]["friendly_name"] == "Water in the cistern"  # type: ignore[index]

    await scoped.entities.async_update("sensor.cistern_level", new_entity_id="sensor.water")
    assert scoped.states.get("sensor.cistern_level") is None
    level.value = 2.0
    level.write_state()
    assert state_of(scoped, "sensor.water")[0] == "2.00"  # type: ignore[index]
    assert level.entity_id == "sensor.water"

    await scoped.devices.async_update(level.device_entry.id, name_by_user="Rooftop")  # type: ignore[union-attr]
    await scoped.entities.async_update("sensor.water", name=None)
    assert state_of(scoped, "sensor.water")[1]["friendly_name"] == "Rooftop Level"  # type: ignore[index]


async def test_unload_removes_states_but_keeps_registry_entries(scoped: ScopedHub, hub: Hub) -> None:
    level, volume = TankSensor(LEVEL, 1.0), TankSensor(VOLUME, 2.0)
    await EntityPlatform(scoped, "modbus_tank").add_entities([level, volume])
    await scoped.entities.async_update("sensor.cistern_level", name="Renamed")
    assert len(hub.states) == 2

    await scoped.scope.close()
    assert len(hub.states) == 0
    assert (level.calls, volume.calls) == (["added:1.00", "will_remove"], ["added:2.0", "will_remove"])
    assert {e.entity_id for e in hub.entities.all()} == {"sensor.cistern_level", "sensor.cistern_volume"}

    again = hub.scoped("modbus_tank")  # set up again: same ids, user name kept
    fresh = TankSensor(LEVEL, 3.0)
    await EntityPlatform(again, "modbus_tank").add_entities([fresh])
    state, attributes = state_of(again, "sensor.cistern_level")  # type: ignore[misc]
    assert (state, attributes["friendly_name"]) == ("3.00", "Renamed")
    await again.scope.close()


async def test_removed_device_takes_its_live_entities_away(scoped: ScopedHub) -> None:
    level = TankSensor(LEVEL, 1.0)
    other = TankSensor(VOLUME, 1.0, device={"identifiers": {("modbus_tank", "tank-2")}, "name": "Gas"})
    other.unique_id = "tank-2-volume"
    platform = EntityPlatform(scoped, "modbus_tank")
    await platform.add_entities([level, other])
    await scoped.devices.async_remove(level.device_entry.id)  # type: ignore[union-attr]
    await settle(scoped)
    assert scoped.states.get("sensor.cistern_level") is None
    assert scoped.states.get("sensor.gas_volume") is not None
    assert list(platform.entities) == ["sensor.gas_volume"]


async def test_bad_entities_are_refused(scoped: ScopedHub) -> None:
    platform = EntityPlatform(scoped, "modbus_tank")
    nameless = TankSensor(LEVEL)
    nameless.unique_id = None
    with pytest.raises(ValueError, match="needs a domain and a unique_id"):
        await platform.add_entities([TankSensor(VOLUME), nameless])
    assert scoped.entities.all() == []  # checked before anything was registered
    with pytest.raises(ValueError, match="state_class must be one of"):
        EntityDescription(key="x", state_class="sometimes")
    await scoped.scope.close()
    with pytest.raises(RuntimeError, match="unloaded"):
        await platform.add_entities([TankSensor(LEVEL)])


async def test_platform_needs_loaded_registries(tmp_path: Path) -> None:
    hub = Hub(tmp_path, clock=ManualClock())
    with pytest.raises(RuntimeError, match="registries are not loaded"):
        EntityPlatform(hub.scoped("x"), "x")


async def test_entity_ids_stable_across_restart_through_the_platform(tmp_path: Path) -> None:
    async def run_once(name: str) -> str | None:
        hub = Hub(tmp_path / "cfg", clock=ManualClock())
        await hub.start()
        try:
            await load_registries(hub)
            entity = TankSensor(EntityDescription(key="level", name=name), 1)
            await EntityPlatform(hub.scoped("modbus_tank"), "modbus_tank").add_entities([entity])
            return entity.entity_id
        finally:
            await hub.stop()

    assert await run_once("Level") == "sensor.cistern_level"
    assert await run_once("Water height") == "sensor.cistern_level"
