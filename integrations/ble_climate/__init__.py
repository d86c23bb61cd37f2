"""BLE climate sensors: the local adapter (bleak) and the BLE proxies, one pipeline, one set of entities.

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` starts the proxy endpoint
(proxy.py), the entities (sensor.py), the manager's pipeline (manager.py) and the local scanner
(scanner.py), all owned by the integration's scope. A missing adapter is a status on the
"Bluetooth adapter" sensor, retried in the background; the rest of the hub, and the proxies, run on.
A Mopeka with a `tank:` block feeds the shared tank model (hub.tanks) and gets the same tank
entities and `tank_refilled` event as a modbus_tank tank.
The design is in docs/ble_climate.md.
"""

from __future__ import annotations

from typing import Any

from .config import CONFIG_SCHEMA

__all__ = ["CONFIG_SCHEMA", "REFRESH_S", "async_setup", "async_unload", "get_runtime"]

RUNTIME_ATTR = "ble_climate_runtime"  # attribute of the integration's ScopedHub
REFRESH_S = 10.0  # availability and last-seen check
COUNTERS_EVERY = 6  # the adapter sensor's counters are rewritten every 6th check (a minute)
EXPIRE_EVERY = 360  # unheard devices are forgotten once an hour


class Runtime:
    """What setup built, for tests and diagnostics: manager, scanner, proxy server, entities."""

    def __init__(self, manager: Any, scanner: Any, server: Any, devices: dict[str, Any], adapter: Any,
                 proxies: dict[str, Any]) -> None:  # fmt: skip
        self.manager = manager
        self.scanner = scanner
        self.server = server
        self.devices = devices
        self.adapter = adapter
        self.proxies = proxies


def get_runtime(hub: Any) -> Runtime:
    """The Runtime that setup stored on this ScopedHub; LookupError if none."""
    runtime = getattr(hub, RUNTIME_ATTR, None)
    if runtime is None:
        raise LookupError(f"ble_climate is not set up on {getattr(hub, 'name', hub)!r}")
    return runtime


async def async_setup(hub: Any, config: dict[str, Any], *, scanner_factory: Any = None) -> None:
    """Proxy endpoint, entities, pipeline and scanner; `scanner_factory` replaces bleak in tests."""
    from hub.entities import EntityPlatform

    from .manager import BleClimateManager
    from .proxy import ProxyServer
    from .scanner import LocalScanner, bleak_scanner_factory
    from .sensor import AdapterSensor, BleDevice, ProxySensor

    manager = BleClimateManager(config["devices"])
    platform = EntityPlatform(hub, "ble_climate")
    devices = {address: BleDevice(address, block) for address, block in config["devices"].items()}
    adapter = AdapterSensor(config["adapter"], manager)

    server: ProxyServer | None = None
    proxies: dict[str, ProxySensor] = {}
    if config["proxy_port"] and config["proxies"]:
        server = ProxyServer(
            tokens={p["id"]: p["token"] for p in config["proxies"]}, clock=hub.clock,
            on_advertisement=manager.handle, host=config["proxy_host"], port=config["proxy_port"],
            on_status=lambda status: proxies[status.proxy_id].show(status),
        )  # fmt: skip
        proxies = {proxy_id: ProxySensor(server.status(proxy_id)) for proxy_id in server.proxy_ids}
        # Listening first: a port in use fails the setup (not ready, retried) before anything else starts.
        await server.start()
        hub.on_unload(server.stop)
    elif config["proxies"]:
        hub.logger.warning("ble_climate: proxy_port is 0, the %d configured proxies cannot connect",
                           len(config["proxies"]))  # fmt: skip

    def add_later(entities: list[Any]) -> None:
        hub.create_task(platform.add_entities(entities), "ble_climate add entities")

    def on_reading(device: BleDevice) -> Any:
        def listener(reading: Any, signal: Any) -> None:
            new = device.apply(reading, signal)
            now = hub.clock.time()
            device.refresh(True, manager.tracker.interval(device.address), reading.time, now)
            device.announce_refill(hub.bus)  # after the writes: a listener reading the level sees the new one
            if new:
                add_later(new)

        return listener

    for address, device in devices.items():
        manager.listen(address, on_reading(device))
    await platform.add_entities([adapter, *proxies.values(), *(e for d in devices.values() for e in d.entities)])
    await _suggest_areas(hub, devices)

    ticks = 0

    def refresh() -> None:
        nonlocal ticks
        ticks += 1
        now = hub.clock.time()
        tracker = manager.tracker
        for address, device in devices.items():
            device.refresh(tracker.available(address, now), tracker.interval(address), tracker.last_seen(address), now)
            best = manager.merger.best(address)
            if best is not None and device.heard:
                device.signal.value, device.source = best.rssi, best.source
                device.signal.write_state()
        if server is not None:
            for proxy_id, sensor in proxies.items():
                sensor.show(server.status(proxy_id))
        if ticks % COUNTERS_EVERY == 0:
            adapter.write_state()
        if ticks % EXPIRE_EVERY == 0:
            manager.expire(now)

    for device in devices.values():
        device.refresh(False, None, None, hub.clock.time())
    hub.clock.every(REFRESH_S, refresh)

    scanner = LocalScanner(
        clock=hub.clock, on_advertisement=manager.handle, on_status=adapter.show,
        factory=scanner_factory or hub.bluetooth_scanner_factory or bleak_scanner_factory, adapter=config["adapter"],
        scanning_mode=config["scanning_mode"],
    )  # fmt: skip
    adapter.show(scanner.status)
    setattr(hub, RUNTIME_ATTR, Runtime(manager, scanner, server, devices, adapter, proxies))
    hub.create_task(scanner.run(), f"ble_climate scanner {config['adapter']}")
    hub.on_unload(scanner.stop)


async def _suggest_areas(hub: Any, devices: dict[str, Any]) -> None:
    """The configured area on a device the user has not placed yet (the user's choice wins after)."""
    for device in devices.values():
        entry = device.signal.device_entry
        if device.area and entry is not None and entry.area is None:
            await hub.devices.async_update(entry.id, area=device.area)


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: the scanner, the proxy server, timers and entities are released by it."""
