"""A simulated climate beacon on the host: a day's temperature curve, our encoder, the same bytes.

CPython only. Time is injected: every method takes `now` (an aware datetime); its own time of
day places it on the curve. Noise is drawn from the seed and the timestamp, so a reading depends
on `now` alone. The advertisement comes from firmware/climate_beacon/bthome.py, exactly as the
board builds it, and is returned as (address, AD payload, service data {uuid: bytes}) where the
service data is cut out of that payload as a scanner (bleak) would report it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from firmware.climate_beacon import bthome

Advert = tuple[str, bytes, dict[str, bytes]]

SECONDS_PER_DAY = 86400.0


def cryptography_aes_ecb(key: bytes, block: bytes) -> bytes:
    """AES-ECB of one 16-byte block with `cryptography`: the host's stand-in for cryptolib."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


@dataclass(frozen=True)
class ClimateProfile:
    """A place's daily cycle: cosine around a mean, warmest at `warmest_hour`; RH runs opposite."""

    name: str
    mean_c: float
    swing_c: float
    warmest_hour: float
    mean_rh: float
    swing_rh: float
    noise_c: float
    noise_rh: float


# A heated living room: small swing, warmest in the late afternoon.
ROOM = ClimateProfile("room", 21.5, 1.5, 17.0, 48.0, 6.0, 0.05, 0.4)
# The roof next to the tanks: sun-driven, wide swings, humid nights.
ROOF = ClimateProfile("roof", 19.0, 9.0, 14.5, 62.0, 25.0, 0.3, 1.5)
PROFILES = {p.name: p for p in (ROOM, ROOF)}


class SimulatedClimateBeacon:
    """One beacon: `reading_at(now)` for the physics, `advertise(now)` for the radio bytes."""

    def __init__(
        self,
        address: str,
        profile: ClimateProfile = ROOM,
        *,
        start: datetime,
        name: str | None = "MDR-climate",
        bindkey: bytes | None = None,
        battery_start_pct: float = 100.0,
        battery_life_days: float = 400.0,
        counter_start: int = 0,
        trigger: bool = False,
        seed: int = 1,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.address = address.upper()
        self.mac = bthome.mac_bytes(self.address)
        self.profile = profile
        self.start = start
        self.name = name
        self.bindkey = bindkey
        self.battery_start_pct = battery_start_pct
        self.battery_life_days = battery_life_days
        self.counter = counter_start
        self.trigger = trigger
        self.seed = seed

    def _hour_of_day(self, now: datetime) -> float:
        return now.hour + now.minute / 60.0 + (now.second + now.microsecond / 1e6) / 3600.0

    def reading_at(self, now: datetime) -> tuple[int, int, int]:
        """(temperature 0.01 degC, humidity 0.01 %, battery %) at `now`, as the sensor reports."""
        p = self.profile
        phase = 2.0 * math.pi * (self._hour_of_day(now) - p.warmest_hour) / 24.0
        noise = random.Random(f"{self.seed}:{self.address}:{now.timestamp():.3f}")
        temperature = p.mean_c + p.swing_c * math.cos(phase) + noise.gauss(0.0, p.noise_c)
        humidity = p.mean_rh - p.swing_rh * math.cos(phase) + noise.gauss(0.0, p.noise_rh)
        humidity = min(100.0, max(0.0, humidity))
        days = max(0.0, (now - self.start).total_seconds() / SECONDS_PER_DAY)
        battery = self.battery_start_pct * (1.0 - days / self.battery_life_days)
        return round(temperature * 100), round(humidity * 100), int(min(100.0, max(0.0, battery)) + 0.5)

    def service_data_bytes(self, now: datetime) -> bytes:
        """The BTHome service data for `now`; each call uses the next counter and packet id."""
        temperature_cc, humidity_ch, battery = self.reading_at(now)
        counter = self.counter
        self.counter = (counter + 1) & bthome.COUNTER_MAX
        objects = bthome.encode_objects(
            packet_id=counter & 0xFF, battery=battery, temperature_cc=temperature_cc, humidity_ch=humidity_ch
        )
        if self.bindkey is None:
            return bthome.plain_service_data(objects, self.trigger)
        return bthome.encrypted_service_data(
            objects, self.bindkey, self.mac, counter, cryptography_aes_ecb, self.trigger
        )

    def advertise(self, now: datetime) -> Advert:
        """(address, AD payload, {service uuid: data after the UUID}) for one advertisement."""
        payload = bthome.advertisement(self.service_data_bytes(now), self.name)
        return self.address, payload, service_data_of(payload)

    def run(self, start: datetime, end: datetime, interval_s: float = 60.0) -> Iterator[tuple[datetime, Advert]]:
        """Advertisements every `interval_s` from `start` (inclusive) to `end` (exclusive)."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        now = start
        step = timedelta(seconds=interval_s)
        while now < end:
            yield now, self.advertise(now)
            now += step


def service_data_of(payload: bytes) -> dict[str, bytes]:
    """Service Data (16-bit UUID) elements of an AD payload, keyed by 128-bit UUID like bleak."""
    out: dict[str, bytes] = {}
    for ad_type, data in bthome.ad_structures(payload):
        if ad_type == bthome.AD_SERVICE_DATA_16 and len(data) >= 2:
            uuid16 = int.from_bytes(data[:2], "little")
            out[f"0000{uuid16:04x}-0000-1000-8000-00805f9b34fb"] = data[2:]
    return out


def local_name_of(payload: bytes) -> str | None:
    """The complete or shortened local name in an AD payload, if any."""
    for ad_type, data in bthome.ad_structures(payload):
        if ad_type in (bthome.AD_COMPLETE_NAME, bthome.AD_SHORT_NAME):
            return data.decode("utf-8", "replace")
    return None
