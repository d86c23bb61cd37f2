"""End to end through bleak's real BlueZ backend: BlueZ mocked on a private D-Bus, a real hub, the HTTP API.

An advertisement that BlueZ reports (InterfacesAdded, then PropertiesChanged on org.bluez.Device1)
goes through bleak's BleakScanner (the integration's default factory, nothing injected), the
pipeline and the entities, and is read back as states from GET /api/states/<entity_id>.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from ble_helpers import BINDKEY, ROOF_ADDR, ROOM_ADDR, free_port
from bluez_mock import BluezMock, forget_bleak_manager, missing_tools
from waiting import until

from firmware.sim.climate_sim import ROOF, ROOM, SimulatedClimateBeacon, local_name_of
from hub.auth import ROLE_ADMIN
from hub.clock import Clock, ManualClock, RealClock
from hub.runtime import Hub

ADAPTER = "sensor.bluetooth_adapter"
PASSWORD = "correct horse battery"
WAIT_S = 30.0  # real D-Bus round trips on a shared two-core machine
TOLERANCE = 0.051  # states show one decimal: 21.75 °C reads "21.8" (0.05 plus float noise)
PASSIVE_UNSUPPORTED = "passive scanning on Linux requires BlueZ >= 5.56"  # what bleak raises without the monitor API


class Site:
    """The private bus with BlueZ, a hub configured for two beacons, and an API client with an admin's token."""

    def __init__(self, bluez: BluezMock, config_dir: Path) -> None:
        self.bluez = bluez
        self.config_dir = config_dir
        self.hub: Hub | None = None
        self.session: aiohttp.ClientSession | None = None
        self.base = ""
        self.token = ""

    async def start_hub(self, clock: Clock | None = None) -> Hub:
        """The hub with http and ble_climate from configuration.yaml; bleak's own scanner (no factory injected)."""
        port = free_port()
        config = {
            "http": {"server_host": "127.0.0.1", "server_port": port},
            "ble_climate": {"devices": {ROOF_ADDR: {"name": "Roof"}, ROOM_ADDR: {"name": "Room", "bindkey": BINDKEY.hex()}}},
        }  # fmt: skip
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        self.hub = Hub(self.config_dir, clock=clock)
        await self.hub.start()
        assert self.hub.config_errors == [], self.hub.config_errors
        assert self.hub.http.running, self.hub.http.error
        assert self.hub.bluetooth_scanner_factory is None  # so ble_climate builds bleak's BleakScanner
        await self.hub.auth.create_user("ana", "Ana López", PASSWORD, ROLE_ADMIN)
        self.token = (await self.hub.auth.login("ana", PASSWORD, address="127.0.0.1")).access_token
        self.base = f"http://127.0.0.1:{port}"
        self.session = aiohttp.ClientSession()
        return self.hub

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        """GET /api/states/<entity_id> as the admin; None for a 404."""
        assert self.session is not None
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.session.get(f"{self.base}/api/states/{entity_id}", headers=headers) as response:
            if response.status == 404:
                return None
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body

    async def state_when(self, entity_id: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """The API's state of `entity_id` once `check` holds for it."""

        async def probe() -> dict[str, Any] | None:
            body = await self.state(entity_id)
            return body if body is not None and check(body) else None

        try:
            result: dict[str, Any] = await until(probe, what, timeout=WAIT_S)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; last {entity_id}: {await self.state(entity_id)}\n{self.bluez.logs()}"
            ) from None
        return result

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.hub is not None:
            await self.hub.stop()
            self.hub = None


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    """A private system bus (BlueZ not started yet) that bleak will find through DBUS_SYSTEM_BUS_ADDRESS."""
    reason = missing_tools()
    if reason is not None:
        pytest.skip(f"BlueZ end-to-end test needs {reason}")  # under CI=true tests/conftest.py fails a skip
    bluez = BluezMock()
    created = Site(bluez, tmp_path / "hub")
    try:
        address = await bluez.start(tmp_path, bluez=False)
        # Before bleak first connects: its BlueZ manager (one per event loop) reads the address then.
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        yield created
    finally:
        await created.stop()  # the hub first: bleak's scanner stops over the bus that is still there
        await forget_bleak_manager()
        await bluez.stop()


def beacons(start: datetime) -> tuple[SimulatedClimateBeacon, SimulatedClimateBeacon]:
    """Roof (plain BTHome) and Room (encrypted with the configured bindkey), as our climate beacon sends."""
    return (SimulatedClimateBeacon(ROOF_ADDR, ROOF, start=start),
            SimulatedClimateBeacon(ROOM_ADDR, ROOM, start=start, bindkey=BINDKEY))  # fmt: skip


def advert(sim: SimulatedClimateBeacon, when: datetime) -> tuple[tuple[int, int, int], str | None, dict[str, bytes]]:
    """(expected temperature cC, humidity c%, battery %), local name and service data of one advertisement."""
    expected = sim.reading_at(when)
    _, payload, service_data = sim.advertise(when)
    return expected, local_name_of(payload), service_data


def clearly_different(when: datetime, *sims: SimulatedClimateBeacon) -> datetime:
    """A later time of day at which every beacon's temperature and humidity differ by 0.5 or more from `when`."""
    for hours in range(3, 24):
        later = when + timedelta(hours=hours)
        if all(abs(s.reading_at(later)[i] - s.reading_at(when)[i]) >= 50 for s in sims for i in (0, 1)):
            return later
    raise AssertionError(f"the simulated day from {when} has no point clearly different from it")


def shows(expected: tuple[int, int, int]) -> Callable[[dict[str, Any]], bool]:
    """A check that a temperature state carries the expected reading."""
    return lambda body: (
        body["state"] not in ("unavailable", "unknown") and abs(float(body["state"]) - expected[0] / 100) <= TOLERANCE
    )


async def assert_reading(site: Site, slug: str, expected: tuple[int, int, int]) -> None:
    """Temperature, humidity and battery of one device through the API, as advertised."""
    temperature_cc, humidity_ch, battery = expected
    body = await site.state_when(f"sensor.{slug}_temperature", shows(expected), f"{slug} at {temperature_cc / 100} °C")
    assert body["attributes"]["unit_of_measurement"] == "°C"
    assert "problem" not in body["attributes"], body["attributes"]
    humidity = await site.state(f"sensor.{slug}_humidity")
    assert humidity is not None and float(humidity["state"]) == pytest.approx(humidity_ch / 100, abs=TOLERANCE)
    battery_state = await site.state(f"sensor.{slug}_battery")
    assert battery_state is not None and battery_state["state"] == str(battery)


@pytest.mark.parametrize("monitor_api", [True, False], ids=["passive", "no-monitor-api"])
async def test_an_advertisement_becomes_a_state_on_the_api(site: Site, monitor_api: bool) -> None:
    await site.bluez.start_bluez(monitor_api=monitor_api)
    await site.bluez.add_adapter("hci0", "Maderas")
    await site.start_hub(RealClock())

    adapter = await site.state_when(ADAPTER, lambda b: b["state"] == "scanning", "the adapter to scan")
    attrs = adapter["attributes"]
    assert attrs["adapter"] == "hci0" and attrs["attempts"] == 1
    if monitor_api:
        # bleak registered an AdvertisementMonitor with our or-patterns: BlueZ filters, nothing is asked for.
        assert (attrs["scanning_mode"], attrs["status"], attrs["warning"]) == ("passive", "scanning (passive)", None)
        (monitor,) = await site.bluez.method_calls("/org/bluez/hci0", "RegisterMonitor")
        assert str(monitor[0]).startswith("/org/bleak/")
        assert await site.bluez.method_calls("/org/bluez/hci0", "StartDiscovery") == []
    else:
        # A BlueZ without AdvertisementMonitorManager1 (no --experimental): bleak raises a plain BleakError.
        assert (attrs["scanning_mode"], attrs["status"]) == ("active", "scanning (active)")
        assert attrs["warning"].startswith("passive scanning is not supported here")
        assert PASSIVE_UNSUPPORTED in attrs["warning"]
        assert len(await site.bluez.method_calls("/org/bluez/hci0", "StartDiscovery")) == 1

    when = datetime.now(UTC)
    roof, room = beacons(when)
    roof_first, name, roof_data = advert(roof, when)
    room_first, _, room_data = advert(room, when)
    await site.bluez.add_device(ROOF_ADDR, name, roof_data, rssi=-60)
    await site.bluez.add_device(ROOM_ADDR, name, room_data, rssi=-70)
    await assert_reading(site, "roof", roof_first)
    await assert_reading(site, "room", room_first)  # decrypted with the bindkey from the config
    signal = await site.state("sensor.roof_signal_strength")
    assert signal is not None and signal["state"] == "-60" and signal["attributes"]["source"] == "local"

    # Later advertisements: BlueZ updates the known devices' ServiceData and RSSI.
    later = clearly_different(when, roof, room)
    roof_next, _, roof_data = advert(roof, later)
    room_next, _, room_data = advert(room, later)
    await site.bluez.advertise(ROOF_ADDR, roof_data, rssi=-55)
    await site.bluez.advertise(ROOM_ADDR, room_data, rssi=-65)
    await assert_reading(site, "roof", roof_next)
    await assert_reading(site, "room", room_next)
    still = await site.state(ADAPTER)
    assert still is not None and still["state"] == "scanning"


async def test_no_bluez_is_a_status_until_the_background_retry_finds_it(site: Site) -> None:
    clock = ManualClock()
    await site.start_hub(clock)
    adapter = await site.state_when(ADAPTER, lambda b: b["state"] == "no_adapter", "the first attempt to fail")
    attrs = adapter["attributes"]
    assert attrs["status"] == "no Bluetooth adapter: BlueZ is not running (org.freedesktop.DBus.Error.ServiceUnknown)"
    assert attrs["attempts"] == 1 and attrs["warning"] is None
    assert attrs["next_retry"] == (clock.now() + timedelta(seconds=5)).isoformat()

    # bluetoothd starts, but the adapter is not there yet (a USB dongle still enumerating).
    await site.bluez.start_bluez()
    await clock.advance(5)
    adapter = await site.state_when(ADAPTER, lambda b: b["attributes"]["attempts"] == 2, "the second attempt")
    attrs = adapter["attributes"]
    assert adapter["state"] == "no_adapter"
    assert attrs["status"] == "no Bluetooth adapter: BleakError: adapter 'hci0' not found"
    assert attrs["warning"] is None  # a missing adapter says nothing about passive scanning

    await site.bluez.add_adapter("hci0", "Maderas")
    await clock.advance(10)  # the backoff doubled
    adapter = await site.state_when(ADAPTER, lambda b: b["state"] == "scanning", "the third attempt to scan")
    attrs = adapter["attributes"]
    assert (attrs["attempts"], attrs["scanning_mode"], attrs["warning"]) == (3, "passive", None)

    roof, _ = beacons(clock.now())
    expected, name, data = advert(roof, clock.now())
    await site.bluez.add_device(ROOF_ADDR, name, data, rssi=-62)
    await assert_reading(site, "roof", expected)
