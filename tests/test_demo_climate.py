"""`hub demo` has BLE climate sensors: the demo's `ble_climate:` block and its secrets, the simulated
adapter that stands in for bleak, and the beacons and roof proxy (hub.demo_climate.DemoClimate) on a hub.

The beacons follow Querétaro's day (firmware/sim/climate_day.py, tested in tests/firmware/sim); here
the hub's states are held against that model, so a value that moved is a value the model moved.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from waiting import until

from firmware.sim.climate_day import BEDROOM, LIVING_ROOM, ROOF, Site, hour_of_day, humidity_pct, temperature_c
from firmware.sim.climate_sim import SimulatedClimateBeacon
from hub import cli
from hub.check import check_configuration
from hub.clock import ManualClock
from hub.config import CONFIG_FILE, SECRETS_FILE, load_configuration
from hub.demo import write_demo_config
from hub.demo_climate import (
    ADAPTER_LABEL,
    ADVERTISE_INTERVAL_S,
    BEACONS,
    PROXY_ID,
    DemoClimate,
    SimulatedAdapter,
    climate_block,
    climate_secrets,
)
from hub.runtime import Hub, HubState

PROXY = "binary_sensor.ble_proxy_roof_proxy"
ADAPTER = "sensor.bluetooth_adapter"
DEVICES = {"living_room": LIVING_ROOM, "bedroom": BEDROOM, "roof": ROOF}
KINDS = ("temperature", "humidity", "battery", "signal_strength", "last_seen")
# 10:00 in Querétaro: the sun is on the roof and it warms by about 4 °C an hour.
MORNING = datetime(2026, 1, 15, 16, 0, tzinfo=UTC)


class _SecretNames(yaml.SafeLoader):
    """Reads `!secret NAME` as the text "!secret NAME"."""


_SecretNames.add_constructor("!secret", lambda _loader, node: f"!secret {node.value}")


def _raw(config_dir: Path) -> dict[str, Any]:
    return yaml.load((config_dir / CONFIG_FILE).read_text(encoding="utf-8"), Loader=_SecretNames)


def _state(hub: Hub, entity_id: str) -> Any:
    state = hub.states.get(entity_id)
    assert state is not None, f"{entity_id} has no state"
    return state


def _value(hub: Hub, entity_id: str) -> float | None:
    """The numeric state, or None while it is unavailable or unknown."""
    state = hub.states.get(entity_id)
    try:
        return None if state is None else float(state.state)
    except ValueError:
        return None


def _model(hub: Hub, site: Site) -> tuple[float, float]:
    hour = hour_of_day(hub.clock.now(), hub.time_zone)
    return temperature_c(site, hour), humidity_pct(site, hour)


# -- the configuration ---------------------------------------------------------------------------------------


def test_demo_config_has_three_beacons_one_encrypted_and_the_roof_proxy(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True, alarms=True, climate=True)
    assert check_configuration(tmp_path) == []
    raw = _raw(tmp_path)
    block = raw["ble_climate"]
    assert {a: (d["name"], d["area"]) for a, d in block["devices"].items()} == {
        "A4:C1:38:4D:00:01": ("Living room", "Sala"),
        "A4:C1:38:4D:00:02": ("Bedroom", "Recámara"),
        "A4:C1:38:4D:00:03": ("Roof", "Azotea"),
    }
    assert block["devices"]["A4:C1:38:4D:00:02"]["bindkey"] == "!secret bedroom_bindkey"
    assert [d.get("bindkey") for a, d in block["devices"].items() if a != "A4:C1:38:4D:00:02"] == [None, None]
    assert block["proxies"] == [{"id": PROXY_ID, "token": "!secret roof_proxy_token"}]
    assert block["proxy_host"] == "127.0.0.1"
    # Its port is picked with the suppliers' and the receiver's: never one of theirs.
    others = {int(s["url"].rsplit(":", 1)[1].split("/")[0]) for s in raw["resupply"]["suppliers"]}
    others.add(raw["command_center"]["receivers"][0]["port"])
    assert 0 < block["proxy_port"] and block["proxy_port"] not in others and len(others) == 3
    # The bindkey and the token: in the private secrets.yaml only, and they resolve.
    assert stat.S_IMODE((tmp_path / SECRETS_FILE).stat().st_mode) == 0o600
    stored = yaml.safe_load((tmp_path / SECRETS_FILE).read_text(encoding="utf-8"))
    assert len(bytes.fromhex(stored["bedroom_bindkey"])) == 16 and len(stored["roof_proxy_token"]) >= 16
    text = (tmp_path / CONFIG_FILE).read_text(encoding="utf-8")
    assert stored["bedroom_bindkey"] not in text and stored["roof_proxy_token"] not in text
    resolved = load_configuration(tmp_path)["ble_climate"]
    assert str(resolved["proxies"][0]["token"]) == stored["roof_proxy_token"]


def test_keys_are_made_per_directory_and_climate_is_asked_for(tmp_path: Path) -> None:
    write_demo_config(tmp_path / "a", server_port=0, resupply=False, climate=True)
    write_demo_config(tmp_path / "b", server_port=0, resupply=False, climate=True)
    a, b = (yaml.safe_load((tmp_path / d / SECRETS_FILE).read_text(encoding="utf-8")) for d in ("a", "b"))
    assert a["bedroom_bindkey"] != b["bedroom_bindkey"] and a["roof_proxy_token"] != b["roof_proxy_token"]
    assert _raw(tmp_path / "a")["ble_climate"]["proxy_port"] > 0  # without alarms the port is still its own
    write_demo_config(tmp_path / "c", server_port=0, resupply=False)  # the default: none
    assert "ble_climate" not in _raw(tmp_path / "c")
    assert "bedroom_bindkey" not in (tmp_path / "c" / SECRETS_FILE).read_text(encoding="utf-8")


# -- the simulated adapter -----------------------------------------------------------------------------------


async def test_simulated_adapter_delivers_bleaks_real_objects_only_while_scanning() -> None:
    adapter = SimulatedAdapter()
    heard: list[tuple[Any, Any]] = []
    scanner = adapter(lambda device, data: heard.append((device, data)), "hci0", "passive")
    beacon = SimulatedClimateBeacon("A4:C1:38:4D:00:01", start=MORNING)
    assert adapter.hear(beacon.advertise(MORNING), -61) == 0 and heard == []  # nobody scanning yet
    await scanner.start()
    address, payload, service_data = beacon.advertise(MORNING)
    assert adapter.hear((address, payload, service_data), -61) == 1
    [(device, data)] = heard
    assert isinstance(device, BLEDevice) and isinstance(data, AdvertisementData)
    assert (device.address, device.name, data.local_name, data.rssi) == (address, "MDR-climate", "MDR-climate", -61)
    assert data.service_data == service_data and data.manufacturer_data == {}
    await scanner.stop()
    assert adapter.hear(beacon.advertise(MORNING), -61) == 0 and len(heard) == 1


async def test_without_a_ble_climate_block_the_demo_climate_does_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.demo")
    write_demo_config(tmp_path, server_port=0, resupply=False)  # as a directory written before the climate part
    hub = Hub(tmp_path)
    async with DemoClimate(tmp_path) as climate:
        climate.attach(hub)
        assert hub.bluetooth_scanner_factory is None and climate.proxy is None
        climate.broadcast()
        assert climate.beacons == {}
    assert any("No BLE climate sensors in this demo" in r.getMessage() for r in caplog.records)


# -- end to end: the hub, ble_climate, the simulated adapter, the beacons and the roof proxy --------------------


async def _advance(clock: ManualClock, seconds: float) -> None:
    """Move the hub's clock in advertising steps, as the beacons' timer would."""
    for _ in range(round(seconds / ADVERTISE_INTERVAL_S)):
        await clock.advance(ADVERTISE_INTERVAL_S)


async def test_demo_beacons_reach_the_hub_through_the_adapter_and_the_proxy_and_follow_the_day(
    tmp_path: Path, clock: ManualClock, quiet_pymodbus: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The tank bus has no simulator here (tests/test_demo_tanks.py runs it): it stays unavailable."""
    await clock.advance_to(MORNING)
    write_demo_config(tmp_path, server_port=0, resupply=False, climate=True)
    async with DemoClimate(tmp_path, proxy_batch_interval=0.02) as climate:
        hub = Hub(tmp_path, clock=clock)
        climate.attach(hub)
        await hub.start()
        try:
            assert hub.config_errors == []
            await until(lambda: (s := hub.states.get(PROXY)) is not None and s.state == "on",
                        what="the simulated roof proxy to connect")  # fmt: skip
            assert _state(hub, PROXY).attributes["firmware"] == "proxy_sim 1.0 (hub demo)"
            await _advance(clock, 10)

            def all_heard() -> bool:
                return all(_value(hub, f"sensor.{d}_temperature") is not None for d in DEVICES)

            await until(all_heard, what="a reading from each beacon")
            # The adapter is ours, scanning, and says it is simulated.
            adapter = _state(hub, ADAPTER)
            assert adapter.state == "scanning" and adapter.attributes["scanning_mode"] == "passive"
            await until(lambda: _state(hub, ADAPTER).attributes["friendly_name"] == ADAPTER_LABEL, what="the label")

            for device, site in DEVICES.items():
                for kind in KINDS:
                    state = _state(hub, f"sensor.{device}_{kind}").state
                    assert state not in ("unavailable", "unknown"), (device, kind)
                temperature, humidity = _model(hub, site)
                near_t, near_rh = 5 * site.noise_c + 0.1, 5 * site.noise_rh + 1.0  # the model, give or take noise
                assert _value(hub, f"sensor.{device}_temperature") == pytest.approx(temperature, abs=near_t)
                assert _value(hub, f"sensor.{device}_humidity") == pytest.approx(humidity, abs=near_rh)
                seen = datetime.fromisoformat(_state(hub, f"sensor.{device}_last_seen").state)
                assert clock.now() - timedelta(seconds=30) <= seen <= clock.now()
                assert "problem" not in _state(hub, f"sensor.{device}_temperature").attributes
            assert {d: _state(hub, f"sensor.{d}_battery").state for d in DEVICES} == {
                "living_room": "86", "bedroom": "71", "roof": "93"}  # fmt: skip
            # The roof is heard through the proxy only; the rooms by the adapter. The bedroom's packets
            # are encrypted and decrypted with the bindkey from secrets.yaml (no problem shown above).
            signals = {d: _state(hub, f"sensor.{d}_signal_strength") for d in DEVICES}
            assert {d: s.attributes["source"] for d, s in signals.items()} == {
                "living_room": "local", "bedroom": "local", "roof": f"proxy:{PROXY_ID}"}  # fmt: skip
            assert all(-90 < float(s.state) < -50 for s in signals.values())
            assert climate.beacons["A4:C1:38:4D:00:02"].bindkey is not None
            assert climate.beacons["A4:C1:38:4D:00:01"].bindkey is None
            # Each device in its area.
            areas = {}
            for beacon in BEACONS:
                entry = hub.devices.get_by_identifier(("ble_climate", beacon.address))
                areas[beacon.name] = entry.area if entry is not None else None
            assert areas == {"Living room": "Sala", "Bedroom": "Recámara", "Roof": "Azotea"}

            # Half an hour later the sun has warmed the roof as the model says, and the rooms follow theirs.
            roof_before, (model_before, _) = _value(hub, "sensor.roof_temperature"), _model(hub, ROOF)
            counter_before = climate.beacons["A4:C1:38:4D:00:03"].counter
            await _advance(clock, 1800)
            model_after, _ = _model(hub, ROOF)
            assert model_after - model_before > 1.5

            def roof_now() -> float | None:
                value = _value(hub, "sensor.roof_temperature")
                return value if value is not None and abs(value - model_after) < 5 * ROOF.noise_c + 0.1 else None

            roof_after = await until(roof_now, what="the roof's reading of half an hour later")
            assert roof_before is not None
            assert roof_after - roof_before == pytest.approx(model_after - model_before, abs=10 * ROOF.noise_c + 0.2)
            assert climate.beacons["A4:C1:38:4D:00:03"].counter == counter_before + 1800 / ADVERTISE_INTERVAL_S
            for device in ("living_room", "bedroom"):
                temperature, _ = _model(hub, DEVICES[device])
                assert _value(hub, f"sensor.{device}_temperature") == pytest.approx(temperature, abs=0.35)
            proxy = climate.proxy
            assert proxy is not None and proxy.sessions == 1 and proxy.refusals == []
        finally:
            await hub.stop()
    # The proxy hung up as the hub began to stop, before its endpoint closed: no asyncio error about
    # a cancelled connection handler. Nothing of the demo is left running or listening.
    assert climate.proxy is None
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", proxy.port)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_hub_prepares_the_hub_before_it_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`hub demo`'s wiring: `_run_hub(prepare=climate.attach)` on the real clock, until a SIGTERM."""
    config = "hub:\n  time_zone: America/Mexico_City\nhttp:\n  server_host: 127.0.0.1\n  server_port: 0\n"
    (tmp_path / CONFIG_FILE).write_text(config + climate_block(_free_port()), encoding="utf-8")
    (tmp_path / SECRETS_FILE).write_text(climate_secrets(), encoding="utf-8")
    (tmp_path / SECRETS_FILE).chmod(0o600)
    hubs: list[tuple[Hub, HubState]] = []
    async with DemoClimate(tmp_path) as climate:

        def prepare(hub: Hub) -> None:
            hubs.append((hub, hub.state))
            climate.attach(hub)

        run = asyncio.create_task(cli._run_hub(tmp_path, prepare=prepare))
        try:
            await until(lambda: hubs and hubs[0][0].state is HubState.running, what="the hub to start")
            [(hub, state_when_prepared)] = hubs
            assert state_when_prepared is HubState.not_running and hub.config_errors == []
            assert hub.bluetooth_scanner_factory is climate.adapter
            # bleak never ran: the simulated adapter scans, the proxy connects, the rooms are heard.
            await until(lambda: _state(hub, PROXY).state == "on", what="the proxy to connect")
            await until(lambda: all(_value(hub, f"sensor.{d}_temperature") is not None for d in DEVICES),
                        what="every beacon", timeout=30)  # fmt: skip
            assert _state(hub, ADAPTER).state == "scanning" and len(climate.adapter.scanners) == 1
            signal.raise_signal(signal.SIGTERM)
            assert await asyncio.wait_for(run, 30) == 0
        finally:
            if not run.done():
                await hub_stop_and_wait(hubs, run)
        assert hub.state is HubState.stopped and climate.adapter.scanners[0].scanning is False
    assert climate.proxy is None
    # The hub's signal handlers went with it: SIGTERM is the default again.
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


async def hub_stop_and_wait(hubs: list[tuple[Hub, HubState]], run: asyncio.Task[int]) -> None:
    """Stop a hub a failed assertion left running, and its `_run_hub` task."""
    if hubs:
        await hubs[0][0].stop()
    await asyncio.wait_for(run, 30)
