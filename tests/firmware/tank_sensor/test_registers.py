"""Register map: the maderas_tank_v1 layout, read/write rules and persisted settings."""

from __future__ import annotations

import pytest

from firmware.tank_sensor.modbus_slave import ModbusError
from firmware.tank_sensor.registers import (
    FIRMWARE_VERSION,
    MODEL_ID,
    MemoryStore,
    RegisterMap,
)


def test_defaults_and_layout() -> None:
    regs = RegisterMap(MemoryStore())
    regs.status = 0x11
    regs.distance_mm = 1234
    regs.level_permille = 383
    regs.temperature_dc = -55
    regs.sensor_errors = 5
    regs.crc_errors = 6
    regs.spikes = 7
    regs.uptime_s = 0x0001_86A0  # 100000 s
    values = regs.read_holding(0x0000, 0x32)
    assert values[:10] == [FIRMWARE_VERSION, 0x11, 1234, 383, 0xFFC9, 5, 6, 7, 0x0001, 0x86A0]
    assert values[0x0A:0x10] == [0] * 6  # gap
    # unit 1, 9600 baud, 2 m, ultrasonic, water, no capacity, tank height = mount height
    assert values[0x10:0x17] == [1, 3, 2000, 0, 0, 0, 0]
    assert values[0x17:0x20] == [0] * 9  # gap
    assert values[0x20] == MODEL_ID == 0x4D54
    assert values[0x21:0x25] == [0x2020] * 4  # no serial written at the factory: spaces
    assert values[0x25] == 0  # RS-485 variant
    assert values[0x26:0x32] == [0] * 12  # gap, and the write-only PIN reads as 0


def test_reads_past_0x0031_are_illegal_addresses() -> None:
    regs = RegisterMap(MemoryStore())
    assert regs.read_holding(0x0020, 1) == [MODEL_ID]
    assert regs.read_holding(0x0030, 2) == [0, 0]
    for start, qty in ((0x0032, 1), (0x0100, 1), (0x0031, 2), (0x0000, 0x33)):
        with pytest.raises(ModbusError) as info:
            regs.read_holding(start, qty)
        assert info.value.code == 2


def test_uptime_is_u32_high_word_first() -> None:
    regs = RegisterMap(MemoryStore())
    regs.uptime_s = 0xDEADBEEF
    assert regs.read_holding(0x0008, 2) == [0xDEAD, 0xBEEF]


def test_settings_survive_a_reboot_through_the_store() -> None:
    store = MemoryStore()
    regs = RegisterMap(store)
    regs.write_holding(0x0010, [17, 7, 3500, 1])
    assert store.data == {"unit_id": 17, "baud_code": 7, "mount_mm": 3500, "mode": 1}
    again = RegisterMap(store)
    assert (again.unit_id, again.baud_code, again.baud, again.mount_mm, again.mode) == (
        17,
        7,
        115200,
        3500,
        1,
    )


def test_corrupt_or_missing_store_values_fall_back_to_defaults() -> None:
    store = MemoryStore({"unit_id": 0, "baud_code": "fast", "mount_mm": 999999})
    regs = RegisterMap(store)
    assert (regs.unit_id, regs.baud_code, regs.mount_mm, regs.mode) == (1, 3, 2000, 0)


def test_unchanged_values_are_not_rewritten_to_flash() -> None:
    store = MemoryStore()
    regs = RegisterMap(store)
    regs.write_holding(0x0012, [1500])
    regs.write_holding(0x0012, [1500])
    assert store.writes == 1


def test_on_change_reports_only_real_changes() -> None:
    changes: list[tuple[int, int]] = []
    regs = RegisterMap(MemoryStore(), on_change=lambda reg, value: changes.append((reg, value)))
    regs.write_holding(0x0011, [3])  # already 9600
    regs.write_holding(0x0011, [4])
    regs.write_holding(0x0013, [1])
    assert changes == [(0x0011, 4), (0x0013, 1)]


@pytest.mark.parametrize(
    ("register", "good", "bad"),
    [
        (0x0010, [1, 247], [0, 248, 0xFFFF]),
        (0x0011, [0, 7], [8, 0xFFFF]),
        (0x0012, [100, 30000], [0, 99, 30001]),
        (0x0013, [0, 1], [2]),
    ],
)
def test_write_limits(register: int, good: list[int], bad: list[int]) -> None:
    regs = RegisterMap(MemoryStore())
    for value in good:
        regs.write_holding(register, [value])
        assert regs.read_holding(register, 1) == [value]
    for value in bad:
        with pytest.raises(ModbusError) as info:
            regs.write_holding(register, [value])
        assert info.value.code == 3
        assert regs.read_holding(register, 1) == [good[-1]]


@pytest.mark.parametrize("register", [0x0000, 0x0001, 0x0006, 0x0009, 0x000F, 0x0017, 0x0020, 0x0021, 0x0031])
def test_writes_outside_the_settings_are_illegal_addresses(register: int) -> None:
    with pytest.raises(ModbusError) as info:
        RegisterMap(MemoryStore()).write_holding(register, [1])
    assert info.value.code == 2


def test_restore_defaults_persists() -> None:
    store = MemoryStore()
    regs = RegisterMap(store)
    regs.write_holding(0x0010, [9, 0, 800, 1])
    regs.restore_defaults()
    assert RegisterMap(store).read_holding(0x0010, 4) == [1, 3, 2000, 0]


def test_counters_wrap_at_16_bits() -> None:
    regs = RegisterMap(MemoryStore())
    regs.crc_errors = 0xFFFF
    regs.count_crc_error()
    assert regs.read_holding(0x0006, 1) == [0]
