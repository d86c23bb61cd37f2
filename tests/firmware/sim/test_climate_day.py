"""Querétaro's day for the simulated climate beacons: shape, ranges, continuity, and the beacon's bytes."""

from __future__ import annotations

import itertools
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from firmware.sim.climate_day import (
    BEDROOM,
    LIVING_ROOM,
    QUERETARO,
    ROOF,
    DayBeacon,
    Site,
    hour_of_day,
    humidity_pct,
    outdoor_c,
    relative_humidity,
    sun,
    temperature_c,
)

MEXICO = ZoneInfo("America/Mexico_City")
MINUTES = [m / 60 for m in range(24 * 60)]
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
SERVICE_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"


def day_range(values: list[float]) -> tuple[float, float]:
    return min(values), max(values)


def test_dawn_is_colder_than_the_afternoon_everywhere() -> None:
    for site in (ROOF, LIVING_ROOM, BEDROOM):
        assert temperature_c(site, 6.0) < temperature_c(site, 16.0) - 3.0, site.name
    assert temperature_c(ROOF, 6.0) < temperature_c(ROOF, 15.0) - 15.0
    assert outdoor_c(QUERETARO.coldest_hour) == pytest.approx(QUERETARO.low_c)
    assert outdoor_c(QUERETARO.warmest_hour) == pytest.approx(QUERETARO.high_c)


def test_ranges_of_a_semi_arid_highland_day() -> None:
    outdoor = day_range([outdoor_c(h) for h in MINUTES])
    roof = day_range([temperature_c(ROOF, h) for h in MINUTES])
    living = day_range([temperature_c(LIVING_ROOM, h) for h in MINUTES])
    bedroom = day_range([temperature_c(BEDROOM, h) for h in MINUTES])
    assert outdoor == pytest.approx((9.0, 27.0), abs=0.01)
    # The roof: colder than the air before dawn (clear sky), warmer than it in the sun.
    assert 7.5 <= roof[0] <= 10.0 and 28.0 <= roof[1] <= 33.0
    assert living == pytest.approx((19.0, 25.0), abs=0.05)
    assert bedroom == pytest.approx((18.0, 23.0), abs=0.05)
    # Indoors is damped: its swing is a fraction of the roof's.
    for inside in (living, bedroom):
        assert inside[1] - inside[0] < (roof[1] - roof[0]) / 3


def test_the_roof_is_warmest_in_the_afternoon_and_indoors_lags_it() -> None:
    def warmest(values: list[float]) -> float:
        return MINUTES[values.index(max(values))]

    roof = warmest([temperature_c(ROOF, h) for h in MINUTES])
    living = warmest([temperature_c(LIVING_ROOM, h) for h in MINUTES])
    bedroom = warmest([temperature_c(BEDROOM, h) for h in MINUTES])
    assert 13.5 <= roof <= 16.0  # mid-afternoon; the sun on the housing pulls it before the air's 15:30
    assert living == pytest.approx(QUERETARO.warmest_hour + LIVING_ROOM.lag_h, abs=0.05)
    assert bedroom == pytest.approx(QUERETARO.warmest_hour + BEDROOM.lag_h, abs=0.05)
    assert sun(3.0) == 0.0 and sun(22.0) == 0.0 and sun(12.675) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("site", [ROOF, LIVING_ROOM, BEDROOM], ids=lambda s: s.name)
def test_continuous_through_the_day_and_across_midnight(site: Site) -> None:
    # A second-by-second curve: no jump anywhere, including 23:59:59 -> 00:00:00 and the sun's edges.
    seconds = [s / 3600 for s in range(0, 24 * 3600, 7)] + [24.0]
    temps = [temperature_c(site, h) for h in seconds]
    rhs = [humidity_pct(site, h) for h in seconds]
    assert max(abs(b - a) for a, b in itertools.pairwise(temps)) < 0.01
    assert max(abs(b - a) for a, b in itertools.pairwise(rhs)) < 0.05
    assert temperature_c(site, 24.0) == pytest.approx(temperature_c(site, 0.0))


def test_humidity_runs_opposite_to_temperature() -> None:
    assert relative_humidity(4.0, 4.0) == pytest.approx(100.0)
    assert relative_humidity(20.0, 10.0) == pytest.approx(52.6, abs=0.5)  # psychrometric tables
    for site in (ROOF, LIVING_ROOM, BEDROOM):
        by_temp = sorted((temperature_c(site, h), humidity_pct(site, h)) for h in MINUTES)
        humidities = [rh for _, rh in by_temp]
        assert humidities == sorted(humidities, reverse=True), site.name
    roof = day_range([humidity_pct(ROOF, h) for h in MINUTES])
    assert 10.0 <= roof[0] <= 25.0 and 65.0 <= roof[1] <= 85.0  # dry afternoons, damp dawns
    living = day_range([humidity_pct(LIVING_ROOM, h) for h in MINUTES])
    assert 30.0 <= living[0] and living[1] <= 55.0


def test_hour_of_day_is_local_time() -> None:
    # 2026-01-15 12:00 UTC is 06:00 in Querétaro (UTC-6, no daylight saving since 2022).
    assert hour_of_day(datetime(2026, 1, 15, 12, 0, tzinfo=UTC), MEXICO) == pytest.approx(6.0)
    assert hour_of_day(datetime(2026, 7, 1, 21, 30, tzinfo=UTC), MEXICO) == pytest.approx(15.5)
    with pytest.raises(ValueError, match="aware"):
        hour_of_day(datetime(2026, 1, 15, 12, 0), MEXICO)  # naive: the point of the test


def _objects(service_data: bytes) -> tuple[int, int, int, int]:
    """(packet id, battery, temperature 0.01 degC, humidity 0.01 %) of plain BTHome service data."""
    assert service_data[0] == 0x40  # BTHome v2, not encrypted, not trigger-based
    packet_id, battery, temperature, humidity = struct.unpack("<xBxBxhxH", service_data[1:])
    return packet_id, battery, temperature, humidity


def test_day_beacon_sends_the_model_with_small_noise_and_a_new_packet_id() -> None:
    start = datetime(2026, 1, 15, 21, 0, tzinfo=UTC)  # 15:00 in Querétaro
    beacon = DayBeacon("A4:C1:38:4D:00:03", ROOF, start=start, tz=MEXICO, battery_start_pct=93.0, seed=4)
    readings = [beacon.reading_at(start + timedelta(seconds=5 * i)) for i in range(60)]
    model = temperature_c(ROOF, 15.0)
    assert all(abs(t / 100 - model) < 5 * ROOF.noise_c + 0.05 for t, _, _ in readings)
    assert len({t for t, _, _ in readings}) > 10  # a person sees it move within a minute
    assert beacon.reading_at(start) == readings[0]  # a reading depends on the time alone
    assert {b for _, _, b in readings} == {93}
    assert beacon.reading_at(start + timedelta(days=100))[2] < 93  # and the battery drains, slowly

    # The bytes on the air: the reading, and the next packet id on every advertisement.
    sent = [_objects(beacon.advertise(start + timedelta(seconds=5 * i))[2][SERVICE_UUID]) for i in range(3)]
    assert [s[0] for s in sent] == [0, 1, 2]
    assert [s[1:] for s in sent] == [(b, t, h) for t, h, b in readings[:3]]
    secret = DayBeacon("A4:C1:38:4D:00:02", BEDROOM, start=start, tz=MEXICO, bindkey=KEY)
    first, second = secret.service_data_bytes(start), secret.service_data_bytes(start)
    assert first[0] == 0x41 and first != second and secret.counter == 2  # encrypted, a new counter each time
