"""Our BTHome v2 encoder: PROTOCOLS.md 4.4 vectors, CCM against cryptography, bthome-ble as the peer."""

from __future__ import annotations

import random

import pytest
from beacon_fakes import BTHOME_UUID, decoded, service_info
from bthome_ble import BTHomeBluetoothDeviceData
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from firmware.climate_beacon import bthome
from firmware.sim.climate_sim import cryptography_aes_ecb, local_name_of, service_data_of

KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
MAC = "54:48:E6:8F:80:A5"
VECTOR_COUNTER = 0x33221100  # transmitted as 00 11 22 33


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_plain_vectors_from_protocols() -> None:
    objects = bthome.encode_objects(temperature_cc=2506, humidity_ch=5055)
    assert bthome.plain_service_data(objects) == hx("40 02 CA 09 03 BF 13")
    objects = bthome.encode_objects(packet_id=9, battery=93, temperature_cc=2397, humidity_ch=6327)
    assert bthome.plain_service_data(objects) == hx("40 00 09 01 5D 02 5D 09 03 B7 18")


def test_full_advertisement_matches_bthome_io_example() -> None:
    data = bthome.plain_service_data(bthome.encode_objects(temperature_cc=2500, humidity_ch=5055))
    assert bthome.advertisement(data, "DIY-sensor") == hx("020106 0B094449592D73656E736F72 0A16D2FC4002C40903BF13")
    assert bthome.advertisement(data) == hx("020106 0A16D2FC4002C40903BF13")


def test_encrypted_vector_from_protocols() -> None:
    objects = bthome.encode_objects(temperature_cc=2506, humidity_ch=5055)
    data = bthome.encrypted_service_data(objects, KEY, MAC, VECTOR_COUNTER, cryptography_aes_ecb)
    assert data == hx("41 A4 72 66 C9 5F 73 00 11 22 33 78 23 72 14")
    assert bthome.nonce(MAC, 0x41, VECTOR_COUNTER) == hx("5448E68F80A5 D2FC 41 00112233")
    motion = bthome.encrypted_service_data(hx("2101"), KEY, MAC, VECTOR_COUNTER, cryptography_aes_ecb)
    assert motion == hx("41 87 B9 00 11 22 33 72 B0 23 1F")


def test_device_info_bits() -> None:
    assert [bthome.device_info(e, t) for e in (False, True) for t in (False, True)] == [0x40, 0x44, 0x41, 0x45]
    assert bthome.plain_service_data(b"", trigger=True) == b"\x44"


def test_negative_temperature_is_twos_complement() -> None:
    assert bthome.encode_objects(temperature_cc=-1234) == b"\x02" + (-1234).to_bytes(2, "little", signed=True)


@pytest.mark.parametrize(
    "kwargs",
    [{"packet_id": 256}, {"battery": 101}, {"temperature_cc": 40000}, {"humidity_ch": -1}, {"humidity_ch": 2.5}],
)
def test_values_out_of_range_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(bthome.EncodeError, match=next(iter(kwargs))):
        bthome.encode_objects(**kwargs)


def test_bad_key_mac_and_oversized_advertisement_are_refused() -> None:
    with pytest.raises(bthome.EncodeError, match="16 bytes"):
        bthome.encrypted_service_data(b"\x00\x01", KEY[:8], MAC, 1, cryptography_aes_ecb)
    with pytest.raises(bthome.EncodeError, match="MAC"):
        bthome.mac_bytes("54:48:E6")
    with pytest.raises(bthome.EncodeError, match="31"):
        bthome.advertisement(b"\x40" + bytes(26))


def test_name_is_shortened_when_encryption_leaves_less_room() -> None:
    objects = bthome.encode_objects(packet_id=1, battery=90, temperature_cc=2100, humidity_ch=4000)
    data = bthome.encrypted_service_data(objects, KEY, MAC, 7, cryptography_aes_ecb)
    payload = bthome.advertisement(data, "MDR-climate")
    assert len(payload) == 31
    kinds = [t for t, _ in bthome.ad_structures(payload)]
    assert kinds == [bthome.AD_FLAGS, bthome.AD_SHORT_NAME, bthome.AD_SERVICE_DATA_16]
    assert local_name_of(payload) == "MDR"
    assert service_data_of(payload) == {BTHOME_UUID: data}
    plain = bthome.advertisement(bthome.plain_service_data(objects), "MDR-climate")
    assert local_name_of(plain) == "MDR-climate" and bthome.ad_structures(plain)[1][0] == bthome.AD_COMPLETE_NAME


def test_ccm_matches_cryptography_for_random_inputs() -> None:
    rng = random.Random(7)
    for _ in range(200):
        key = rng.randbytes(16)
        nonce = rng.randbytes(13)
        message = rng.randbytes(rng.randrange(0, 60))
        aad = rng.randbytes(rng.choice([0, 0, 1, 5, 20]))
        mic_len = rng.choice([4, 8, 16])
        sealed = bthome.ccm_encrypt(cryptography_aes_ecb, key, nonce, message, mic_len, aad)
        assert sealed == AESCCM(key, tag_length=mic_len).encrypt(nonce, message, aad or None)
        assert bthome.ccm_decrypt(cryptography_aes_ecb, key, nonce, sealed, mic_len, aad) == message


def test_ccm_decrypt_rejects_tampering_like_cryptography() -> None:
    nonce = bthome.nonce(MAC, 0x41, 5)
    sealed = bytearray(bthome.ccm_encrypt(cryptography_aes_ecb, KEY, nonce, b"\x02\xca\x09\x03\xbf\x13"))
    sealed[2] ^= 0x10
    with pytest.raises(bthome.EncodeError, match="MIC"):
        bthome.ccm_decrypt(cryptography_aes_ecb, KEY, nonce, bytes(sealed))
    with pytest.raises(InvalidTag):
        AESCCM(KEY, tag_length=4).decrypt(nonce, bytes(sealed), None)


# --- the peer: bthome-ble decodes what we encode ---------------------------------------------


def _advert(packet_id: int, temperature_cc: int, humidity_ch: int, battery: int, *, key: bytes | None = None,
            counter: int = 0, trigger: bool = False) -> bytes:
    objects = bthome.encode_objects(packet_id, battery, temperature_cc, humidity_ch)
    if key is None:
        data = bthome.plain_service_data(objects, trigger)
    else:
        data = bthome.encrypted_service_data(objects, key, MAC, counter, cryptography_aes_ecb, trigger)
    return bthome.advertisement(data, "MDR-climate")


def test_bthome_ble_decodes_plain_advertisements() -> None:
    parser = BTHomeBluetoothDeviceData()
    values = decoded(parser, service_info(MAC, _advert(1, 2506, 5055, 93), 100.0))
    assert values["temperature"] == pytest.approx(25.06)
    assert values["humidity"] == pytest.approx(50.55)
    assert values["battery"] == 93 and values["packet_id"] == 1
    values = decoded(parser, service_info(MAC, _advert(2, -1550, 9999, 12), 101.0))
    assert values["temperature"] == pytest.approx(-15.5)
    assert values["humidity"] == pytest.approx(99.99) and values["battery"] == 12
    assert parser.encryption_scheme.name == "NONE" and not parser.sleepy_device


def test_bthome_ble_decodes_encrypted_advertisements() -> None:
    parser = BTHomeBluetoothDeviceData(bindkey=KEY)
    for n, (t, h, b) in enumerate([(2506, 5055, 88), (2511, 5001, 88), (-320, 8123, 87)]):
        values = decoded(parser, service_info(MAC, _advert(n + 10, t, h, b, key=KEY, counter=1000 + n), 200.0 + n))
        assert values["temperature"] == pytest.approx(t / 100)
        assert values["humidity"] == pytest.approx(h / 100)
        assert values["battery"] == b
        assert parser.bindkey_verified is True and parser.encryption_counter == 1000 + n


def test_bthome_ble_reports_a_wrong_bindkey() -> None:
    parser = BTHomeBluetoothDeviceData(bindkey=bytes(16))
    for n in range(2):
        values = decoded(parser, service_info(MAC, _advert(n, 2506, 5055, 80, key=KEY, counter=n + 1), 10.0 + n))
        assert "temperature" not in values and "humidity" not in values
    assert parser.bindkey_verified is False and parser.decryption_failed is True
    parser.set_bindkey(KEY)
    values = decoded(parser, service_info(MAC, _advert(5, 2506, 5055, 80, key=KEY, counter=9), 12.0))
    assert values["temperature"] == pytest.approx(25.06) and parser.bindkey_verified is True


def test_bthome_ble_drops_a_repeated_packet_id_and_takes_the_next() -> None:
    parser = BTHomeBluetoothDeviceData()
    assert decoded(parser, service_info(MAC, _advert(7, 2000, 4000, 50), 1.0))["temperature"] == pytest.approx(20.0)
    # bthome-ble keeps the last values per device: a dropped packet leaves 20.00 in place.
    repeat = decoded(parser, service_info(MAC, _advert(7, 2100, 4000, 50), 2.0))
    assert repeat["temperature"] == pytest.approx(20.0) and parser.packet_id == 7
    fresh = decoded(parser, service_info(MAC, _advert(8, 2100, 4000, 50), 3.0))
    assert fresh["temperature"] == pytest.approx(21.0)


def test_bthome_ble_sees_the_trigger_bit() -> None:
    parser = BTHomeBluetoothDeviceData(bindkey=KEY)
    values = decoded(parser, service_info(MAC, _advert(1, 2200, 4500, 70, key=KEY, counter=3, trigger=True), 5.0))
    assert values["temperature"] == pytest.approx(22.0)
    assert parser.sleepy_device is True
