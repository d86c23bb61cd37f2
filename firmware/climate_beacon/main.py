"""Climate beacon entry point: wake, measure, advertise BTHome v2 for a moment, sleep again.

Install the package as /lib/climate_beacon/ and put `import climate_beacon.main as m; m.run()`
in the board's /main.py (README.md beside this file). Hardware modules (`machine`,
`bluetooth`, `cryptolib`, MicroPython's `time`) are reached inside functions only or passed in,
so this module imports under CPython and the tests drive one wake cycle with fakes.

One wake cycle: radio on -> measure -> encode (packet id and counter from BeaconState) ->
advertise non-connectable for ADVERTISE_MS -> radio off -> deep or light sleep for INTERVAL_S.
After deep sleep the board boots again and run() starts over; BeaconState carries on.
"""

import binascii

from . import bthome
from .sensors import SensorError, make_sensor

RTC_MAGIC = b"CB"
RTC_LEN = 10  # magic(2) counter(4 LE) reserved(4 LE)
COUNTER_MASK = 0xFFFFFFFF


class BeaconState:
    """The encryption counter (the packet id is its low byte), kept across sleep and power loss.

    RTC memory holds (counter, reserved) across deep sleep. A counter value is only used below
    `reserved`, a high-water mark stored on flash one block ahead, so flash is written once per
    `block` wake-ups and a power loss (RTC memory cleared) resumes at the mark: a CCM nonce is
    never reused with the same key.
    """

    def __init__(self, rtc, counter_file, block=256):
        self.rtc = rtc
        self.counter_file = counter_file
        self.block = block
        data = bytes(rtc.memory())
        if len(data) == RTC_LEN and data[:2] == RTC_MAGIC:
            self.counter = int.from_bytes(data[2:6], "little")
            self.reserved = int.from_bytes(data[6:10], "little")
        else:
            # Cold boot: everything below the mark may have been sent already.
            self.counter = self._read_mark()
            self.reserved = self.counter

    def _read_mark(self):
        try:
            with open(self.counter_file) as handle:
                return int(handle.read().strip()) & COUNTER_MASK
        except (OSError, ValueError):
            return 0

    def _write_mark(self, mark):
        import os

        tmp = self.counter_file + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(str(mark))
        os.rename(tmp, self.counter_file)  # atomic: a reset mid-write keeps the old mark

    def take(self):
        """The counter for this advertisement; the next call returns a larger one."""
        counter = self.counter
        if counter >= self.reserved:
            self.reserved = (counter + self.block) & COUNTER_MASK
            self._write_mark(self.reserved)
        self.counter = (counter + 1) & COUNTER_MASK
        self.rtc.memory(
            RTC_MAGIC + self.counter.to_bytes(4, "little") + self.reserved.to_bytes(4, "little")
        )
        return counter


def battery_percent(millivolts, empty_mv, full_mv):
    """Cell voltage -> 0..100 %, linear between the empty and full voltages, rounded."""
    if millivolts <= empty_mv:
        return 0
    if millivolts >= full_mv:
        return 100
    span = full_mv - empty_mv
    return ((millivolts - empty_mv) * 100 + span // 2) // span


class AdcBattery:
    """Battery voltage through a resistor divider into a calibrated ADC (`read_uv`)."""

    def __init__(self, adc, divider, empty_mv, full_mv):
        self.adc = adc
        self.divider = divider
        self.empty_mv = empty_mv
        self.full_mv = full_mv

    def percent(self):
        """Battery level in %, or None when the ADC fails."""
        try:
            uv = self.adc.read_uv()
        except OSError:
            return None
        return battery_percent(uv * self.divider // 1000, self.empty_mv, self.full_mv)


def cryptolib_aes_ecb(key, block):
    """AES-128-ECB of one block with MicroPython's cryptolib (mode 1 = ECB)."""
    return _board("cryptolib").aes(key, 1).encrypt(block)


def _board(name):
    """A MicroPython-only module (machine, bluetooth, cryptolib), imported by name when needed."""
    return __import__(name)


def _time_sleep_ms(ms):
    _board("time").sleep_ms(ms)


def parse_bindkey(text):
    """config.BINDKEY (32 hex characters, or empty for plain) -> 16 bytes or None."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) != 32:
        raise ValueError(f"BINDKEY must be 32 hex characters, got {len(text)}")
    return binascii.unhexlify(text)


class Beacon:
    """One beacon: measure, encode and advertise once per `wake()`."""

    def __init__(self, cfg, sensor, ble, battery, state, aes_ecb_encrypt=None, sleep_ms=None):
        self.cfg = cfg
        self.sensor = sensor
        self.ble = ble
        self.battery = battery
        self.state = state
        self.bindkey = parse_bindkey(cfg.BINDKEY)
        self.aes = aes_ecb_encrypt or cryptolib_aes_ecb
        self.sleep_ms = sleep_ms or _time_sleep_ms
        self.last_error = None

    def mac(self):
        """The address the nonce names: config.MAC, else the radio's own (as printed)."""
        if self.cfg.MAC:
            return bthome.mac_bytes(self.cfg.MAC)
        return bytes(self.ble.config("mac")[1])

    def encode(self, mac):
        """Measure and build the AD payload; a failed sensor leaves its objects out."""
        counter = self.state.take()
        try:
            temperature_cc, humidity_ch = self.sensor.measure()
            self.last_error = None
        except SensorError as exc:
            # Battery and packet id still go out: the hub sees the beacon alive, values stale.
            temperature_cc = humidity_ch = None
            self.last_error = exc
            print("climate_beacon:", exc)
        objects = bthome.encode_objects(
            packet_id=counter & 0xFF,
            battery=self.battery.percent(),
            temperature_cc=temperature_cc,
            humidity_ch=humidity_ch,
        )
        trigger = self.cfg.TRIGGER_BASED
        if self.bindkey is None:
            data = bthome.plain_service_data(objects, trigger)
        else:
            data = bthome.encrypted_service_data(objects, self.bindkey, mac, counter, self.aes, trigger)
        return bthome.advertisement(data, self.cfg.NAME)

    def wake(self):
        """One cycle without the sleep: returns the advertised AD payload."""
        self.ble.active(True)
        payload = self.encode(self.mac())
        self.ble.gap_advertise(self.cfg.ADV_INTERVAL_US, payload, connectable=False)
        self.sleep_ms(self.cfg.ADVERTISE_MS)
        self.ble.gap_advertise(None)
        self.ble.active(False)  # radio off before sleeping: most of the idle current
        return payload


def build(cfg, machine, bluetooth, aes_ecb_encrypt=None, sleep_ms=None):
    """Wire the board's I2C, ADC, RTC and radio into a Beacon."""
    i2c = machine.I2C(
        cfg.I2C_ID, scl=machine.Pin(cfg.PIN_SCL), sda=machine.Pin(cfg.PIN_SDA), freq=cfg.I2C_FREQ
    )
    adc = machine.ADC(machine.Pin(cfg.PIN_BATTERY), atten=machine.ADC.ATTN_11DB)
    battery = AdcBattery(adc, cfg.BATTERY_DIVIDER, cfg.BATTERY_EMPTY_MV, cfg.BATTERY_FULL_MV)
    state = BeaconState(machine.RTC(), cfg.COUNTER_FILE, cfg.COUNTER_BLOCK)
    sensor = make_sensor(cfg.SENSOR, i2c, sleep_ms)
    return Beacon(cfg, sensor, bluetooth.BLE(), battery, state, aes_ecb_encrypt, sleep_ms)


def run(cfg=None, machine=None, bluetooth=None, aes_ecb_encrypt=None, sleep_ms=None, cycles=None):
    """Wake, advertise and sleep forever (tests pass fakes and a number of cycles)."""
    if cfg is None:
        from . import config as cfg
    if machine is None:
        machine = _board("machine")
    if bluetooth is None:
        bluetooth = _board("bluetooth")
    beacon = build(cfg, machine, bluetooth, aes_ecb_encrypt, sleep_ms)
    done = 0
    while cycles is None or done < cycles:
        beacon.wake()
        done += 1
        if cfg.SLEEP == "deep":
            machine.deepsleep(cfg.INTERVAL_S * 1000)  # on the board this never returns: reboot
        else:
            machine.lightsleep(cfg.INTERVAL_S * 1000)
    return beacon
