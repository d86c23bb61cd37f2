"""Entity and device registries: stable ids, user changes, device matching, persistence, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.bus import Event
from hub.clock import ManualClock
from hub.entities import DeviceInfo
from hub.registry import (
    EVENT_DEVICE_REGISTRY_UPDATED,
    EVENT_ENTITY_REGISTRY_UPDATED,
    DeviceRegistry,
    EntityIdInvalid,
    EntityRegistry,
    RegistryError,
    UnknownEntry,
    normalize_mac,
    slugify,
)
from hub.runtime import Hub


class Registries:
    """A started hub with loaded registries and the registry events it fired."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.entities = EntityRegistry(hub.db, hub.bus, clock_time=hub.clock.time)
        self.devices = DeviceRegistry(hub.db, hub.bus, self.entities, clock_time=hub.clock.time)
        self.events: list[Event] = []
        hub.bus.listen(EVENT_ENTITY_REGISTRY_UPDATED, self.events.append)
        hub.bus.listen(EVENT_DEVICE_REGISTRY_UPDATED, self.events.append)

    async def load(self) -> Registries:
        await self.entities.load()
        await self.devices.load()
        return self

    def event_data(self, event_type: str) -> list[dict[str, Any]]:
        return [dict(e.data) for e in self.events if e.event_type == event_type]


async def start(path: Path) -> Registries:
    hub = Hub(path, clock=ManualClock())
    await hub.start()
    return await Registries(hub).load()


@pytest.fixture
async def reg(tmp_path: Path) -> AsyncIterator[Registries]:
    registries = await start(tmp_path)
    yield registries
    await registries.hub.stop()


async def restart(reg: Registries, path: Path) -> Registries:
    await reg.hub.stop()
    return await start(path)


async def level(reg: Registries, unique_id: str = "tank-1-level", name: str = "Cistern level") -> Any:
    return await reg.entities.async_get_or_create(
        "sensor", "modbus_tank", unique_id, suggested_object_id=name, original_name=name
    )


async def test_entity_id_is_stable_across_restart_even_when_the_name_changes(reg: Registries, tmp_path: Path) -> None:
    first = await level(reg)
    assert first.entity_id == "sensor.cistern_level"
    assert first.created == reg.hub.clock.time()

    reg = await restart(reg, tmp_path)
    try:
        again = await level(reg, name="Rooftop tank level")
        assert again.entity_id == "sensor.cistern_level"
        assert again.original_name == "Rooftop tank level"  # the integration's name follows the device
        assert reg.entities.get_by_unique_id("modbus_tank", "tank-1-level") == again
    finally:
        await reg.hub.stop()


async def test_new_entity_ids_are_slugified_and_made_unique(reg: Registries) -> None:
    ids = [(await level(reg, f"u{i}", "Nivel del Tanque (m³)")).entity_id for i in range(3)]
    assert ids == ["sensor.nivel_del_tanque_m3", "sensor.nivel_del_tanque_m3_2", "sensor.nivel_del_tanque_m3_3"]
    no_name = await reg.entities.async_get_or_create("sensor", "modbus_tank", "7", suggested_object_id=None)
    assert no_name.entity_id == "sensor.modbus_tank_7"


async def test_concurrent_creations_never_share_an_entity_id(reg: Registries) -> None:
    same = await asyncio.gather(level(reg, "a"), level(reg, "a"), level(reg, "b"))
    assert same[0] == same[1]
    assert [e.entity_id for e in same] == ["sensor.cistern_level", "sensor.cistern_level", "sensor.cistern_level_2"]


def test_slugify_and_mac_normalisation() -> None:
    assert slugify("  Gas -- Tank #2 ") == "gas_tank_2"
    assert slugify("¡¿!") == ""
    assert normalize_mac("AA-BB-CC-DD-EE-0F") == "aa:bb:cc:dd:ee:0f"
    assert normalize_mac("aabb.ccdd.ee0f") == "aa:bb:cc:dd:ee:0f"
    assert normalize_mac("AABBCCDDEE0F") == "aa:bb:cc:dd:ee:0f"
    assert normalize_mac("Not-A-Mac") == "not-a-mac"


async def test_user_changes_are_persisted(reg: Registries, tmp_path: Path) -> None:
    entry = await level(reg)
    await reg.entities.async_update(
        entry.entity_id, name="Water left", new_entity_id="sensor.water_left", disabled_by="user", area="roof"
    )
    assert reg.entities.get("sensor.cistern_level") is None
    reg = await restart(reg, tmp_path)
    try:
        moved = reg.entities.get("sensor.water_left")
        assert moved is not None
        assert (moved.name, moved.disabled_by, moved.area) == ("Water left", "user", "roof")
        assert moved.unique_id == "tank-1-level"
        assert (await level(reg)).entity_id == "sensor.water_left"
        # The freed id goes to the next new entity that suggests it.
        assert (await level(reg, "tank-2-level")).entity_id == "sensor.cistern_level"
        cleared = await reg.entities.async_update("sensor.water_left", name="", disabled_by=None)
        assert (cleared.name, cleared.disabled_by) == (None, None)
    finally:
        await reg.hub.stop()


@pytest.mark.parametrize(
    ("new_entity_id", "message"),
    [
        ("Sensor.Water", "cannot rename sensor.cistern_level to 'Sensor.Water': an entity id is domain.object_id"),
        ("sensor.water__left", "in lowercase letters, digits and single underscores"),
        ("sensorwater", "an entity id is domain.object_id"),
        ("binary_sensor.water", "the domain must stay 'sensor'"),
        ("sensor.other", "cannot rename sensor.cistern_level to sensor.other: that entity id is taken"),
    ],
)
async def test_invalid_new_entity_id_is_rejected_with_a_clear_message(
    reg: Registries, new_entity_id: str, message: str
) -> None:
    entry = await level(reg)
    await level(reg, "other", "Other")
    with pytest.raises(EntityIdInvalid, match=message.replace("(", r"\(").replace(".", r"\.")):
        await reg.entities.async_update(entry.entity_id, new_entity_id=new_entity_id)
    assert reg.entities.get(entry.entity_id) == entry


async def test_bad_requests_raise_registry_errors(reg: Registries) -> None:
    await level(reg)
    with pytest.raises(UnknownEntry, match="sensor.nope is not in the entity registry"):
        await reg.entities.async_update("sensor.nope", name="x")
    with pytest.raises(RegistryError, match="disabled_by must be one of"):
        await reg.entities.async_update("sensor.cistern_level", disabled_by="someone")
    with pytest.raises(RegistryError, match="unique ids must be unique within an integration"):
        await reg.entities.async_get_or_create("binary_sensor", "modbus_tank", "tank-1-level", suggested_object_id="x")
    with pytest.raises(RegistryError, match="invalid entity domain"):
        await reg.entities.async_get_or_create("Sensor", "modbus_tank", "z", suggested_object_id="x")
    with pytest.raises(RegistryError, match="at least one identifier or connection"):
        await reg.devices.async_get_or_create(name="ghost")
    with pytest.raises(UnknownEntry):
        await reg.devices.async_remove("nope")


async def test_entity_registry_events(reg: Registries) -> None:
    entry = await level(reg)
    await level(reg)  # unchanged: no event
    await reg.entities.async_update(entry.entity_id, name="Water")
    await reg.entities.async_update(entry.entity_id, name="Water")  # unchanged: no event
    await reg.entities.async_update(entry.entity_id, new_entity_id="sensor.water")
    await reg.entities.async_remove("sensor.water")
    assert reg.event_data(EVENT_ENTITY_REGISTRY_UPDATED) == [
        {"action": "create", "entity_id": "sensor.cistern_level"},
        {"action": "update", "entity_id": "sensor.cistern_level", "changes": {"name": None}},
        {
            "action": "update",
            "entity_id": "sensor.water",
            "old_entity_id": "sensor.cistern_level",
            "changes": {"entity_id": "sensor.cistern_level"},
        },
        {"action": "remove", "entity_id": "sensor.water"},
    ]
    assert reg.entities.all() == []
    assert reg.entities.get_by_unique_id("modbus_tank", "tank-1-level") is None


GATEWAY: DeviceInfo = {"identifiers": {("modbus_tank", "gw-1")}, "name": "RS-485 gateway", "manufacturer": "Maderas"}


async def test_device_matched_by_connection_and_firmware_update_persisted(reg: Registries, tmp_path: Path) -> None:
    device = await reg.devices.async_get_or_create(
        identifiers={("modbus_tank", "tank-1")},
        connections={("mac", "AA-BB-CC-DD-EE-FF"), ("serial", "/dev/ttyUSB0:3")},
        manufacturer="Maderas", model="TS-1", name="Cistern", sw_version="1.0.0", hw_version="rev B",
    )
    assert ("mac", "aa:bb:cc:dd:ee:ff") in device.connections
    # Same MAC written another way, a new identifier, and upgraded firmware: the same device.
    same = await reg.devices.async_get_or_create(
        identifiers={("ble_climate", "beacon-9")}, connections={("mac", "aabb.ccdd.eeff")}, sw_version="1.1.0"
    )
    assert same.id == device.id
    assert same.sw_version == "1.1.0"
    assert (same.model, same.name, same.hw_version) == ("TS-1", "Cistern", "rev B")  # None keeps the old values
    assert same.identifiers == {("modbus_tank", "tank-1"), ("ble_climate", "beacon-9")}
    assert reg.event_data(EVENT_DEVICE_REGISTRY_UPDATED)[-1] == {
        "action": "update",
        "device_id": device.id,
        "changes": {"identifiers": device.identifiers, "sw_version": "1.0.0"},
    }
    await reg.devices.async_update(device.id, name_by_user="Rooftop cistern", area="roof")

    reg = await restart(reg, tmp_path)
    try:
        loaded = reg.devices.get_by_connection(("mac", "AA:BB:CC:DD:EE:FF"))
        assert loaded is not None and loaded.id == device.id
        assert loaded.sw_version == "1.1.0"
        assert (loaded.name_by_user, loaded.display_name, loaded.area) == ("Rooftop cistern", "Rooftop cistern", "roof")
        assert loaded.connections == device.connections
        assert reg.devices.get_by_identifier(("ble_climate", "beacon-9")) == loaded
        assert reg.devices.get_by_connection(("serial", "/dev/ttyUSB0:3")) == loaded
        assert reg.devices.all() == [loaded]
    finally:
        await reg.hub.stop()


async def test_via_device_link_and_removal(reg: Registries, tmp_path: Path) -> None:
    gateway = await reg.devices.async_get_or_create(**GATEWAY)
    tank = await reg.devices.async_get_or_create(
        identifiers={("modbus_tank", "tank-1")}, name="Cistern", via_device=("modbus_tank", "gw-1")
    )
    assert tank.via_device_id == gateway.id
    orphan = await reg.devices.async_get_or_create(
        identifiers={("modbus_tank", "tank-2")}, via_device=("modbus_tank", "unknown")
    )
    assert orphan.via_device_id is None

    await reg.devices.async_remove(gateway.id)
    tank_after = reg.devices.get(tank.id)
    assert tank_after is not None and tank_after.via_device_id is None
    assert reg.devices.get_by_identifier(("modbus_tank", "gw-1")) is None
    reg = await restart(reg, tmp_path)
    try:
        reloaded = reg.devices.get(tank.id)
        assert reloaded is not None and reloaded.via_device_id is None
        assert reg.devices.get(gateway.id) is None
    finally:
        await reg.hub.stop()


async def test_removing_a_device_removes_its_entities(reg: Registries) -> None:
    tank = await reg.devices.async_get_or_create(identifiers={("modbus_tank", "tank-1")}, name="Cistern")
    other = await reg.devices.async_get_or_create(identifiers={("modbus_tank", "tank-2")}, name="Gas")
    for key in ("level", "volume"):
        await reg.entities.async_get_or_create(
            "sensor", "modbus_tank", f"tank-1-{key}", suggested_object_id=f"Cistern {key}", device_id=tank.id
        )
    kept = await reg.entities.async_get_or_create(
        "sensor", "modbus_tank", "tank-2-level", suggested_object_id="Gas level", device_id=other.id,
        config_entry_id="entry-1",
    )
    assert [e.entity_id for e in reg.entities.entries_for_device(tank.id)] == [
        "sensor.cistern_level", "sensor.cistern_volume",
    ]
    assert reg.entities.entries_for_config_entry("entry-1") == [kept]
    reg.events.clear()

    await reg.devices.async_remove(tank.id)
    assert reg.entities.all() == [kept]
    assert reg.devices.all() == [other]
    assert [(e.event_type, e.data["action"]) for e in reg.events] == [
        (EVENT_ENTITY_REGISTRY_UPDATED, "remove"),
        (EVENT_ENTITY_REGISTRY_UPDATED, "remove"),
        (EVENT_DEVICE_REGISTRY_UPDATED, "remove"),
    ]
    assert reg.events[-1].data == {"action": "remove", "device_id": tank.id}


async def test_device_events_and_user_changes(reg: Registries) -> None:
    gateway = await reg.devices.async_get_or_create(**GATEWAY)
    assert await reg.devices.async_get_or_create(**GATEWAY) == gateway  # nothing changed: no write, no event
    updated = await reg.devices.async_update(gateway.id, name_by_user="Gateway", disabled_by="user")
    assert (updated.display_name, updated.disabled_by) == ("Gateway", "user")
    with pytest.raises(RegistryError, match="disabled_by must be one of"):
        await reg.devices.async_update(gateway.id, disabled_by="nobody")
    assert reg.event_data(EVENT_DEVICE_REGISTRY_UPDATED) == [
        {"action": "create", "device_id": gateway.id},
        {"action": "update", "device_id": gateway.id, "changes": {"name_by_user": None, "disabled_by": None}},
    ]
