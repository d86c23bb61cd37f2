"""A simulated household for `hub demo`: climate sensors, a door, a gas and a water-leak detector.

It exists so the dashboard has something to show on a machine with no hardware. The tanks
are no longer here: `hub demo` runs our tank firmware in a simulator and the real
`modbus_tank` integration reads it (hub/demo.py).
Every value moves on the hub's clock, so tests drive it with a manual clock; the hazard
detectors stay clear until the `demo.trip` service sets them (docs/operations.md, "Alarms in the demo").
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub.entities import EntityPlatform
from hub.errors import ServiceValidationError
from hub.scope import ScopedHub
from hub.services import ServiceCall

from .entities import DemoHazard, build_entities

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("update_interval", default=5.0): vol.All(vol.Coerce(float), vol.Range(min=0.5, max=3600)),
    }
)

# In YAML write `"on": false`: unquoted, YAML 1.1 reads the key `on` as true.
TRIP_SCHEMA = vol.Schema({vol.Required("entity_id"): str, vol.Optional("on", default=True): bool})


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

    hazards = {e.entity_id: e for e in entities if isinstance(e, DemoHazard) and e.entity_id is not None}

    def trip(call: ServiceCall) -> None:
        hazard = hazards.get(call.data["entity_id"])
        if hazard is None:
            raise ServiceValidationError("demo.trip", ("entity_id",),
                                         f"not a demo detector; one of {', '.join(sorted(hazards))}")  # fmt: skip
        hazard.trip(call.data["on"], call.context)

    # Residents may call it: trying the alarm from the dashboard is what the demo is for.
    hub.services.register("demo", "trip", trip, TRIP_SCHEMA, resident=True,
                          description="Make a demo gas or water-leak detector detect (on) or clear (off)")  # fmt: skip
