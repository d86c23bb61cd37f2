"""Tank-sensor register profiles as data, and the pure decoding of what a poll read.

A profile says which registers hold the measurement, how to turn them into a number, and
which quantity that number is. Built-in profiles come from PROTOCOLS.md section 8 and from our
own firmware's register map (docs/modbus_tank.md); users add more in YAML (`PROFILE_SCHEMA`).

Errors extend the tree in `rtu`::

    ModbusError
    +-- ReadingError            permanent: the registers do not fit the profile (wrong profile,
        |                       unknown unit code, a register that was not read)
        +-- NoMeasurement       transient: the device says it has no valid value right now
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntFlag
from types import MappingProxyType
from typing import Any

import voluptuous as vol

from .rtu import MAX_READ, READ_HOLDING, READ_INPUT, ModbusError

TYPES = ("u16", "i16", "u32", "i32", "f32")
WORD_ORDERS = ("big", "little")
QUANTITIES = ("distance", "level", "pressure", "depth")
PARITIES = ("N", "E", "O")
BAUD_CODES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)  # index = code (A and ours)

# Profile A's unit code register (0x0002), the common numbering.
UNIT_CODES: dict[int, str] = {
    0: "MPa", 1: "kPa", 2: "Pa", 3: "bar", 4: "mbar", 5: "kg/cm²", 6: "psi", 7: "mH2O", 8: "mmH2O",
}  # fmt: skip
WATER_PA_PER_M = 9806.65  # conventional metre of water column (g_n x 1000 kg/m^3)
LENGTH_UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "mH2O": 1.0, "mmH2O": 0.001}
PRESSURE_UNITS: dict[str, float] = {
    "Pa": 1.0, "kPa": 1e3, "MPa": 1e6, "bar": 1e5, "mbar": 100.0, "kg/cm²": 98066.5, "psi": 6894.757293168361,
}  # fmt: skip
_WATER_COLUMN = ("mH2O", "mmH2O")
MAX_DECIMALS = 4


class ReadingError(ModbusError):
    """The registers read do not decode under this profile."""

    transient = False


class NoMeasurement(ReadingError):
    """The device reports that it has no valid measurement (no echo, sensor fault)."""

    transient = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterSpec:
    """One value: where it lives and how raw words become a number in `unit`.

    value = raw * scale + offset, where raw is the (signed) integer or the float the words
    hold. Within a word the bytes are always big-endian; `word_order` only orders 32-bit words
    ("big": high word at `address`). `invalid` is the raw (unsigned) value meaning "no reading".
    """

    address: int
    function: int = READ_HOLDING
    type: str = "u16"
    scale: float = 1.0
    offset: float = 0.0
    word_order: str = "big"
    unit: str = ""
    invalid: int | None = None

    @property
    def width(self) -> int:
        return 1 if self.type.endswith("16") else 2

    @property
    def addresses(self) -> range:
        return range(self.address, self.address + self.width)


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    description: str
    default_unit_id: int
    default_baud: int
    default_parity: str
    value: RegisterSpec
    quantity: str
    decimals_register: int | None = None
    unit_register: int | None = None
    extra: Mapping[str, RegisterSpec] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))


@dataclass(frozen=True, slots=True)
class Reading:
    """value_si: metres for distance/level/depth, pascals for pressure."""

    quantity: str
    value_si: float
    raw: int
    unit_text: str


class MaderasStatus(IntFlag):
    """Status register 0x0001 of maderas_tank_v1."""

    VALID = 0x01
    SENSOR_FAULT = 0x02
    OUT_OF_RANGE = 0x04
    SPIKE_REJECTED = 0x08
    PRESSURE_MODE = 0x10


MADERAS_MODEL_ID = 0x4D54  # "MT"


def _hr(address: int, **kwargs: Any) -> RegisterSpec:
    return RegisterSpec(address=address, function=READ_HOLDING, **kwargs)


GENERIC_HYDROSTATIC = Profile(
    name="generic_hydrostatic",
    description=(
        "Profile A: white-label submersible pressure transmitter. Unit code at 0x0002, decimals at "
        "0x0003, value int16 at 0x0004. Reported as water depth (pressure units are converted with "
        "1 mH2O = 9806.65 Pa). Assumption [U]: some units number the unit codes 9..17 or keep the "
        "value at 0x0016; probe a new model."
    ),
    default_unit_id=1,
    default_baud=9600,
    default_parity="N",
    value=_hr(0x0004, type="i16"),
    quantity="depth",
    decimals_register=0x0003,
    unit_register=0x0002,
    extra={"range_zero": _hr(0x0005, type="i16"), "range_full": _hr(0x0006, type="i16")},
)

DFROBOT_URM14 = Profile(
    name="dfrobot_urm14",
    description=(
        "Profile B: DFRobot URM14 (SEN0358) ultrasonic, distance to the surface, uint16 0.1 mm/LSB at "
        "0x0005. Assumptions [U]: default 19200 baud (DFRobot wiki); temperature at 0x0006."
    ),
    default_unit_id=0x0C,
    default_baud=19200,
    default_parity="N",
    value=_hr(0x0005, scale=0.1, unit="mm"),
    quantity="distance",
    extra={"pid": _hr(0x0000), "vid": _hr(0x0001), "temperature": _hr(0x0006, type="i16", scale=0.1, unit="°C")},
)

SEEED_S_YW_01B = Profile(
    name="seeed_s_yw_01b",
    description=(
        "Profile C: Seeed/SenseCAP S-YW-01B liquid level, 9600 8N1, value at 0x0000. "
        "Assumptions [U]: the full register list is not public; the value is taken as uint16 "
        "level in mm. Verify against the device before relying on it."
    ),
    default_unit_id=0x1A,
    default_baud=9600,
    default_parity="N",
    value=_hr(0x0000, unit="mm"),
    quantity="level",
    extra={"response_delay": _hr(0x0206, scale=10.0, unit="ms"), "active_output": _hr(0x0207, unit="s")},
)

MADERAS_TANK_V1 = Profile(
    name="maderas_tank_v1",
    description="Our firmware (firmware/tank_sensor): register map in docs/modbus_tank.md.",
    default_unit_id=1,
    default_baud=9600,
    default_parity="N",  # 8N2: 11-bit characters without parity, as the firmware's UART runs
    value=_hr(0x0002, unit="mm", invalid=0xFFFF),
    quantity="distance",
    extra={
        "firmware_version": _hr(0x0000),
        "status": _hr(0x0001),
        "level_permille": _hr(0x0003, unit="‰", invalid=0xFFFF),
        "temperature": _hr(0x0004, type="i16", scale=0.1, unit="°C"),
        "no_echo_count": _hr(0x0005),
        "crc_errors": _hr(0x0006),
        "spikes_rejected": _hr(0x0007),
        "uptime": _hr(0x0008, type="u32", unit="s"),
        "unit_id": _hr(0x0010),
        "baud_code": _hr(0x0011),
        "mount_height": _hr(0x0012, unit="mm"),
        "mode": _hr(0x0013),
        "model_id": _hr(0x0020),
    },
)

BUILTIN_PROFILES: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (GENERIC_HYDROSTATIC, DFROBOT_URM14, SEEED_S_YW_01B, MADERAS_TANK_V1)}
)


def _word(registers: Mapping[int, int], address: int) -> int:
    try:
        return registers[address]
    except KeyError:
        raise ReadingError(f"register 0x{address:04X} was not read") from None


def raw_bits(spec: RegisterSpec, registers: Mapping[int, int]) -> int:
    """The unsigned 16- or 32-bit pattern of the spec's words, high word first."""
    words = [_word(registers, a) for a in spec.addresses]
    if spec.word_order == "little":
        words.reverse()
    bits = 0
    for word in words:
        bits = bits << 16 | word
    return bits


# A 32-bit value across two registers (word_order "big"; "little" swaps the registers):
# register  byte  meaning
# address   0..1  bits 31..16, big-endian
# address+1 2..3  bits 15..0, big-endian
def raw_number(spec: RegisterSpec, registers: Mapping[int, int]) -> int | float:
    """The spec's raw number: the signed/unsigned integer, or the IEEE-754 float."""
    bits = raw_bits(spec, registers)
    if spec.type == "f32":
        return float(struct.unpack(">f", bits.to_bytes(4, "big"))[0])
    if spec.type.startswith("i"):
        width = 16 * spec.width
        return bits - (1 << width) if bits >> (width - 1) else bits
    return bits


def decode_register(spec: RegisterSpec, registers: Mapping[int, int]) -> float:
    """raw * scale + offset, in the spec's unit."""
    return raw_number(spec, registers) * spec.scale + spec.offset


def to_si(value: float, unit: str, quantity: str) -> float:
    """Convert to metres (distance, level, depth) or pascals (pressure); water column bridges them."""
    if quantity == "pressure":
        if unit in PRESSURE_UNITS:
            return value * PRESSURE_UNITS[unit]
        if unit in _WATER_COLUMN:
            return value * LENGTH_UNITS[unit] * WATER_PA_PER_M
    else:
        if unit in LENGTH_UNITS:
            return value * LENGTH_UNITS[unit]
        if unit in PRESSURE_UNITS:
            return value * PRESSURE_UNITS[unit] / WATER_PA_PER_M
    raise ReadingError(f"unit {unit!r} cannot be converted for quantity {quantity}")


def decode(profile: Profile, registers: Mapping[int, int]) -> Reading:
    """Decode the measurement from a register map (address -> word) gathered by a poll."""
    spec = profile.value
    bits = raw_bits(spec, registers)
    if spec.invalid is not None and bits == spec.invalid:
        raise NoMeasurement(f"{profile.name}: register 0x{spec.address:04X} reports no measurement")
    number = raw_number(spec, registers)
    unit = spec.unit
    if profile.unit_register is not None:
        code = _word(registers, profile.unit_register)
        if code not in UNIT_CODES:
            raise ReadingError(f"{profile.name}: unknown unit code {code}")
        unit = UNIT_CODES[code]
    value = number * spec.scale
    if profile.decimals_register is not None:
        decimals = _word(registers, profile.decimals_register)
        if decimals > MAX_DECIMALS:
            raise ReadingError(f"{profile.name}: decimal places {decimals} out of range 0..{MAX_DECIMALS}")
        value /= 10**decimals  # divide, not multiply by 0.001: 1234/1000 is exactly 1.234
    value += spec.offset
    raw = bits if spec.type == "f32" else int(number)
    return Reading(profile.quantity, to_si(value, unit, profile.quantity), raw, unit)


def decode_extras(profile: Profile, registers: Mapping[int, int]) -> dict[str, float]:
    """Every extra whose registers were read and hold a value (not `invalid`), in its own unit."""
    return {
        name: decode_register(spec, registers)
        for name, spec in profile.extra.items()
        if all(a in registers for a in spec.addresses) and raw_bits(spec, registers) != spec.invalid
    }


def read_plan(
    profile: Profile, extras: Iterable[str] = (), *, max_gap: int = 0, max_count: int = MAX_READ
) -> list[tuple[int, int, int]]:
    """(function, start, count) requests covering the value, its unit/decimals and `extras`.

    Registers closer than `max_gap` unread registers share a request (0: only adjacent ones;
    devices may answer exception 02 for unmapped registers in between).
    """
    specs = [profile.value]
    for name in extras:
        if name not in profile.extra:
            raise ValueError(f"profile {profile.name} has no extra {name!r}; known: {', '.join(profile.extra)}")
        specs.append(profile.extra[name])
    wanted: dict[int, set[int]] = {}
    for spec in specs:
        wanted.setdefault(spec.function, set()).update(spec.addresses)
    for address in (profile.unit_register, profile.decimals_register):
        if address is not None:
            wanted.setdefault(profile.value.function, set()).add(address)
    plan: list[tuple[int, int, int]] = []
    for function in sorted(wanted):
        start = end = -1
        for address in sorted(wanted[function]):
            if start >= 0 and address - end - 1 <= max_gap and address - start < max_count:
                end = address
                continue
            if start >= 0:
                plan.append((function, start, end - start + 1))
            start = end = address
        plan.append((function, start, end - start + 1))
    return plan


def _integer(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid(f"expected an integer {low}..{high}, got {value!r}")
        if not low <= value <= high:
            raise vol.Invalid(f"{value} is out of range {low}..{high}")
        return value

    return check


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise vol.Invalid(f"expected a finite number, got {value!r}")
    return float(value)


def _scale(value: Any) -> float:
    number = _number(value)
    if number == 0:
        raise vol.Invalid("scale must not be 0")
    return number


def _one_of(choices: Iterable[Any]) -> Any:
    options = tuple(choices)
    text = ", ".join(str(c) for c in options)
    return vol.In(options, msg=f"expected one of {text}")


_ADDRESS = _integer(0, 0xFFFF)


def _register(value: dict[str, Any]) -> RegisterSpec:
    spec = RegisterSpec(**value)
    if spec.addresses[-1] > 0xFFFF:
        raise vol.Invalid(f"a {spec.type} at 0x{spec.address:04X} runs past register 0xFFFF", path=["address"])
    return spec


REGISTER_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("address"): _ADDRESS,
            vol.Optional("function", default=READ_HOLDING): vol.All(
                _integer(0, 255), vol.In((READ_HOLDING, READ_INPUT), msg="expected 3 (holding) or 4 (input)")
            ),
            vol.Optional("type", default="u16"): _one_of(TYPES),
            vol.Optional("scale", default=1.0): _scale,
            vol.Optional("offset", default=0.0): _number,
            vol.Optional("word_order", default="big"): _one_of(WORD_ORDERS),
            vol.Optional("unit", default=""): str,
            vol.Optional("invalid"): _integer(0, 0xFFFFFFFF),
        }
    ),
    _register,
)

PROFILE_SCHEMA = vol.Schema(
    {
        vol.Optional("description", default=""): str,
        vol.Optional("default_unit_id", default=1): _integer(1, 247),
        vol.Optional("default_baud", default=9600): _one_of(BAUD_CODES),
        vol.Optional("default_parity", default="N"): _one_of(PARITIES),
        vol.Required("quantity"): _one_of(QUANTITIES),
        vol.Required("value"): REGISTER_SCHEMA,
        vol.Optional("decimals_register"): _ADDRESS,
        vol.Optional("unit_register"): _ADDRESS,
        vol.Optional("extra", default=dict): {str: REGISTER_SCHEMA},
    }
)


def _check_unit(name: str, body: dict[str, Any]) -> None:
    if "unit_register" in body:
        return  # the unit comes from the device's unit code
    unit, quantity = body["value"].unit, body["quantity"]
    known = [*PRESSURE_UNITS, *_WATER_COLUMN] if quantity == "pressure" else [*LENGTH_UNITS, *PRESSURE_UNITS]
    if unit not in known:
        raise vol.Invalid(
            f"unit {unit!r} cannot be converted for quantity {quantity}; expected one of {', '.join(known)}",
            path=[name, "value", "unit"],
        )


def load_user_profiles(data: Any) -> dict[str, Profile]:
    """Validate a YAML mapping of profile name -> profile; raises vol.Invalid with the key path."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise vol.Invalid(f"expected a mapping of profile name to profile, got {type(data).__name__}")
    profiles: dict[str, Profile] = {}
    for name, raw in data.items():
        if not isinstance(name, str) or not name:
            raise vol.Invalid(f"profile name must be a non-empty string, got {name!r}", path=[name])
        if name in BUILTIN_PROFILES:
            raise vol.Invalid(f"{name!r} is a built-in profile; choose another name", path=[name])
        try:
            body = PROFILE_SCHEMA(raw)
        except vol.Invalid as err:
            raise vol.MultipleInvalid(
                [vol.Invalid(e.msg, path=[name, *e.path]) for e in getattr(err, "errors", [err])]
            ) from None
        _check_unit(name, body)
        profiles[name] = Profile(name=name, **body)
    return profiles
