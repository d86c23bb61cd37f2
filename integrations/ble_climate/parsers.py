"""Advertisements to readings: bthome-ble, xiaomi-ble and mopeka-iot-ble, plus our ATC1441 / pvvx decoder."""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping
from datetime import datetime
from typing import Generic, TypeVar

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bluetooth_sensor_state_data import BluetoothData
from bthome_ble import BTHomeBluetoothDeviceData
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from habluetooth import BluetoothServiceInfoBleak
from mopeka_iot_ble import MediumType, MopekaIOTBluetoothDeviceData
from sensor_state_data import BinarySensorValue, DeviceKey, SensorUpdate, SensorValue
from xiaomi_ble import XiaomiBluetoothDeviceData

from integrations.ble_climate.models import (
    DOWNGRADE,
    MALFORMED,
    NO_BINDKEY,
    REPLAYED_COUNTER,
    WRONG_BINDKEY,
    Advertisement,
    Kind,
    Reading,
    Value,
)

_LOGGER = logging.getLogger(__name__)

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
MIBEACON_UUID = "0000fe95-0000-1000-8000-00805f9b34fb"
ENVIRONMENT_UUID = "0000181a-0000-1000-8000-00805f9b34fb"  # ATC1441 / pvvx custom formats
MOPEKA_UUID = "0000fee5-0000-1000-8000-00805f9b34fb"
MOPEKA_MANUFACTURER_ID = 0x0059  # Nordic Semiconductor; needs MOPEKA_UUID beside it

# Library keys renamed into our vocabulary; binary "battery" is the low-battery flag, not a percent.
_SENSOR_KEYS = {
    "battery_voltage": "voltage",
    "tank_level": "tank_level_mm",
    "reading_quality_raw": "tank_level_quality",
    "reading_quality": "tank_level_quality_pct",
}
_BINARY_KEYS = {"battery": "battery_low"}

_BTHOME_ENCRYPTED = 0x01
# device-info byte + at least one ciphertext byte + counter (4) + MIC (4)
_BTHOME_MIN_ENCRYPTED = 10
_XIAOMI_ENCRYPTED = 0x08  # frame-control bit 3


def to_service_info(adv: Advertisement) -> BluetoothServiceInfoBleak:
    """Wrap an advertisement in bleak's real objects, as the well-kept parsers expect."""
    device = BLEDevice(adv.address, adv.name, None)
    data = AdvertisementData(
        local_name=adv.name,
        manufacturer_data=dict(adv.manufacturer_data),
        service_data=dict(adv.service_data),
        service_uuids=list(adv.service_uuids),
        tx_power=None,
        rssi=adv.rssi,
        platform_data=(),
    )
    return BluetoothServiceInfoBleak.from_device_and_advertisement_data(device, data, adv.source, adv.time, False)


_D = TypeVar("_D", bound=BluetoothData)


class _Kept(Generic[_D]):
    """One library parser per device, kept for its packet-id, counter and bindkey state."""

    def __init__(self, data: _D) -> None:
        self.data = data
        # The library's update dicts accumulate; what this advertisement set is what changed identity.
        self._last_values: dict[DeviceKey, SensorValue] = {}
        self._last_binary: dict[DeviceKey, BinarySensorValue] = {}

    def fresh(self, update: SensorUpdate) -> tuple[dict[str, Value], dict[str, str]]:
        """Values and events this advertisement set (not those remembered from earlier ones)."""
        values: dict[str, Value] = {}
        for key, value in update.entity_values.items():
            if self._last_values.get(key) is not value:
                _put(values, _SENSOR_KEYS.get(key.key, key.key), value.native_value)
        for key, bvalue in update.binary_entity_values.items():
            if self._last_binary.get(key) is not bvalue:
                _put(values, _BINARY_KEYS.get(key.key, key.key), bvalue.native_value)
        self._last_values = dict(update.entity_values)
        self._last_binary = dict(update.binary_entity_values)
        events = {key.key: event.event_type for key, event in update.events.items()}
        return values, events


def _put(values: dict[str, Value], key: str, native: object) -> None:
    """Keep numbers and flags; text and missing values are not readings."""
    if isinstance(native, datetime):
        native = native.timestamp()
    if not isinstance(native, (bool, int, float)):
        return
    if key in values:
        key = f"{key}_state"  # a binary object sharing a sensor's name
    values[key] = native


def _device_info(update: SensorUpdate) -> tuple[str | None, str | None]:
    info = update.devices.get(None)
    return (info.name, info.model) if info is not None else (None, None)


class ParserSet:
    """Chooses the parser by service UUID / manufacturer id; never raises on what the radio brings."""

    def __init__(
        self, bindkeys: Mapping[str, bytes] | None = None, *, mopeka_media: Mapping[str, MediumType] | None = None
    ) -> None:
        self._bindkeys = {address.upper(): key for address, key in (bindkeys or {}).items()}
        self._media = {address.upper(): medium for address, medium in (mopeka_media or {}).items()}
        self._bthome: dict[str, _Kept[BTHomeBluetoothDeviceData]] = {}
        self._xiaomi: dict[str, _Kept[XiaomiBluetoothDeviceData]] = {}
        self._mopeka: dict[str, _Kept[MopekaIOTBluetoothDeviceData]] = {}
        self._custom: dict[str, AESCCM] = {}

    def parse(self, adv: Advertisement) -> Reading | None:
        """One reading for a recognised advertisement, None for foreign or undecodable ones."""
        try:
            if (data := adv.service_data.get(BTHOME_UUID)) is not None:
                return self._parse_bthome(adv, data)
            if (data := adv.service_data.get(MIBEACON_UUID)) is not None:
                return self._parse_xiaomi(adv, data)
            if (data := adv.service_data.get(ENVIRONMENT_UUID)) is not None:
                return self._parse_custom(adv, data)
            if MOPEKA_MANUFACTURER_ID in adv.manufacturer_data and MOPEKA_UUID in adv.service_uuids:
                return self._parse_mopeka(adv)
        except Exception as exc:  # noqa: BLE001 - third-party parsers on untrusted radio bytes
            _LOGGER.debug("parser failed on %s: %r", adv.address, exc)
            return _problem(adv, _kind_of(adv), f"{MALFORMED}: {type(exc).__name__}")
        return None

    def forget(self, address: str) -> None:
        """Drop a device's parser state (it went silent for good)."""
        for kept in (self._bthome, self._xiaomi, self._mopeka, self._custom):
            kept.pop(address, None)

    def set_bindkey(self, address: str, key: bytes | None) -> None:
        """Give a device a bindkey (a paired device) or take it away; its parser state starts afresh."""
        address = address.upper()
        if key is None:
            self._bindkeys.pop(address, None)
        else:
            self._bindkeys[address] = key
        # The libraries take the key when made, and their counters belong to the old key.
        self.forget(address)

    def _parse_bthome(self, adv: Advertisement, data: bytes) -> Reading | None:
        kept = self._bthome.get(adv.address)
        if kept is None:
            kept = self._bthome[adv.address] = _Kept(BTHomeBluetoothDeviceData(self._bindkeys.get(adv.address)))
        lib = kept.data
        encrypted = bool(data) and bool(data[0] & _BTHOME_ENCRYPTED)
        counter = int.from_bytes(data[-8:-4], "little") if encrypted and len(data) >= _BTHOME_MIN_ENCRYPTED else None
        last_counter, was_verified = lib.encryption_counter, lib.bindkey_verified
        update = lib.update(to_service_info(adv))
        values, events = kept.fresh(update)
        name, model = _device_info(update)
        problem: str | None = None
        if lib.downgrade_detected:
            problem = DOWNGRADE
        elif encrypted and lib.bindkey is None:
            problem = NO_BINDKEY
        elif encrypted and counter is None:
            problem = MALFORMED
        elif counter is not None and lib.decryption_failed:
            # The MIC did not match. Checked first: on a device's first packet with counter 0 the
            # library's counter (which starts at 0) equals the packet's, so the counter test misses it.
            problem = WRONG_BINDKEY
        elif counter is not None and lib.encryption_counter != counter:
            # The library rejected it silently: a counter that went back, else a MIC that did not match.
            problem = REPLAYED_COUNTER if was_verified and counter < last_counter else WRONG_BINDKEY
        if problem is not None:
            return _problem(adv, "bthome", problem, name, model, lib.sleepy_device)
        values.pop("signal_strength", None)
        if not values and not events:
            return None  # unparsable, or a packet id the library had already taken
        values["signal_strength"] = adv.rssi
        return Reading(
            address=adv.address, kind="bthome", time=adv.time, values=values, events=events,
            name=name, model=model, trigger_based=lib.sleepy_device,
        )  # fmt: skip

    def _parse_xiaomi(self, adv: Advertisement, data: bytes) -> Reading | None:
        kept = self._xiaomi.get(adv.address)
        if kept is None:
            kept = self._xiaomi[adv.address] = _Kept(XiaomiBluetoothDeviceData(self._bindkeys.get(adv.address)))
        lib = kept.data
        update = lib.update(to_service_info(adv))
        values, events = kept.fresh(update)
        name, model = _device_info(update)
        values.pop("signal_strength", None)
        if data and data[0] & _XIAOMI_ENCRYPTED and not values and not events and model is not None:
            problem = NO_BINDKEY if not lib.bindkey else WRONG_BINDKEY if lib.decryption_failed else None
            if problem is not None:
                return _problem(adv, "xiaomi", problem, name, model, lib.sleepy_device)
        if not values and not events:
            return None
        values["signal_strength"] = adv.rssi
        return Reading(
            address=adv.address, kind="xiaomi", time=adv.time, values=values, events=events,
            name=name, model=model, trigger_based=lib.sleepy_device,
        )  # fmt: skip

    def _parse_mopeka(self, adv: Advertisement) -> Reading | None:
        kept = self._mopeka.get(adv.address)
        if kept is None:
            medium = self._media.get(adv.address, MediumType.PROPANE)
            kept = self._mopeka[adv.address] = _Kept(MopekaIOTBluetoothDeviceData(medium))
        update = kept.data.update(to_service_info(adv))
        values, _ = kept.fresh(update)
        name, model = _device_info(update)
        values.pop("signal_strength", None)
        if not values:
            return None
        values["signal_strength"] = adv.rssi
        return Reading(address=adv.address, kind="mopeka", time=adv.time, values=values, name=name, model=model)

    def _parse_custom(self, adv: Advertisement, data: bytes) -> Reading | None:
        """ATC1441 / pvvx custom firmware on UUID 0x181A; no maintained library decodes these."""
        layout = _CUSTOM_LAYOUTS.get(len(data))
        if layout is None:
            return None
        kind, encrypted = layout
        if encrypted:
            key = self._bindkeys.get(adv.address)
            if key is None:
                return _problem(adv, kind, NO_BINDKEY, adv.name, _CUSTOM_MODELS[kind])
            cipher = self._custom.get(adv.address)
            if cipher is None:
                cipher = self._custom[adv.address] = AESCCM(key, tag_length=4)
            plain = _decrypt_custom(cipher, adv.address, data)
            if plain is None:
                return _problem(adv, kind, WRONG_BINDKEY, adv.name, _CUSTOM_MODELS[kind])
            values = _decode_pvvx_encrypted(plain) if kind == "pvvx" else _decode_atc_encrypted(plain)
            values["packet_id"] = data[0]
        else:
            values = _decode_pvvx(data) if kind == "pvvx" else _decode_atc(data)
        values["signal_strength"] = adv.rssi
        return Reading(
            address=adv.address, kind=kind, time=adv.time, values=values, name=adv.name, model=_CUSTOM_MODELS[kind]
        )


def _problem(
    adv: Advertisement,
    kind: Kind,
    problem: str,
    name: str | None = None,
    model: str | None = None,
    trigger_based: bool = False,
) -> Reading:
    return Reading(
        address=adv.address, kind=kind, time=adv.time, values={}, name=name, model=model,
        trigger_based=trigger_based, problem=problem,
    )  # fmt: skip


def is_encrypted(adv: Advertisement) -> bool:
    """Whether this advertisement's payload is sealed with a bindkey (by its own flags, no key needed)."""
    if (data := adv.service_data.get(BTHOME_UUID)) is not None:
        return bool(data) and bool(data[0] & _BTHOME_ENCRYPTED)
    if (data := adv.service_data.get(MIBEACON_UUID)) is not None:
        return bool(data) and bool(data[0] & _XIAOMI_ENCRYPTED)
    if (data := adv.service_data.get(ENVIRONMENT_UUID)) is not None:
        layout = _CUSTOM_LAYOUTS.get(len(data))
        return layout is not None and layout[1]
    return False  # Mopeka sends in the clear


def _kind_of(adv: Advertisement) -> Kind:
    if BTHOME_UUID in adv.service_data:
        return "bthome"
    if MIBEACON_UUID in adv.service_data:
        return "xiaomi"
    if ENVIRONMENT_UUID in adv.service_data:
        return "pvvx" if len(adv.service_data[ENVIRONMENT_UUID]) in (11, 15) else "atc"
    return "mopeka"


# Custom formats, told apart by the service-data length (after the 2 UUID bytes):
#
# | len | format            | layout after the UUID                                                  | order |
# |-----|-------------------|------------------------------------------------------------------------|-------|
# | 13  | atc1441           | MAC[6] · temp s16 0.1 °C · hum u8 % · batt u8 % · mV u16 · count u8    | BE    |
# | 15  | pvvx              | MAC[6] reversed · temp s16 0.01 °C · hum u16 0.01 % · mV u16 ·         | LE    |
# |     |                   | batt u8 % · count u8 · flags u8 (bit 0 reed switch, bit 1 output)      |       |
# | 11  | pvvx encrypted    | count u8 · sealed[6] (temp s16 0.01, hum u16 0.01, batt %, trg) · MIC[4] | LE  |
# | 8   | atc1441 encrypted | count u8 · sealed[3] (temp b0/2 - 40, hum b1/2, batt b2 & 0x7F) · MIC[4] |     |
_CUSTOM_LAYOUTS: dict[int, tuple[Kind, bool]] = {
    13: ("atc", False),
    15: ("pvvx", False),
    11: ("pvvx", True),
    8: ("atc", True),
}
_CUSTOM_MODELS: dict[Kind, str] = {"atc": "ATC1441 custom firmware", "pvvx": "pvvx custom firmware"}
_ATC = struct.Struct(">6xhBBHB")
_PVVX = struct.Struct("<6xhHHBBB")
_PVVX_SECRET = struct.Struct("<hHBB")
_CUSTOM_AAD = b"\x11"


def _decode_atc(data: bytes) -> dict[str, Value]:
    temp, hum, batt, mv, count = _ATC.unpack(data)
    return {
        "temperature": temp / 10, "humidity": hum, "battery": batt, "voltage": mv / 1000, "packet_id": count,
    }  # fmt: skip


def _decode_pvvx(data: bytes) -> dict[str, Value]:
    temp, hum, mv, batt, count, flags = _PVVX.unpack(data)
    return {
        "temperature": temp / 100, "humidity": hum / 100, "battery": batt, "voltage": mv / 1000,
        "packet_id": count, "reed_switch": bool(flags & 0x01), "output": bool(flags & 0x02),
    }  # fmt: skip


def _decode_pvvx_encrypted(plain: bytes) -> dict[str, Value]:
    temp, hum, batt, _trigger = _PVVX_SECRET.unpack(plain)
    return {"temperature": temp / 100, "humidity": hum / 100, "battery": batt}


def _decode_atc_encrypted(plain: bytes) -> dict[str, Value]:
    return {"temperature": plain[0] / 2 - 40, "humidity": plain[1] / 2, "battery": plain[2] & 0x7F}


def _decrypt_custom(cipher: AESCCM, address: str, data: bytes) -> bytes | None:
    """AES-CCM with the MAC in air order and the AD header (length, 0x16, UUID, counter) as nonce."""
    mac = bytes.fromhex(address.replace(":", ""))[::-1]
    nonce = mac + bytes((len(data) + 3, 0x16, 0x1A, 0x18, data[0]))
    try:
        return cipher.decrypt(nonce, data[1:], _CUSTOM_AAD)
    except InvalidTag:
        return None
