"""Per-device arrivals: drop exact repeats before parsing, learn each advertising interval, judge availability."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import median

from integrations.ble_climate.models import Advertisement

GAPS_KEPT = 16
MIN_GAPS = 3  # fewer gaps than this is not yet an interval
# Two arrivals closer than the shortest legal advertising interval (20 ms) are one packet heard twice
# (local scanner and a proxy), not a gap.
MIN_GAP_S = 0.02
FOLD_TOLERANCE = 0.25  # a gap within 25 % of k x base counts as k intervals (k - 1 packets missed)
FOLD_SHARE = 0.75  # the base must explain this share of the gaps
UNAVAILABLE_FACTOR = 3.0
MIN_TIMEOUT_S = 60.0
UNLEARNED_TIMEOUT_S = 900.0
FORGET_AFTER_S = 86400.0

# Which parts of an advertisement carry data: a device may alternate frames of different shapes
# (e.g. pvvx sending BTHome and its own format), each de-duplicated on its own.
_Shape = tuple[tuple[str, ...], tuple[int, ...]]
_Payload = tuple[Mapping[str, bytes], Mapping[int, bytes]]


@dataclass(frozen=True, kw_only=True)
class TrackerCounts:
    """Diagnostics: advertisements dropped as repeats, passed on to the parsers, devices known."""

    dropped: int
    passed: int
    devices: int


class _Device:
    __slots__ = ("_interval", "_stale", "gaps", "last_time", "payloads", "trigger_based")

    def __init__(self, time: float) -> None:
        self.last_time = time
        self.gaps: deque[float] = deque(maxlen=GAPS_KEPT)
        self.payloads: dict[_Shape, _Payload] = {}
        self.trigger_based = False
        self._interval: float | None = None
        self._stale = False

    def arrive(self, time: float) -> None:
        gap = time - self.last_time
        if gap >= MIN_GAP_S:
            self.gaps.append(gap)
            self._stale = True
        self.last_time = max(self.last_time, time)

    def interval(self) -> float | None:
        # Estimated on demand, not per arrival, so the hot path stays a few dict operations.
        if self._stale:
            self._interval = _estimate(list(self.gaps))
            self._stale = False
        return self._interval


def _estimate(gaps: list[float]) -> float | None:
    """Median gap after folding multiples (missed packets) back onto the base interval."""
    if len(gaps) < MIN_GAPS:
        return None
    # Missed packets only ever make gaps longer, so the base is the shortest gap that was heard at
    # least twice and that most gaps are multiples of (a lone short gap is an extra event packet).
    for base in sorted(gaps):
        folded = _fold(gaps, base)
        if len(folded) >= FOLD_SHARE * len(gaps) and sum(1 for gap in gaps if _near(gap, base)) >= 2:
            return median(folded)
    return median(gaps)


def _near(gap: float, base: float) -> bool:
    return abs(gap - base) <= FOLD_TOLERANCE * base


def _fold(gaps: list[float], base: float) -> list[float]:
    folded = []
    for gap in gaps:
        k = max(1, round(gap / base))
        if _near(gap / k, base):
            folded.append(gap / k)
    return folded


class Tracker:
    """Cheap first stop for every advertisement; knows nothing of the payload's meaning."""

    def __init__(self) -> None:
        self._devices: dict[str, _Device] = {}
        self.dropped = 0
        self.passed = 0

    def seen(self, adv: Advertisement) -> bool:
        """True if this payload is new or changed for its device, False for an exact repeat."""
        device = self._devices.get(adv.address)
        if device is None:
            device = self._devices[adv.address] = _Device(adv.time)
        else:
            device.arrive(adv.time)
        shape = (tuple(adv.service_data), tuple(adv.manufacturer_data))
        payload = (adv.service_data, adv.manufacturer_data)
        if device.payloads.get(shape) == payload:
            self.dropped += 1
            return False
        device.payloads[shape] = payload
        self.passed += 1
        return True

    def mark_trigger_based(self, address: str, trigger_based: bool = True) -> None:
        """Record what the parser learned: a sleepy device that only sends on events."""
        device = self._devices.get(address)
        if device is not None:
            device.trigger_based = trigger_based

    def interval(self, address: str) -> float | None:
        """Learned advertising interval in seconds, None until enough arrivals."""
        device = self._devices.get(address)
        return device.interval() if device is not None else None

    def last_seen(self, address: str) -> float | None:
        """Time of the device's latest advertisement, None if unknown."""
        device = self._devices.get(address)
        return device.last_time if device is not None else None

    def available(self, address: str, now: float) -> bool:
        """Heard recently enough for its own rhythm; trigger-based devices never time out."""
        device = self._devices.get(address)
        if device is None:
            return False
        if device.trigger_based:
            return True
        interval = device.interval()
        timeout = UNLEARNED_TIMEOUT_S if interval is None else max(UNAVAILABLE_FACTOR * interval, MIN_TIMEOUT_S)
        return now - device.last_time <= timeout

    def expire(self, now: float) -> list[str]:
        """Forget devices silent for a day (random addresses come and go); returns their addresses."""
        # Trigger-based devices are kept: a door sensor may rightly be silent for days.
        gone = [
            address
            for address, device in self._devices.items()
            if not device.trigger_based and now - device.last_time > FORGET_AFTER_S
        ]
        for address in gone:
            del self._devices[address]
        return gone

    def counts(self) -> TrackerCounts:
        """Diagnostics snapshot."""
        return TrackerCounts(dropped=self.dropped, passed=self.passed, devices=len(self._devices))
