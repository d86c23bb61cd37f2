"""The simulated climate beacon: a plausible day, a draining battery, the firmware's own bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from beacon_fakes import BTHOME_UUID, decoded, service_info
from bthome_ble import BTHomeBluetoothDeviceData

from firmware.climate_beacon import bthome
from firmware.sim.climate_sim import ROOF, ROOM, SimulatedClimateBeacon, cryptography_aes_ecb, local_name_of

START = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
MAC = "54:48:E6:8F:80:A5"


def test_a_day_in_the_room_and_on_the_roof() -> None:
    for profile, low_swing in ((ROOM, 2.0), (ROOF, 12.0)):
        beacon = SimulatedClimateBeacon(MAC, profile, start=START, seed=3)
        day = [beacon.reading_at(START + timedelta(hours=h)) for h in range(24)]
        temps = [t / 100 for t, _, _ in day]
        hums = [h / 100 for _, h, _ in day]
        warmest = temps.index(max(temps))
        assert abs(warmest - profile.warmest_hour) <= 2
        assert 0.5 * profile.swing_c < (max(temps) - min(temps)) / 2 < low_swing
        # relative humidity is lowest when it is warmest
        assert abs(hums.index(min(hums)) - warmest) <= 2
        assert all(0 <= h <= 100 for h in hums)
    roof = SimulatedClimateBeacon(MAC, ROOF, start=START)
    room = SimulatedClimateBeacon(MAC, ROOM, start=START)
    noon = START + timedelta(hours=14)
    assert roof.reading_at(noon)[0] > room.reading_at(noon)[0]


def test_reading_depends_on_time_only() -> None:
    a = SimulatedClimateBeacon(MAC, start=START, seed=5)
    b = SimulatedClimateBeacon(MAC, start=START, seed=5)
    t = START + timedelta(hours=9, minutes=13)
    b.advertise(START)  # advancing the counter does not move the physics
    assert a.reading_at(t) == b.reading_at(t)
    assert SimulatedClimateBeacon(MAC, start=START, seed=6).reading_at(t) != a.reading_at(t)


def test_battery_drains_slowly() -> None:
    beacon = SimulatedClimateBeacon(MAC, start=START, battery_start_pct=80.0, battery_life_days=100.0)
    assert beacon.reading_at(START)[2] == 80
    assert beacon.reading_at(START + timedelta(days=50))[2] == 40
    assert beacon.reading_at(START + timedelta(days=150))[2] == 0


def test_emits_exactly_the_firmware_encoders_bytes() -> None:
    beacon = SimulatedClimateBeacon(MAC, start=START, bindkey=KEY, counter_start=41)
    t = START + timedelta(hours=15)
    temperature_cc, humidity_ch, battery = beacon.reading_at(t)
    address, payload, service_data = beacon.advertise(t)
    objects = bthome.encode_objects(41, battery, temperature_cc, humidity_ch)
    expected = bthome.encrypted_service_data(objects, KEY, MAC, 41, cryptography_aes_ecb)
    assert address == MAC
    assert payload == bthome.advertisement(expected, "MDR-climate")
    assert service_data == {BTHOME_UUID: expected}
    assert beacon.counter == 42


def test_a_day_decoded_by_bthome_ble() -> None:
    beacon = SimulatedClimateBeacon(MAC, ROOF, start=START, bindkey=KEY, name="MR1", counter_start=250)
    parser = BTHomeBluetoothDeviceData(bindkey=KEY)
    seen = 0
    for now, (address, payload, _) in beacon.run(START, START + timedelta(days=1), interval_s=600):
        temperature_cc, humidity_ch, battery = beacon.reading_at(now)
        values = decoded(parser, service_info(address, payload, now.timestamp()))
        assert values["temperature"] == pytest.approx(temperature_cc / 100)
        assert values["humidity"] == pytest.approx(humidity_ch / 100)
        assert values["battery"] == battery
        assert local_name_of(payload) == "MR1"  # 3 characters fit beside encrypted data
        seen += 1
    assert seen == 144  # every 10 minutes; the packet id wrapped past 255 on the way
    assert parser.bindkey_verified is True and parser.encryption_counter == 250 + 143


def test_naive_start_and_bad_interval_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        SimulatedClimateBeacon(MAC, start=datetime(2026, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="positive"):
        next(SimulatedClimateBeacon(MAC, start=START).run(START, START + timedelta(hours=1), interval_s=0))
