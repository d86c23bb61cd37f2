"""`hub demo`'s BLE climate sensors: three simulated beacons, a stand-in Bluetooth adapter and a proxy.

The beacons run the climate beacon firmware's encoder (firmware/sim/climate_day.py over
firmware/sim/climate_sim.py) with Querétaro's day: the living room and the bedroom (its packets
AES-CCM encrypted with a bindkey from secrets.yaml) are heard by the hub's "local adapter", the
roof only by a BLE proxy. The demo machine has no radio, so the adapter is `SimulatedAdapter`: a
factory with bleak's scanner signature that `Hub.bluetooth_scanner_factory` puts in place of
bleak, delivering bleak's real `BLEDevice` / `AdvertisementData`. The proxy is the proxy
firmware's simulator (`firmware.sim.proxy_sim.SimulatedProxy`) connecting to the hub's proxy
endpoint with its token. Everything runs on the hub's event loop and clock; hub/ never imports an
integration, so the adapter sensor is found by its registry entry, not through ble_climate.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.sim.climate_day import BEDROOM, LIVING_ROOM, ROOF, DayBeacon, Site
from firmware.sim.climate_sim import local_name_of
from firmware.sim.proxy_sim import SimulatedProxy

from .bus import EVENT_HUB_STARTED, EVENT_HUB_STOP, Event
from .config import ConfigErrors, load_configuration
from .demo_peer import DemoPeer

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger("hub.demo")

ADVERTISE_INTERVAL_S = 5.0  # a new reading (and packet id) from every beacon this often
PROXY_ID = "roof-proxy"
PROXY_TOKEN_SECRET = "roof_proxy_token"
PROXY_HOST = "127.0.0.1"
PROXY_FIRMWARE = "proxy_sim 1.0 (hub demo)"
ADAPTER = "hci0"
# The adapter sensor's name in the entity registry: the integration shows "scanning" like a real radio.
ADAPTER_LABEL = "Bluetooth adapter (simulated: no radio in hub demo)"
ADAPTER_UNIQUE_ID = f"adapter-{ADAPTER}"  # ble_climate's AdapterSensor: "adapter-<adapter>"
DOMAIN = "ble_climate"


@dataclass(frozen=True)
class DemoBeacon:
    """One climate beacon of the demo household: where it hangs and how the hub hears it."""

    address: str
    name: str
    area: str
    site: Site
    rssi: int  # dBm at its receiver, before a few dB of jitter
    battery_pct: float  # at the demo's start; it drains over the beacon's 400-day battery life
    bindkey_secret: str | None = None  # its packets are encrypted with this secret's key
    via_proxy: bool = False  # out of the adapter's range: heard only by the proxy


BEACONS = (
    DemoBeacon("A4:C1:38:4D:00:01", "Living room", "Sala", LIVING_ROOM, rssi=-58, battery_pct=86.0),
    DemoBeacon("A4:C1:38:4D:00:02", "Bedroom", "Recámara", BEDROOM, rssi=-76, battery_pct=71.0,
               bindkey_secret="bedroom_bindkey"),
    DemoBeacon("A4:C1:38:4D:00:03", "Roof", "Azotea", ROOF, rssi=-69, battery_pct=93.0, via_proxy=True),
)

CLIMATE_BLOCK = """
# BLE climate sensors: our climate beacon (firmware/climate_beacon) in the living room and the
# bedroom (encrypted, bindkey in secrets.yaml), heard by the hub's Bluetooth adapter, and on the
# roof, out of the adapter's range, heard by a BLE proxy. `hub demo` simulates all of it: the
# beacons' firmware with Querétaro's day, a stand-in for the adapter (there is no radio here; its
# sensor says so), and the proxy's firmware connecting to {host}:{port} with its token.
ble_climate:
  adapter: {adapter}
  devices:
{devices}
  proxies:
    - {{id: {proxy}, token: !secret {token}}}
  proxy_host: {host}
  proxy_port: {port}
"""


def _device_line(beacon: DemoBeacon) -> str:
    key = f", bindkey: !secret {beacon.bindkey_secret}" if beacon.bindkey_secret else ""
    return f'    "{beacon.address}": {{name: {beacon.name}, area: {beacon.area}{key}}}'


def climate_block(proxy_port: int) -> str:
    """The demo's `ble_climate:` block, its proxy endpoint on loopback `proxy_port`."""
    devices = "\n".join(_device_line(b) for b in BEACONS)
    return CLIMATE_BLOCK.format(adapter=ADAPTER, devices=devices, proxy=PROXY_ID, token=PROXY_TOKEN_SECRET,
                                host=PROXY_HOST, port=proxy_port)  # fmt: skip


def climate_secrets() -> str:
    """secrets.yaml lines: a new bindkey for each encrypted beacon and the proxy's token."""
    lines = ["", "# hub demo: the BLE climate beacons' bindkeys and the roof proxy's token, made for this directory."]
    lines += [f"{b.bindkey_secret}: {secrets.token_hex(16)}" for b in BEACONS if b.bindkey_secret]
    lines.append(f"{PROXY_TOKEN_SECRET}: {secrets.token_urlsafe(24)}")
    return "\n".join(lines) + "\n"


class SimulatedScanner:
    """One scanner the adapter made: bleak's `start()` / `stop()`; heard advertisements while started."""

    def __init__(self, callback: Callable[[Any, Any], None], adapter: str, scanning_mode: str) -> None:
        self.callback = callback
        self.adapter = adapter
        self.scanning_mode = scanning_mode
        self.scanning = False

    async def start(self) -> None:
        self.scanning = True

    async def stop(self) -> None:
        self.scanning = False


class SimulatedAdapter:
    """A stand-in for bleak's BleakScanner: `factory(detection_callback, adapter, scanning_mode)`.

    `hear()` is the radio: an advertisement becomes bleak's real `BLEDevice` and `AdvertisementData`
    (as BlueZ would report a legacy advertisement) for every scanner that is started. Unlike a real
    adapter it hears only what the demo hands it, never fails to start, and accepts passive mode.
    """

    def __init__(self) -> None:
        self.scanners: list[SimulatedScanner] = []

    def __call__(self, detection_callback: Callable[[Any, Any], None], adapter: str,
                 scanning_mode: str) -> SimulatedScanner:  # fmt: skip
        scanner = SimulatedScanner(detection_callback, adapter, scanning_mode)
        self.scanners.append(scanner)
        return scanner

    def hear(self, advert: tuple[str, bytes, dict[str, bytes]], rssi: int) -> int:
        """Deliver one advertisement (address, AD payload, service data) to the running scanners."""
        from bleak.backends.device import BLEDevice
        from bleak.backends.scanner import AdvertisementData

        running = [s for s in self.scanners if s.scanning]
        if not running:
            return 0
        address, payload, service_data = advert
        name = local_name_of(payload)
        device = BLEDevice(address, name, None)
        data = AdvertisementData(local_name=name, manufacturer_data={}, service_data=service_data, service_uuids=[],
                                 tx_power=None, rssi=rssi, platform_data=())  # fmt: skip
        for scanner in running:
            scanner.callback(device, data)
        return len(running)


@dataclass(frozen=True)
class _Setup:
    """What the configuration says about the demo's beacons and proxy (secrets resolved)."""

    bindkeys: dict[str, bytes]
    proxy: tuple[str, int, str] | None  # host, port, token


def _climate_configured(config_dir: Path) -> _Setup | None:
    """The `ble_climate:` block's bindkeys and the demo proxy's endpoint and token (blocking file I/O)."""
    try:
        config = load_configuration(config_dir)
    except ConfigErrors:
        return None  # the hub reports them with file and line
    block = config.get(DOMAIN)
    if not isinstance(block, dict):
        return None
    devices = block.get("devices")
    bindkeys: dict[str, bytes] = {}
    for address, device in (devices if isinstance(devices, dict) else {}).items():
        key = device.get("bindkey") if isinstance(device, dict) else None
        try:
            bindkeys[str(address).upper()] = bytes.fromhex(str(key))  # str(): a !secret value is a SecretStr
        except ValueError:
            continue  # no key, or a bad one (the hub reports it)
    proxies = block.get("proxies")
    ours = [p for p in proxies if isinstance(p, dict) and p.get("id") == PROXY_ID] if isinstance(proxies, list) else []
    port = block.get("proxy_port")
    proxy = None
    if ours and "token" in ours[0] and isinstance(port, int) and port > 0:
        host = str(block.get("proxy_host", PROXY_HOST))
        proxy = (PROXY_HOST if host in ("0.0.0.0", "::") else host, port, str(ours[0]["token"]))
    return _Setup(bindkeys, proxy)


class DemoClimate(DemoPeer):
    """The demo's BLE climate peers on the hub's loop: the beacons, the stand-in adapter and the roof proxy.

    `start()` reads the `ble_climate:` block (bindkeys, the proxy's port and token). `attach(hub)`,
    before `hub.start()`, puts the simulated adapter in bleak's place; once the hub has started (its
    proxy endpoint listens), the proxy connects and every beacon advertises every `interval` seconds
    of the hub's clock. `broadcast()` is one such round. The hub's stop ends the advertising;
    `stop()` closes the proxy. Without a `ble_climate:` block (a directory written before the demo
    had one) it does nothing.
    """

    def __init__(self, config_dir: Path, *, interval: float = ADVERTISE_INTERVAL_S, seed: int = 1,
                 proxy_batch_interval: float = 0.1) -> None:  # fmt: skip
        self.config_dir = config_dir
        self.interval = interval
        self.seed = seed
        self.adapter = SimulatedAdapter()
        self.beacons: dict[str, DayBeacon] = {}  # address -> beacon, made when the hub has started
        self.proxy: SimulatedProxy | None = None
        self._batch_interval = proxy_batch_interval
        self._setup: _Setup | None = None
        self._hub: Hub | None = None
        self._timer: Any = None
        self._closing: asyncio.Task[None] | None = None
        self._unlisten: list[Callable[[], None]] = []

    async def start(self) -> None:
        self._setup = await asyncio.to_thread(_climate_configured, self.config_dir)
        if self._setup is None:
            _LOGGER.info("No BLE climate sensors in this demo: %s has no ble_climate block (a directory written "
                         "before the demo had them; start from a new one)", self.config_dir)  # fmt: skip

    def attach(self, hub: Hub) -> None:
        """Before `hub.start()`: the simulated adapter instead of bleak; the beacons once it has started."""
        if self._setup is None:
            return
        self._hub = hub
        hub.bluetooth_scanner_factory = self.adapter
        self._unlisten += [hub.bus.listen_once(EVENT_HUB_STARTED, self._hub_started),
                           hub.bus.listen_once(EVENT_HUB_STOP, self._hub_stopping)]  # fmt: skip

    def _hub_started(self, _event: Event) -> None:
        hub, setup = self._hub, self._setup
        assert hub is not None and setup is not None
        start = hub.clock.now()
        for b in BEACONS:
            self.beacons[b.address] = DayBeacon(b.address, b.site, start=start, tz=hub.time_zone, seed=self.seed,
                                                 bindkey=setup.bindkeys.get(b.address),
                                                 battery_start_pct=b.battery_pct)  # fmt: skip
        if setup.proxy is not None:
            host, port, token = setup.proxy
            self.proxy = SimulatedProxy(host, port, proxy_id=PROXY_ID, token=token, firmware=PROXY_FIRMWARE,
                                        batch_interval=self._batch_interval)  # fmt: skip
            self.proxy.start()
        hub.create_task(self._label_adapter(hub), "demo: label the simulated Bluetooth adapter")
        self._timer = hub.clock.every(self.interval, self.broadcast)
        _LOGGER.info("Simulated BLE climate beacons every %g s: %s", self.interval, self._describe())
        self.broadcast()

    def _describe(self) -> str:
        setup = self._setup
        parts = []
        for b in BEACONS:
            encrypted = " (encrypted)" if setup is not None and b.address in setup.bindkeys else ""
            if not b.via_proxy:
                parts.append(f"{b.name}{encrypted} on the simulated adapter")
            elif setup is not None and setup.proxy is not None:
                parts.append(f"{b.name}{encrypted} through proxy {PROXY_ID} to {setup.proxy[0]}:{setup.proxy[1]}")
            else:
                parts.append(f"{b.name} unheard (no proxy {PROXY_ID} configured)")
        return "; ".join(parts)

    async def _label_adapter(self, hub: Hub) -> None:
        """Name the adapter sensor as simulated, as a resident could; a name the user gave is kept."""
        registry = hub.entities
        entry = registry.get_by_unique_id(DOMAIN, ADAPTER_UNIQUE_ID) if registry is not None else None
        if entry is not None and entry.name is None:
            await registry.async_update(entry.entity_id, name=ADAPTER_LABEL)

    def broadcast(self) -> None:
        """Every beacon advertises once now: a new reading and packet id, to whichever receiver hears it."""
        hub = self._hub
        if hub is None:
            return
        now = hub.clock.now()
        specs = {b.address: b for b in BEACONS}
        for address, beacon in self.beacons.items():
            spec = specs[address]
            advert = beacon.advertise(now)  # the beacon sends whether anyone listens or not
            rssi = spec.rssi + random.Random(f"{self.seed}:{address}:{now.timestamp():.3f}:rssi").randint(-3, 3)
            if not spec.via_proxy:
                self.adapter.hear(advert, rssi)
            elif self.proxy is not None:
                self.proxy.feed(address, advert[1], rssi)

    def _hub_stopping(self, _event: Event) -> None:
        """The hub begins to stop: no more advertisements, and the proxy hangs up before the endpoint closes."""
        self._stop_advertising()
        # A proxy link the endpoint has to cancel ends in an asyncio error log on Python 3.11 (the
        # streams callback asks a cancelled handler for its exception); a proxy that leaves first does not.
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            self._closing = asyncio.get_running_loop().create_task(proxy.stop(), name="demo: roof proxy stop")

    def _stop_advertising(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    async def stop(self) -> None:
        """Stop advertising and close the proxy's connection."""
        self._stop_advertising()
        for unlisten in self._unlisten:
            unlisten()
        self._unlisten.clear()
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            await proxy.stop()
        closing, self._closing = self._closing, None
        if closing is not None:
            await closing


__all__ = [
    "ADAPTER_LABEL",
    "ADVERTISE_INTERVAL_S",
    "BEACONS",
    "PROXY_ID",
    "DemoBeacon",
    "DemoClimate",
    "SimulatedAdapter",
    "climate_block",
    "climate_secrets",
]
