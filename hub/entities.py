"""Entities: the thin objects integrations expose, and the platform that adds them to the hub.

An entity turns a native value into a state string plus attributes; its metadata (name,
unit, device class ...) is data in an `EntityDescription`. An `EntityPlatform`, one per
integration or config entry, registers each entity's device and entity id, writes its
first state, follows the user's registry changes and removes the states on unload.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypedDict

from .bus import Context, Event
from .registry import (
    EVENT_DEVICE_REGISTRY_UPDATED,
    EVENT_ENTITY_REGISTRY_UPDATED,
    DeviceEntry,
    DeviceRegistry,
    EntityRegistry,
    RegistryEntry,
)
from .states import STATE_UNAVAILABLE, STATE_UNKNOWN

if TYPE_CHECKING:
    from .scope import ScopedHub

_LOGGER = logging.getLogger(__name__)

STATE_CLASSES = (None, "measurement", "total", "total_increasing")
ENTITY_CATEGORIES = (None, "config", "diagnostic")


class DeviceInfo(TypedDict, total=False):
    """What an entity says about its device; the keyword arguments of `DeviceRegistry.async_get_or_create`."""

    identifiers: Iterable[tuple[str, str]]
    connections: Iterable[tuple[str, str]]
    manufacturer: str | None
    model: str | None
    name: str | None
    sw_version: str | None
    hw_version: str | None
    via_device: tuple[str, str] | None


@dataclass(frozen=True, kw_only=True)
class EntityDescription:
    """Static metadata of one kind of entity; integrations keep tables of these."""

    key: str
    name: str | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    state_class: str | None = None
    icon: str | None = None
    entity_category: str | None = None
    suggested_display_precision: int | None = None

    def __post_init__(self) -> None:
        if self.state_class not in STATE_CLASSES:
            raise ValueError(f"{self.key}: state_class must be one of {STATE_CLASSES}, got {self.state_class!r}")
        if self.entity_category not in ENTITY_CATEGORIES:
            raise ValueError(
                f"{self.key}: entity_category must be one of {ENTITY_CATEGORIES}, got {self.entity_category!r}"
            )


class _Described:
    """Metadata read from `entity_description`, unless the entity (or its class) sets it plainly.

    A non-data descriptor: assigning `self.name = ...` on an instance shadows it.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.field = name

    def __get__(self, obj: Entity | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        description = obj.entity_description
        return None if description is None else getattr(description, self.field)


class Entity:
    """Base of every entity: subclasses set `domain`, `unique_id` and override `native_value`."""

    domain: str = ""  # entity domain such as "sensor"; set by each entity class
    unique_id: str | None = None
    entity_description: EntityDescription | None = None
    has_entity_name: bool = True  # name is relative to the device ("Level" on device "Cistern")
    enabled_by_default: bool = True  # False: registered disabled by the integration (noisy diagnostics)
    device_info: DeviceInfo | None = None
    suggested_object_id: str | None = None  # entity id wanted when first registered (default: from the name)
    extra_attributes: Mapping[str, Any] = MappingProxyType({})

    name = _Described()
    device_class = _Described()
    unit_of_measurement = _Described()
    state_class = _Described()
    icon = _Described()
    entity_category = _Described()
    suggested_display_precision = _Described()

    # Set when the entity is added to a platform.
    hub: ScopedHub | None = None
    platform: EntityPlatform | None = None
    entity_id: str | None = None
    registry_entry: RegistryEntry | None = None
    device_entry: DeviceEntry | None = None
    context: Context | None = None  # context of the next state writes (e.g. the service call that caused them)

    available: bool = True
    unavailable_reason: str | None = None

    @property
    def native_value(self) -> Any:
        """The current value in the entity's own unit; None when not known yet."""
        return None

    @property
    def friendly_name(self) -> str | None:
        """User's registry name, else device name + entity name, else the entity name."""
        if self.registry_entry is not None and self.registry_entry.name:
            return self.registry_entry.name
        name = self.name
        if not self.has_entity_name or self.device_entry is None:
            return name
        device_name = self.device_entry.display_name
        if not name:
            return device_name
        return f"{device_name} {name}" if device_name else name

    def state_text(self) -> str:
        """The state string: 'unavailable', 'unknown', or the formatted native value."""
        if not self.available:
            return STATE_UNAVAILABLE
        value = self.native_value
        if value is None:
            return STATE_UNKNOWN
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float):
            if not math.isfinite(value):
                return STATE_UNKNOWN
            precision = self.suggested_display_precision
            if precision is not None:
                text = f"{value:.{precision}f}"
                # Rounding -0.004 to two places gives "-0.00"; show it as "0.00".
                return text[1:] if text.startswith("-") and float(text) == 0 else text
        return str(value)

    def state_attributes(self) -> dict[str, Any]:
        """Extra attributes, then the standard ones (they win), then the unavailable reason."""
        attributes = dict(self.extra_attributes)
        standard = {
            "friendly_name": self.friendly_name,
            "unit_of_measurement": self.unit_of_measurement,
            "device_class": self.device_class,
            "state_class": self.state_class,
            "icon": self.icon,
            # So the dashboard can keep diagnostics off the overview without asking the registry.
            "entity_category": self.entity_category,
        }
        attributes.update((k, v) for k, v in standard.items() if v is not None)
        if not self.available and self.unavailable_reason:
            attributes["unavailable_reason"] = self.unavailable_reason
        return attributes

    def write_state(self) -> None:
        """Publish the current state; a no-op until the platform has added the entity."""
        if self.hub is None or self.entity_id is None:
            return
        self.hub.states.set(self.entity_id, self.state_text(), self.state_attributes(), context=self.context)

    def set_available(self, available: bool, reason: str | None = None) -> None:
        """Mark the entity reachable or not (with a reason the dashboard shows) and write the state."""
        reason = None if available else reason
        if available == self.available and reason == self.unavailable_reason:
            return
        self.available = available
        self.unavailable_reason = reason
        self.write_state()

    async def async_added(self) -> None:
        """Called after the first state is written; start subscriptions here."""

    async def async_will_remove(self) -> None:
        """Called before the state is removed (unload, disable, deletion); release resources here."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.entity_id or self.unique_id}>"


class EntityPlatform:
    """Adds one integration's (or config entry's) entities to the hub and removes them on unload."""

    def __init__(self, hub: ScopedHub, platform: str, config_entry_id: str | None = None) -> None:
        if hub.entities is None or hub.devices is None:
            raise RuntimeError("the entity and device registries are not loaded; is the hub started?")
        self.hub = hub
        self.platform = platform
        self.config_entry_id = config_entry_id
        self._registry: EntityRegistry = hub.entities
        self._devices: DeviceRegistry = hub.devices
        self.entities: dict[str, Entity] = {}  # live entities by entity id
        self._disabled: dict[str, Entity] = {}  # registered but disabled, by entity id; added if enabled
        self._closed = False
        hub.bus.listen(EVENT_ENTITY_REGISTRY_UPDATED, self._on_entity_registry_updated)
        hub.bus.listen(EVENT_DEVICE_REGISTRY_UPDATED, self._on_device_registry_updated)
        hub.on_unload(self.remove_all)

    async def add_entities(self, entities: Iterable[Entity]) -> None:
        """Register devices and entity ids, then write each enabled entity's first state."""
        if self._closed:
            raise RuntimeError(f"entity platform {self.platform} is unloaded")
        new = list(entities)
        for entity in new:  # check everything first so a bad entity adds nothing
            if not entity.domain or not entity.unique_id:
                raise ValueError(f"{entity!r} of {self.platform} needs a domain and a unique_id")
        for entity in new:
            await self._register(entity)
            if entity.entity_id in self.entities or entity.entity_id in self._disabled:
                _LOGGER.error("%s: entity %s was added twice; ignoring the copy", self.platform, entity.entity_id)
            elif self._is_disabled(entity):
                self._disabled[entity.entity_id] = entity  # type: ignore[index]
            else:
                await self._add(entity)

    async def async_remove_entity(self, entity_id: str) -> None:
        """Take one entity off the hub (its registry entry stays)."""
        self._disabled.pop(entity_id, None)
        entity = self.entities.get(entity_id)
        if entity is not None:
            await self._remove(entity)

    async def remove_all(self) -> None:
        """Unload: every entity's `async_will_remove` runs and its state goes; registry entries stay."""
        self._closed = True
        self._disabled.clear()
        for entity in list(self.entities.values()):
            await self._remove(entity)

    async def _register(self, entity: Entity) -> None:
        device = None
        if entity.device_info:
            device = await self._devices.async_get_or_create(config_entry_id=self.config_entry_id, **entity.device_info)
        entity.device_entry = device
        suggestion = entity.suggested_object_id or entity.name
        if entity.suggested_object_id is None and entity.has_entity_name and device is not None and device.display_name:
            suggestion = f"{device.display_name} {entity.name or ''}"
        entry = await self._registry.async_get_or_create(
            entity.domain,
            self.platform,
            entity.unique_id,  # type: ignore[arg-type]
            suggested_object_id=suggestion,
            original_name=entity.name,
            device_id=device.id if device is not None else None,
            config_entry_id=self.config_entry_id,
            disabled_by=None if entity.enabled_by_default else "integration",
        )
        entity.registry_entry = entry
        entity.entity_id = entry.entity_id
        entity.platform = self

    def _is_disabled(self, entity: Entity) -> bool:
        return bool(
            (entity.registry_entry is not None and entity.registry_entry.disabled)
            or (entity.device_entry is not None and entity.device_entry.disabled_by)
        )

    async def _add(self, entity: Entity) -> None:
        assert entity.entity_id is not None
        entity.hub = self.hub
        self.entities[entity.entity_id] = entity
        entity.write_state()
        try:
            await entity.async_added()
        except Exception:  # one broken entity must not stop its siblings
            _LOGGER.exception("%s: async_added of %s failed", self.platform, entity.entity_id)

    async def _remove(self, entity: Entity) -> None:
        assert entity.entity_id is not None
        self.entities.pop(entity.entity_id, None)
        try:
            await entity.async_will_remove()
        except Exception:
            _LOGGER.exception("%s: async_will_remove of %s failed", self.platform, entity.entity_id)
        self.hub.states.remove(entity.entity_id)
        entity.hub = None  # later writes (a late poll result) become no-ops

    def _on_entity_registry_updated(self, event: Event) -> None:
        entity_id = event.data.get("old_entity_id", event.data["entity_id"])
        entity = self.entities.get(entity_id) or self._disabled.get(entity_id)
        if entity is None or self._closed:
            return
        if event.data["action"] == "remove":
            self.hub.create_task(self.async_remove_entity(entity_id), f"remove {entity_id}")
            return
        entry = self._registry.get(event.data["entity_id"])
        if entry is not None:
            self._apply(entity, entry=entry)

    def _on_device_registry_updated(self, event: Event) -> None:
        if self._closed or event.data["action"] != "update":
            return
        device = self._devices.get(event.data["device_id"])
        for entity in [*self.entities.values(), *self._disabled.values()]:
            if device is not None and entity.device_entry is not None and entity.device_entry.id == device.id:
                self._apply(entity, device=device)

    def _apply(self, entity: Entity, *, entry: RegistryEntry | None = None, device: DeviceEntry | None = None) -> None:
        """Apply a registry change to a live or disabled entity: move, disable, enable or rewrite it."""
        old_id = entity.entity_id
        assert old_id is not None
        was_live = old_id in self.entities
        entity.registry_entry = entry or entity.registry_entry
        entity.device_entry = device or entity.device_entry
        new_id = entity.registry_entry.entity_id if entity.registry_entry is not None else old_id
        if new_id != old_id:
            if was_live:
                self.entities[new_id] = self.entities.pop(old_id)
                self.hub.states.remove(old_id)
            else:
                self._disabled[new_id] = self._disabled.pop(old_id)
            entity.entity_id = new_id
        disabled = self._is_disabled(entity)
        if was_live and disabled:
            # Take it off the live map now so a quick re-enable cannot race the removal task.
            self._disabled[new_id] = self.entities.pop(new_id)
            self.hub.create_task(self._remove(entity), f"disable {new_id}")
        elif not was_live and not disabled:
            del self._disabled[new_id]
            self.hub.create_task(self._add(entity), f"enable {new_id}")
        elif was_live:
            entity.write_state()
