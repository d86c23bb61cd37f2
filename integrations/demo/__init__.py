"""A simulated household for `hub demo`: climate sensors and a door.

It exists so the dashboard has something to show on a machine with no hardware. The tanks
are no longer here: `hub demo` runs our tank firmware in a simulator and the real
`modbus_tank` integration reads it (hub/demo.py).
Every value moves on the hub's clock, so tests drive it with a manual clock.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub.entities import EntityPlatform
from hub.scope import ScopedHub

from .entities import build_entities

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("update_interval", default=5.0): vol.All(vol.Coerce(float), vol.Range(min=0.5, max=3600)),
    }
)


async def async_setup(hub: ScopedHub, config: dict[str, Any]) -> None:
    """Create the simulated devices and start moving their values."""
    platform = EntityPlatform(hub, "demo")
    entities, areas = build_entities(hub.clock, config)
    await platform.add_entities(entities)
    for entity in entities:
        device = entity.device_entry
        if device is not None and device.area is None and entity.unique_id in areas:
            await hub.devices.async_update(device.id, area=areas[entity.unique_id])

    def tick() -> None:
        for entity in entities:
            entity.tick()

    hub.clock.every(config["update_interval"], tick)
