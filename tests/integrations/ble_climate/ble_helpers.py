"""A fake bleak scanner, bleak's real objects from simulated beacons, and ble_climate set up on the hub fixture.

`hub_site` starts a whole hub (configuration.yaml, HTTP API, an admin's token) whose ble_climate
hears through the fake scanner: what the pairing tests drive through /api/discovered.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware.sim.climate_sim import ROOF, ROOM, SimulatedClimateBeacon, local_name_of
from firmware.sim.proxy_sim import SimulatedProxy
from hub.auth import ROLE_ADMIN
from hub.clock import ManualClock
from hub.runtime import Hub
from integrations import ble_climate

ROOF_ADDR = "A4:C1:38:00:00:01"
ROOM_ADDR = "A4:C1:38:00:00:02"
BINDKEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
PROXY_ID, PROXY_TOKEN = "garage-proxy", "proxy-token-0042-secret"


def bleak_adv(
    address: str,
    *,
    service_data: dict[str, bytes] | None = None,
    manufacturer_data: dict[int, bytes] | None = None,
    service_uuids: list[str] | None = None,
    name: str | None = None,
    rssi: int = -60,
) -> tuple[BLEDevice, AdvertisementData]:
    """bleak's real BLEDevice / AdvertisementData for a golden advertisement (service UUIDs default to the data's)."""
    device = BLEDevice(address, name, None)
    data = AdvertisementData(
        local_name=name, manufacturer_data=manufacturer_data or {}, service_data=service_data or {},
        service_uuids=service_uuids if service_uuids is not None else list(service_data or {}),
        tx_power=None, rssi=rssi, platform_data=(),
    )  # fmt: skip
    return device, data


def bleak_pair(advert: tuple[str, bytes, dict[str, bytes]], rssi: int = -60) -> tuple[BLEDevice, AdvertisementData]:
    """bleak's real BLEDevice / AdvertisementData for a simulated beacon's (address, payload, service data)."""
    address, payload, service_data = advert
    name = local_name_of(payload)
    device = BLEDevice(address, name, None)
    data = AdvertisementData(
        local_name=name, manufacturer_data={}, service_data=service_data, service_uuids=[],
        tx_power=None, rssi=rssi, platform_data=(),
    )  # fmt: skip
    return device, data


class FakeScanner:
    """Behaves like bleak's BleakScanner as the integration uses it: start() / stop(), callback on detection."""

    def __init__(self, factory: FakeScannerFactory, callback: Any, adapter: str, mode: str) -> None:
        self.factory = factory
        self.callback = callback
        self.adapter = adapter
        self.mode = mode
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        failure = self.factory.next_failure(self.mode)
        if failure is not None:
            raise failure
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        self.started = False

    def deliver(self, device: BLEDevice, data: AdvertisementData) -> None:
        assert self.started, "bleak calls back only while scanning"
        self.callback(device, data)


@dataclass
class FakeScannerFactory:
    """`scanner_factory(detection_callback, adapter, scanning_mode)`; `failures` are raised by start() in turn."""

    failures: list[BaseException] = field(default_factory=list)
    passive_failure: BaseException | None = None  # raised by every passive start (mode not supported)
    made: list[FakeScanner] = field(default_factory=list)

    def __call__(self, callback: Any, adapter: str, scanning_mode: str) -> FakeScanner:
        scanner = FakeScanner(self, callback, adapter, scanning_mode)
        self.made.append(scanner)
        return scanner

    def next_failure(self, mode: str) -> BaseException | None:
        if mode == "passive" and self.passive_failure is not None:
            return self.passive_failure
        return self.failures.pop(0) if self.failures else None

    @property
    def running(self) -> FakeScanner:
        live = [s for s in self.made if s.started]
        assert len(live) == 1, f"expected one running scanner, got {len(live)}"
        return live[0]


def free_port() -> int:
    """A loopback port free right now (proxy_port 0 means "off" in this integration)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def beacon(address: str = ROOF_ADDR, *, clock: ManualClock, bindkey: bytes | None = None, trigger: bool = False,
           room: bool = False, counter_start: int = 0) -> SimulatedClimateBeacon:  # fmt: skip
    """A simulated climate beacon starting now on the hub's clock (roof curve unless `room`)."""
    return SimulatedClimateBeacon(address, ROOM if room else ROOF, start=clock.now(), bindkey=bindkey, trigger=trigger,
                                  counter_start=counter_start)  # fmt: skip


@dataclass
class BleSetup:
    """ble_climate set up on the hub fixture with a fake scanner; helpers to feed it and read states."""

    hub: Hub
    factory: FakeScannerFactory = field(default_factory=FakeScannerFactory)
    scoped: Any = None
    runtime: Any = None

    @property
    def clock(self) -> ManualClock:
        clock = self.hub.clock
        assert isinstance(clock, ManualClock)
        return clock

    async def start(self, **block: Any) -> Any:
        config = {"devices": {ROOF_ADDR: {"name": "Roof", "area": "Roof"}}, "proxy_port": 0, **block}
        self.scoped = self.hub.scoped("ble_climate")
        await ble_climate.async_setup(self.scoped, ble_climate.CONFIG_SCHEMA(config), scanner_factory=self.factory)
        self.runtime = ble_climate.get_runtime(self.scoped)
        await self.clock.advance(0)  # let the scanner task start
        return self.runtime

    async def stop(self) -> None:
        if self.scoped is not None:
            await self.scoped.scope.close()
            self.scoped = None

    def hear(self, sim: SimulatedClimateBeacon, now: datetime | None = None, rssi: int = -60) -> None:
        """The local adapter hears one advertisement of `sim` now."""
        self.factory.running.deliver(*bleak_pair(sim.advertise(now or self.clock.now()), rssi))

    def state(self, entity_id: str) -> str:
        state = self.hub.states.get(entity_id)
        assert state is not None, f"{entity_id} has no state"
        return state.state

    def attrs(self, entity_id: str) -> dict[str, Any]:
        state = self.hub.states.get(entity_id)
        assert state is not None, f"{entity_id} has no state"
        return dict(state.attributes)


@pytest.fixture
async def ble(hub: Hub) -> AsyncIterator[BleSetup]:
    setup = BleSetup(hub)
    yield setup
    await setup.stop()


ADMIN_PASSWORD = "correct horse battery"


@dataclass
class HubSite:
    """A started hub with ble_climate on a fake scanner, its API on loopback and an admin's bearer token."""

    hub: Hub
    factory: FakeScannerFactory
    session: aiohttp.ClientSession
    base: str
    token: str

    @property
    def clock(self) -> ManualClock:
        clock = self.hub.clock
        assert isinstance(clock, ManualClock)
        return clock

    @property
    def runtime(self) -> Any:
        return ble_climate.get_runtime(self.hub.integrations.scoped_hub("ble_climate"))

    async def api(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        """Call the API as the admin; asserts the status and returns the JSON body (None for 204)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as response:
            assert response.status == status, f"{method} {path}: {response.status} {await response.text()}"
            return await response.json() if response.status != 204 else None

    def deliver(self, pair: tuple[BLEDevice, AdvertisementData]) -> None:
        """The local adapter hears this advertisement now."""
        self.factory.running.deliver(*pair)

    def hear(self, sim: SimulatedClimateBeacon, rssi: int = -60) -> None:
        """The local adapter hears one advertisement of `sim` at the hub's now."""
        self.deliver(bleak_pair(sim.advertise(self.clock.now()), rssi))

    def state(self, entity_id: str) -> Any:
        return self.hub.states.get(entity_id)


@contextlib.asynccontextmanager
async def hub_site(config_dir: Path, clock: ManualClock, ble_block: dict[str, Any]) -> AsyncIterator[HubSite]:
    """A whole hub on `clock` whose configuration.yaml has `ble_climate: ble_block`; stopped afterwards."""
    port = free_port()
    config = {"http": {"server_host": "127.0.0.1", "server_port": port}, "ble_climate": ble_block}
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    factory = FakeScannerFactory()
    hub = Hub(config_dir, clock=clock)
    hub.bluetooth_scanner_factory = factory
    await hub.start()
    session: aiohttp.ClientSession | None = None
    try:
        assert not hub.config_errors, hub.config_errors
        await hub.auth.create_user("ana", "Ana", ADMIN_PASSWORD, ROLE_ADMIN)
        token = (await hub.auth.login("ana", ADMIN_PASSWORD, address="127.0.0.1")).access_token
        session = aiohttp.ClientSession()
        await clock.advance(0)  # let the scanner task start
        yield HubSite(hub, factory, session, f"http://127.0.0.1:{port}", token)
    finally:
        if session is not None:
            await session.close()
        await hub.stop()


@pytest.fixture
async def sims() -> AsyncIterator[list[SimulatedProxy]]:
    """Proxy simulators a test starts (append them); all stopped afterwards."""
    made: list[SimulatedProxy] = []
    yield made
    for sim in made:
        await sim.stop()
