"""The tank sensor: measurement, register map and Modbus slave tied together.

Time is integer microseconds from one monotonic timebase: `clock.monotonic_us()` and the `now`
passed to `on_uart_bytes` must agree. Nothing here sleeps or touches hardware directly.

Hardware interface (main.py builds the ESP32 one; tests and the simulator pass fakes):

    uart_read() -> bytes or None       whatever the UART has received, without blocking
    uart_write(data)                   send, holding DE high until the last stop bit is out
    uart_set_baud(baud)                reconfigure the UART
    ultrasonic_echo_us() -> int/None   trigger, return the echo pulse width (None: no echo)
    shunt_uv() -> int/None             4-20 mA shunt voltage in microvolts (None: ADC failure)
    temperature_dc() -> int/None       air temperature in 0.1 degC (None: no sensor)

Store interface (persisted key-value, e.g. a JSON file): get(key, default), set(key, value).

The Wi-Fi variant (`variant=VARIANT_WIFI`, main_wifi.py) serves the same registers over Modbus
TCP: `tcp_session()` per accepted connection, then `session.feed(data)` -> bytes to send. Its
UART methods are simply never called.
"""

from .measure import DEFAULT_PRESSURE_FULL_SCALE_MM, LevelMeter
from .modbus_slave import ModbusSlave, RtuFramer
from .modbus_tcp import TcpSession
from .registers import (
    BAUD_RATES,
    FIRMWARE_VERSION,
    MODE_ULTRASONIC,
    REG_BAUD_CODE,
    REG_MODE,
    REG_MOUNT_MM,
    VARIANT_RS485,
    RegisterMap,
)

PRESSURE_FULL_SCALE_KEY = "pressure_full_scale_mm"


class Hardware:
    """The interface above; every method must be provided by a real or fake implementation."""

    def uart_read(self):
        raise NotImplementedError

    def uart_write(self, data):
        raise NotImplementedError

    def uart_set_baud(self, baud):
        raise NotImplementedError

    def ultrasonic_echo_us(self):
        raise NotImplementedError

    def shunt_uv(self):
        raise NotImplementedError

    def temperature_dc(self):
        raise NotImplementedError


class TankSensor:
    """One RS-485 tank level sensor: `poll_measurement()` and `on_uart_bytes(data, now)`."""

    def __init__(self, hw, store, clock, firmware_version=FIRMWARE_VERSION, variant=VARIANT_RS485):
        self.hw = hw
        self.store = store
        self.clock = clock
        full_scale = store.get(PRESSURE_FULL_SCALE_KEY, DEFAULT_PRESSURE_FULL_SCALE_MM)
        if not isinstance(full_scale, int) or full_scale <= 0:
            full_scale = DEFAULT_PRESSURE_FULL_SCALE_MM
        self.meter = LevelMeter(pressure_full_scale_mm=full_scale)
        self.registers = RegisterMap(
            store, firmware_version=firmware_version, on_change=self._setting_changed, variant=variant
        )
        self.meter.set_mode(self.registers.mode)
        self.slave = ModbusSlave(self.registers)
        self.baud = self.registers.baud
        self.pending_baud = None
        self.framer = RtuFramer(self.baud)
        hw.uart_set_baud(self.baud)
        self._boot_us = clock.monotonic_us()
        self._publish()

    def poll_measurement(self):
        """Take one sample from the sensor of the current mode and update the registers."""
        self.meter.set_temperature(self.hw.temperature_dc())
        if self.registers.mode == MODE_ULTRASONIC:
            self.meter.feed_echo(self.hw.ultrasonic_echo_us())
        else:
            self.meter.feed_shunt_uv(self.hw.shunt_uv())
        self._set_uptime(self.clock.monotonic_us())
        self._publish()

    def on_uart_bytes(self, data, now):
        """Feed received bytes (b"" to just let time pass); returns the bytes to send, or b""."""
        self._set_uptime(now)
        reply = b""
        for frame in self.framer.feed(data, now):
            answer = self.slave.handle_frame(frame)
            if answer is not None:
                # Only the newest answer goes out: an older one would collide on the bus.
                reply = answer
        if not reply and self.pending_baud is not None:
            # A broadcast baud change has no reply to wait for.
            self.reply_sent()
        return reply

    def tcp_session(self):
        """A new Modbus TCP connection's state: locked until it writes the PIN."""
        return TcpSession(self.slave, _UptimeClock(self))

    def reply_sent(self):
        """Call once the reply has left the UART: a baud change takes effect now."""
        if self.pending_baud is None:
            return
        self.baud = self.pending_baud
        self.pending_baud = None
        self.hw.uart_set_baud(self.baud)
        self.framer.set_baud(self.baud)

    def service_uart(self, now):
        """Main-loop step: read the UART, answer, then apply any baud change."""
        reply = self.on_uart_bytes(self.hw.uart_read() or b"", now)
        if reply:
            self.hw.uart_write(reply)
            self.reply_sent()
        return reply

    def bus_idle(self, now):
        """True when no request is being received (a blocking measurement is safe now)."""
        return self.framer.idle(now)

    def factory_reset(self):
        """Restore default unit id, baud, mount height and mode (persisted)."""
        self.registers.restore_defaults()
        if self.pending_baud is not None:
            self.reply_sent()

    def _set_uptime(self, now):
        self.registers.uptime_s = ((now - self._boot_us) // 1000000) & 0xFFFFFFFF

    def _publish(self):
        regs = self.registers
        regs.status, regs.distance_mm, regs.level_permille = self.meter.outputs(regs.mount_mm)
        regs.temperature_dc = self.meter.temperature_dc
        regs.sensor_errors = self.meter.sensor_errors
        regs.spikes = self.meter.spikes

    def _setting_changed(self, register, value):
        if register == REG_BAUD_CODE:
            rate = BAUD_RATES[value]
            self.pending_baud = rate if rate != self.baud else None
        elif register == REG_MODE:
            self.meter.set_mode(value)
            self._publish()
        elif register == REG_MOUNT_MM:
            self._publish()


class _UptimeClock:
    """The device clock, keeping the uptime register current on every TCP request."""

    def __init__(self, sensor):
        self.sensor = sensor

    def monotonic_us(self):
        now = self.sensor.clock.monotonic_us()
        self.sensor._set_uptime(now)
        return now
