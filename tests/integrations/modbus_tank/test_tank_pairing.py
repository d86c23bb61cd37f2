"""Pairing our Wi-Fi tank sensor from the Discovered list, through the HTTP API, against the firmware simulator.

The sensor is "found" by handing the hub what the mDNS browser reports for the simulator's
`_modbus._tcp` announcement (the real mDNS path: test_tank_pairing_netns.py). A wrong PIN is refused
on the PIN field with nothing saved; the right one makes a config entry whose tank reads like a
configured one; the sensor back at a new port updates the entry; deleting the entry removes the entities.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hub_api import Api, api_users, free_port, started_hub
from waiting import until

from firmware.sim.tank_physics import SimulatedTank
from firmware.sim.tank_wifi import ServiceSpec, WifiTankSimulator
from hub.demo_wifi_tank import found_from
from hub.runtime import Hub
from integrations.modbus_tank.pairing import async_discovered, entry_config, tank_block

PASSWORD = "correct horse battery"
PIN = 482913
SERIAL = "MT0A1B2C"

pytestmark = pytest.mark.usefixtures("quiet_pymodbus")


def water_tank() -> SimulatedTank:
    return SimulatedTank(1100.0, 1.2, 1.4, 60.0, noise_mm=0.0, spike_probability=0.0)


async def test_offers_only_for_our_sensor_and_builds_its_tank() -> None:
    spec = ServiceSpec("Maderas tank MT1", "_modbus._tcp.local.", 502, "10.0.0.9",
                       {"vendor": "maderas", "model": "maderas_tank_v1", "fw": "1.1", "unit": "3", "serial": "MT1"})
    offer = await async_discovered(None, found_from(spec))
    assert offer is not None and (offer.unique_id, offer.kind, offer.title) == ("serial:mt1", "tank_sensor",
                                                                                "Tank sensor MT1")
    assert [(a.key, a.secret, a.default) for a in offer.asks] == [("pin", True, None), ("capacity_l", False, "0")]
    assert offer.details["unit_id"] == 3 and offer.address_data == {"host": "10.0.0.9", "port": 502}
    other = ServiceSpec("PLC", "_modbus._tcp.local.", 502, "10.0.0.8", {"vendor": "acme", "serial": "X"})
    assert await async_discovered(None, found_from(other)) is None
    no_serial = ServiceSpec("T", "_modbus._tcp.local.", 502, "10.0.0.8", {"vendor": "maderas"})
    assert await async_discovered(None, found_from(no_serial)) is None
    for hostile in ("x" * 200, "../../etc", "MT 1", "<script>"):
        spec = ServiceSpec("T", "_modbus._tcp.local.", 502, "10.0.0.8", {"vendor": "maderas", "serial": hostile})
        assert await async_discovered(None, found_from(spec)) is None, hostile
    tank = tank_block(1, 300, 1000, 0)
    assert tank["commodity"] == "lp_gas" and tank["dimensions"]["height_m"] == 1.0
    assert tank["dimensions"]["diameter_m"] == pytest.approx(0.618, abs=0.001)  # pi/4 * 0.618^2 * 1.0 m = 300 l
    bus = entry_config({"name": "T", "serial": "MT-1", "host": "h", "port": 502, "unit_id": 1, "pin": 1, "tank": tank})
    assert bus["buses"][0]["name"] == "wifi_mt_1"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    port = free_port()
    hub = await started_hub(tmp_path, {"http": {"server_host": "127.0.0.1", "server_port": port}})  # no modbus_tank:
    clients: tuple[Api, ...] = ()
    try:
        clients = await api_users(hub, port, PASSWORD)
        yield {"hub": hub, "admin": clients[0], "resident": clients[1]}
    finally:
        for client in clients:
            await client.close()
        await hub.stop()


async def test_a_found_sensor_is_paired_with_its_pin_reads_and_goes_away(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    resident: Api = site["resident"]
    async with WifiTankSimulator(water_tank(), serial=SERIAL, pin=PIN, capacity_l=1100, tank_height_m=1.2) as sim:
        await hub.pairing.found(["modbus_tank"], found_from(sim.spec()))
        [row] = (await resident.json("GET", "/api/discovered"))["discovered"]
        assert (row["domain"], row["kind"], row["title"]) == ("modbus_tank", "tank_sensor", f"Tank sensor {SERIAL}")
        assert row["details"]["firmware"] == "1.1" and [a["key"] for a in row["asks"]] == ["pin", "capacity_l"]
        pair = f"/api/discovered/{row['id']}/pair"

        refused = await admin.json("POST", pair, {"answers": {"pin": str(PIN + 1)}}, status=400)
        assert refused["error"] == {"code": "bad_request", "message": "the sensor refused the PIN", "field": "pin"}
        malformed = await admin.json("POST", pair, {"answers": {"pin": "12ab"}}, status=400)
        assert malformed["error"]["field"] == "pin"
        assert hub.config_entries.entries("modbus_tank") == []

        made = await admin.json("POST", pair, {"answers": {"pin": str(PIN)}}, status=201)
        [entry] = hub.config_entries.entries("modbus_tank")
        assert made["entry_id"] == entry.entry_id and made["state"] == "loaded" and made["reveal"] == {}
        assert entry.data["tank"]["commodity"] == "water" and entry.data["tank"]["dimensions"]["height_m"] == 1.2
        assert str(PIN) not in str(await resident.json("GET", "/api/discovered"))

        level = "sensor.tank_mt0a1b2c_level"

        def reading() -> float | None:
            state = hub.states.get(level)
            return float(state.state) if state is not None and state.state not in ("unknown", "unavailable") else None

        # 60 % of the tank under a sensor 0.2 m above its top.
        assert await until(reading, "the paired tank's first reading", timeout=30) == pytest.approx(60, abs=1)
        owned = {e.entity_id for e in hub.entities.entries_for_config_entry(entry.entry_id)}
        assert level in owned and len(owned) > 3

    # The sensor restarts on another port (the host simulator's stand-in for a new DHCP address).
    async with WifiTankSimulator(water_tank(), serial=SERIAL, pin=PIN, capacity_l=1100, tank_height_m=1.2) as moved:
        await hub.pairing.found(["modbus_tank"], found_from(moved.spec()))
        [after] = hub.config_entries.entries("modbus_tank")
        assert after.entry_id == entry.entry_id and after.data["port"] == moved.port
        assert (await resident.json("GET", "/api/discovered"))["discovered"] == []
        await until(lambda: moved.connections > 0 and reading() is not None, "the entry to follow the sensor", 30)

        await admin.json("DELETE", f"/api/config_entries/{entry.entry_id}", status=204)
        assert all(hub.states.get(entity_id) is None for entity_id in owned)
        assert hub.entities.entries_for_config_entry(entry.entry_id) == []
        # Still announcing: listed again.
        await hub.pairing.found(["modbus_tank"], found_from(moved.spec()))
        assert len((await resident.json("GET", "/api/discovered"))["discovered"]) == 1


async def test_a_sensor_without_a_stored_capacity_asks_for_it(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    async with WifiTankSimulator(water_tank(), serial="MT9", pin=PIN, commodity="lp_gas") as sim:
        [row] = await hub.pairing.found(["modbus_tank"], found_from(sim.spec()))
        pair = f"/api/discovered/{row.id}/pair"
        missing = await admin.json("POST", pair, {"answers": {"pin": str(PIN)}}, status=400)
        assert missing["error"]["field"] == "capacity_l" and "capacity" in missing["error"]["message"]
        await admin.json("POST", pair, {"answers": {"pin": str(PIN), "capacity_l": "300"}}, status=201)
        [entry] = hub.config_entries.entries("modbus_tank")
        assert entry.data["tank"]["commodity"] == "lp_gas"


async def test_an_unreachable_sensor_is_a_502_naming_where(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    spec = ServiceSpec("Maderas tank MT7", "_modbus._tcp.local.", free_port(), "127.0.0.1",
                       {"vendor": "maderas", "unit": "1", "serial": "MT7"})
    [row] = await hub.pairing.found(["modbus_tank"], found_from(spec))
    gone = await admin.json("POST", f"/api/discovered/{row.id}/pair", {"answers": {"pin": "1"}}, status=502)
    assert f"127.0.0.1:{spec.port}" in gone["error"]["message"]
    assert hub.config_entries.entries("modbus_tank") == []


async def test_a_wrong_pin_in_yaml_shows_on_the_tank_and_the_right_one_reads(tmp_path: Path) -> None:
    async with WifiTankSimulator(water_tank(), serial=SERIAL, pin=PIN, capacity_l=1100, tank_height_m=1.2) as sim:
        tank = tank_block(0, 1100, 1400, 1200)  # what pairing would have written: 1.2 m high, sensor at 1.4 m

        def config(pin: int) -> dict[str, Any]:
            return {"modbus_tank": {"buses": [{
                "name": "patio", "type": "tcp", "host": "127.0.0.1", "port": sim.port, "pin": pin,
                "tanks": [{"name": "Cistern", "unit_id": 1, "profile": "maderas_tank_v1", "scan_interval": 1,
                           "failures_before_unavailable": 1, "tank": tank}],
            }]}}  # fmt: skip

        (tmp_path / "wrong").mkdir()
        (tmp_path / "right").mkdir()
        hub = await started_hub(tmp_path / "wrong", config(PIN + 1))
        try:

            def reason() -> str | None:
                state = hub.states.get("sensor.cistern_level")
                return state.attributes.get("unavailable_reason") if state is not None else None

            text = await until(reason, "the refused PIN on the tank's level", 30)
            assert "the sensor refused the PIN" in text and str(PIN) not in text
        finally:
            await hub.stop()
        hub = await started_hub(tmp_path / "right", config(PIN))
        try:

            def level() -> float | None:
                state = hub.states.get("sensor.cistern_level")
                return float(state.state) if state and state.state not in ("unknown", "unavailable") else None

            assert await until(level, "the level with the right PIN", 30) == pytest.approx(60, abs=1)
        finally:
            await hub.stop()
