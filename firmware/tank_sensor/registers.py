"""The tank sensor's holding-register map (profile "maderas_tank_v1") and its write rules.

Register map (FC03 read; R/W ones also FC06/FC16; all u16 unless noted):

    addr    access  meaning
    0x0000  R       firmware version, major << 8 | minor
    0x0001  R       status bits: 0 valid, 1 sensor fault / no echo, 2 out of range,
                    3 spike rejected in the last cycle, 4 pressure mode
    0x0002  R       distance mm (0xFFFF when invalid)
    0x0003  R       level per-mille 0..1000 (0xFFFF when invalid)
    0x0004  R       temperature 0.1 degC, i16
    0x0005  R       no-echo / sensor error counter
    0x0006  R       CRC errors seen on the bus
    0x0007  R       spikes rejected
    0x0008  R       uptime seconds u32, high word
    0x0009  R       uptime seconds u32, low word
    0x0010  R/W     unit id 1..247, persisted
    0x0011  R/W     baud code 0..7 (1200 .. 115200), persisted, applied after the reply
    0x0012  R/W     mount height mm (sensor face to tank bottom), persisted
    0x0013  R/W     mode 0 ultrasonic / 1 pressure, persisted
    0x0014  R/W     commodity 0 water / 1 LP gas, persisted (firmware 1.1)
    0x0015  R/W     tank capacity litres, 0 = not set, persisted (firmware 1.1)
    0x0016  R/W     tank height mm (bottom to full), 0 = the mount height, persisted (firmware 1.1)
    0x0020  R       model id 0x4D54 ("MT")
    0x0021-0x0024 R serial number, 8 ASCII characters, two per register, first one high (1.1)
    0x0025  R       variant 0 RS-485 / 1 Wi-Fi (Modbus TCP) (1.1)
    0x0030-0x0031 W PIN, u32 high word first: FC16 only; unlocks a Modbus TCP connection (1.1)

Other addresses up to 0x0031 read as 0. A read reaching past 0x0031 or a write to anything but
0x0010..0x0016 (and the PIN) is exception 02; an invalid written value is exception 03 and nothing
is written. Counters are u16 and wrap.

Modbus TCP connections start locked (`PinGuard`, `PUBLIC_REGISTERS`): only the identity registers
(version, model, serial, variant) are readable until the PIN is written; anything else is
exception 01, which the Modbus spec allows for "the server is in the wrong state". A wrong PIN is
exception 03; after MAX_PIN_FAILURES wrong PINs every PIN write is exception 06 (busy) for
PIN_LOCKOUT_US, whoever sends it. RS-485 is a wire inside the house: it has no lock.
"""

from .modbus_slave import ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, SLAVE_BUSY, ModbusError

FIRMWARE_VERSION = 0x0101  # 1.1: serial, variant, tank commodity and capacity, the PIN lock
MODEL_ID = 0x4D54  # "MT"
LAST_REGISTER = 0x0031

REG_VERSION = 0x0000
REG_STATUS = 0x0001
REG_DISTANCE = 0x0002
REG_LEVEL = 0x0003
REG_TEMPERATURE = 0x0004
REG_SENSOR_ERRORS = 0x0005
REG_CRC_ERRORS = 0x0006
REG_SPIKES = 0x0007
REG_UPTIME_HI = 0x0008
REG_UPTIME_LO = 0x0009
REG_UNIT_ID = 0x0010
REG_BAUD_CODE = 0x0011
REG_MOUNT_MM = 0x0012
REG_MODE = 0x0013
REG_COMMODITY = 0x0014
REG_CAPACITY_L = 0x0015
REG_TANK_HEIGHT_MM = 0x0016
REG_MODEL = 0x0020
REG_SERIAL = 0x0021  # .. 0x0024
SERIAL_CHARS = 8
REG_VARIANT = 0x0025
REG_PIN = 0x0030  # .. 0x0031

VARIANT_RS485 = 0
VARIANT_WIFI = 1
# Readable on a locked Modbus TCP connection: enough to say what the device is, nothing it measures.
PUBLIC_REGISTERS = (REG_VERSION, REG_MODEL, REG_SERIAL, REG_SERIAL + 1, REG_SERIAL + 2, REG_SERIAL + 3, REG_VARIANT)
PIN_MAX = 999999  # six digits on the label
MAX_PIN_FAILURES = 5
PIN_LOCKOUT_US = 60000000
SERIAL_KEY = "serial"  # written at the factory, with the PIN
PIN_KEY = "pin"

COMMODITY_WATER = 0
COMMODITY_LP_GAS = 1
CAPACITY_MAX_L = 65000

STATUS_VALID = 0x01
STATUS_FAULT = 0x02
STATUS_OUT_OF_RANGE = 0x04
STATUS_SPIKE = 0x08
STATUS_PRESSURE = 0x10

MODE_ULTRASONIC = 0
MODE_PRESSURE = 1

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
INVALID = 0xFFFF

MOUNT_MIN_MM = 100
MOUNT_MAX_MM = 30000

# Persisted settings: store key, register, default, (min, max).
SETTINGS = (
    ("unit_id", REG_UNIT_ID, 1, (1, 247)),
    ("baud_code", REG_BAUD_CODE, 3, (0, len(BAUD_RATES) - 1)),
    ("mount_mm", REG_MOUNT_MM, 2000, (MOUNT_MIN_MM, MOUNT_MAX_MM)),
    ("mode", REG_MODE, MODE_ULTRASONIC, (MODE_ULTRASONIC, MODE_PRESSURE)),
    ("commodity", REG_COMMODITY, COMMODITY_WATER, (COMMODITY_WATER, COMMODITY_LP_GAS)),
    ("capacity_l", REG_CAPACITY_L, 0, (0, CAPACITY_MAX_L)),
    ("tank_height_mm", REG_TANK_HEIGHT_MM, 0, (0, MOUNT_MAX_MM)),
)


def _valid(value, limits):
    return isinstance(value, int) and limits[0] <= value <= limits[1]


class MemoryStore:
    """A key-value store in RAM with the interface the firmware expects of flash: get/set."""

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.writes = 0

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        self.data[key] = value
        self.writes += 1


class RegisterMap:
    """Live values and persisted settings behind the Modbus holding registers.

    `on_change(register, value)` is called after a setting is written (the device applies the
    mode and baud). Live values are plain attributes the device updates.
    """

    def __init__(self, store, firmware_version=FIRMWARE_VERSION, on_change=None, variant=VARIANT_RS485):
        self.store = store
        self.firmware_version = firmware_version
        self.variant = variant
        self.on_change = on_change
        self.status = 0
        self.distance_mm = INVALID
        self.level_permille = INVALID
        self.temperature_dc = 0
        self.sensor_errors = 0
        self.crc_errors = 0
        self.spikes = 0
        self.uptime_s = 0
        self.settings = {}
        self.pin_register = REG_PIN
        self.pin_guard = PinGuard(store)
        self.load()

    def load(self):
        """Read the settings from the store; a missing or corrupt value falls back to its default."""
        for key, register, default, limits in SETTINGS:
            value = self.store.get(key, default)
            self.settings[register] = value if _valid(value, limits) else default

    def restore_defaults(self):
        """Factory reset: every setting back to its default, persisted."""
        for key, register, default, _limits in SETTINGS:
            self._apply(key, register, default)

    @property
    def unit_id(self):
        return self.settings[REG_UNIT_ID]

    @property
    def baud_code(self):
        return self.settings[REG_BAUD_CODE]

    @property
    def baud(self):
        return BAUD_RATES[self.settings[REG_BAUD_CODE]]

    @property
    def mount_mm(self):
        return self.settings[REG_MOUNT_MM]

    @property
    def mode(self):
        return self.settings[REG_MODE]

    def count_crc_error(self):
        self.crc_errors = (self.crc_errors + 1) & 0xFFFF

    def value(self, register):
        """The u16 value of one register (0 for an unmapped address)."""
        if register == REG_VERSION:
            return self.firmware_version & 0xFFFF
        if register == REG_STATUS:
            return self.status
        if register == REG_DISTANCE:
            return self.distance_mm
        if register == REG_LEVEL:
            return self.level_permille
        if register == REG_TEMPERATURE:
            return self.temperature_dc & 0xFFFF
        if register == REG_SENSOR_ERRORS:
            return self.sensor_errors & 0xFFFF
        if register == REG_CRC_ERRORS:
            return self.crc_errors & 0xFFFF
        if register == REG_SPIKES:
            return self.spikes & 0xFFFF
        if register == REG_UPTIME_HI:
            return (self.uptime_s >> 16) & 0xFFFF
        if register == REG_UPTIME_LO:
            return self.uptime_s & 0xFFFF
        if register == REG_MODEL:
            return MODEL_ID
        if REG_SERIAL <= register < REG_SERIAL + SERIAL_CHARS // 2:
            text = serial_text(self.store.get(SERIAL_KEY))
            i = 2 * (register - REG_SERIAL)
            return (ord(text[i]) << 8) | ord(text[i + 1])
        if register == REG_VARIANT:
            return self.variant
        return self.settings.get(register, 0)

    def is_public(self, start, qty):
        """True when a locked Modbus TCP connection may read these registers."""
        return is_public(start, qty)

    def check_pin(self, pin, now_us):
        """The PIN written to 0x0030; ModbusError(03) when wrong, (06) during a lockout."""
        return self.pin_guard.check(pin, now_us)

    def read_holding(self, start, qty):
        """Values of `qty` registers from `start`; ModbusError(02) past the map."""
        if start > LAST_REGISTER or start + qty - 1 > LAST_REGISTER:
            raise ModbusError(ILLEGAL_DATA_ADDRESS)
        return [self.value(register) for register in range(start, start + qty)]

    def write_holding(self, start, values):
        """Write settings all-or-nothing: 02 for a non-writable address, 03 for a bad value."""
        plan = []
        for offset in range(len(values)):
            entry = _setting(start + offset)
            if entry is None:
                raise ModbusError(ILLEGAL_DATA_ADDRESS)
            plan.append((entry, values[offset]))
        for entry, value in plan:
            if not _valid(value, entry[3]):
                raise ModbusError(ILLEGAL_DATA_VALUE)
        for entry, value in plan:
            self._apply(entry[0], entry[1], value)

    def _apply(self, key, register, value):
        old = self.settings[register]
        self.settings[register] = value
        # Flash wears: only write what changed (or what the store lacks).
        if self.store.get(key) != value:
            self.store.set(key, value)
        if old != value and self.on_change is not None:
            self.on_change(register, value)


def serial_text(value):
    """The stored serial as exactly SERIAL_CHARS printable ASCII characters (padded with spaces)."""
    text = value if isinstance(value, str) else ""
    out = ""
    for ch in text[:SERIAL_CHARS]:
        out += ch if 32 <= ord(ch) < 127 else "?"
    while len(out) < SERIAL_CHARS:
        out += " "
    return out


def is_public(start, qty):
    """True when every register of the read is one a locked connection may see."""
    for register in range(start, start + qty):
        if register not in PUBLIC_REGISTERS:
            return False
    return True


class PinGuard:
    """The device PIN and its brute-force brake, shared by every Modbus TCP connection.

    `check(pin, now_us)` returns True for the right PIN; a wrong one raises ModbusError(03), and
    after MAX_PIN_FAILURES wrong ones in a row every attempt raises ModbusError(06) until
    PIN_LOCKOUT_US have passed since the last failure. A device without a PIN in its store
    refuses every PIN (it was not set up for Wi-Fi at the factory).
    """

    def __init__(self, store):
        self.store = store
        self.failures = 0
        self.locked_until_us = None

    def check(self, pin, now_us):
        if self.locked_until_us is not None:
            if now_us < self.locked_until_us:
                raise ModbusError(SLAVE_BUSY)
            self.locked_until_us = None
            self.failures = 0
        stored = self.store.get(PIN_KEY)
        if isinstance(stored, int) and 0 <= stored <= PIN_MAX and pin == stored:
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= MAX_PIN_FAILURES:
            self.locked_until_us = now_us + PIN_LOCKOUT_US
        raise ModbusError(ILLEGAL_DATA_VALUE)


def _setting(register):
    for entry in SETTINGS:
        if entry[1] == register:
            return entry
    return None
