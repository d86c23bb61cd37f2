"""MicroPython entry point for the ESP32 board: builds the real hardware layer and runs the loop.

Install the package as /lib/tank_sensor/ and put `import tank_sensor.main as m; m.run()` in the
board's /main.py (docs/firmware.md). Under CPython this module only has to compile and import:
`machine` and the MicroPython `time` functions are reached inside functions only.

Pins are typical choices for an ESP32 DevKit; check them against the board actually used.
"""

import json

from .device import TankSensor

UART_ID = 2
PIN_TX = 17  # -> MAX3485 DI
PIN_RX = 16  # <- MAX3485 RO (through the transceiver, 3.3 V)
PIN_DE = 4  # -> MAX3485 DE and /RE tied together
PIN_TRIG = 5  # -> JSN-SR04T trigger
PIN_ECHO = 18  # <- JSN-SR04T echo through a 5 V -> 3.3 V level shifter
PIN_ADC = 34  # <- 150 ohm shunt of the 4-20 mA loop (ADC1, usable with Wi-Fi on)
PIN_RESET = 0  # BOOT button: held low at power-up restores the default settings

ECHO_TIMEOUT_US = 40000  # about 6.8 m round trip; beyond the JSN-SR04T's range
MEASURE_PERIOD_US = 200000  # five samples per second: the median window spans one second
STORE_PATH = "/tank_sensor.json"


class TicksClock:
    """Monotonic microseconds from time.ticks_us, unwrapped (call at least every few minutes)."""

    def __init__(self):
        import time

        self._time = time
        self._last = time.ticks_us()
        self._total = 0

    def monotonic_us(self):
        now = self._time.ticks_us()
        self._total += self._time.ticks_diff(now, self._last)
        self._last = now
        return self._total


class JsonFileStore:
    """Settings in one JSON file, replaced atomically (write a temp file, then rename)."""

    def __init__(self, path=STORE_PATH):
        self.path = path
        try:
            with open(path) as handle:
                self.data = json.load(handle)
        except (OSError, ValueError):
            self.data = {}
        if not isinstance(self.data, dict):
            self.data = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        import os

        self.data[key] = value
        tmp = self.path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(self.data, handle)
        os.rename(tmp, self.path)


class Esp32Hardware:
    """machine.UART + DE pin, trigger/echo pins, ADC; implements device.Hardware."""

    def __init__(self, baud=9600):
        import machine

        self._machine = machine
        self.de = machine.Pin(PIN_DE, machine.Pin.OUT, value=0)
        # 8N2: 11-bit characters as the spec wants without parity; 1-stop-bit masters read it.
        self.uart = machine.UART(
            UART_ID, baudrate=baud, bits=8, parity=None, stop=2, tx=PIN_TX, rx=PIN_RX, rxbuf=512
        )
        self.trig = machine.Pin(PIN_TRIG, machine.Pin.OUT, value=0)
        self.echo = machine.Pin(PIN_ECHO, machine.Pin.IN)
        self.adc = machine.ADC(machine.Pin(PIN_ADC), atten=machine.ADC.ATTN_11DB)

    def uart_read(self):
        if self.uart.any():
            return self.uart.read()
        return None

    def uart_write(self, data):
        self.de.value(1)
        self.uart.write(data)
        self.uart.flush()  # returns when the last stop bit has left the shift register
        self.de.value(0)

    def uart_set_baud(self, baud):
        self.uart.init(baudrate=baud, bits=8, parity=None, stop=2, tx=PIN_TX, rx=PIN_RX)

    def ultrasonic_echo_us(self):
        import time

        self.trig.value(0)
        time.sleep_us(5)
        self.trig.value(1)
        time.sleep_us(20)  # JSN-SR04T wants >= 10 us
        self.trig.value(0)
        width = self._machine.time_pulse_us(self.echo, 1, ECHO_TIMEOUT_US)
        return width if width > 0 else None

    def shunt_uv(self):
        try:
            return self.adc.read_uv()
        except OSError:
            return None

    def temperature_dc(self):
        return None  # no air temperature sensor fitted: measure.py assumes 20.0 degC


def run():
    """Build everything and serve forever."""
    import machine
    import time

    store = JsonFileStore()
    clock = TicksClock()
    hw = Esp32Hardware()
    sensor = TankSensor(hw, store, clock)
    if machine.Pin(PIN_RESET, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0:
        sensor.factory_reset()
    next_measure = clock.monotonic_us()
    while True:
        now = clock.monotonic_us()
        sensor.service_uart(now)
        # A measurement blocks for up to the echo timeout: never in the middle of a request.
        if now >= next_measure and sensor.bus_idle(now):
            sensor.poll_measurement()
            next_measure = now + MEASURE_PERIOD_US
        time.sleep_us(100)
