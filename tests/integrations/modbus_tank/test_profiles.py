"""Register profiles: golden readings first, then types, read plans and user YAML profiles."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml

from integrations.modbus_tank import profiles, rtu
from integrations.modbus_tank.profiles import (
    BUILTIN_PROFILES,
    DFROBOT_URM14,
    GENERIC_HYDROSTATIC,
    MADERAS_TANK_V1,
    SEEED_S_YW_01B,
    NoMeasurement,
    Profile,
    Reading,
    ReadingError,
    RegisterSpec,
    decode,
    read_plan,
)

VECTORS = json.loads((Path(rtu.__file__).parent / "vectors" / "rtu_vectors.json").read_text(encoding="utf-8"))


def poll(profile: Profile, replies: dict[tuple[int, int, int], bytes]) -> dict[int, int]:
    """Run a read plan against canned reply frames; return address -> register."""
    registers: dict[int, int] = {}
    for function, start, count in read_plan(profile):
        request = rtu.Request(unit=profile.default_unit_id, function=function, address=start, count=count)
        response = rtu.decode_response(request, replies[(function, start, count)])
        assert isinstance(response, rtu.ReadResponse)
        registers.update(zip(range(start, start + count), response.registers, strict=True))
    return registers


@pytest.mark.parametrize("vector", VECTORS["readings"], ids=[v["profile"] for v in VECTORS["readings"]])
def test_golden_readings(vector: dict[str, Any]) -> None:
    profile = BUILTIN_PROFILES[vector["profile"]]
    (step,) = read_plan(profile)
    request = rtu.Request(unit=profile.default_unit_id, function=step[0], address=step[1], count=step[2])
    assert rtu.encode_request(request) == bytes.fromhex(vector["request_hex"])
    registers = poll(profile, {step: bytes.fromhex(vector["reply_hex"])})
    assert decode(profile, registers) == Reading(**vector["expected"])


def test_seeed_read_request_vector() -> None:
    (step,) = read_plan(SEEED_S_YW_01B)
    request = rtu.Request(unit=SEEED_S_YW_01B.default_unit_id, function=step[0], address=step[1], count=step[2])
    assert rtu.encode_request(request) == bytes.fromhex("1A 03 00 00 00 01 87 E1")
    assert decode(SEEED_S_YW_01B, {0: 1500}) == Reading("level", 1.5, 1500, "mm")
    assert "[U]" in SEEED_S_YW_01B.description and "[U]" in DFROBOT_URM14.description


@pytest.mark.parametrize("vector", VECTORS["int16"], ids=[v["hex"] for v in VECTORS["int16"]])
def test_int16_vector(vector: dict[str, Any]) -> None:
    word = int.from_bytes(bytes.fromhex(vector["hex"]), "big")
    assert profiles.raw_number(RegisterSpec(address=4, type="i16"), {4: word}) == vector["value"]


def test_profile_a_negative_value_in_pressure_units() -> None:
    # raw -100 with 2 decimals in kPa = -1.00 kPa = -1000 Pa of water column.
    reading = decode(GENERIC_HYDROSTATIC, {2: 1, 3: 2, 4: 0xFF9C})
    assert astuple(reading) == ("depth", pytest.approx(-1000 / 9806.65), -100, "kPa")


@pytest.mark.parametrize(
    ("registers", "message"),
    [
        ({2: 9, 3: 0, 4: 1}, "generic_hydrostatic: unknown unit code 9"),
        ({2: 7, 3: 5, 4: 1}, "generic_hydrostatic: decimal places 5 out of range 0..4"),
        ({2: 7, 4: 1}, "register 0x0003 was not read"),
    ],
)
def test_profile_a_errors(registers: dict[int, int], message: str) -> None:
    with pytest.raises(ReadingError) as info:
        decode(GENERIC_HYDROSTATIC, registers)
    assert str(info.value) == message
    assert info.value.transient is False


@pytest.mark.parametrize(
    ("spec", "words", "raw"),
    [
        (RegisterSpec(address=0, type="u16"), (0xFF9C,), 0xFF9C),
        (RegisterSpec(address=0, type="u32"), (0x0001, 0x0002), 0x00010002),
        (RegisterSpec(address=0, type="u32", word_order="little"), (0x0002, 0x0001), 0x00010002),
        (RegisterSpec(address=0, type="i32"), (0xFFFF, 0xFFFE), -2),
        (RegisterSpec(address=0, type="i32", word_order="little"), (0xFFFE, 0xFFFF), -2),
        (RegisterSpec(address=0, type="f32"), (0x3FC0, 0x0000), 1.5),
        (RegisterSpec(address=0, type="f32", word_order="little"), (0x0000, 0xC120), -10.0),
    ],
)
def test_register_types(spec: RegisterSpec, words: tuple[int, ...], raw: float) -> None:
    assert profiles.raw_number(spec, dict(enumerate(words))) == raw


def test_scale_offset_and_si_conversion() -> None:
    spec = RegisterSpec(address=0, type="i16", scale=0.5, offset=10.0, unit="cm")
    profile = Profile(
        name="x", description="", default_unit_id=1, default_baud=9600, default_parity="N", value=spec, quantity="level"
    )
    assert astuple(decode(profile, {0: 180})) == ("level", pytest.approx(1.0), 180, "cm")
    pressure = Profile(
        name="p",
        description="",
        default_unit_id=1,
        default_baud=9600,
        default_parity="N",
        value=RegisterSpec(address=0, type="f32", unit="bar"),
        quantity="pressure",
    )
    assert decode(pressure, {0: 0x3FC0, 1: 0}) == Reading("pressure", 150000.0, 0x3FC00000, "bar")
    assert profiles.to_si(1.0, "mH2O", "pressure") == 9806.65
    with pytest.raises(ReadingError, match="^unit 'mm' cannot be converted for quantity pressure$"):
        profiles.to_si(1.0, "mm", "pressure")


# -- our firmware ---------------------------------------------------------------------------


MADERAS_REGISTERS = {
    0x0000: 0x0102, 0x0001: 0x0009, 0x0002: 1234, 0x0003: 615, 0x0004: 0xFF9C, 0x0005: 3,
    0x0006: 1, 0x0007: 7, 0x0008: 0x0001, 0x0009: 0x0002, 0x0010: 1, 0x0011: 3, 0x0012: 3200,
    0x0013: 0, 0x0020: 0x4D54,
}  # fmt: skip


def test_maderas_decode_and_extras() -> None:
    assert astuple(decode(MADERAS_TANK_V1, MADERAS_REGISTERS)) == ("distance", pytest.approx(1.234), 1234, "mm")
    assert profiles.decode_extras(MADERAS_TANK_V1, MADERAS_REGISTERS) == {
        "firmware_version": 0x0102,
        "status": 9,
        "level_permille": 615,
        "temperature": pytest.approx(-10.0),
        "no_echo_count": 3,
        "crc_errors": 1,
        "spikes_rejected": 7,
        "uptime": 65538,
        "unit_id": 1,
        "baud_code": 3,
        "mount_height": 3200,
        "mode": 0,
        "model_id": profiles.MADERAS_MODEL_ID,
    }
    status = profiles.MaderasStatus(MADERAS_REGISTERS[1])
    assert status == profiles.MaderasStatus.VALID | profiles.MaderasStatus.SPIKE_REJECTED
    assert profiles.BAUD_CODES[MADERAS_REGISTERS[0x11]] == 9600
    assert profiles.MADERAS_MODEL_ID.to_bytes(2, "big") == b"MT"


def test_maderas_no_measurement_is_transient() -> None:
    with pytest.raises(NoMeasurement) as info:
        decode(MADERAS_TANK_V1, {**MADERAS_REGISTERS, 0x0002: 0xFFFF})
    assert str(info.value) == "maderas_tank_v1: register 0x0002 reports no measurement"
    assert info.value.transient is True


# -- read plans -----------------------------------------------------------------------------


def test_read_plans() -> None:
    assert read_plan(GENERIC_HYDROSTATIC) == [(3, 2, 3)]
    assert read_plan(GENERIC_HYDROSTATIC, ["range_zero", "range_full"]) == [(3, 2, 5)]
    assert read_plan(DFROBOT_URM14) == [(3, 5, 1)]
    assert read_plan(DFROBOT_URM14, ["pid", "temperature"]) == [(3, 0, 1), (3, 5, 2)]
    assert read_plan(DFROBOT_URM14, ["pid", "temperature"], max_gap=4) == [(3, 0, 7)]
    everything = list(MADERAS_TANK_V1.extra)
    assert read_plan(MADERAS_TANK_V1, everything) == [(3, 0x00, 10), (3, 0x10, 4), (3, 0x20, 1)]
    assert read_plan(MADERAS_TANK_V1, everything, max_gap=15) == [(3, 0x00, 0x21)]
    assert read_plan(MADERAS_TANK_V1, everything, max_gap=15, max_count=16) == [
        (3, 0x00, 10),
        (3, 0x10, 4),
        (3, 0x20, 1),
    ]
    assert read_plan(MADERAS_TANK_V1, everything, max_gap=15, max_count=20) == [(3, 0x00, 20), (3, 0x20, 1)]


def test_read_plan_merges_status_block_and_splits_functions() -> None:
    assert read_plan(MADERAS_TANK_V1, ["status", "level_permille", "temperature", "uptime"]) == [(3, 1, 4), (3, 8, 2)]
    mixed = Profile(
        name="m",
        description="",
        default_unit_id=1,
        default_baud=9600,
        default_parity="N",
        value=RegisterSpec(address=0x10, function=4, type="u32", unit="mm"),
        quantity="distance",
        extra={"t": RegisterSpec(address=0x11, function=3), "u": RegisterSpec(address=0x12, function=4)},
    )
    assert read_plan(mixed, ["t", "u"]) == [(3, 0x11, 1), (4, 0x10, 3)]


def test_read_plan_unknown_extra() -> None:
    with pytest.raises(ValueError) as info:
        read_plan(DFROBOT_URM14, ["noise"])
    assert str(info.value) == "profile dfrobot_urm14 has no extra 'noise'; known: pid, vid, temperature"


# -- user profiles (YAML) -------------------------------------------------------------------

USER_YAML = """
cistern_radar:
  description: 80 GHz radar, float metres in input registers
  default_unit_id: 5
  default_baud: 19200
  default_parity: E
  quantity: distance
  value: {address: 0x0100, function: 4, type: f32, word_order: little, unit: m}
  extra:
    temperature: {address: 0x0102, function: 4, type: i16, scale: 0.1, unit: "°C"}
gas_pressure:
  quantity: pressure
  value: {address: 0, type: u16, scale: 0.01, offset: -1, unit: bar}
"""


def test_load_user_profiles() -> None:
    loaded = profiles.load_user_profiles(yaml.safe_load(USER_YAML))
    assert loaded == {
        "cistern_radar": Profile(
            name="cistern_radar",
            description="80 GHz radar, float metres in input registers",
            default_unit_id=5,
            default_baud=19200,
            default_parity="E",
            quantity="distance",
            value=RegisterSpec(address=0x100, function=4, type="f32", word_order="little", unit="m"),
            extra={"temperature": RegisterSpec(address=0x102, function=4, type="i16", scale=0.1, unit="°C")},
        ),
        "gas_pressure": Profile(
            name="gas_pressure",
            description="",
            default_unit_id=1,
            default_baud=9600,
            default_parity="N",
            quantity="pressure",
            value=RegisterSpec(address=0, scale=0.01, offset=-1.0, unit="bar"),
        ),
    }
    radar = loaded["cistern_radar"]
    assert read_plan(radar, ["temperature"]) == [(4, 0x100, 3)]
    assert decode(radar, {0x100: 0x0000, 0x101: 0x3FC0}) == Reading("distance", 1.5, 0x3FC00000, "m")
    assert astuple(decode(loaded["gas_pressure"], {0: 250})) == ("pressure", pytest.approx(150000.0), 250, "bar")
    assert profiles.load_user_profiles(None) == {}


def errors_of(data: Any) -> list[tuple[list[Any], str]]:
    with pytest.raises(vol.Invalid) as info:
        profiles.load_user_profiles(data)
    return [(e.path, e.msg) for e in getattr(info.value, "errors", [info.value])]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            "{quantity: level, value: {address: 4, word_order: middle}}",
            [(["t", "value", "word_order"], "expected one of big, little")],
        ),
        (
            "{quantity: level, value: {address: 4, type: u8}}",
            [(["t", "value", "type"], "expected one of u16, i16, u32, i32, f32")],
        ),
        (
            "{quantity: level, value: {address: 70000, unit: mm}}",
            [(["t", "value", "address"], "70000 is out of range 0..65535")],
        ),
        (
            "{quantity: level, value: {address: '4', unit: mm}}",
            [(["t", "value", "address"], "expected an integer 0..65535, got '4'")],
        ),
        (
            "{quantity: level, value: {address: 0xFFFF, type: u32, unit: mm}}",
            [(["t", "value", "address"], "a u32 at 0xFFFF runs past register 0xFFFF")],
        ),
        (
            "{quantity: level, value: {address: 4, function: 6, unit: mm}}",
            [(["t", "value", "function"], "expected 3 (holding) or 4 (input)")],
        ),
        (
            "{quantity: level, value: {address: 4, scale: 0, offset: .nan, unit: mm}}",
            [
                (["t", "value", "scale"], "scale must not be 0"),
                (["t", "value", "offset"], "expected a finite number, got nan"),
            ],
        ),
        (
            "{quantity: volume, value: {address: 4}, colour: red}",
            [
                (["t", "quantity"], "expected one of distance, level, pressure, depth"),
                (["t", "colour"], "extra keys not allowed"),
            ],
        ),
        ("{value: {address: 4}}", [(["t", "quantity"], "required key not provided")]),
        (
            "{quantity: distance, value: {address: 4, unit: furlong}}",
            [
                (
                    ["t", "value", "unit"],
                    (
                        "unit 'furlong' cannot be converted for quantity distance; expected one of "
                        "m, cm, mm, mH2O, mmH2O, Pa, kPa, MPa, bar, mbar, kg/cm², psi"
                    ),
                )
            ],
        ),
        (
            "{quantity: pressure, value: {address: 4, unit: mm}}",
            [
                (
                    ["t", "value", "unit"],
                    (
                        "unit 'mm' cannot be converted for quantity pressure; expected one of "
                        "Pa, kPa, MPa, bar, mbar, kg/cm², psi, mH2O, mmH2O"
                    ),
                )
            ],
        ),
        (
            "{quantity: depth, default_unit_id: 0, default_baud: 14400, value: {address: 4, unit: m}}",
            [
                (["t", "default_unit_id"], "0 is out of range 1..247"),
                (["t", "default_baud"], "expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"),
            ],
        ),
    ],
)
def test_user_profile_errors(body: str, errors: list[tuple[list[Any], str]]) -> None:
    assert sorted(errors_of({"t": yaml.safe_load(body)})) == sorted(errors)


def test_user_profile_with_unit_register_needs_no_unit() -> None:
    data = yaml.safe_load(
        "{p: {quantity: depth, value: {address: 4, type: i16}, unit_register: 2, decimals_register: 3}}"
    )
    (profile,) = profiles.load_user_profiles(data).values()
    assert decode(profile, {2: 7, 3: 3, 4: 1234}) == Reading("depth", 1.234, 1234, "mH2O")


def test_user_profile_name_errors() -> None:
    assert errors_of({"maderas_tank_v1": {}}) == [
        (["maderas_tank_v1"], "'maderas_tank_v1' is a built-in profile; choose another name")
    ]
    assert errors_of([]) == [([], "expected a mapping of profile name to profile, got list")]
    assert errors_of({"": {}}) == [([""], "profile name must be a non-empty string, got ''")]
