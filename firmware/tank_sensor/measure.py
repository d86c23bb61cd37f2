"""Level measurement: echo time or loop current -> filtered distance, level and status bits.

Integer arithmetic throughout: the ESP32 port of MicroPython has single-precision floats, which
cannot hold echo_us * speed exactly.

Ultrasonic: distance = echo_us * c / 2 with c = 331.3 + 0.606 * T m/s (T in degC). With T in
0.1 degC (t_dc) that is c * 10^4 = 3313000 + 606 * t_dc, so
    distance_mm = echo_us * (3313000 + 606 * t_dc) / 2e7, rounded half up.
Pressure: a 4-20 mA transmitter across a shunt; head_mm = (I - 4 mA) / 16 mA * full scale.

The filtered quantity (distance for ultrasonic, water head for pressure) is the median of the
last five samples. A sample further than max(50 mm, 5 %) from the median it produced is a spike:
it is counted and flagged, and cannot move the output on its own; a step that persists for three
samples becomes the median and is accepted (its first two samples count as spikes).
"""

from .registers import (
    INVALID,
    MODE_PRESSURE,
    MODE_ULTRASONIC,
    STATUS_FAULT,
    STATUS_OUT_OF_RANGE,
    STATUS_PRESSURE,
    STATUS_SPIKE,
    STATUS_VALID,
)

DEFAULT_TEMPERATURE_DC = 200  # 20.0 degC when no temperature sensor answers
TEMPERATURE_MIN_DC = -400
TEMPERATURE_MAX_DC = 850

WINDOW = 5
SPIKE_MIN_MM = 50
SPIKE_PERMILLE = 50

SHUNT_OHMS = 150
LOOP_ZERO_UA = 4000
LOOP_SPAN_UA = 16000
# NAMUR NE 43: below 3.6 mA or above 21 mA the transmitter (or its wiring) has failed.
LOOP_FAULT_LOW_UA = 3600
LOOP_FAULT_HIGH_UA = 21000
DEFAULT_PRESSURE_FULL_SCALE_MM = 5000


def speed_of_sound_e4(temperature_dc):
    """Speed of sound in units of 0.1 mm/s (m/s * 10^4) at a temperature in 0.1 degC."""
    return 3313000 + 606 * temperature_dc


def echo_to_mm(echo_us, temperature_dc):
    """Round-trip echo time in microseconds -> one-way distance in mm, rounded half up."""
    return (echo_us * speed_of_sound_e4(temperature_dc) + 10000000) // 20000000


def loop_current_ua(shunt_uv, shunt_ohms=SHUNT_OHMS):
    """Shunt voltage in microvolts -> loop current in microamps, rounded."""
    return (shunt_uv + shunt_ohms // 2) // shunt_ohms


def head_mm(current_ua, full_scale_mm):
    """Loop current -> water head in mm, clamped to 0..full scale; (head, clamped)."""
    span = current_ua - LOOP_ZERO_UA
    clamped = False
    if span < 0:
        span, clamped = 0, True
    elif span > LOOP_SPAN_UA:
        span, clamped = LOOP_SPAN_UA, True
    return (span * full_scale_mm + LOOP_SPAN_UA // 2) // LOOP_SPAN_UA, clamped


def level_from_distance(distance_mm, mount_mm):
    """Level per-mille for a sensor `mount_mm` above the bottom; (level, out_of_range)."""
    if distance_mm > mount_mm:
        return 0, True
    return ((mount_mm - distance_mm) * 1000 + mount_mm // 2) // mount_mm, False


def level_from_head(head, mount_mm):
    """Level per-mille for a water head over a tank `mount_mm` tall; (level, out_of_range)."""
    if head > mount_mm:
        return 1000, True
    return (head * 1000 + mount_mm // 2) // mount_mm, False


class MedianFilter:
    """Median of the last `size` samples, with spike detection against that median."""

    def __init__(self, size=WINDOW, spike_min=SPIKE_MIN_MM, spike_permille=SPIKE_PERMILLE):
        self.size = size
        self.spike_min = spike_min
        self.spike_permille = spike_permille
        self.samples = []

    def reset(self):
        self.samples = []

    def push(self, sample):
        """Add a sample; returns (median, spike)."""
        self.samples.append(sample)
        if len(self.samples) > self.size:
            self.samples.pop(0)
        ordered = sorted(self.samples)
        median = ordered[(len(ordered) - 1) // 2]
        # With fewer than three samples there is no majority to call a sample a spike.
        if len(ordered) < 3:
            return median, False
        threshold = max(self.spike_min, median * self.spike_permille // 1000)
        return median, abs(sample - median) > threshold


class LevelMeter:
    """Turns raw samples into the measurement registers' values."""

    def __init__(self, pressure_full_scale_mm=DEFAULT_PRESSURE_FULL_SCALE_MM):
        self.pressure_full_scale_mm = pressure_full_scale_mm
        self.filter = MedianFilter()
        self.mode = MODE_ULTRASONIC
        self.value = None  # filtered distance (ultrasonic) or head (pressure), mm
        self.fault = False
        self.spike = False
        self.clamped = False
        self.sensor_errors = 0
        self.spikes = 0
        self.temperature_dc = DEFAULT_TEMPERATURE_DC

    def set_mode(self, mode):
        """Switch sensor type; old samples mean nothing in the new mode."""
        self.mode = mode
        self.filter.reset()
        self.value = None
        self.fault = False
        self.spike = False
        self.clamped = False

    def set_temperature(self, temperature_dc):
        """Take a temperature reading; None or implausible keeps the 20.0 degC default."""
        if temperature_dc is None or not (
            TEMPERATURE_MIN_DC <= temperature_dc <= TEMPERATURE_MAX_DC
        ):
            self.temperature_dc = DEFAULT_TEMPERATURE_DC
        else:
            self.temperature_dc = temperature_dc

    def feed_echo(self, echo_us):
        """One ultrasonic cycle; `echo_us` None or <= 0 means no echo."""
        if echo_us is None or echo_us <= 0:
            self._sensor_fault()
            return
        self._accept(echo_to_mm(echo_us, self.temperature_dc), False)

    def feed_shunt_uv(self, shunt_uv):
        """One pressure cycle from the shunt voltage; None means the ADC read failed."""
        if shunt_uv is None:
            self._sensor_fault()
            return
        current = loop_current_ua(shunt_uv)
        if current < LOOP_FAULT_LOW_UA or current > LOOP_FAULT_HIGH_UA:
            self._sensor_fault()
            return
        head, clamped = head_mm(current, self.pressure_full_scale_mm)
        self._accept(head, clamped)

    def _sensor_fault(self):
        self.fault = True
        self.spike = False
        self.sensor_errors = (self.sensor_errors + 1) & 0xFFFF

    def _accept(self, sample, clamped):
        median, spike = self.filter.push(sample)
        self.value = median
        self.fault = False
        self.spike = spike
        self.clamped = clamped
        if spike:
            self.spikes = (self.spikes + 1) & 0xFFFF

    def outputs(self, mount_mm):
        """(status, distance_mm, level_permille) for the current state."""
        status = STATUS_PRESSURE if self.mode == MODE_PRESSURE else 0
        if self.spike:
            status |= STATUS_SPIKE
        if self.fault or self.value is None:
            if self.fault:
                status |= STATUS_FAULT
            return status, INVALID, INVALID
        out_of_range = self.clamped
        if self.mode == MODE_PRESSURE:
            level, beyond = level_from_head(self.value, mount_mm)
            distance = max(0, mount_mm - self.value)
        else:
            level, beyond = level_from_distance(self.value, mount_mm)
            distance = self.value
        if distance >= INVALID:
            distance, beyond = INVALID - 1, True
        if out_of_range or beyond:
            status |= STATUS_OUT_OF_RANGE
        return status | STATUS_VALID, distance, level
