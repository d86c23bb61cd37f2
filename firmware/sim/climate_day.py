"""A day of Querétaro's weather for simulated climate beacons: the outdoor air, a sunny roof, two rooms.

Pure: every function takes the local hour of day (0 <= hour < 24, wall-clock time in the house's
time zone, America/Mexico_City) and returns the same answer for the same hour. One dry-season day
is repeated; no seasons, no clouds, no rain.

- Outdoor air (`outdoor_c`): Querétaro is semi-arid highland (about 1,800 m), with a wide daily
  swing. Coldest at 06:45 (9 °C), warmest at 15:30 (27 °C); between them two half-cosines, so the
  curve is continuous and flat at both turns. One hour's air is the same every day.
- Sun (`sun`): 0 before sunrise (06:36) and after sunset (18:45), a half-sine between, peaking
  at solar noon (about 12:40 in UTC-6 at longitude 100.4° W).
- A site (`Site`) follows the air damped (`gain`), late (`lag_h`) and offset; a roof adds the sun's
  heating of the sensor's housing and loses a little to the clear night sky.
- Relative humidity (`relative_humidity`) comes from a dew point held for the day: the air's water
  stays put while its temperature swings, so humidity runs opposite to temperature (Magnus formula).
  Indoors, people, cooking and showers add moisture (a higher dew point).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, tzinfo

from firmware.sim.climate_sim import SECONDS_PER_DAY, SimulatedClimateBeacon

HOURS_PER_DAY = 24.0
# Magnus coefficients over water (Sonntag 1990), good to 0.1 % RH between -45 and 60 °C.
MAGNUS_B = 17.62
MAGNUS_C = 243.12


@dataclass(frozen=True)
class DayWeather:
    """One day's outdoor air: the two turning points, the sun's hours and the day's dew point."""

    low_c: float
    high_c: float
    coldest_hour: float
    warmest_hour: float
    sunrise_hour: float
    sunset_hour: float
    dew_point_c: float

    @property
    def mean_c(self) -> float:
        return (self.low_c + self.high_c) / 2.0


# Querétaro in the dry season: cold dawns, warm afternoons, dry air (dew point about 4 °C).
QUERETARO = DayWeather(low_c=9.0, high_c=27.0, coldest_hour=6.75, warmest_hour=15.5,
                       sunrise_hour=6.6, sunset_hour=18.75, dew_point_c=4.0)  # fmt: skip


@dataclass(frozen=True)
class Site:
    """Where a sensor hangs: how its temperature follows the outdoor air, and its own noise."""

    name: str
    offset_c: float = 0.0  # its daily mean above the outdoor mean
    gain: float = 1.0  # the share of the outdoor swing it feels (walls and a roof damp it)
    lag_h: float = 0.0  # how late it follows the outdoor air
    sun_c: float = 0.0  # extra warmth at full sun
    night_sky_c: float = 0.0  # lost to the clear sky at night
    moisture_c: float = 0.0  # dew point above the outdoor one (people, cooking, showers)
    noise_c: float = 0.05  # sensor noise, one standard deviation
    noise_rh: float = 0.3


# Living room 19-25 °C, two hours behind the outdoor air; bedroom 18-23 °C, three hours behind.
LIVING_ROOM = Site("living room", offset_c=4.0, gain=1 / 3, lag_h=2.0, moisture_c=4.0)
BEDROOM = Site("bedroom", offset_c=2.5, gain=2.5 / 9, lag_h=3.0, moisture_c=3.0)
# The roof: the outdoor air, plus up to 5 °C of sun on the housing at noon, 1 °C under it at night.
ROOF = Site("roof", sun_c=5.0, night_sky_c=1.0, noise_c=0.15, noise_rh=0.8)
SITES = {s.name: s for s in (LIVING_ROOM, BEDROOM, ROOF)}


def hour_of_day(moment: datetime, tz: tzinfo) -> float:
    """The local hour of day of an aware datetime in `tz`, 0 <= hour < 24."""
    if moment.tzinfo is None:
        raise ValueError("moment must be an aware datetime")
    local = moment.astimezone(tz)
    return local.hour + local.minute / 60.0 + (local.second + local.microsecond / 1e6) / 3600.0


def _half_cosine(fraction: float) -> float:
    """0 -> 0, 1 -> 1, flat at both ends."""
    return (1.0 - math.cos(math.pi * fraction)) / 2.0


def outdoor_c(hour: float, weather: DayWeather = QUERETARO) -> float:
    """The outdoor air temperature at `hour`: low at the coldest hour, high at the warmest."""
    rising = weather.warmest_hour - weather.coldest_hour
    since_low = (hour - weather.coldest_hour) % HOURS_PER_DAY
    swing = weather.high_c - weather.low_c
    if since_low <= rising:
        return weather.low_c + swing * _half_cosine(since_low / rising)
    return weather.high_c - swing * _half_cosine((since_low - rising) / (HOURS_PER_DAY - rising))


def sun(hour: float, weather: DayWeather = QUERETARO) -> float:
    """How high the sun is, 0 (night) to 1 (solar noon)."""
    h = hour % HOURS_PER_DAY
    if not weather.sunrise_hour < h < weather.sunset_hour:
        return 0.0
    return math.sin(math.pi * (h - weather.sunrise_hour) / (weather.sunset_hour - weather.sunrise_hour))


def temperature_c(site: Site, hour: float, weather: DayWeather = QUERETARO) -> float:
    """The temperature a sensor at `site` reads at `hour`, without noise."""
    lagged = outdoor_c(hour - site.lag_h, weather)
    daylight = sun(hour, weather)
    return (weather.mean_c + site.offset_c + site.gain * (lagged - weather.mean_c)
            + site.sun_c * daylight - site.night_sky_c * (1.0 - daylight))  # fmt: skip


def relative_humidity(temperature: float, dew_point: float) -> float:
    """Relative humidity in % of air at `temperature` whose dew point is `dew_point` (Magnus)."""

    def magnus(t: float) -> float:
        return MAGNUS_B * t / (MAGNUS_C + t)

    return min(100.0, 100.0 * math.exp(magnus(dew_point) - magnus(temperature)))


def humidity_pct(site: Site, hour: float, weather: DayWeather = QUERETARO) -> float:
    """The relative humidity a sensor at `site` reads at `hour`, without noise."""
    return relative_humidity(temperature_c(site, hour, weather), weather.dew_point_c + site.moisture_c)


class DayBeacon(SimulatedClimateBeacon):
    """A simulated climate beacon at a site: the day model at the local hour of `now`, plus noise.

    Everything else (battery drain, counter, packet id, encryption, the advertisement bytes) is
    SimulatedClimateBeacon's, so the radio carries exactly what firmware/climate_beacon sends.
    """

    def __init__(
        self,
        address: str,
        site: Site,
        *,
        start: datetime,
        tz: tzinfo,
        weather: DayWeather = QUERETARO,
        name: str | None = "MDR-climate",
        bindkey: bytes | None = None,
        battery_start_pct: float = 100.0,
        battery_life_days: float = 400.0,
        counter_start: int = 0,
        seed: int = 1,
    ) -> None:
        super().__init__(address, start=start, name=name, bindkey=bindkey, battery_start_pct=battery_start_pct,
                         battery_life_days=battery_life_days, counter_start=counter_start, seed=seed)  # fmt: skip
        self.site = site
        self.tz = tz
        self.weather = weather

    def reading_at(self, now: datetime) -> tuple[int, int, int]:
        """(temperature 0.01 degC, humidity 0.01 %, battery %) at `now`, as the sensor reports."""
        hour = hour_of_day(now, self.tz)
        noise = random.Random(f"{self.seed}:{self.address}:{now.timestamp():.3f}")
        temperature = temperature_c(self.site, hour, self.weather) + noise.gauss(0.0, self.site.noise_c)
        humidity = humidity_pct(self.site, hour, self.weather) + noise.gauss(0.0, self.site.noise_rh)
        humidity = min(100.0, max(0.0, humidity))
        days = max(0.0, (now - self.start).total_seconds() / SECONDS_PER_DAY)
        battery = self.battery_start_pct * (1.0 - days / self.battery_life_days)
        return round(temperature * 100), round(humidity * 100), int(min(100.0, max(0.0, battery)) + 0.5)


__all__ = [
    "BEDROOM",
    "LIVING_ROOM",
    "QUERETARO",
    "ROOF",
    "SITES",
    "DayBeacon",
    "DayWeather",
    "Site",
    "hour_of_day",
    "humidity_pct",
    "outdoor_c",
    "relative_humidity",
    "sun",
    "temperature_c",
]
