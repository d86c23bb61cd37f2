"""BLE sensors heard but not configured: listed once, paired through /api/discovered, run from their entry.

A whole hub hears through the fake scanner (bleak's real objects): our beacon's encrypted BTHome
(climate_sim, the key of PROTOCOLS.md 4.4), xiaomi-ble's own encrypted LYWSD03MMC vector, a plain
BTHome vector and Mopeka's golden advertisement, as in test_ble_parsers.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ble_helpers import BINDKEY, ROOF_ADDR, HubSite, beacon, bleak_adv, hub_site
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from waiting import until

from hub.clock import ManualClock
from hub.pairing import Found, PairingError
from integrations.ble_climate import pairing
from integrations.ble_climate.discovery import FEED_EVERY_S, DiscoveryFeed, advertisement_of, found_of
from integrations.ble_climate.manager import Discovered
from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.parsers import BTHOME_UUID, MIBEACON_UUID, MOPEKA_MANUFACTURER_ID, MOPEKA_UUID

SENSOR_ADDR = "A4:C1:38:00:00:03"
TITLE = "BTHome sensor 000003"  # the library's model and the address's last three bytes
WRONG_KEY = "00112233445566778899aabbccddeeff"

# xiaomi-ble's tests (test_Xiaomi_LYWSD03MMC_encrypted): MiBeacon v5 with the MAC, humidity 46 %.
XIAOMI_ADDR = "A4:C1:38:02:83:F4"
XIAOMI_DATA = bytes.fromhex("58585b0550f4830238c1a495ef58763c26000097e2abb5")
XIAOMI_KEY = bytes.fromhex("e9ea895fac7cca6d30532432a516f3a8")
MOPEKA_ADDR = "D4:40:F0:C3:E0:F5"
MOPEKA_DATA = bytes.fromhex("087043B6C3E0F509FAE3")  # PROTOCOLS.md 6: 341 mm of propane, quality 3
PLAIN_ADDR = "A4:C1:38:8D:18:B2"
PLAIN_DATA = bytes.fromhex("4002CA0903BF13")  # PROTOCOLS.md 4.4: 25.06 degC, 50.55 %


def xiaomi_sealed(count: int, plaintext: bytes) -> bytes:
    """The golden frame re-sealed with another frame count and payload, as the sensor would send it next."""
    head = bytearray(XIAOMI_DATA[:11])
    head[4] = count
    ext = XIAOMI_DATA[-7:-4]
    # xiaomi-ble's nonce: the MAC as sent, device type and count, the extended counter; AAD 0x11.
    sealed = AESCCM(XIAOMI_KEY, tag_length=4).encrypt(bytes(head[5:11]) + bytes(head[2:5]) + ext, plaintext, b"\x11")
    return bytes(head) + sealed[:-4] + ext + sealed[-4:]


@pytest.fixture
async def site(tmp_path: Path, clock: ManualClock) -> AsyncIterator[HubSite]:
    async with hub_site(tmp_path, clock, {"proxy_port": 0, "devices": {ROOF_ADDR: {"name": "Roof"}}}) as made:
        yield made


async def rows(site: HubSite) -> list[dict[str, Any]]:
    return list((await site.api("GET", "/api/discovered"))["discovered"])


async def one_row(site: HubSite, address: str) -> dict[str, Any]:
    async def listed() -> dict[str, Any] | None:
        return next((r for r in await rows(site) if r["address"] == address), None)

    return await until(listed, f"{address} in the Discovered list")


def states_of(site: HubSite, entry_id: str) -> dict[str, str]:
    """The entry's entities by their key (`temperature`, ...) -> state."""
    out: dict[str, str] = {}
    for item in site.hub.entities.entries_for_config_entry(entry_id):
        state = site.state(item.entity_id)
        if state is not None:
            out[item.unique_id.split("-", 1)[1]] = state.state
    return out


async def test_an_encrypted_bthome_sensor_is_listed_once_paired_with_its_bindkey_and_removed(site: HubSite) -> None:
    hub, clock = site.hub, site.clock
    sim = beacon(SENSOR_ADDR, clock=clock, bindkey=BINDKEY)
    site.hear(sim)
    row = await one_row(site, SENSOR_ADDR)
    assert (row["domain"], row["unique_id"], row["title"], row["kind"], row["source"]) == (
        "ble_climate", SENSOR_ADDR, TITLE, "climate_sensor", "bluetooth")
    assert row["asks"] == [{"key": "bindkey", "label": "Bindkey (32 hex digits)", "secret": True, "default": None}]
    assert row["details"] == {"model": "BTHome sensor", "kind": "bthome", "encrypted": True, "rssi": -60}

    # It advertises every few seconds: 50 more in four minutes are one row, offered once.
    for _ in range(50):
        await clock.advance(5)
        site.hear(sim)
    [same] = [r for r in await rows(site) if r["address"] == SENSOR_ADDR]
    assert same["id"] == row["id"] and same["last_seen"] == same["first_seen"] == row["last_seen"]
    assert site.runtime.feed.offers == 1
    # Ten minutes after the first offer, the next advertisement refreshes the row's sighting.
    await clock.advance(FEED_EVERY_S)
    site.hear(sim)
    later = await until(lambda: _moved(site, row), "the row's last sighting refreshed")
    assert later["first_seen"] == row["first_seen"] and site.runtime.feed.offers == 2
    assert [r["address"] for r in await rows(site)].count(SENSOR_ADDR) == 1
    assert hub.states.get("sensor.roof_temperature") is not None  # the YAML device was never offered

    pair = f"/api/discovered/{row['id']}/pair"
    refused = await site.api("POST", pair, {"answers": {"bindkey": WRONG_KEY}}, status=400)
    assert refused["error"]["field"] == "bindkey"
    assert refused["error"]["message"] == f"that bindkey does not decrypt {TITLE}'s advertisements"
    malformed = await site.api("POST", pair, {"answers": {"bindkey": "not hex"}}, status=400)
    assert malformed["error"]["field"] == "bindkey"
    assert hub.config_entries.entries("ble_climate") == []

    made = await site.api("POST", pair, {"answers": {"bindkey": BINDKEY.hex().upper()}}, status=201)
    [entry] = hub.config_entries.entries("ble_climate")
    assert made == {"entry_id": entry.entry_id, "title": TITLE, "state": "loaded", "reveal": {}}
    assert entry.unique_id == SENSOR_ADDR and entry.source == "discovery"
    assert entry.data == {"address": SENSOR_ADDR, "name": TITLE, "bindkey": BINDKEY.hex()}
    assert await rows(site) == []

    # The same entities as a YAML device of that name, tied to the entry, with the next reading.
    owned = {item.entity_id for item in hub.entities.entries_for_config_entry(entry.entry_id)}
    assert {"sensor.bthome_sensor_000003_temperature", "sensor.bthome_sensor_000003_humidity"} <= owned
    assert {item.unique_id for item in hub.entities.entries_for_config_entry(entry.entry_id)} >= {
        f"{SENSOR_ADDR.lower()}-temperature", f"{SENSOR_ADDR.lower()}-battery"}
    temperature_cc, humidity_ch, _ = sim.reading_at(clock.now())
    site.hear(sim)
    values = await until(lambda: (s := states_of(site, entry.entry_id)).get("temperature") not in (None, "unknown",
                         "unavailable") and s, "the paired sensor's reading")  # fmt: skip
    assert float(values["temperature"]) == pytest.approx(temperature_cc / 100, abs=0.05)
    assert float(values["humidity"]) == pytest.approx(humidity_ch / 100, abs=0.05)
    assert "problem" not in hub.states.get("sensor.bthome_sensor_000003_temperature").attributes  # type: ignore[union-attr]

    await site.api("DELETE", f"/api/config_entries/{entry.entry_id}", status=204)
    assert all(hub.states.get(entity_id) is None for entity_id in owned)
    assert hub.entities.entries_for_config_entry(entry.entry_id) == []
    # Still on the air: listed again at its next advertisement, asking for the bindkey again.
    site.hear(sim)
    again = await one_row(site, SENSOR_ADDR)
    assert again["id"] != row["id"] and [a["key"] for a in again["asks"]] == ["bindkey"]
    assert all(hub.states.get(entity_id) is None for entity_id in owned)


async def _moved(site: HubSite, row: dict[str, Any]) -> dict[str, Any] | None:
    now = next((r for r in await rows(site) if r["id"] == row["id"]), None)
    return now if now is not None and now["last_seen"] > row["last_seen"] else None


async def test_an_encrypted_xiaomi_sensor_is_paired_with_its_bindkey(site: HubSite) -> None:
    hub = site.hub
    site.deliver(bleak_adv(XIAOMI_ADDR, service_data={MIBEACON_UUID: XIAOMI_DATA}))
    row = await one_row(site, XIAOMI_ADDR)
    assert (row["title"], row["kind"], row["details"]["model"]) == ("LYWSD03MMC 0283F4", "climate_sensor",
                                                                    "LYWSD03MMC")  # fmt: skip
    assert [a["key"] for a in row["asks"]] == ["bindkey"]
    pair = f"/api/discovered/{row['id']}/pair"
    refused = await site.api("POST", pair, {"answers": {"bindkey": WRONG_KEY}}, status=400)
    assert refused["error"]["field"] == "bindkey" and "LYWSD03MMC 0283F4" in refused["error"]["message"]
    made = await site.api("POST", pair, {"answers": {"bindkey": XIAOMI_KEY.hex()}}, status=201)
    entry = hub.config_entries.get(made["entry_id"])
    assert entry.data["bindkey"] == XIAOMI_KEY.hex()

    # Its next frame (count 0x51) carries a temperature object 0x1004: 225 -> 22.5 degC.
    site.deliver(bleak_adv(XIAOMI_ADDR, service_data={MIBEACON_UUID: xiaomi_sealed(0x51, bytes.fromhex("041002e100"))}))
    values = await until(lambda: (s := states_of(site, entry.entry_id)).get("temperature") not in (None, "unknown",
                         "unavailable") and s, "the paired Xiaomi's reading")  # fmt: skip
    assert float(values["temperature"]) == 22.5


async def test_plain_sensors_ask_nothing_and_a_mopeka_pairs_without_a_tank(site: HubSite) -> None:
    hub = site.hub
    site.deliver(bleak_adv(PLAIN_ADDR, service_data={BTHOME_UUID: PLAIN_DATA}))
    site.deliver(bleak_adv(MOPEKA_ADDR, manufacturer_data={MOPEKA_MANUFACTURER_ID: MOPEKA_DATA},
                           service_uuids=[MOPEKA_UUID]))  # fmt: skip
    plain = await one_row(site, PLAIN_ADDR)
    tank = await one_row(site, MOPEKA_ADDR)
    assert (plain["kind"], plain["asks"], plain["details"]["encrypted"]) == ("climate_sensor", [], False)
    assert (tank["kind"], tank["title"], tank["asks"]) == ("tank_sensor", "M1015 C3E0F5", [])

    made = await site.api("POST", f"/api/discovered/{tank['id']}/pair", {"answers": {}}, status=201)
    entry = hub.config_entries.get(made["entry_id"])
    assert entry.data == {"address": MOPEKA_ADDR, "name": "M1015 C3E0F5"}  # no bindkey, no tank: block
    await site.api("POST", f"/api/discovered/{plain['id']}/pair", {"answers": {}}, status=201)
    # The Mopeka's next packet (another reading: 806 mm) reaches its tank-level entity.
    site.deliver(bleak_adv(MOPEKA_ADDR, manufacturer_data={MOPEKA_MANUFACTURER_ID: bytes.fromhex("125F3178C7CCE52BA83F")},
                           service_uuids=[MOPEKA_UUID]))  # fmt: skip
    values = await until(lambda: (s := states_of(site, entry.entry_id)).get("tank_level_mm") and s, "the tank level")
    assert values["tank_level_mm"] == "806"
    assert not any(item.entity_id.endswith("_volume") for item in hub.entities.entries_for_config_entry(entry.entry_id))


async def test_yaml_wins_over_an_entry_for_the_same_address(site: HubSite, caplog: pytest.LogCaptureFixture) -> None:
    hub = site.hub
    scoped = hub.integrations.scoped_hub("ble_climate")
    roof = Found(source="bluetooth", address=ROOF_ADDR, name="MDR-climate", rssi=-60,
                 extra={"kind": "bthome", "model": "BTHome sensor", "encrypted": False})  # fmt: skip
    assert await pairing.async_discovered(scoped, roof) is None
    with caplog.at_level(logging.WARNING):
        entry = await hub.config_entries.add("ble_climate", "Attic", {"address": ROOF_ADDR, "name": "Attic"},
                                             unique_id=ROOF_ADDR, source="discovery")  # fmt: skip
    assert f"{ROOF_ADDR} is configured in configuration.yaml" in caplog.text
    assert hub.entities.entries_for_config_entry(entry.entry_id) == []
    assert hub.states.get("sensor.attic_temperature") is None
    site.hear(beacon(ROOF_ADDR, clock=site.clock))
    await until(lambda: (s := hub.states.get("sensor.roof_temperature")) is not None and s.state != "unavailable",
                "the YAML device's reading")  # fmt: skip
    # Removing that entry leaves the YAML device's entities alone.
    await site.api("DELETE", f"/api/config_entries/{entry.entry_id}", status=204)
    assert hub.states.get("sensor.roof_temperature") is not None


async def test_pairing_checks_the_bindkey_against_the_offered_advertisement() -> None:
    """async_pair on a Found as the feed makes it: no radio, only the advertisement it carried."""

    class Clock:
        def time(self) -> float:
            return 0.0

    class Hub:
        clock = Clock()

    sim_key = BINDKEY
    found = Found(source="bluetooth", address=XIAOMI_ADDR, rssi=-70, extra={
        "kind": "xiaomi", "model": "LYWSD03MMC", "encrypted": True,
        "service_data": {MIBEACON_UUID: XIAOMI_DATA.hex()}, "manufacturer_data": {}, "service_uuids": [],
    })  # fmt: skip
    assert advertisement_of(found, time=1.0).service_data == {MIBEACON_UUID: XIAOMI_DATA}
    with pytest.raises(PairingError) as err:
        await pairing.async_pair(Hub(), found, {"bindkey": sim_key.hex()})
    assert err.value.field == "bindkey"
    paired = await pairing.async_pair(Hub(), found, {"bindkey": XIAOMI_KEY.hex().upper()})
    assert paired.data == {"address": XIAOMI_ADDR, "name": "LYWSD03MMC 0283F4", "bindkey": XIAOMI_KEY.hex()}
    assert paired.reveal == {}
    # An offer whose stored data is not hex cannot confirm any key.
    broken = Found(source="bluetooth", address=XIAOMI_ADDR, extra={"encrypted": True, "service_data": {"x": "zz"}})
    with pytest.raises(PairingError):
        await pairing.async_pair(Hub(), broken, {"bindkey": XIAOMI_KEY.hex()})


async def test_the_feed_offers_once_per_ten_minutes_waits_for_pairing_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    ready = [False]
    offered: list[Found] = []
    started: list[str] = []

    async def sink(found: Found, adv: Advertisement) -> None:
        offered.append(found)

    def start_task(coro: Any, name: str) -> None:
        started.append(name)
        coro.close()  # the coroutine itself is exercised below; here only what is started counts

    feed = DiscoveryFeed(time=lambda: now[0], sink=sink, start_task=start_task, ready=lambda: ready[0])
    adv = Advertisement(address=XIAOMI_ADDR, name=None, rssi=-70, service_data={MIBEACON_UUID: XIAOMI_DATA},
                        manufacturer_data={}, service_uuids=(MIBEACON_UUID,), time=now[0], source="local")  # fmt: skip
    item = Discovered(address=XIAOMI_ADDR, kind="xiaomi", name="Temperature/Humidity Sensor 83F4", model="LYWSD03MMC",
                      rssi=-70, time=now[0], problem="encrypted, no bindkey", encrypted=True)  # fmt: skip
    feed(item, adv)
    assert started == [] and feed.offers == 0  # the hub's pairing is not up yet: not marked as offered
    ready[0] = True
    feed(item, adv)
    now[0] += FEED_EVERY_S - 1
    feed(item, adv)
    assert feed.offers == 1 and started == [f"ble_climate offer {XIAOMI_ADDR}"]
    now[0] += 1
    feed(item, adv)
    assert feed.offers == 2
    feed.forget(XIAOMI_ADDR)  # unpaired: offered again at once
    feed(item, adv)
    assert feed.offers == 3

    found = found_of(item, adv)
    assert (found.source, found.address, found.name, found.rssi) == ("bluetooth", XIAOMI_ADDR,
                                                                     "Temperature/Humidity Sensor 83F4", -70)  # fmt: skip
    assert found.extra["service_data"] == {MIBEACON_UUID: XIAOMI_DATA.hex()} and found.extra["encrypted"] is True
    assert advertisement_of(found, time=5.0).service_data == adv.service_data

    def failing_start(coro: Any, name: str) -> None:
        coro.close()
        raise RuntimeError("scope closed")

    async def failing_sink(found: Found, adv: Advertisement) -> None:
        raise RuntimeError("database gone")

    with caplog.at_level(logging.ERROR):
        DiscoveryFeed(time=lambda: now[0], sink=sink, start_task=failing_start)(item, adv)  # does not raise
        await DiscoveryFeed(time=lambda: now[0], sink=failing_sink, start_task=start_task)._offer(found, adv)
    assert "could not offer" in caplog.text and "offering A4:C1:38:02:83:F4 for pairing failed" in caplog.text
