"""Raw AD data into bleak's terms: vectors, scan-response merging, garbage, and HA's own parser as a peer."""

from __future__ import annotations

import random
import uuid

import pytest
from bluetooth_data_tools import parse_advertisement_data

from firmware.ble_proxy import ad

BTHOME = "0000fcd2-0000-1000-8000-00805f9b34fb"


def element(ad_type: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, ad_type]) + data


def uuid_from_air(raw: bytes) -> str:
    """Independent reading: a 16/32-bit UUID into the base UUID, a 128-bit one reversed."""
    if len(raw) == 16:
        return str(uuid.UUID(bytes=raw[::-1]))
    return str(uuid.UUID(int=(int.from_bytes(raw, "little") << 96) | 0x800000805F9B34FB | (0x1000 << 64)))


def test_bthome_full_advertisement_from_protocols_4_1() -> None:
    payload = bytes.fromhex("020106 0B094449592D73656E736F72 0A16D2FC4002C40903BF13")
    fields = ad.parse(payload)
    assert fields.flags == 0x06
    assert fields.name == "DIY-sensor"
    assert fields.service_data == {BTHOME: bytes.fromhex("4002C40903BF13")}
    assert fields.manufacturer_data == {}
    assert fields.service_uuids == []


def test_mopeka_manufacturer_data_and_service_uuid() -> None:
    payload = bytes.fromhex("020106 0303E5FE 0DFF5900 087043B6C3E0F509FAE3")
    fields = ad.parse(payload)
    assert fields.manufacturer_data == {0x0059: bytes.fromhex("087043B6C3E0F509FAE3")}
    assert fields.service_uuids == ["0000fee5-0000-1000-8000-00805f9b34fb"]


def test_uuid_lists_and_service_data_of_every_width() -> None:
    u128 = bytes(range(16))
    payload = (
        element(0x03, bytes.fromhex("0D18 0F18"))
        + element(0x05, bytes.fromhex("78563412"))
        + element(0x07, u128)
        + element(0x20, bytes.fromhex("78563412 AABB"))
        + element(0x21, u128 + b"\x01")
    )
    fields = ad.parse(payload)
    assert fields.service_uuids == [
        uuid_from_air(bytes.fromhex("0D18")),
        uuid_from_air(bytes.fromhex("0F18")),
        uuid_from_air(bytes.fromhex("78563412")),
        uuid_from_air(u128),
    ]
    assert fields.service_uuids[0] == "0000180d-0000-1000-8000-00805f9b34fb"
    assert fields.service_uuids[2] == "12345678-0000-1000-8000-00805f9b34fb"
    assert fields.service_uuids[3] == "0f0e0d0c-0b0a-0908-0706-050403020100"
    assert fields.service_data == {
        "12345678-0000-1000-8000-00805f9b34fb": b"\xaa\xbb",
        "0f0e0d0c-0b0a-0908-0706-050403020100": b"\x01",
    }


def test_tx_power_is_signed_and_padding_ends_the_data() -> None:
    fields = ad.parse(element(0x0A, b"\xf4") + b"\x00\x00\x00" + b"\x05garbage")
    assert fields.tx_power == -12
    assert fields.flags is None


def test_scan_response_merges_and_a_complete_name_wins() -> None:
    adv = element(0x01, b"\x06") + element(0x08, b"MDR") + element(0x16, b"\xd2\xfc\x40\x00\x01")
    rsp = element(0x09, b"MDR-climate") + element(0xFF, b"\xff\xff\x01")
    fields = ad.parse(adv)
    assert fields.name == "MDR"
    merged = ad.parse(rsp, fields)
    assert merged is fields
    assert fields.name == "MDR-climate"
    assert fields.manufacturer_data == {0xFFFF: b"\x01"}
    assert fields.service_data == {BTHOME: b"\x40\x00\x01"}
    # a later shortened name does not replace the complete one
    ad.parse(element(0x08, b"X"), fields)
    assert fields.name == "MDR-climate"


def test_an_invalid_utf8_name_is_kept_readable() -> None:
    assert ad.parse(element(0x09, b"ab\xffc")).name == "ab\ufffdc"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (bytes.fromhex("020106 0B094449"), "AD element at offset 3 claims 11 bytes, 3 remain"),
        (bytes.fromhex("05"), "AD element at offset 0 claims 5 bytes, 0 remain"),
        (element(0x01, b""), "flags element without a flags byte"),
        (element(0x03, b"\x0d\x18\x0f"), "16-bit UUID list of 3 bytes"),
        (element(0x05, b"\x01\x02"), "32-bit UUID list of 2 bytes"),
        (element(0x07, bytes(15)), "128-bit UUID list of 15 bytes"),
        (element(0x16, b"\xd2"), r"service data \(16-bit UUID\) of 1 bytes"),
        (element(0x21, bytes(15)), r"service data \(128-bit UUID\) of 15 bytes"),
        (element(0xFF, b"\x4c"), "manufacturer data of 1 bytes, no company id"),
        (element(0x0A, b"\x01\x02"), "TX power element of 2 bytes"),
    ],
)
def test_malformed_data_raises_ad_error(payload: bytes, match: str) -> None:
    with pytest.raises(ad.AdError, match=match):
        ad.parse(payload)


def test_a_bad_scan_response_merges_nothing() -> None:
    fields = ad.parse(element(0x09, b"keep"))
    with pytest.raises(ad.AdError):
        ad.parse(element(0x09, b"lost") + element(0xFF, b"\x01"), fields)
    assert fields.name == "keep" and fields.manufacturer_data == {}


def test_random_garbage_raises_only_ad_error() -> None:
    rng = random.Random(11)
    refused = 0
    for _ in range(5000):
        try:
            ad.parse(rng.randbytes(rng.randrange(0, 32)))
        except ad.AdError:
            refused += 1
    assert 0 < refused < 5000


def random_payload(rng: random.Random) -> bytes:
    """A well-formed payload with distinct keys (where parsers may legitimately differ on repeats)."""
    parts = [element(0x01, bytes([rng.randrange(256)]))]
    if rng.random() < 0.7:
        parts.append(element(0x09, "".join(rng.choices("abcXYZ-_ 01", k=rng.randrange(1, 12))).encode()))
    width = rng.choice([2, 4, 16])
    list_type = {2: 0x03, 4: 0x05, 16: 0x07}[width]
    uuids = {rng.randbytes(width) for _ in range(rng.randrange(0, 3))}
    if uuids:
        parts.append(element(list_type, b"".join(sorted(uuids))))
    sd_width = rng.choice([2, 4, 16])
    sd_type = {2: 0x16, 4: 0x20, 16: 0x21}[sd_width]
    parts.append(element(sd_type, rng.randbytes(sd_width) + rng.randbytes(rng.randrange(0, 8))))
    if rng.random() < 0.6:
        parts.append(element(0xFF, rng.randbytes(2) + rng.randbytes(rng.randrange(0, 10))))
    if rng.random() < 0.3:
        parts.append(element(0x0A, rng.randbytes(1)))
    rng.shuffle(parts)
    return b"".join(parts)


def test_agrees_with_bluetooth_data_tools() -> None:
    """Home Assistant reads ESPHome proxies' raw AD data with bluetooth-data-tools: same answers."""
    rng = random.Random(3)
    for _ in range(500):
        payload = random_payload(rng)
        ours = ad.parse(payload)
        theirs = parse_advertisement_data([payload])
        assert ours.name == theirs.local_name, payload.hex()
        assert ours.service_data == theirs.service_data, payload.hex()
        assert ours.manufacturer_data == theirs.manufacturer_data, payload.hex()
        assert ours.service_uuids == theirs.service_uuids, payload.hex()
        assert ours.tx_power == theirs.tx_power, payload.hex()


def test_uuid_string_rejects_odd_widths() -> None:
    with pytest.raises(ad.AdError, match="a UUID has 2, 4 or 16 bytes, got 3"):
        ad.uuid_string(b"abc")
