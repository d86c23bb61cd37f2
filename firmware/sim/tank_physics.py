"""A household tank for the simulator: daily consumption curves, truck refills, sensor noise.

Time is explicit: every method takes `t`, seconds of tank time since the simulation started
(no clock inside). `start_hour` places t = 0 in the day. Randomness comes from one seeded
`random.Random`, so the same seed and the same sequence of calls give the same numbers.
The consumption itself is deterministic per day (a day's variation is drawn from the seed and
the day number), so the volume at t does not depend on how often it was asked for.

Geometry: a vertical cylinder `height_m` tall holding `capacity_l`; the ultrasonic sensor face
is `mount_height_m` above the bottom (>= height_m). distance = mount height - water level.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class UsageProfile:
    """Litres per day spread over 24 hourly weights; `day_variation` is +-fraction per day."""

    name: str
    litres_per_day: float
    hourly_weights: tuple[float, ...]
    day_variation: float = 0.1

    def __post_init__(self) -> None:
        if len(self.hourly_weights) != 24 or sum(self.hourly_weights) <= 0:
            raise ValueError("hourly_weights needs 24 non-negative values with a positive sum")

    def rate_lps(self, hour: int, day_factor: float = 1.0) -> float:
        """Consumption in litres per second during `hour` (0..23)."""
        share = self.hourly_weights[hour] / sum(self.hourly_weights)
        return self.litres_per_day * day_factor * share / SECONDS_PER_HOUR


# A family of four: showers and breakfast 6-8, washing midday, cooking and baths 18-21.
WATER_FAMILY = UsageProfile(
    "water_family",
    600.0,
    (0.2, 0.1, 0.1, 0.1, 0.2, 1.0, 4.0, 5.0, 3.0, 1.5, 1.5, 1.5,
     2.0, 1.5, 1.0, 1.0, 1.5, 2.5, 4.0, 4.5, 3.5, 2.0, 1.0, 0.5),
)
# LP gas for cooking and a water heater: about 3 L/day, breakfast and dinner peaks.
LP_GAS_HOUSEHOLD = UsageProfile(
    "lp_gas_household",
    3.0,
    (0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 3.0, 3.0, 1.0, 0.5, 0.5, 1.0,
     2.5, 1.5, 0.5, 0.3, 0.5, 1.0, 3.0, 3.5, 1.5, 0.5, 0.2, 0.0),
    day_variation=0.15,
)
PROFILES = {p.name: p for p in (WATER_FAMILY, LP_GAS_HOUSEHOLD)}


@dataclass
class Refill:
    """A truck delivering `litres` evenly over `duration_s`, starting at tank time `start_s`."""

    start_s: float
    litres: float
    duration_s: float
    auto: bool = False  # ordered by the tank itself (auto_refill_below_pct)

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def rate_lps(self) -> float:
        return self.litres / self.duration_s if self.duration_s > 0 else 0.0


@dataclass
class DemoTime:
    """Real seconds -> tank seconds: `factor` 60 makes one real minute an hour of tank time."""

    factor: float = 1.0

    def tank_seconds(self, real_elapsed_s: float) -> float:
        return real_elapsed_s * self.factor


@dataclass
class SimulatedTank:
    capacity_l: float
    height_m: float
    mount_height_m: float
    start_pct: float
    usage_profile: UsageProfile = WATER_FAMILY
    seed: int = 0
    start_hour: float = 0.0
    noise_mm: float = 2.0
    spike_probability: float = 0.01
    # Order a truck when the level drops below this percentage (None: only scheduled refills).
    auto_refill_below_pct: float | None = None
    auto_refill_litres: float | None = None  # default: fill to 95 %
    truck_delay_s: float = 4 * SECONDS_PER_HOUR
    truck_duration_s: float = 20 * 60.0
    refills: list[Refill] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mount_height_m < self.height_m:
            raise ValueError("the sensor must be mounted at or above the tank's top")
        self.rng = random.Random(self.seed)
        self._t = 0.0
        self._volume = self.capacity_l * self.start_pct / 100.0
        self.consumed_l = 0.0
        self.delivered_l = 0.0

    # -- refills ----------------------------------------------------------------------------

    def schedule_refill(self, start_s: float, litres: float, duration_s: float = 20 * 60.0) -> Refill:
        """A truck brings `litres` over `duration_s` from tank time `start_s` (not in the past)."""
        if start_s < self._t:
            raise ValueError("a refill cannot start before the time already simulated")
        refill = Refill(start_s, litres, duration_s)
        self.refills.append(refill)
        return refill

    # -- the water --------------------------------------------------------------------------

    def day_factor(self, day: int) -> float:
        """This day's consumption multiplier, from the seed and the day alone."""
        spread = self.usage_profile.day_variation
        return 1.0 + random.Random(self.seed * 100003 + day).uniform(-spread, spread)

    def consumption_lps(self, t: float) -> float:
        clock_s = t + self.start_hour * SECONDS_PER_HOUR
        day, in_day = divmod(clock_s, SECONDS_PER_DAY)
        return self.usage_profile.rate_lps(int(in_day // SECONDS_PER_HOUR) % 24, self.day_factor(int(day)))

    def volume_l_at(self, t: float) -> float:
        """Litres in the tank at tank time `t` (integrated forward; t earlier than the last call
        restarts from t = 0)."""
        if t < self._t:
            self._t, self._volume = 0.0, self.capacity_l * self.start_pct / 100.0
            self.consumed_l = self.delivered_l = 0.0
            self.refills = [r for r in self.refills if not r.auto]
        while self._t < t:
            self._step(t)
        return self._volume

    def _next_boundary(self, until: float) -> float:
        clock_s = self._t + self.start_hour * SECONDS_PER_HOUR
        hour_end = self._t + (SECONDS_PER_HOUR - clock_s % SECONDS_PER_HOUR)
        end = min(until, hour_end)
        for r in self.refills:
            for edge in (r.start_s, r.end_s):
                if self._t < edge < end:
                    end = edge
        return max(end, math.nextafter(self._t, math.inf))

    def _step(self, until: float) -> None:
        end = self._next_boundary(until)
        dt = end - self._t
        use = self.consumption_lps(self._t)
        fill = sum(r.rate_lps for r in self.refills if r.start_s <= self._t < r.end_s)
        before = self._volume
        threshold = self._auto_threshold_l()
        if threshold is not None and use > fill and before > threshold:
            crossing = self._t + (before - threshold) / (use - fill)
            if crossing < end:
                end, dt = crossing, crossing - self._t
                self._order_truck(crossing)
        used = min(use * dt, before + fill * dt)
        self._volume = min(self.capacity_l, max(0.0, before + (fill - use) * dt))
        self.consumed_l += max(0.0, used)
        self.delivered_l += max(0.0, self._volume - before + used)
        self._t = end

    def _auto_threshold_l(self) -> float | None:
        if self.auto_refill_below_pct is None:
            return None
        if any(r.end_s > self._t for r in self.refills):
            return None  # a truck is already on its way
        return self.capacity_l * self.auto_refill_below_pct / 100.0

    def _order_truck(self, at: float) -> None:
        litres = self.auto_refill_litres
        if litres is None:
            # The volume at the crossing is the threshold: fill up to 95 %.
            litres = self.capacity_l * (0.95 - (self.auto_refill_below_pct or 0.0) / 100.0)
        self.refills.append(Refill(at + self.truck_delay_s, max(0.0, litres), self.truck_duration_s, auto=True))

    # -- what the sensor sees ---------------------------------------------------------------

    def level_m_at(self, t: float) -> float:
        return self.volume_l_at(t) / self.capacity_l * self.height_m

    def true_distance_mm_at(self, t: float) -> float:
        return (self.mount_height_m - self.level_m_at(t)) * 1000.0

    def distance_mm_at(self, t: float) -> float:
        """One ultrasonic reading: the true distance with noise, now and then a ripple echo."""
        distance = self.true_distance_mm_at(t) + self.rng.gauss(0.0, self.noise_mm)
        if self.spike_probability and self.rng.random() < self.spike_probability:
            # A ripple or a pipe in the beam answers early: a short, wrong distance.
            distance *= self.rng.uniform(0.3, 0.8)
        return max(0.0, distance)

    def echo_us_at(self, t: float, temperature_c: float = 20.0) -> int:
        """Round-trip echo time in microseconds for one reading at `temperature_c`."""
        speed = 331.3 + 0.606 * temperature_c  # m/s
        return round(2.0 * self.distance_mm_at(t) / 1000.0 / speed * 1e6)

    def head_mm_at(self, t: float) -> float:
        """Water head over the bottom, for a pressure transmitter."""
        return self.level_m_at(t) * 1000.0
