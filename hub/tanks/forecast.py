"""Level readings over time: reject echo spikes, estimate daily consumption, detect deliveries."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Literal

DAY_S = 86400.0

FilterReason = Literal["initial", "within_step", "awaiting_confirmation", "confirmed_step"]


def _check_sample(t: float, value: float, last_t: float | None) -> None:
    if not (math.isfinite(t) and math.isfinite(value)):
        raise ValueError(f"sample must be finite, got t={t!r} value={value!r}")
    if last_t is not None and t < last_t:
        raise ValueError(f"time went backwards: {t} < {last_t}")


@dataclass(frozen=True, kw_only=True)
class Filtered:
    """The filter's level after one reading, and whether that reading was taken in."""

    value: float
    accepted: bool
    reason: FilterReason


class PlausibilityFilter:
    """Median of the last readings; a jump counts only once the next `confirm` readings agree."""

    def __init__(
        self, *, window: int = 5, max_step_pct: float = 10.0, confirm: int = 3, full_scale: float = 100.0
    ) -> None:
        if window < 1 or confirm < 1:
            raise ValueError("window and confirm must be >= 1")
        if not (max_step_pct > 0 and full_scale > 0):
            raise ValueError("max_step_pct and full_scale must be positive")
        # Values are in the same unit as full_scale: % by default, litres with full_scale=capacity_l.
        self._threshold = max_step_pct / 100.0 * full_scale
        self._confirm = confirm
        self._window: deque[float] = deque(maxlen=window)
        self._pending: deque[float] = deque(maxlen=confirm + 1)
        self._last_t: float | None = None

    @property
    def value(self) -> float | None:
        """Current filtered level, None before the first reading."""
        return median(self._window) if self._window else None

    def update(self, t: float, value: float) -> Filtered:
        """Take one reading at time t (s)."""
        _check_sample(t, value, self._last_t)
        self._last_t = t
        if not self._window:
            self._window.append(value)
            return Filtered(value=value, accepted=True, reason="initial")
        current = median(self._window)
        if abs(value - current) <= self._threshold:
            # A reading near the level also proves the earlier far ones were spikes.
            self._pending.clear()
            self._window.append(value)
            return Filtered(value=median(self._window), accepted=True, reason="within_step")
        if self._pending and abs(value - median(self._pending)) > self._threshold:
            self._pending.clear()  # far from the level and from the last jump: a new candidate
        self._pending.append(value)
        if len(self._pending) > self._confirm:
            # The jump held for `confirm` more readings: a refill or a real draw, not a ripple.
            self._window.clear()
            self._window.extend(self._pending)
            self._pending.clear()
            return Filtered(value=median(self._window), accepted=True, reason="confirmed_step")
        return Filtered(value=current, accepted=False, reason="awaiting_confirmation")


def _theil_sen(segments: list[list[tuple[float, float]]]) -> float | None:
    """Median of pairwise slopes, pairs taken only within a segment; None without any pair."""
    slopes = [
        (v2 - v1) / (t2 - t1)
        for seg in segments
        for i, (t1, v1) in enumerate(seg)
        for t2, v2 in seg[i + 1:]
        if t2 > t1
    ]
    return median(slopes) if slopes else None


class _Bucket:
    """Readings of one time bucket, thinned by doubling stride so a fast poller stays bounded."""

    __slots__ = ("index", "seen", "stride", "times", "values")
    CAP = 128

    def __init__(self, index: int) -> None:
        self.index = index
        self.times: list[float] = []
        self.values: list[float] = []
        self.stride = 1
        self.seen = 0

    def add(self, t: float, v: float) -> None:
        if self.seen % self.stride == 0:
            self.times.append(t)
            self.values.append(v)
            if len(self.values) >= self.CAP:
                del self.times[1::2], self.values[1::2]
                self.stride *= 2
        self.seen += 1

    def point(self) -> tuple[float, float]:
        return (sum(self.times) / len(self.times), median(self.values))


class ConsumptionEstimator:
    """Litres per day drawn from a tank, robust to noise and blind to deliveries."""

    # Why Theil-Sen on bucket medians: the median inside each bucket removes echo spikes and cuts
    # Gaussian noise by ~sqrt(n); Theil-Sen across buckets then ignores the odd bad bucket (a
    # partly-filled one during a delivery, a pump cycle) that would tilt least squares. With
    # BUCKETS points it costs at most ~1,100 slopes per closed bucket.
    BUCKETS = 48
    MIN_WINDOW_S = 6 * 3600.0
    MAX_WINDOW_S = 3 * DAY_S

    def __init__(self, *, window_s: float = DAY_S, min_rise_l: float = 50.0) -> None:
        # Default one day: household use follows a daily cycle (morning showers, meals), so any
        # window much shorter than a day reads the time of day as a change of habit.
        if not self.MIN_WINDOW_S <= window_s <= self.MAX_WINDOW_S:
            raise ValueError(f"window_s must be within {self.MIN_WINDOW_S}..{self.MAX_WINDOW_S}")
        if not min_rise_l > 0:
            raise ValueError("min_rise_l must be positive")
        self.window_s = window_s
        self.min_rise_l = min_rise_l
        self._bucket_s = window_s / self.BUCKETS
        self._open: _Bucket | None = None
        # Closed buckets: (t, median volume, segment number); a new segment starts at each rise.
        self._points: deque[tuple[float, float, int]] = deque(maxlen=self.BUCKETS + 2)
        self._segment = 0
        self._rate: float | None = None
        self._last_t: float | None = None

    @property
    def rate_l_per_day(self) -> float | None:
        """Consumption in L/day (>= 0), None until a quarter window of one segment is seen."""
        return self._rate

    def update(self, t: float, volume_l: float) -> float | None:
        """Take one volume reading at time t (s); returns the current rate."""
        _check_sample(t, volume_l, self._last_t)
        self._last_t = t
        index = math.floor(t / self._bucket_s)
        if self._open is not None and self._open.index != index:
            self._close(self._open, t)
            self._open = None
        if self._open is None:
            self._open = _Bucket(index)
        self._open.add(t, volume_l)
        return self._rate

    def _close(self, bucket: _Bucket, now: float) -> None:
        bt, bv = bucket.point()
        if self._points and bv > self._points[-1][1] + self.min_rise_l:
            # A delivery (or mains inflow) happened: slopes must never span it, or a refill
            # would read as negative consumption. Earlier segments still count.
            self._segment += 1
        self._points.append((bt, bv, self._segment))
        while self._points and self._points[0][0] < now - self.window_s:
            self._points.popleft()
        self._rate = self._estimate()

    def _estimate(self) -> float | None:
        segments: dict[int, list[tuple[float, float]]] = {}
        for t, v, seg in self._points:
            segments.setdefault(seg, []).append((t, v))
        groups = [pts for pts in segments.values() if len(pts) >= 2]
        if not groups or max(pts[-1][0] - pts[0][0] for pts in groups) < self.window_s / 4:
            return None
        slope = _theil_sen(groups)
        if slope is None:
            return None
        # A net rise within a segment (slow inflow below min_rise_l per bucket) is no consumption.
        return max(0.0, -slope * DAY_S)


def days_until_empty(volume_l: float, usable_min_l: float, rate_l_per_day: float | None) -> float | None:
    """Days until the usable minimum at the given rate; None when the rate is unknown or ~0."""
    if rate_l_per_day is None or not math.isfinite(rate_l_per_day) or rate_l_per_day <= 1e-9:
        return None
    return max(0.0, volume_l - usable_min_l) / rate_l_per_day


@dataclass(frozen=True, kw_only=True)
class Refill:
    """One delivery: when it ran and how much it added."""

    started_at: float
    ended_at: float
    litres_before: float
    litres_after: float
    litres_delivered: float


class RefillDetector:
    """Report each delivery once: a rise of min_rise_l or more that holds, then settles for confirm_s."""

    # The rise is tracked on a 5-reading median so single echo spikes cannot start or end one.
    SMOOTH = 5
    # "Before" and "after" are medians of up to this many raw readings spaced confirm_s / LEVEL_SAMPLES
    # apart: spacing makes them span minutes at any poll rate, so a few ramp readings caught at
    # the edges barely move the median.
    LEVEL_SAMPLES = 32

    def __init__(self, *, min_rise_l: float, confirm_s: float = 300.0) -> None:
        if not (min_rise_l > 0 and confirm_s > 0):
            raise ValueError("min_rise_l and confirm_s must be positive")
        self.min_rise_l = min_rise_l
        self.confirm_s = confirm_s
        # A delivery is still running while the level climbs by `step` within confirm_s; a fill
        # slower than step per confirm_s is split in two, so confirm_s is also the longest pause.
        self._step = min_rise_l / 4
        self._spacing = confirm_s / self.LEVEL_SAMPLES
        self._recent: deque[float] = deque(maxlen=self.SMOOTH)
        self._floor: deque[tuple[float, float]] = deque(maxlen=self.LEVEL_SAMPLES)  # idle level
        self._settled: deque[tuple[float, float]] = deque(maxlen=self.LEVEL_SAMPLES)  # since last climb
        self._rising_since: float | None = None
        self._base = 0.0  # idle level frozen when a rise starts
        self._anchor = 0.0
        self._anchor_t = 0.0
        self._last_t: float | None = None

    def _append_spaced(self, buf: deque[tuple[float, float]], t: float, v: float) -> None:
        if not buf or t - buf[-1][0] >= self._spacing:
            buf.append((t, v))

    def update(self, t: float, volume_l: float) -> Refill | None:
        """Take one volume reading at time t (s); returns a Refill the moment one is confirmed."""
        _check_sample(t, volume_l, self._last_t)
        self._last_t = t
        self._recent.append(volume_l)
        s = median(self._recent)
        if self._rising_since is None:
            # The idle level is the median of recent raw readings near it: unbiased, unlike a
            # running minimum, which noise drags down over a long quiet day.
            base = median(v for _, v in self._floor) if self._floor else s
            if s < base + self.min_rise_l / 2:
                self._append_spaced(self._floor, t, volume_l)
                # The idle level spans the last confirm_s, as documented: with polls slower than
                # the spacing, 32 samples would reach back hours of use and read a draining tank high.
                while len(self._floor) > self.SMOOTH and self._floor[0][0] < t - self.confirm_s:
                    self._floor.popleft()
            elif s >= base + self.min_rise_l:
                self._rising_since, self._base = t, base
                self._anchor, self._anchor_t = s, t
                self._settled.clear()
            return None
        if s < self._base + self.min_rise_l / 2:
            self._rising_since = None  # fell back: a transient, not a delivery
            return None
        if s > self._anchor + self._step:
            self._anchor, self._anchor_t = s, t
            self._settled.clear()
            return None
        self._append_spaced(self._settled, t, volume_l)
        if t - self._rising_since < self.confirm_s or t - self._anchor_t < self.confirm_s:
            return None
        return self._emit()

    def _emit(self) -> Refill:
        # The newest idle readings may already be on the ramp (the smoothed level lags): drop them.
        while self._floor and self._floor[-1][1] > self._base + self._step:
            self._floor.pop()
        if self._floor:
            started_at, before = self._floor[-1][0], median(v for _, v in self._floor)
        else:
            started_at, before = self._rising_since or 0.0, self._base
        after = median(v for _, v in self._settled)
        refill = Refill(started_at=started_at, ended_at=self._anchor_t, litres_before=before,
                        litres_after=after, litres_delivered=after - before)
        self._rising_since = None
        self._floor.clear()
        self._settled.clear()
        return refill
