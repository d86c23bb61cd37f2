"""RS-485 Modbus tank-level sensors (serial RTU and TCP gateways).

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` builds one transport and one
`BusCoordinator` per bus, the tank entities (sensor.py), and starts polling. Nothing here imports
pymodbus at import time: transports are built in `transport.build_transport` during setup.
"""

from __future__ import annotations

from typing import Any

from .config import CONFIG_SCHEMA, build_tank, resolve_profile

__all__ = ["CONFIG_SCHEMA", "async_setup", "async_unload"]

DATA_KEY = "modbus_tank"


async def async_setup(hub: Any, config: dict[str, Any], *, transport_factory: Any = None) -> None:
    """Build a coordinator per bus, add the entities, start polling; everything is owned by `hub`'s scope."""
    from .coordinator import BusCoordinator
    from .sensor import async_setup_platform
    from .transport import build_transport

    factory = transport_factory or build_transport
    coordinators: list[BusCoordinator] = []
    tanks: dict[str, Any] = {}
    for bus in config["buses"]:
        transport = factory(bus)
        coordinator = BusCoordinator(hub, bus["name"], transport,
                                     baudrate=bus["baudrate"] if bus["type"] == "serial" else None)  # fmt: skip
        for sensor in bus["tanks"]:
            key = f"{bus['name']}:{sensor['unit_id']}"
            coordinator.add_slave(
                key, sensor["unit_id"], resolve_profile(config, sensor["profile"]),
                sensor["scan_interval"].total_seconds(),
                failures_before_unavailable=sensor["failures_before_unavailable"],
            )  # fmt: skip
            tanks[key] = (build_tank(sensor["tank"]), sensor["name"])
        coordinators.append(coordinator)
        hub.on_unload(coordinator.stop)
    hub.modbus_tank_coordinators = coordinators  # tests and diagnostics read the coordinators here
    await async_setup_platform(hub, coordinators, tanks)
    for coordinator in coordinators:
        await coordinator.start()


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: each coordinator's stop (closing its port) is registered with on_unload."""
