"""BLE climate sensors: the local adapter (bleak) and the BLE proxies, one pipeline, one set of entities.

`CONFIG_SCHEMA` (config.py) validates the block; `async_setup` starts the proxy endpoint
(proxy.py), the entities (sensor.py), the manager's pipeline (manager.py) and the local scanner
(scanner.py), all owned by the integration's scope. A missing adapter is a status on the
"Bluetooth adapter" sensor, retried in the background; the rest of the hub, and the proxies, run on.
A Mopeka with a `tank:` block feeds the shared tank model (hub.tanks) and gets the same tank
entities and `tank_refilled` event as a modbus_tank tank. Recognised devices nobody configured are
offered to the Discovered list (discovery.py); pairing one, or a BLE proxy found over mDNS
(pairing.py), makes a config entry that joins the running integration (runtime.py).
The design is in docs/ble_climate.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import CONFIG_SCHEMA

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = [
    "CONFIG_SCHEMA",
    "REFRESH_S",
    "async_setup",
    "async_setup_entry",
    "async_unload",
    "async_unload_entry",
    "get_runtime",
]

DOMAIN = "ble_climate"
RUNTIME_ATTR = "ble_climate_runtime"  # attribute of the integration's ScopedHub
REFRESH_S = 10.0  # availability and last-seen check
COUNTERS_EVERY = 6  # the adapter sensor's counters are rewritten every 6th check (a minute)
EXPIRE_EVERY = 360  # unheard devices are forgotten once an hour


def get_runtime(hub: Any) -> Runtime:
    """The Runtime that setup stored on this ScopedHub; LookupError if none."""
    runtime = getattr(hub, RUNTIME_ATTR, None)
    if runtime is None:
        raise LookupError(f"ble_climate is not set up on {getattr(hub, 'name', hub)!r}")
    return runtime


async def async_setup(hub: Any, config: dict[str, Any], *, scanner_factory: Any = None) -> None:
    """Proxy endpoint, entities, pipeline and scanner; `scanner_factory` replaces bleak in tests."""
    from hub.entities import EntityPlatform

    from .discovery import DiscoveryFeed
    from .manager import BleClimateManager
    from .models import Advertisement
    from .proxy import ProxyServer, ProxyStatus
    from .runtime import Runtime, reading_listener
    from .scanner import LocalScanner, bleak_scanner_factory
    from .sensor import AdapterSensor, BleDevice, ProxySensor

    manager = BleClimateManager(config["devices"])
    platform = EntityPlatform(hub, DOMAIN)
    devices = {address: BleDevice(address, block) for address, block in config["devices"].items()}
    adapter = AdapterSensor(config["adapter"], manager)

    proxies: dict[str, ProxySensor] = {}  # paired proxies join and leave at runtime (runtime.py)

    def show_proxy(status: ProxyStatus) -> None:
        sensor = proxies.get(status.proxy_id)
        if sensor is not None:
            sensor.show(status)

    server: ProxyServer | None = None
    if config["proxy_port"]:
        server = ProxyServer(
            tokens={p["id"]: p["token"] for p in config["proxies"]}, clock=hub.clock,
            on_advertisement=manager.handle, host=config["proxy_host"], port=config["proxy_port"],
            on_status=show_proxy,
        )  # fmt: skip
        proxies.update({proxy_id: ProxySensor(server.status(proxy_id)) for proxy_id in server.proxy_ids})
        hub.on_unload(server.stop)
        if config["proxies"]:
            # Listening first: a port in use fails the setup (not ready, retried) before anything else starts.
            # Without YAML proxies it listens once a paired one needs it.
            await server.start()
    elif config["proxies"]:
        hub.logger.warning("ble_climate: proxy_port is 0, the %d configured proxies cannot connect",
                           len(config["proxies"]))  # fmt: skip

    def add_later(entities: list[Any]) -> None:
        hub.create_task(platform.add_entities(entities), "ble_climate add entities")

    for address, device in devices.items():
        manager.listen(address, reading_listener(hub, manager, device, add_later))
    await platform.add_entities([adapter, *proxies.values(), *(e for d in devices.values() for e in d.entities)])
    await _suggest_areas(hub, devices)

    def ready() -> bool:
        # Only the hub's own instance offers devices: pairing looks for this runtime on that instance
        # (and there is no pairing while the hub is still starting).
        integrations = hub.integrations
        return hub.pairing is not None and integrations is not None and integrations.scoped_hub(DOMAIN) is hub

    async def offer(found: Any, adv: Advertisement) -> None:
        await hub.pairing.bluetooth(found, service_uuids=adv.service_uuids, service_data_uuids=list(adv.service_data),
                                    manufacturer_ids=list(adv.manufacturer_data))  # fmt: skip

    feed = DiscoveryFeed(time=hub.clock.time, sink=offer, start_task=hub.create_task, ready=ready)
    manager.on_discovered = feed

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
            for address in manager.expire(now):
                feed.forget(address)

    for device in devices.values():
        device.refresh(False, None, None, hub.clock.time())
    hub.clock.every(REFRESH_S, refresh)

    scanner = LocalScanner(
        clock=hub.clock, on_advertisement=manager.handle, on_status=adapter.show,
        factory=scanner_factory or hub.bluetooth_scanner_factory or bleak_scanner_factory, adapter=config["adapter"],
        scanning_mode=config["scanning_mode"],
    )  # fmt: skip
    adapter.show(scanner.status)
    runtime = Runtime(manager=manager, scanner=scanner, server=server, devices=devices, adapter=adapter,
                      proxies=proxies, feed=feed, yaml_proxies=frozenset(p["id"] for p in config["proxies"]))  # fmt: skip
    setattr(hub, RUNTIME_ATTR, runtime)
    hub.create_task(scanner.run(), f"ble_climate scanner {config['adapter']}")
    hub.on_unload(scanner.stop)


async def _suggest_areas(hub: Any, devices: dict[str, Any]) -> None:
    """The configured area on a device the user has not placed yet (the user's choice wins after)."""
    for device in devices.values():
        entry = device.signal.device_entry
        if device.area and entry is not None and entry.area is None:
            await hub.devices.async_update(entry.id, area=device.area)


async def async_setup_entry(hub: Any, entry: Any) -> None:
    """A paired sensor or proxy (pairing.py) joins the running integration, owned by the entry's scope."""
    parent = hub.integrations.scoped_hub(DOMAIN)
    await get_runtime(parent).setup_entry(hub, entry)


async def async_unload_entry(hub: Any, entry: Any) -> None:
    """Nothing beyond the entry's scope: it drops the device or the proxy's token and removes the entities."""


async def async_unload(hub: Any) -> None:
    """Nothing beyond the scope: the scanner, the proxy server, timers and entities are released by it."""
