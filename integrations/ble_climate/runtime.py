"""What ble_climate's setup built, and how paired devices and proxies (config entries) join it while it runs.

A paired sensor becomes a device exactly like one under `devices:` (same entities, same unique
ids), owned by its entry's scope; a paired proxy's token is handed to the running proxy endpoint
(started then if no YAML proxy needed it). Unloading the entry undoes both. YAML wins: an entry for
an address or proxy id that configuration.yaml already has is logged and sets nothing up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hub.entities import Entity, EntityPlatform

from .config import DEVICE_ENTRY_SCHEMA, PROXY_ENTRY_SCHEMA
from .discovery import DiscoveryFeed
from .manager import BleClimateManager, ReadingListener, SourceSignal
from .models import Reading
from .proxy import ProxyServer
from .scanner import LocalScanner
from .sensor import DOMAIN, AdapterSensor, BleDevice, ProxySensor

if TYPE_CHECKING:
    from hub.config_entries import ConfigEntry
    from hub.scope import ScopedHub

WAITING_FOR_PROXY = "waiting for the proxy to connect with its new token"


class ProxyEndpointOff(Exception):
    """A paired proxy cannot connect: the hub's proxy endpoint is turned off (proxy_port: 0)."""


def reading_listener(hub: ScopedHub, manager: BleClimateManager, device: BleDevice,
                     add_later: Callable[[list[Any]], None]) -> ReadingListener:  # fmt: skip
    """Readings of one device into its entities; values it had not sent before become new entities."""

    def listener(reading: Reading, signal: SourceSignal) -> None:
        new = device.apply(reading, signal)
        now = hub.clock.time()
        device.refresh(True, manager.tracker.interval(device.address), reading.time, now)
        device.announce_refill(hub.bus)  # after the writes: a listener reading the level sees the new one
        if new:
            add_later(new)

    return listener


class Runtime:
    """What setup built, for entries, tests and diagnostics: manager, scanner, proxy server, entities."""

    def __init__(
        self,
        *,
        manager: BleClimateManager,
        scanner: LocalScanner,
        server: ProxyServer | None,
        devices: dict[str, BleDevice],
        adapter: AdapterSensor,
        proxies: dict[str, ProxySensor],
        feed: DiscoveryFeed,
        yaml_proxies: frozenset[str],
    ) -> None:
        self.manager = manager
        self.scanner = scanner
        self.server = server
        self.devices = devices  # every device with entities: YAML ones and paired ones
        self.adapter = adapter
        self.proxies = proxies  # every proxy's sensor: YAML ones and paired ones
        self.feed = feed
        self.yaml_devices = frozenset(devices)
        self.yaml_proxies = yaml_proxies
        self._server_lock = asyncio.Lock()

    def is_configured(self, address: str) -> bool:
        """The address has entities here now (configuration.yaml or a loaded entry)."""
        return address.upper() in self.manager.devices

    # -- config entries -------------------------------------------------------------------

    async def setup_entry(self, hub: ScopedHub, entry: ConfigEntry) -> None:
        """A paired device or proxy, owned by the entry's scope `hub`."""
        if "proxy_id" in entry.data:
            await self._setup_proxy(hub, entry, PROXY_ENTRY_SCHEMA(dict(entry.data)))
        else:
            await self._setup_device(hub, entry, DEVICE_ENTRY_SCHEMA(dict(entry.data)))

    async def _setup_device(self, hub: ScopedHub, entry: ConfigEntry, data: Mapping[str, Any]) -> None:
        address: str = data["address"]
        if address in self.yaml_devices:
            hub.logger.warning("ble_climate: %s is configured in configuration.yaml; config entry %r is not used",
                               address, entry.title)  # fmt: skip
            return
        block = {key: data[key] for key in ("name", "bindkey") if key in data}
        device = BleDevice(address, block)
        platform = EntityPlatform(hub, DOMAIN, config_entry_id=entry.entry_id)

        def add_later(entities: list[Any]) -> None:
            hub.create_task(platform.add_entities(entities), f"ble_climate add entities {address}")

        def drop() -> None:
            if self.devices.get(address) is device:
                del self.devices[address]
            self.manager.unconfigure(address)
            self.feed.forget(address)  # still heard: listed again at once

        hub.on_unload(drop)
        self.devices[address] = device
        self.manager.configure(address, block)
        self.manager.listen(address, reading_listener(hub, self.manager, device, add_later))
        await platform.add_entities(device.entities)
        tracker, now = self.manager.tracker, hub.clock.time()
        device.refresh(tracker.available(address, now), tracker.interval(address), tracker.last_seen(address), now)

    async def _setup_proxy(self, hub: ScopedHub, entry: ConfigEntry, data: Mapping[str, Any]) -> None:
        proxy_id: str = data["proxy_id"]
        if proxy_id in self.yaml_proxies:
            hub.logger.warning("ble_climate: proxy %r is configured in configuration.yaml; config entry %r is not "
                               "used", proxy_id, entry.title)  # fmt: skip
            return
        server = self.server
        if server is None:
            raise ProxyEndpointOff("the BLE proxy endpoint is off (ble_climate: proxy_port is 0)")
        server.add_token(proxy_id, data["token"], waiting=WAITING_FOR_PROXY)

        async def drop() -> None:
            self.proxies.pop(proxy_id, None)
            await server.remove_token(proxy_id)

        hub.on_unload(drop)
        async with self._server_lock:
            if not server.listening:  # no YAML proxy needed it so far; a port in use retries the entry
                await server.start()
        sensor = self.proxies[proxy_id] = ProxySensor(server.status(proxy_id))
        entities: list[Entity] = [sensor]
        await EntityPlatform(hub, DOMAIN, config_entry_id=entry.entry_id).add_entities(entities)


__all__ = ["WAITING_FOR_PROXY", "ProxyEndpointOff", "Runtime", "reading_listener"]
