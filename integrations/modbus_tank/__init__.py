"""RS-485 Modbus tank-level sensors (serial RTU and TCP gateways).

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` builds one transport and one
`BusCoordinator` per bus, the tank entities (sensor.py), and starts polling. Nothing here imports
pymodbus at import time: transports are built in `transport.build_transport` during setup.

What setup built is kept on one `ModbusTankRuntime`, stored on the integration's ScopedHub;
`get_runtime(scoped)` returns it (tests, diagnostics, later the API through
`hub.integrations.scoped_hub("modbus_tank")`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import CONFIG_SCHEMA, build_tank, resolve_profile

if TYPE_CHECKING:
    from hub.entities import EntityPlatform

    from .coordinator import BusCoordinator
    from .sensor import TankState

__all__ = [
    "CONFIG_SCHEMA", "ModbusTankRuntime", "async_setup", "async_setup_entry", "async_unload", "async_unload_entry",
    "get_runtime",
]  # fmt: skip

DATA_KEY = "modbus_tank"
RUNTIME_ATTR = "modbus_tank_runtime"  # attribute of the integration's ScopedHub


@dataclass(eq=False)
class ModbusTankRuntime:
    """What one setup of the integration runs: coordinators by bus name, tank models by slave key."""

    coordinators: dict[str, BusCoordinator] = field(default_factory=dict)
    tanks: dict[str, TankState] = field(default_factory=dict)  # "bus:unit" -> model behind the entities
    platform: EntityPlatform | None = None

    def coordinator(self, bus: str) -> BusCoordinator:
        return self.coordinators[bus]


def get_runtime(hub: Any) -> ModbusTankRuntime:
    """The runtime `async_setup` stored on this ScopedHub; LookupError when it was not set up there."""
    runtime = getattr(hub, RUNTIME_ATTR, None)
    if isinstance(runtime, ModbusTankRuntime):
        return runtime
    raise LookupError(f"modbus_tank is not set up on {getattr(hub, 'name', hub)!r}")


def _coordinator(hub: Any, config: dict[str, Any], bus: dict[str, Any], factory: Any) -> tuple[Any, dict[str, Any]]:
    """One bus's coordinator with its slaves added, and the tank definitions by slave key."""
    from .coordinator import BusCoordinator

    coordinator = BusCoordinator(hub, bus["name"], factory(bus),
                                 baudrate=bus["baudrate"] if bus["type"] == "serial" else None)  # fmt: skip
    tanks: dict[str, Any] = {}
    for sensor in bus["tanks"]:
        key = f"{bus['name']}:{sensor['unit_id']}"
        coordinator.add_slave(
            key, sensor["unit_id"], resolve_profile(config, sensor["profile"]), sensor["scan_interval"].total_seconds(),
            failures_before_unavailable=sensor["failures_before_unavailable"],
        )  # fmt: skip
        tanks[key] = (build_tank(sensor["tank"]), sensor["name"], sensor.get("area"),
                      sensor["refill_settle"].total_seconds())  # fmt: skip
    hub.on_unload(coordinator.stop)
    return coordinator, tanks


async def async_setup(hub: Any, config: dict[str, Any], *, transport_factory: Any = None) -> None:
    """Build a coordinator per bus, add the entities, start polling; everything is owned by `hub`'s scope."""
    from .sensor import async_setup_platform
    from .transport import build_transport

    factory = transport_factory or build_transport
    coordinators: list[BusCoordinator] = []
    tanks: dict[str, Any] = {}
    for bus in config["buses"]:
        coordinator, bus_tanks = _coordinator(hub, config, bus, factory)
        coordinators.append(coordinator)
        tanks.update(bus_tanks)
    runtime = ModbusTankRuntime(coordinators={c.name: c for c in coordinators})
    setattr(hub, RUNTIME_ATTR, runtime)
    runtime.platform, runtime.tanks = await async_setup_platform(hub, coordinators, tanks)
    for coordinator in coordinators:
        await coordinator.start()


async def async_setup_entry(hub: Any, entry: Any) -> None:
    """A paired Wi-Fi tank sensor: its own TCP bus and tank entities, owned by the entry's scope."""
    from .pairing import entry_config
    from .sensor import async_setup_platform
    from .transport import build_transport

    runtime = get_runtime(hub.integrations.scoped_hub(DATA_KEY))
    config = CONFIG_SCHEMA(entry_config(entry.data))
    bus = config["buses"][0]
    if bus["name"] in runtime.coordinators:
        raise ValueError(f"a Modbus bus named {bus['name']!r} is already set up")
    coordinator, tanks = _coordinator(hub, config, bus, build_transport)
    runtime.coordinators[coordinator.name] = coordinator
    hub.on_unload(lambda: runtime.coordinators.pop(coordinator.name, None))
    _platform, models = await async_setup_platform(hub, [coordinator], tanks, config_entry_id=entry.entry_id)
    runtime.tanks.update(models)
    hub.on_unload(lambda: [runtime.tanks.pop(key, None) for key in models])
    await coordinator.start()


async def async_unload_entry(hub: Any, entry: Any) -> None:
    """Nothing beyond the entry's scope: it stops the bus and removes the entities."""


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: each coordinator's stop (closing its port) is registered with on_unload."""
