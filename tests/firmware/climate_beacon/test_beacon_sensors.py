"""SHT3x and AHT20 drivers on a fake I2C bus: conversions, CRC checks, absent or busy sensors."""

from __future__ import annotations

import pytest
from beacon_fakes import FakeI2C, SleepLog, aht20_frame, crc8_reference, sht3x_frame

from firmware.climate_beacon.sensors import AHT20, SensorError, SHT3x, crc8, make_sensor


def test_crc8_matches_the_datasheet_example() -> None:
    assert crc8(b"\xbe\xef") == 0x92 == crc8_reference(b"\xbe\xef")


def test_sht3x_single_shot_read() -> None:
    # raw 0x6666 -> -45 + 175 * 26214 / 65535 = 25.00 degC; raw 0x8000 -> 50.00 %
    bus = FakeI2C(0x44, [sht3x_frame(0x6666, 0x8000)])
    sleep = SleepLog()
    assert SHT3x(bus, sleep_ms=sleep).measure() == (2500, 5000)
    assert bus.writes == [b"\x24\x00"]
    assert sleep.calls and sleep.calls[0] >= 15  # waited out the measurement


@pytest.mark.parametrize(("raw_t", "raw_h", "expected"), [(0, 0, (-4500, 0)), (0xFFFF, 0xFFFF, (13000, 10000))])
def test_sht3x_range_ends(raw_t: int, raw_h: int, expected: tuple[int, int]) -> None:
    assert SHT3x(FakeI2C(0x44, [sht3x_frame(raw_t, raw_h)]), sleep_ms=SleepLog()).measure() == expected


@pytest.mark.parametrize("bad", ["temperature", "humidity"])
def test_sht3x_crc_error_names_the_field(bad: str) -> None:
    sensor = SHT3x(FakeI2C(0x44, [sht3x_frame(0x6666, 0x8000, bad=bad)]), sleep_ms=SleepLog())
    with pytest.raises(SensorError, match=f"SHT3x {bad} CRC mismatch"):
        sensor.measure()


def test_sht3x_absent_is_a_sensor_error() -> None:
    with pytest.raises(SensorError, match="SHT3x at 0x44 does not answer"):
        SHT3x(FakeI2C(0x44, fail=True), sleep_ms=SleepLog()).measure()


def test_aht20_trigger_and_read() -> None:
    # RH raw 2^19 -> 50.00 %; T raw 0x66666 (0.4 of 2^20) -> 0.4 * 200 - 50 = 30.00 degC
    bus = FakeI2C(0x38, [b"\x18", aht20_frame(1 << 19, 0x66666)])
    sleep = SleepLog()
    assert AHT20(bus, sleep_ms=sleep).measure() == (3000, 5000)
    assert bus.writes == [b"\xac\x33\x00"]
    assert sum(sleep.calls) >= 40 + 80


def test_aht20_uncalibrated_gets_the_init_command() -> None:
    bus = FakeI2C(0x38, [b"\x10", b"\x18", aht20_frame(0, 0)])
    assert AHT20(bus, sleep_ms=SleepLog()).measure() == (-5000, 0)
    assert bus.writes == [b"\xbe\x08\x00", b"\xac\x33\x00"]


def test_aht20_busy_then_ready() -> None:
    bus = FakeI2C(0x38, [b"\x18", aht20_frame(0, 0, status=0x98), aht20_frame(1 << 19, 1 << 19)])
    assert AHT20(bus, sleep_ms=SleepLog()).measure() == (5000, 5000)


def test_aht20_stays_busy() -> None:
    frames = [b"\x18"] + [aht20_frame(0, 0, status=0x98)] * 4
    with pytest.raises(SensorError, match="still busy"):
        AHT20(FakeI2C(0x38, frames), sleep_ms=SleepLog()).measure()


def test_aht20_crc_error() -> None:
    with pytest.raises(SensorError, match="AHT20 frame CRC mismatch"):
        AHT20(FakeI2C(0x38, [b"\x18", aht20_frame(1 << 19, 1 << 19, bad=True)]), sleep_ms=SleepLog()).measure()


def test_aht20_never_calibrates() -> None:
    with pytest.raises(SensorError, match="uncalibrated"):
        AHT20(FakeI2C(0x38, [b"\x10", b"\x10"]), sleep_ms=SleepLog()).measure()


def test_make_sensor_by_name() -> None:
    assert isinstance(make_sensor("SHT3x", FakeI2C(0x44)), SHT3x)
    assert isinstance(make_sensor("aht20", FakeI2C(0x38)), AHT20)
    with pytest.raises(SensorError, match="unknown sensor"):
        make_sensor("dht22", FakeI2C(0x38))
