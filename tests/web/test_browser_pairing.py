"""Pairing in a real browser (chromium, Playwright): our Wi-Fi tank sensor with its PIN (the firmware simulator
as the device), a BLE proxy whose token is shown once, and an ESPHome device that is only listed.

The devices are "found" by handing the hub what its mDNS browser reports for their announcements
(the real mDNS path: tests/hub/network/test_demo_netns.py and test_mdns_hub.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import EN, expect, free_port, hash_is, log_in

from firmware.sim.tank_physics import SimulatedTank
from firmware.sim.tank_wifi import WifiTankSimulator
from hub.demo_wifi_tank import found_from
from hub.pairing import Found
from hub.runtime import Hub

PIN = 271828
HubFactory = Any
Pages = Any

pytestmark = pytest.mark.usefixtures("quiet_pymodbus")


async def open_discovered(pages: Pages, hub: Hub, user: str, password: str) -> Any:
    page = await pages.open(hub.http.url + "/")
    await log_in(page, user, password, wait_live=True)
    await page.goto(hub.http.url + "/#/discovered")
    await expect(page).to_have_url(hash_is("discovered"))
    return page


async def test_a_tank_sensor_pairs_with_its_pin_and_an_esphome_device_is_only_listed(
    make_hub: HubFactory, pages: Pages, password: str
) -> None:
    hub: Hub = await make_hub()
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    tank = SimulatedTank(1100.0, 1.2, 1.4, 45.0, noise_mm=0.0, spike_probability=0.0)
    async with WifiTankSimulator(tank, serial="MT0A1B2C", pin=PIN, capacity_l=1100, tank_height_m=1.2) as sim:
        [row] = await hub.pairing.found(["modbus_tank"], found_from(sim.spec()))
        [esp] = await hub.pairing.found(["esphome"], Found(
            source="zeroconf", type="_esphomelib._tcp.local.", name="garage", host="127.0.0.1", port=6053,
            properties={"mac": "a4cf12b3c4d5", "version": "2024.6.1", "friendly_name": "Garage door"}))

        page = await open_discovered(pages, hub, "ana", password)
        # The suite runs with MADERAS_MDNS=off: the page says it does not look on the network, and why.
        await expect(page.get_by_test_id("discovered-network")).to_contain_text(
            EN["discovered.net.mdns_off"].replace("{reason}", "mDNS is turned off"))
        card = page.get_by_test_id(f"discovered-{row.id}")
        await expect(card).to_contain_text("Tank sensor MT0A1B2C")
        await expect(card).to_contain_text(EN["discovered.kind.tank_sensor"])
        await expect(card).to_contain_text("MT0A1B2C")  # the serial, as on the label
        esp_card = page.get_by_test_id(f"discovered-{esp.id}")
        await expect(esp_card).to_contain_text("Garage door")
        await expect(esp_card).to_contain_text("2024.6.1")
        await expect(page.get_by_test_id(f"discovered-cannot-{esp.id}")).to_contain_text("cannot run them")
        await expect(page.get_by_test_id(f"pair-{esp.id}")).to_have_count(0)
        await pages.screenshot(page, "pairing-list")

        await page.get_by_test_id(f"pair-{row.id}").click()
        dialog = page.get_by_test_id("pair-dialog")
        await expect(dialog.get_by_test_id("pair-field-pin")).to_have_attribute("type", "password")
        await dialog.get_by_test_id("pair-field-pin").fill(str(PIN + 1))
        await dialog.get_by_test_id("pair-submit").click()
        await expect(dialog.get_by_test_id("pair-error-pin")).to_contain_text("the sensor refused the PIN")
        assert hub.config_entries.entries("modbus_tank") == []
        await pages.screenshot(page, "pin-refused")

        await dialog.get_by_test_id("pair-field-pin").fill(str(PIN))
        await dialog.get_by_test_id("pair-submit").click()
        await expect(dialog).to_have_count(0)
        await expect(page.get_by_test_id("discovered-status")).to_contain_text(
            EN["discovered.added"].replace("{title}", "Tank MT0A1B2C"))
        await expect(card).to_have_count(0)
        [entry] = hub.config_entries.entries("modbus_tank")
        assert entry.data["serial"] == "MT0A1B2C"


async def test_a_paired_proxy_shows_its_token_once(make_hub: HubFactory, pages: Pages, password: str) -> None:
    hub: Hub = await make_hub(f"ble_climate:\n  proxy_host: 127.0.0.1\n  proxy_port: {free_port()}\n")
    await hub.auth.create_user("ana", "Ana", password, "admin", language="en")
    [row] = await hub.pairing.found(["ble_climate"], Found(
        source="zeroconf", type="_maderas-proxy._tcp.local.", name="attic", host="127.0.0.1", port=6638,
        properties={"id": "attic", "fw": "1.0"}))
    page = await open_discovered(pages, hub, "ana", password)
    await expect(page.get_by_test_id(f"discovered-{row.id}")).to_contain_text(EN["discovered.kind.ble_proxy"])
    await page.get_by_test_id(f"pair-{row.id}").click()
    await page.get_by_test_id("confirm-ok").click()  # nothing to ask: a confirmation
    reveal = page.get_by_test_id("reveal-dialog")
    await expect(reveal.get_by_test_id("reveal-once")).to_have_text(EN["tokens.shown_once"])
    [entry] = hub.config_entries.entries("ble_climate")
    await expect(reveal.get_by_test_id("reveal-value-0")).to_have_value(entry.data["token"])
    await pages.screenshot(page, "proxy-token")
    await reveal.get_by_test_id("reveal-done").click()
    await expect(reveal).to_have_count(0)
    # Shown once: nothing on the page or in the browser's storage keeps it.
    html = await page.content()
    storage = await page.evaluate("() => JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})")
    assert entry.data["token"] not in html and entry.data["token"] not in storage
