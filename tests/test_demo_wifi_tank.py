"""`hub demo` starts with a Wi-Fi tank sensor waiting in Discovered; pairing it with the PIN from secrets.yaml works.

Here mDNS is off (as under the whole suite), so the stand-in hands its announcement to the hub's
pairing; tests/hub/network/test_demo_netns.py runs `hub demo` inside a network namespace where the
hub finds the sensor through real mDNS from the firmware's responder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_api import api_users, free_port
from waiting import until

from hub.demo import write_demo_config
from hub.demo_wifi_tank import PIN_SECRET, SERIAL, DemoWifiTank, read_pin
from hub.runtime import Hub

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.usefixtures("quiet_pymodbus")


def test_the_pin_is_made_per_directory(tmp_path: Path) -> None:
    write_demo_config(tmp_path / "a", server_port=0, wifi_tank=True)
    write_demo_config(tmp_path / "b", server_port=0, wifi_tank=True)
    pins = [read_pin(tmp_path / d) for d in ("a", "b")]
    assert all(pin is not None and 100000 <= pin <= 999999 for pin in pins)
    assert PIN_SECRET in (tmp_path / "a" / "secrets.yaml").read_text()
    assert read_pin(tmp_path / "nowhere") is None


async def test_the_newcomer_waits_in_discovered_and_pairs_with_its_pin(tmp_path: Path) -> None:
    port = free_port()
    write_demo_config(tmp_path, server_port=port, resupply=False, wifi_tank=True)
    pin = read_pin(tmp_path)
    hub = Hub(tmp_path)
    clients = ()
    async with DemoWifiTank(tmp_path) as newcomer:
        await hub.start()
        try:
            assert hub.mdns is None  # MADERAS_MDNS=off under the suite
            await newcomer.hub_started(hub)
            admin, resident = clients = await api_users(hub, port, PASSWORD)
            [row] = (await resident.json("GET", "/api/discovered"))["discovered"]
            assert (row["domain"], row["kind"], row["title"]) == ("modbus_tank", "tank_sensor", f"Tank sensor {SERIAL}")
            pair = f"/api/discovered/{row['id']}/pair"
            wrong = await admin.json("POST", pair, {"answers": {"pin": str((pin or 0) % 999999 + 1)}}, status=400)
            assert wrong["error"]["field"] == "pin"
            await admin.json("POST", pair, {"answers": {"pin": str(pin)}}, status=201)
            level = f"sensor.tank_{SERIAL.lower()}_level"

            def reading() -> float | None:
                state = hub.states.get(level)
                return float(state.state) if state and state.state not in ("unknown", "unavailable") else None

            assert 50 < await until(reading, "the paired demo tank's level", timeout=30) < 80
        finally:
            for client in clients:
                await client.close()
            await hub.stop()
    assert newcomer.sim is None


async def test_a_directory_without_the_pin_gets_one_written_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "secrets.yaml").write_text("other: 1\n")
    caplog.set_level("DEBUG")
    async with DemoWifiTank(tmp_path) as newcomer:
        assert newcomer.pin is not None and newcomer.pin == read_pin(tmp_path)
    assert "other: 1" in (tmp_path / "secrets.yaml").read_text()
    assert str(newcomer.pin) not in caplog.text
