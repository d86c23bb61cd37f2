"""Golden vectors through bleak's real BLEDevice / AdvertisementData into the parsers, whole readings compared."""

from __future__ import annotations

import random

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from mopeka_iot_ble import MediumType

from integrations.ble_climate.models import (
    DOWNGRADE,
    NO_BINDKEY,
    REPLAYED_COUNTER,
    WRONG_BINDKEY,
    Advertisement,
    Kind,
    Reading,
    Value,
)
from integrations.ble_climate.parsers import (
    BTHOME_UUID,
    ENVIRONMENT_UUID,
    MIBEACON_UUID,
    MOPEKA_MANUFACTURER_ID,
    MOPEKA_UUID,
    ParserSet,
    to_service_info,
)

T = 1_768_478_400.0  # 2026-01-15 12:00 UTC
RSSI = -60
BTHOME_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")  # PROTOCOLS.md 4.4
ENC_MAC = "54:48:E6:8F:80:A5"


def heard(
    address: str,
    *,
    service_data: dict[str, bytes] | None = None,
    manufacturer_data: dict[int, bytes] | None = None,
    service_uuids: list[str] | None = None,
    name: str | None = None,
    time: float = T,
) -> Advertisement:
    """What the scanner hands over: bleak's real pair, turned into our Advertisement."""
    device = BLEDevice(address, name, None)
    data = AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer_data or {},
        service_data=service_data or {},
        service_uuids=service_uuids or list(service_data or {}),
        tx_power=None,
        rssi=RSSI,
        platform_data=(),
    )
    return Advertisement.from_bleak(device, data, time=time, source="local")


def bthome(address: str, hex_data: str, *, time: float = T, name: str | None = None) -> Advertisement:
    return heard(address, service_data={BTHOME_UUID: bytes.fromhex(hex_data)}, time=time, name=name)


def encrypt_bthome(mac: str, plaintext: bytes, counter: int, key: bytes = BTHOME_KEY) -> str:
    """Encode as our beacon would (PROTOCOLS.md 4.3): nonce MAC + D2FC + device-info + counter, 4-byte MIC."""
    counter_bytes = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc\x41" + counter_bytes
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, plaintext, None)
    return (b"\x41" + sealed[:-4] + counter_bytes + sealed[-4:]).hex()


def test_advertisement_from_bleak_keeps_the_payload() -> None:
    adv = heard("a4:c1:38:8d:18:b2", service_data={BTHOME_UUID: b"\x40\x01\x5d"}, name="ATC_8D18B2", time=5.0)
    assert adv == Advertisement(
        address="A4:C1:38:8D:18:B2", name="ATC_8D18B2", rssi=RSSI,
        service_data={BTHOME_UUID: b"\x40\x01\x5d"}, manufacturer_data={},
        service_uuids=(BTHOME_UUID,), time=5.0, source="local",
    )  # fmt: skip
    info = to_service_info(adv)
    assert (info.address, info.rssi, info.time, info.source) == ("A4:C1:38:8D:18:B2", RSSI, 5.0, "local")
    assert info.service_data == {BTHOME_UUID: b"\x40\x01\x5d"}
    assert info.device.address == "A4:C1:38:8D:18:B2"


# PROTOCOLS.md 4.4 (bthome-ble tests, decoded independently): service data -> values.
BTHOME_PLAIN = [
    ("40 02 CA 09 03 BF 13", {"temperature": 25.06, "humidity": 50.55}),
    ("40 00 09 01 5D 02 5D 09 03 B7 18", {"packet_id": 9, "battery": 93, "temperature": 23.97, "humidity": 63.27}),
    ("40 04 13 8A 01", {"pressure": 1008.83}),
    ("40 05 13 8A 14", {"illuminance": 13460.67}),
    ("40 0C 02 0C", {"voltage": 3.074}),
    ("40 14 02 0C", {"moisture": 30.74}),
    ("40 11 00", {"opening": False}),
    ("40 55 87 56 2A 01", {"volume_storage": 19551.879}),
]


@pytest.mark.parametrize(("hex_data", "values"), BTHOME_PLAIN)
def test_bthome_plain_vectors(hex_data: str, values: dict[str, float]) -> None:
    reading = ParserSet().parse(bthome("A4:C1:38:8D:18:B2", hex_data))
    assert reading == Reading(
        address="A4:C1:38:8D:18:B2", kind="bthome", time=T, values={**values, "signal_strength": RSSI},
        name="BTHome sensor 18B2", model="BTHome sensor",
    )  # fmt: skip


def test_bthome_button_event() -> None:
    reading = ParserSet().parse(bthome("A4:C1:38:8D:18:B2", "40 3A 04", name="Button"))
    assert reading == Reading(
        address="A4:C1:38:8D:18:B2", kind="bthome", time=T, values={"signal_strength": RSSI},
        events={"button": "long_press"}, name="Button 18B2", model="BTHome sensor",
    )  # fmt: skip


def test_bthome_trigger_based_device_info_bit() -> None:
    reading = ParserSet().parse(bthome("A4:C1:38:8D:18:B2", "44 2D 01"))
    assert reading is not None
    assert reading.trigger_based is True
    assert reading.values == {"window": True, "signal_strength": RSSI}


@pytest.mark.parametrize(
    ("address", "hex_data", "values"),
    [
        (ENC_MAC, "41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14", {"temperature": 25.06, "humidity": 50.55}),
        (ENC_MAC, "41 87 B9 00 11 22 33 72 B0 23 1F", {"motion": True}),
        # MAC flag: the nonce takes the MAC from the payload, whatever address the radio saw.
        ("11:22:33:44:55:66", "43 A5 80 8F E6 48 54 F1 96 C0 6F FB 49 00 11 22 33 F0 8E CB DE",
         {"temperature": 25.06, "humidity": 50.55}),
    ],
)  # fmt: skip
def test_bthome_encrypted_vectors_with_the_right_key(address: str, hex_data: str, values: dict[str, Value]) -> None:
    parsers = ParserSet({address.lower(): BTHOME_KEY})  # addresses are matched case-insensitively
    reading = parsers.parse(bthome(address, hex_data))
    assert reading is not None and reading.problem is None
    assert reading.values == {**values, "signal_strength": RSSI}
    assert reading.kind == "bthome"


def test_bthome_wrong_bindkey_is_a_problem_not_an_exception() -> None:
    parsers = ParserSet({ENC_MAC: bytes(16)})
    reading = parsers.parse(bthome(ENC_MAC, "41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14"))
    assert reading == Reading(
        address=ENC_MAC, kind="bthome", time=T, values={}, name="BTHome sensor 80A5", model="BTHome sensor",
        problem=WRONG_BINDKEY,
    )  # fmt: skip


def test_bthome_encrypted_without_a_bindkey() -> None:
    reading = ParserSet().parse(bthome(ENC_MAC, "41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14"))
    assert reading is not None
    assert (reading.problem, reading.values) == (NO_BINDKEY, {})


def test_bthome_replayed_counter() -> None:
    parsers = ParserSet({ENC_MAC: BTHOME_KEY})
    first = parsers.parse(bthome(ENC_MAC, encrypt_bthome(ENC_MAC, bytes.fromhex("02CA09"), 5000)))
    assert first is not None and first.values == {"temperature": 25.06, "signal_strength": RSSI}
    # An older packet, correctly sealed, captured earlier and sent again: the counter went back.
    replay = parsers.parse(bthome(ENC_MAC, encrypt_bthome(ENC_MAC, bytes.fromhex("02C409"), 4000), time=T + 10))
    assert replay is not None
    assert (replay.problem, replay.values) == (REPLAYED_COUNTER, {})
    later = parsers.parse(bthome(ENC_MAC, encrypt_bthome(ENC_MAC, bytes.fromhex("02D009"), 5001), time=T + 20))
    assert later is not None and later.problem is None and later.values["temperature"] == 25.12


def test_bthome_wrong_bindkey_on_a_first_packet_with_counter_zero() -> None:
    """A beacon's very first packet (counter 0) sealed with another key is reported, not dropped."""
    parsers = ParserSet({ENC_MAC: bytes(16)})
    reading = parsers.parse(bthome(ENC_MAC, encrypt_bthome(ENC_MAC, bytes.fromhex("02CA09"), 0)))
    assert reading is not None and (reading.problem, reading.values) == (WRONG_BINDKEY, {})


def test_bthome_downgrade_to_plain_from_a_keyed_device() -> None:
    parsers = ParserSet({ENC_MAC: BTHOME_KEY})
    assert parsers.parse(bthome(ENC_MAC, "41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14")) is not None
    reading = parsers.parse(bthome(ENC_MAC, "40 02 CA 09 03 BF 13", time=T + 10))
    assert reading is not None
    assert (reading.problem, reading.values) == (DOWNGRADE, {})


def test_bthome_parser_is_kept_per_device_so_packet_ids_deduplicate() -> None:
    parsers = ParserSet()
    first = bthome("A4:C1:38:8D:18:B2", "40 00 09 01 5D 02 5D 09 03 B7 18")
    assert parsers.parse(first) is not None
    # Same packet id 1 s later (another copy with a different RSSI path): the library drops it.
    assert parsers.parse(bthome("A4:C1:38:8D:18:B2", "40 00 09 01 5D 02 5D 09 03 B7 18", time=T + 1)) is None
    nxt = parsers.parse(bthome("A4:C1:38:8D:18:B2", "40 00 0A 01 5C 02 5D 09 03 B7 18", time=T + 2))
    assert nxt is not None and nxt.values == {
        "packet_id": 10, "battery": 92, "temperature": 23.97, "humidity": 63.27, "signal_strength": RSSI,
    }  # fmt: skip
    # Another device's packet id 9 is its own.
    assert parsers.parse(bthome("A4:C1:38:00:00:01", "40 00 09 01 5D", time=T + 2)) is not None


# PROTOCOLS.md 5 (ble_monitor's atc tests): service data after the 0x181A UUID.
CUSTOM = [
    ("A4:C1:38:02:83:F4", "A4C1380283F4 00A2 2F 5F 0BF8 19", "atc",
     {"temperature": 16.2, "humidity": 47, "battery": 95, "voltage": 3.064, "packet_id": 25}),
    ("A4:C1:38:BC:7C:4E", "A4C138BC7C4E 0102 28 4F 0B67 20", "atc",
     {"temperature": 25.8, "humidity": 40, "battery": 79, "voltage": 2.919, "packet_id": 32}),
    ("A4:C1:38:02:83:F4", "F4830238C1A4 A906 6911 B60B 58 F7 0D", "pvvx",
     {"temperature": 17.05, "humidity": 44.57, "battery": 88, "voltage": 2.998, "packet_id": 247,
      "reed_switch": True, "output": False}),
    ("A4:C1:38:8D:18:B2", "B2188D38C1A4 2B08 9011 F70A 43 20 0F", "pvvx",
     {"temperature": 20.91, "humidity": 44.96, "battery": 67, "voltage": 2.807, "packet_id": 32,
      "reed_switch": True, "output": True}),
]  # fmt: skip
MODELS = {"atc": "ATC1441 custom firmware", "pvvx": "pvvx custom firmware"}


@pytest.mark.parametrize(("address", "hex_data", "kind", "values"), CUSTOM)
def test_custom_firmware_vectors(address: str, hex_data: str, kind: Kind, values: dict[str, Value]) -> None:
    adv = heard(address, service_data={ENVIRONMENT_UUID: bytes.fromhex(hex_data)}, name="ATC_0283F4")
    assert ParserSet().parse(adv) == Reading(
        address=address, kind=kind, time=T, values={**values, "signal_strength": RSSI},
        name="ATC_0283F4", model=MODELS[kind],
    )  # fmt: skip


PVVX_ENC = "11 D603FBFA7B6D FB1E26FD"  # PROTOCOLS.md 5: whole AD 0E 16 1A 18 + this
PVVX_KEY = bytes.fromhex("b9ea895fac7eea6d30532432a516f3a3")


def test_pvvx_encrypted_vector() -> None:
    adv = heard("A4:C1:38:8D:18:B2", service_data={ENVIRONMENT_UUID: bytes.fromhex(PVVX_ENC)})
    assert ParserSet({"A4:C1:38:8D:18:B2": PVVX_KEY}).parse(adv) == Reading(
        address="A4:C1:38:8D:18:B2", kind="pvvx", time=T, model="pvvx custom firmware",
        values={"temperature": 23.45, "humidity": 41.73, "battery": 61, "packet_id": 17, "signal_strength": RSSI},
    )  # fmt: skip


def test_pvvx_encrypted_wrong_or_missing_key() -> None:
    adv = heard("A4:C1:38:8D:18:B2", service_data={ENVIRONMENT_UUID: bytes.fromhex(PVVX_ENC)})
    wrong = ParserSet({"A4:C1:38:8D:18:B2": bytes(16)}).parse(adv)
    missing = ParserSet().parse(adv)
    assert wrong is not None and (wrong.problem, wrong.values) == (WRONG_BINDKEY, {})
    assert missing is not None and (missing.problem, missing.values) == (NO_BINDKEY, {})


# From xiaomi-ble's own tests (Bluetooth-Devices/xiaomi-ble, tests/test_parser.py,
# test_Xiaomi_LYWSD03MMC_encrypted): MiBeacon v5 encrypted, humidity 46 %.
XIAOMI_DATA = "58585b0550f4830238c1a495ef58763c26000097e2abb5"
XIAOMI_KEY = bytes.fromhex("e9ea895fac7cca6d30532432a516f3a8")


def test_xiaomi_vector_from_xiaomi_ble_tests() -> None:
    adv = heard("A4:C1:38:02:83:F4", service_data={MIBEACON_UUID: bytes.fromhex(XIAOMI_DATA)})
    assert ParserSet({"A4:C1:38:02:83:F4": XIAOMI_KEY}).parse(adv) == Reading(
        address="A4:C1:38:02:83:F4", kind="xiaomi", time=T, values={"humidity": 46, "signal_strength": RSSI},
        name="Temperature/Humidity Sensor 83F4", model="LYWSD03MMC",
    )  # fmt: skip


def test_xiaomi_wrong_and_missing_bindkey() -> None:
    adv = heard("A4:C1:38:02:83:F4", service_data={MIBEACON_UUID: bytes.fromhex(XIAOMI_DATA)})
    wrong = ParserSet({"A4:C1:38:02:83:F4": bytes(16)}).parse(adv)
    missing = ParserSet().parse(adv)
    assert wrong is not None and (wrong.problem, wrong.model) == (WRONG_BINDKEY, "LYWSD03MMC")
    assert missing is not None and (missing.problem, missing.values) == (NO_BINDKEY, {})


def mopeka(hex_data: str, address: str = "D4:40:F0:C3:E0:F5") -> Advertisement:
    return heard(
        address, manufacturer_data={MOPEKA_MANUFACTURER_ID: bytes.fromhex(hex_data)}, service_uuids=[MOPEKA_UUID]
    )


def test_mopeka_pro_plus_vector() -> None:
    # PROTOCOLS.md 6: 3.5 V, 27 degC, raw 950, quality 3 -> 341 mm of propane, accel (250, 227).
    assert ParserSet().parse(mopeka("08 70 43 B6 C3 E0 F5 09 FA E3")) == Reading(
        address="D4:40:F0:C3:E0:F5", kind="mopeka", time=T, name="Pro Plus E0F5", model="M1015",
        values={
            "temperature": 27, "battery": 100, "voltage": 3.5, "tank_level_mm": 341, "tank_level_quality": 3,
            "tank_level_quality_pct": 100, "accelerometer_x": 250, "accelerometer_y": 227,
            "button_pressed": False, "signal_strength": RSSI,
        },
    )  # fmt: skip


def test_mopeka_pro_200b_and_quality_zero() -> None:
    reading = ParserSet().parse(mopeka("12 5F 31 78 C7 CC E5 2B A8 3F"))
    assert reading is not None and reading.values["tank_level_mm"] == 806 and reading.values["temperature"] == 9
    no_level = ParserSet().parse(mopeka("08 72 46 00 30 E0 F5 09 FA E3"))
    assert no_level is not None
    assert "tank_level_mm" not in no_level.values and no_level.values["tank_level_quality"] == 0


def test_mopeka_medium_per_device() -> None:
    water = ParserSet(mopeka_media={"D4:40:F0:C3:E0:F5": MediumType.FRESH_WATER})
    reading = water.parse(mopeka("08 70 43 B6 C3 E0 F5 09 FA E3"))
    assert reading is not None and reading.values["tank_level_mm"] != 341


def test_mopeka_needs_its_service_uuid() -> None:
    adv = heard("D4:40:F0:C3:E0:F5", manufacturer_data={MOPEKA_MANUFACTURER_ID: bytes.fromhex("0870")})
    assert ParserSet().parse(adv) is None


@pytest.mark.parametrize(
    "hex_data",
    ["", "40", "40 02 CA", "40 FE 01 02", "00 02 CA 09", "41 00", "41 01 02 03 04 05 06 07 08", "43 A5 80"],
)
def test_bthome_garbage_is_none_or_a_problem(hex_data: str) -> None:
    parsers = ParserSet({"A4:C1:38:8D:18:B2": BTHOME_KEY})
    reading = parsers.parse(bthome("A4:C1:38:8D:18:B2", hex_data))
    assert reading is None or (reading.problem is not None and reading.values == {})


def test_unknown_service_is_ignored() -> None:
    assert ParserSet().parse(heard("A4:C1:38:8D:18:B2", service_data={MOPEKA_UUID: b"\x01"})) is None


def test_random_bytes_never_raise() -> None:
    rng = random.Random(7)
    parsers = ParserSet({"A4:C1:38:8D:18:B2": BTHOME_KEY})
    outcomes: set[str] = set()
    for i in range(3000):
        payload = rng.randbytes(rng.randrange(0, 24))
        if rng.random() < 0.5 and payload:
            payload = bytes([rng.choice((0x40, 0x41, 0x44, 0x45))]) + payload  # get past the version check
        where = rng.randrange(4)
        if where == 3:
            adv = heard("A4:C1:38:8D:18:B2", manufacturer_data={MOPEKA_MANUFACTURER_ID: payload},
                        service_uuids=[MOPEKA_UUID], time=T + i)  # fmt: skip
        else:
            uuid = (BTHOME_UUID, MIBEACON_UUID, ENVIRONMENT_UUID)[where]
            adv = heard("A4:C1:38:8D:18:B2", service_data={uuid: payload}, time=T + i)
        reading = parsers.parse(adv)
        outcomes.add("none" if reading is None else reading.problem or "ok")
    # The fuzz reached all three outcomes, so it exercised more than the early exits.
    assert {"none", "ok"} <= outcomes and len(outcomes) >= 3


def test_non_mac_address_with_custom_encryption_is_a_problem() -> None:
    # macOS reports a UUID, not a MAC: the nonce cannot be built, and that is reported, not raised.
    address = "12345678-1234-1234-1234-123456789ABC"
    adv = heard(address, service_data={ENVIRONMENT_UUID: bytes.fromhex(PVVX_ENC)})
    reading = ParserSet({address: PVVX_KEY}).parse(adv)
    assert reading is not None and reading.problem is not None and reading.problem.startswith("malformed")


def test_forget_drops_parser_state() -> None:
    parsers = ParserSet()
    adv = bthome("A4:C1:38:8D:18:B2", "40 00 09 01 5D")
    assert parsers.parse(adv) is not None
    parsers.forget("A4:C1:38:8D:18:B2")
    # A fresh parser has no packet id to compare against, so the same packet is taken again.
    assert parsers.parse(bthome("A4:C1:38:8D:18:B2", "40 00 09 01 5D", time=T + 1)) is not None
