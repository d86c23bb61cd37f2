"""De-duplication before parsing, learned advertising intervals and availability."""

from __future__ import annotations

import random

import pytest

from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.tracker import Tracker, TrackerCounts

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
ENVIRONMENT_UUID = "0000181a-0000-1000-8000-00805f9b34fb"
ADDR = "A4:C1:38:8D:18:B2"
T0 = 1_768_478_400.0


def adv(payload: bytes, time: float, *, address: str = ADDR, uuid: str = BTHOME_UUID, rssi: int = -60) -> Advertisement:
    return Advertisement(
        address=address, name=None, rssi=rssi, service_data={uuid: payload}, manufacturer_data={},
        service_uuids=(uuid,), time=time, source="local",
    )  # fmt: skip


def advertise_every(tracker: Tracker, times: list[float], *, address: str = ADDR) -> None:
    for i, t in enumerate(times):
        tracker.seen(adv(bytes([0x40, 0x00, i % 256]), t, address=address))


def test_exact_repeats_are_dropped_and_changes_pass() -> None:
    tracker = Tracker()
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0)) is True
    # Same payload again, even with another RSSI and from another source: a repeat.
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0 + 1, rssi=-80)) is False
    assert tracker.seen(adv(b"\x40\x02\xcb\x09", T0 + 2)) is True
    assert tracker.seen(adv(b"\x40\x02\xcb\x09", T0 + 3)) is False
    # Back to the first value: a real change (a sensor without a counter can return to a value).
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0 + 4)) is True
    # The same bytes from another device are that device's news.
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0 + 5, address="A4:C1:38:00:00:01")) is True
    assert tracker.counts() == TrackerCounts(dropped=2, passed=4, devices=2)


def test_alternating_frame_shapes_are_deduplicated_each_on_its_own() -> None:
    tracker = Tracker()
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0)) is True
    assert tracker.seen(adv(b"A4C1380283F4", T0 + 1, uuid=ENVIRONMENT_UUID)) is True
    assert tracker.seen(adv(b"\x40\x02\xca\x09", T0 + 2)) is False
    assert tracker.seen(adv(b"A4C1380283F4", T0 + 3, uuid=ENVIRONMENT_UUID)) is False


def test_interval_learned_from_a_10_s_advertiser_with_missed_packets() -> None:
    rng = random.Random(3)
    # 10 s advertiser with BLE's 0-10 ms random delay; packets 3, 4, 7, 11, 12, 13 and 17 missed.
    missed = {3, 4, 7, 11, 12, 13, 17}
    times = [T0 + 10.0 * n + rng.uniform(0.0, 0.01) for n in range(30) if n not in missed]
    tracker = Tracker()
    advertise_every(tracker, times)
    interval = tracker.interval(ADDR)
    assert interval is not None
    assert interval == pytest.approx(10.0, abs=0.05)


def test_interval_when_most_packets_are_missed() -> None:
    # Only every second or third packet heard: the median gap alone would say 20 s or more.
    gaps = [20, 30, 20, 20, 30, 10, 20, 30, 20, 10, 20, 30, 20, 20, 10, 30]
    times = [T0]
    for gap in gaps:
        times.append(times[-1] + gap)
    tracker = Tracker()
    advertise_every(tracker, times)
    assert tracker.interval(ADDR) == pytest.approx(10.0)


def test_interval_unknown_until_a_few_gaps_and_ignores_double_hearing() -> None:
    tracker = Tracker()
    tracker.seen(adv(b"\x40\x00\x01", T0))
    tracker.seen(adv(b"\x40\x00\x01", T0 + 0.003))  # the same packet via a proxy, 3 ms later
    tracker.seen(adv(b"\x40\x00\x02", T0 + 5))
    assert tracker.interval(ADDR) is None
    tracker.seen(adv(b"\x40\x00\x03", T0 + 10))
    tracker.seen(adv(b"\x40\x00\x04", T0 + 15))
    assert tracker.interval(ADDR) == pytest.approx(5.0)
    assert tracker.interval("00:00:00:00:00:00") is None


def test_available_until_three_intervals_of_silence() -> None:
    tracker = Tracker()
    times = [T0 + 30.0 * n for n in range(10)]
    advertise_every(tracker, times)
    last = times[-1]
    assert tracker.interval(ADDR) == pytest.approx(30.0)
    assert tracker.last_seen(ADDR) == last
    assert tracker.available(ADDR, last + 89.0) is True
    assert tracker.available(ADDR, last + 90.0) is True
    assert tracker.available(ADDR, last + 91.0) is False
    # A new advertisement brings it back.
    tracker.seen(adv(b"\x40\x00\xff", last + 200.0))
    assert tracker.available(ADDR, last + 201.0) is True


def test_fast_advertiser_gets_at_least_a_minute() -> None:
    tracker = Tracker()
    advertise_every(tracker, [T0 + 2.0 * n for n in range(20)])
    last = T0 + 38.0
    assert tracker.available(ADDR, last + 59.0) is True
    assert tracker.available(ADDR, last + 61.0) is False


def test_unlearned_interval_waits_fifteen_minutes() -> None:
    tracker = Tracker()
    tracker.seen(adv(b"\x40\x00\x01", T0))
    assert tracker.available(ADDR, T0 + 899.0) is True
    assert tracker.available(ADDR, T0 + 901.0) is False
    assert tracker.available("00:00:00:00:00:00", T0) is False


def test_trigger_based_devices_never_become_unavailable_nor_expire() -> None:
    tracker = Tracker()
    advertise_every(tracker, [T0 + 10.0 * n for n in range(10)])
    tracker.mark_trigger_based(ADDR)
    assert tracker.available(ADDR, T0 + 7 * 86400.0) is True
    assert tracker.expire(T0 + 7 * 86400.0) == []
    tracker.mark_trigger_based(ADDR, False)
    assert tracker.available(ADDR, T0 + 7 * 86400.0) is False


def test_expiry_forgets_devices_silent_for_a_day() -> None:
    tracker = Tracker()
    tracker.seen(adv(b"\x40\x00\x01", T0, address="AA:AA:AA:AA:AA:01"))
    tracker.seen(adv(b"\x40\x00\x01", T0 + 3600.0, address="AA:AA:AA:AA:AA:02"))
    assert tracker.expire(T0 + 86400.0) == []
    assert tracker.expire(T0 + 86400.0 + 1.0) == ["AA:AA:AA:AA:AA:01"]
    assert tracker.counts().devices == 1
    # Forgotten means forgotten: its last payload is news again.
    assert tracker.seen(adv(b"\x40\x00\x01", T0 + 90000.0, address="AA:AA:AA:AA:AA:01")) is True


def test_a_lone_event_packet_does_not_shrink_the_interval() -> None:
    times = sorted([T0 + 10.0 * n for n in range(17)] + [T0 + 43.0])  # a button press between two beacons
    tracker = Tracker()
    advertise_every(tracker, times)
    assert tracker.interval(ADDR) == pytest.approx(10.0)
