"""Temperature / humidity drivers for the beacon: Sensirion SHT3x and Aosong AHT20 over I2C.

Runs under MicroPython and CPython. The bus is injected: anything with machine.I2C's
`writeto(addr, buf)` and `readfrom_into(addr, buf)`; the delay is injected too (`sleep_ms`,
time.sleep_ms on the board). Results are integers: (temperature in 0.01 degC, humidity in
0.01 %), the units the BTHome objects carry.

Frames read (both sensors check with CRC-8, polynomial 0x31, init 0xFF, no reflection):

    SHT3x single shot (command 24 00: high repeatability, no clock stretching), 6 bytes:
        T msb, T lsb, CRC(T), RH msb, RH lsb, CRC(RH)
        T = -45 + 175 * raw / 65535 degC;  RH = 100 * raw / 65535 %
    AHT20 trigger (command AC 33 00), 7 bytes:
        status, H[19:12], H[11:4], H[3:0]|T[19:16], T[15:8], T[7:0], CRC(first 6)
        status bit 7 busy, bit 3 calibrated;  RH = raw / 2^20 * 100 %;  T = raw / 2^20 * 200 - 50
"""

SHT3X_ADDRESS = 0x44
SHT3X_MEASURE = b"\x24\x00"
SHT3X_MEASURE_MS = 16  # high repeatability: 15.5 ms at most

AHT20_ADDRESS = 0x38
AHT20_INIT = b"\xbe\x08\x00"
AHT20_TRIGGER = b"\xac\x33\x00"
AHT20_POWER_UP_MS = 40
AHT20_INIT_MS = 10
AHT20_MEASURE_MS = 80
AHT20_BUSY_RETRIES = 3
AHT20_BUSY = 0x80
AHT20_CALIBRATED = 0x08


class SensorError(Exception):
    """The sensor did not answer, stayed busy, or sent a frame whose CRC does not match."""


def crc8(data):
    """CRC-8 as Sensirion and Aosong use it: polynomial 0x31, init 0xFF, no final xor."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _default_sleep_ms(ms):
    # By name: MicroPython's time.sleep_ms does not exist under CPython (nor for mypy).
    __import__("time").sleep_ms(ms)


class _I2cSensor:
    name = "sensor"

    def __init__(self, i2c, address, sleep_ms=None):
        self.i2c = i2c
        self.address = address
        self.sleep_ms = sleep_ms or _default_sleep_ms

    def _write(self, data):
        try:
            self.i2c.writeto(self.address, data)
        except OSError as exc:
            raise SensorError(f"{self.name} at 0x{self.address:02x} does not answer (write): {exc!r}")

    def _read(self, n):
        buf = bytearray(n)
        try:
            self.i2c.readfrom_into(self.address, buf)
        except OSError as exc:
            raise SensorError(f"{self.name} at 0x{self.address:02x} does not answer (read): {exc!r}")
        return buf

    def _check_crc(self, what, data, crc):
        expected = crc8(data)
        if expected != crc:
            raise SensorError(f"{self.name} {what} CRC mismatch: got 0x{crc:02x}, expected 0x{expected:02x}")


class SHT3x(_I2cSensor):
    """Sensirion SHT30/31/35: one single-shot measurement per `measure()`."""

    name = "SHT3x"

    def __init__(self, i2c, address=SHT3X_ADDRESS, sleep_ms=None):
        _I2cSensor.__init__(self, i2c, address, sleep_ms)

    def measure(self):
        """(temperature 0.01 degC, humidity 0.01 %) from one single-shot measurement."""
        self._write(SHT3X_MEASURE)
        self.sleep_ms(SHT3X_MEASURE_MS)
        frame = self._read(6)
        self._check_crc("temperature", frame[0:2], frame[2])
        self._check_crc("humidity", frame[3:5], frame[5])
        raw_t = (frame[0] << 8) | frame[1]
        raw_h = (frame[3] << 8) | frame[4]
        temperature_cc = -4500 + (17500 * raw_t + 32767) // 65535
        humidity_ch = (10000 * raw_h + 32767) // 65535
        return temperature_cc, humidity_ch


class AHT20(_I2cSensor):
    """Aosong AHT20 (and AHT21/25): calibrate once if needed, then trigger and read."""

    name = "AHT20"

    def __init__(self, i2c, address=AHT20_ADDRESS, sleep_ms=None):
        _I2cSensor.__init__(self, i2c, address, sleep_ms)
        self.ready = False

    def _status(self):
        return self._read(1)[0]

    def init(self):
        """Wait out power-up and load the calibration when the status says it is missing."""
        self.sleep_ms(AHT20_POWER_UP_MS)
        if not self._status() & AHT20_CALIBRATED:
            self._write(AHT20_INIT)
            self.sleep_ms(AHT20_INIT_MS)
            if not self._status() & AHT20_CALIBRATED:
                raise SensorError(f"AHT20 at 0x{self.address:02x} stays uncalibrated after init")
        self.ready = True

    def measure(self):
        """(temperature 0.01 degC, humidity 0.01 %) from one triggered measurement."""
        if not self.ready:
            self.init()
        self._write(AHT20_TRIGGER)
        self.sleep_ms(AHT20_MEASURE_MS)
        frame = self._read(7)
        retries = AHT20_BUSY_RETRIES
        while frame[0] & AHT20_BUSY:
            if retries == 0:
                raise SensorError(f"AHT20 at 0x{self.address:02x} still busy after the measurement time")
            retries -= 1
            self.sleep_ms(AHT20_INIT_MS)
            frame = self._read(7)
        self._check_crc("frame", frame[0:6], frame[6])
        raw_h = (frame[1] << 12) | (frame[2] << 4) | (frame[3] >> 4)
        raw_t = ((frame[3] & 0x0F) << 16) | (frame[4] << 8) | frame[5]
        humidity_ch = (raw_h * 10000 + (1 << 19)) >> 20
        temperature_cc = ((raw_t * 20000 + (1 << 19)) >> 20) - 5000
        return temperature_cc, humidity_ch


def make_sensor(kind, i2c, sleep_ms=None):
    """'sht3x' or 'aht20' (config.SENSOR) -> a driver on the given bus."""
    kind = kind.lower()
    if kind == "sht3x":
        return SHT3x(i2c, sleep_ms=sleep_ms)
    if kind == "aht20":
        return AHT20(i2c, sleep_ms=sleep_ms)
    raise SensorError(f"unknown sensor {kind!r}: expected 'sht3x' or 'aht20'")
