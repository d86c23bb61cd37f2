"""Fakes and helpers for the climate beacon tests: I2C bus, machine and bluetooth modules, bleak wrapping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bthome_ble import BTHomeBluetoothDeviceData
from habluetooth import BluetoothServiceInfoBleak

from firmware.sim.climate_sim import local_name_of, service_data_of

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"


def crc8_reference(data: bytes) -> int:
    """CRC-8/NRSC-5 style as in the SHT3x datasheet (poly 0x31, init 0xFF), written independently."""
    crc = 0xFF
    for byte in data:
        for bit in range(7, -1, -1):
            top = ((crc >> 7) ^ (byte >> bit)) & 1
            crc = ((crc << 1) & 0xFF) ^ (0x31 if top else 0)
    return crc


def sht3x_frame(raw_t: int, raw_h: int, bad: str = "") -> bytes:
    t = raw_t.to_bytes(2, "big")
    h = raw_h.to_bytes(2, "big")
    crc_t = crc8_reference(t) ^ (0x01 if bad == "temperature" else 0)
    crc_h = crc8_reference(h) ^ (0x01 if bad == "humidity" else 0)
    return t + bytes([crc_t]) + h + bytes([crc_h])


def aht20_frame(raw_h: int, raw_t: int, status: int = 0x18, bad: bool = False) -> bytes:
    body = bytes(
        [status, raw_h >> 12 & 0xFF, raw_h >> 4 & 0xFF, (raw_h & 0x0F) << 4 | raw_t >> 16, raw_t >> 8 & 0xFF, raw_t & 0xFF]
    )
    return body + bytes([crc8_reference(body) ^ (0x80 if bad else 0)])


class FakeI2C:
    """machine.I2C stand-in: records writes; reads come from a queue of scripted answers."""

    def __init__(self, address: int, reads: list[bytes] | None = None, fail: bool = False) -> None:
        self.address = address
        self.reads = list(reads or [])
        self.writes: list[bytes] = []
        self.fail = fail

    def writeto(self, addr: int, buf: bytes) -> int:
        if self.fail or addr != self.address:
            raise OSError(19, "ENODEV")
        self.writes.append(bytes(buf))
        return 1

    def readfrom_into(self, addr: int, buf: bytearray) -> None:
        if self.fail or addr != self.address:
            raise OSError(19, "ENODEV")
        data = self.reads.pop(0)
        assert len(data) == len(buf), f"driver read {len(buf)} bytes, fake has {len(data)}"
        buf[:] = data


class SleepLog:
    """sleep_ms stand-in that only records."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, ms: int) -> None:
        self.calls.append(ms)


class FakeRTC:
    def __init__(self) -> None:
        self.data = b""

    def memory(self, data: bytes | None = None) -> bytes | None:
        if data is None:
            return self.data
        self.data = bytes(data)
        return None


class FakeADC:
    ATTN_11DB = 3
    uv = 1_600_000  # behind a 1:2 divider: 3.2 V

    def __init__(self, pin: Any, atten: int | None = None) -> None:
        self.pin = pin
        self.atten = atten

    def read_uv(self) -> int:
        return FakeADC.uv


@dataclass
class FakeMachine:
    """The parts of MicroPython's `machine` module the beacon uses; one RTC across 'reboots'."""

    i2c: FakeI2C
    rtc: FakeRTC = field(default_factory=FakeRTC)
    sleeps: list[tuple[str, int]] = field(default_factory=list)
    ADC: type = FakeADC

    def Pin(self, number: int, *args: Any) -> int:
        return number

    def I2C(self, bus_id: int, scl: int, sda: int, freq: int) -> FakeI2C:
        return self.i2c

    def RTC(self) -> FakeRTC:
        return self.rtc

    def deepsleep(self, ms: int) -> None:
        self.sleeps.append(("deep", ms))

    def lightsleep(self, ms: int) -> None:
        self.sleeps.append(("light", ms))


class FakeBLE:
    """bluetooth.BLE stand-in: records active() and gap_advertise() calls in order."""

    def __init__(self, mac: bytes) -> None:
        self.mac = mac
        self.calls: list[tuple[Any, ...]] = []
        self.is_active = False

    def active(self, on: bool | None = None) -> bool:
        if on is not None:
            self.is_active = on
            self.calls.append(("active", on))
        return self.is_active

    def config(self, name: str) -> tuple[int, bytes]:
        assert name == "mac" and self.is_active, "MAC asked for with the radio off"
        return 0, self.mac

    def gap_advertise(self, interval_us: int | None, adv_data: bytes | None = None, *, connectable: bool = True) -> None:
        assert self.is_active, "advertising with the radio off"
        self.calls.append(("advertise", interval_us, adv_data, connectable))

    def advertised(self) -> list[bytes]:
        return [c[2] for c in self.calls if c[0] == "advertise" and c[1] is not None]


class FakeBluetooth:
    """The `bluetooth` module: BLE() returns the same radio each boot."""

    def __init__(self, mac: bytes) -> None:
        self.radio = FakeBLE(mac)

    def BLE(self) -> FakeBLE:
        return self.radio


def service_info(address: str, payload: bytes, time: float, rssi: int = -60) -> BluetoothServiceInfoBleak:
    """Wrap an AD payload in bleak's real objects the way a scanner reports it."""
    service_data = service_data_of(payload)
    name = local_name_of(payload)
    device = BLEDevice(address, name, None)
    adv = AdvertisementData(name, {}, service_data, list(service_data), None, rssi, ())
    return BluetoothServiceInfoBleak.from_device_and_advertisement_data(device, adv, "test", time, False)


def decoded(parser: BTHomeBluetoothDeviceData, info: BluetoothServiceInfoBleak) -> dict[str, Any]:
    """bthome-ble's sensor values for one advertisement, by key ('temperature', 'battery', ...)."""
    update = parser.update(info)
    return {key.key: value.native_value for key, value in update.entity_values.items()}


AesEcb = Callable[[bytes, bytes], bytes]
