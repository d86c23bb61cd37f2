"""Modbus TCP on the tank sensor: MBAP framing, the per-connection PIN lock and the PIN brake."""

from __future__ import annotations

import struct

import pytest
from tank_fakes import FakeClock, FakeHardware, hexbytes

from firmware.tank_sensor.device import TankSensor
from firmware.tank_sensor.modbus_tcp import ProtocolError
from firmware.tank_sensor.registers import (
    FIRMWARE_VERSION,
    MAX_PIN_FAILURES,
    MODEL_ID,
    PIN_LOCKOUT_US,
    VARIANT_WIFI,
    MemoryStore,
)

PIN = 482913


def wifi_sensor(fake_clock: FakeClock, **store: object) -> TankSensor:
    data = {"serial": "MT0A1B2C", "pin": PIN, "capacity_l": 1100, **store}
    return TankSensor(FakeHardware(), MemoryStore(data), fake_clock, variant=VARIANT_WIFI)


def mbap(tid: int, unit: int, pdu_hex: str) -> bytes:
    pdu = hexbytes(pdu_hex)
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def pin_write(tid: int, pin: int, unit: int = 1) -> bytes:
    return mbap(tid, unit, f"10 00 30 00 02 04 {pin >> 16:04X} {pin & 0xFFFF:04X}")


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def test_identity_is_readable_before_the_pin(fake_clock: FakeClock) -> None:
    session = wifi_sensor(fake_clock).tcp_session()
    # Read 0x0020..0x0025 in one request: model, serial "MT0A1B2C", variant 1 (Wi-Fi).
    reply = session.feed(mbap(7, 1, "03 00 20 00 06"))
    assert reply == hexbytes("00 07 00 00 00 0F 01 03 0C 4D 54 4D 54 30 41 31 42 32 43 00 01")
    assert session.feed(mbap(8, 1, "03 00 00 00 01")) == mbap(8, 1, f"03 02 {FIRMWARE_VERSION:04X}")
    assert MODEL_ID == 0x4D54


def test_a_locked_connection_reads_nothing_it_measures_and_writes_nothing(fake_clock: FakeClock) -> None:
    sensor = wifi_sensor(fake_clock)
    session = sensor.tcp_session()
    assert session.feed(mbap(1, 1, "03 00 02 00 02")) == mbap(1, 1, "83 01")  # distance, level: wrong state
    assert session.feed(mbap(2, 1, "03 00 1F 00 02")) == mbap(2, 1, "83 01")  # straddles into the public part
    assert session.feed(mbap(3, 1, "06 00 12 05 DC")) == mbap(3, 1, "86 01")
    assert session.feed(mbap(4, 1, "10 00 12 00 01 02 05 DC")) == mbap(4, 1, "90 01")
    assert sensor.registers.mount_mm == 2000


def test_the_pin_unlocks_only_its_own_connection(fake_clock: FakeClock) -> None:
    sensor = wifi_sensor(fake_clock)
    first, second = sensor.tcp_session(), sensor.tcp_session()
    assert first.feed(pin_write(1, PIN)) == mbap(1, 1, "10 00 30 00 02")
    assert first.feed(mbap(2, 1, "03 00 14 00 02")) == mbap(2, 1, "03 04 00 00 04 4C")  # water, 1100 l
    assert first.feed(mbap(3, 1, "06 00 12 05 DC")) == mbap(3, 1, "06 00 12 05 DC")
    assert sensor.registers.mount_mm == 1500
    assert second.feed(mbap(1, 1, "03 00 14 00 02")) == mbap(1, 1, "83 01")


def test_wrong_pins_are_refused_then_braked_for_everyone(fake_clock: FakeClock) -> None:
    sensor = wifi_sensor(fake_clock)
    session = sensor.tcp_session()
    for tid in range(MAX_PIN_FAILURES):
        assert session.feed(pin_write(tid, PIN + 1)) == mbap(tid, 1, "90 03")
    assert not session.unlocked
    # Locked out: even the right PIN is "busy", on a new connection too.
    assert sensor.tcp_session().feed(pin_write(9, PIN)) == mbap(9, 1, "90 06")
    fake_clock.advance(PIN_LOCKOUT_US)
    assert session.feed(pin_write(10, PIN)) == mbap(10, 1, "10 00 30 00 02")
    assert session.unlocked


def test_a_device_without_a_factory_pin_refuses_every_pin(fake_clock: FakeClock) -> None:
    sensor = TankSensor(FakeHardware(), MemoryStore({"serial": "MT000001"}), fake_clock, variant=VARIANT_WIFI)
    assert sensor.tcp_session().feed(pin_write(1, 0)) == mbap(1, 1, "90 03")


def test_framing_split_and_pipelined_requests(fake_clock: FakeClock) -> None:
    session = wifi_sensor(fake_clock).tcp_session()
    stream = pin_write(1, PIN) + mbap(2, 1, "03 00 13 00 01") + mbap(3, 0xFF, "03 00 25 00 01")
    out = b""
    for i in range(len(stream)):  # one byte at a time
        out += session.feed(stream[i : i + 1])
    assert out == mbap(1, 1, "10 00 30 00 02") + mbap(2, 1, "03 02 00 00") + mbap(3, 0xFF, "03 02 00 01")


def test_other_units_and_non_modbus_streams(fake_clock: FakeClock) -> None:
    session = wifi_sensor(fake_clock).tcp_session()
    assert session.feed(mbap(1, 9, "03 00 00 00 01")) == mbap(1, 9, "83 0B")  # gateway target failed
    with pytest.raises(ProtocolError):
        session.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ProtocolError):
        session.feed(struct.pack(">HHHB", 1, 0, 300, 1))  # longer than any Modbus ADU
