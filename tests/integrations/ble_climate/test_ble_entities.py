"""Device entities: learned availability, trigger-based devices, device problems, values that appear later."""

from __future__ import annotations

import struct

import pytest
from ble_helpers import BINDKEY, ROOF_ADDR, ROOM_ADDR, BleSetup, beacon, bleak_pair
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from waiting import until

from integrations.ble_climate.models import REPLAYED_COUNTER, WRONG_BINDKEY
from integrations.ble_climate.parsers import ENVIRONMENT_UUID

TEMP = "sensor.roof_temperature"
SIGNAL = "sensor.roof_signal_strength"
LAST_SEEN = "sensor.roof_last_seen"
OTHER_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


async def test_unavailable_after_three_learned_intervals_of_silence(ble: BleSetup) -> None:
    await ble.start()
    sim = beacon(clock=ble.clock)
    assert ble.state(TEMP) == "unavailable"
    assert ble.attrs(TEMP)["unavailable_reason"] == "not heard since the hub started"
    for _ in range(6):
        ble.hear(sim)
        await ble.clock.advance(30)
    assert ble.runtime.manager.tracker.interval(ROOF_ADDR) == pytest.approx(30)
    # Last heard 30 s ago; the limit is 3 x 30 s = 90 s of silence.
    await ble.clock.advance(60)
    assert ble.state(TEMP) != "unavailable"
    await ble.clock.advance(10)
    assert ble.state(TEMP) == "unavailable"
    assert ble.attrs(TEMP)["unavailable_reason"] == "not heard for 100 s; advertises every 30 s"
    assert ble.state(SIGNAL) == "unavailable"
    assert ble.state(LAST_SEEN) != "unavailable"  # when it was last heard stays known
    ble.hear(sim)
    assert ble.state(TEMP) != "unavailable"
    assert ble.state(SIGNAL) == "-60"


async def test_a_trigger_based_device_is_never_unavailable(ble: BleSetup) -> None:
    await ble.start(devices={ROOF_ADDR: {"name": "Roof"}, ROOM_ADDR: {"name": "Room"}})
    sleepy = beacon(ROOF_ADDR, clock=ble.clock, trigger=True)
    steady = beacon(ROOM_ADDR, clock=ble.clock, room=True)
    ble.hear(sleepy)
    ble.hear(steady)
    await ble.clock.advance(3 * 3600)  # far past 3 x any interval and the 15 min unlearned limit
    assert ble.state(TEMP) != "unavailable"
    assert ble.state("sensor.room_temperature") == "unavailable"


async def test_wrong_bindkey_is_shown_on_the_device(ble: BleSetup) -> None:
    await ble.start(devices={ROOF_ADDR: {"name": "Roof", "bindkey": OTHER_KEY.hex()}})
    # A beacon that has run for a while (parsers.py cannot tell a wrong key on a counter-0 packet).
    sim = beacon(clock=ble.clock, bindkey=BINDKEY, counter_start=1000)
    ble.hear(sim, rssi=-66)
    assert ble.state(TEMP) == "unavailable"
    assert ble.attrs(TEMP)["unavailable_reason"] == WRONG_BINDKEY
    assert ble.attrs(TEMP)["problem"] == WRONG_BINDKEY
    # The radio link itself is fine: signal strength and last seen say so.
    assert ble.state(SIGNAL) == "-66"
    assert ble.attrs(SIGNAL)["last_problem"] == WRONG_BINDKEY
    assert ble.state(LAST_SEEN) == ble.clock.now().isoformat()


async def test_replayed_counter_is_an_attribute_and_values_stay(ble: BleSetup) -> None:
    await ble.start(devices={ROOF_ADDR: {"name": "Roof", "bindkey": BINDKEY.hex()}})
    sim = beacon(clock=ble.clock, bindkey=BINDKEY, counter_start=1000)
    old = sim.advertise(ble.clock.now())
    await ble.clock.advance(10)
    ble.hear(sim)
    good = ble.state(TEMP)
    ble.factory.running.deliver(*bleak_pair(old))  # an older packet, captured and sent again
    assert ble.attrs(TEMP)["problem"] == REPLAYED_COUNTER
    assert ble.state(TEMP) == good
    await ble.clock.advance(10)
    ble.hear(sim)
    assert "problem" not in ble.attrs(TEMP)
    assert ble.attrs(SIGNAL)["last_problem"] == REPLAYED_COUNTER


async def test_voltage_entity_appears_when_a_device_sends_it(ble: BleSetup) -> None:
    await ble.start()
    assert ble.hub.states.get("sensor.roof_voltage") is None
    mac = bytes.fromhex(ROOF_ADDR.replace(":", ""))
    data = mac + struct.pack(">hBBHB", 215, 48, 87, 2950, 7)  # ATC1441: 21.5 °C, 48 %, 87 %, 2.950 V
    device = BLEDevice(ROOF_ADDR, "ATC_000001", None)
    adv = AdvertisementData(local_name="ATC_000001", manufacturer_data={}, service_data={ENVIRONMENT_UUID: data},
                            service_uuids=[], tx_power=None, rssi=-58, platform_data=())  # fmt: skip
    ble.factory.running.deliver(device, adv)
    await until(lambda: ble.hub.states.get("sensor.roof_voltage"), "the voltage entity")  # registry: db thread
    assert ble.state("sensor.roof_voltage") == "2.950"
    assert ble.state(TEMP) == "21.5"
    assert ble.state("sensor.roof_battery") == "87"
    assert ble.attrs(SIGNAL)["model"] == "ATC1441 custom firmware"


async def test_configured_area_is_suggested_once(ble: BleSetup) -> None:
    await ble.start()
    entity = ble.hub.entities.get(TEMP)
    assert entity is not None and entity.device_id is not None
    assert ble.hub.devices.get(entity.device_id).area == "Roof"


async def test_unconfigured_devices_are_listed_not_given_entities(ble: BleSetup) -> None:
    await ble.start()
    stranger = beacon(ROOM_ADDR, clock=ble.clock, room=True)
    ble.hear(stranger, rssi=-90)
    await ble.clock.advance(60)  # the adapter's counters are rewritten once a minute
    unconfigured = ble.attrs("sensor.bluetooth_adapter")["unconfigured"]
    assert [(d["address"], d["kind"], d["rssi"]) for d in unconfigured] == [(ROOM_ADDR, "bthome", -90)]
    assert ble.hub.states.get("sensor.mdr_climate_temperature") is None
    assert len(ble.runtime.devices) == 1
