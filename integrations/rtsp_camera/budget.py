"""The CPU governor: keeps one camera's decode and detection within the share of a core the user set.

Every window (10 s) the pipeline reports the CPU seconds its threads used (`time.thread_time()` of
the stream worker plus the detection thread). Over budget in two windows running, the governor
steps to the next cheaper level; under 60 % of the budget in three windows running, it steps back.
Levels shed the least visible work first: face detection rate, then motion sampling, and only then
decoding (keyframes only, which drops the live view to about one frame per second).
A step back that is over budget again within `PROBE_WINDOWS` was a failed probe: the next step back
waits twice as long (up to `MAX_UNDER_WINDOWS`), so a camera whose full level does not fit settles
instead of swinging between two levels every minute; a step back that holds resets the wait.
Pure: no clock, no threads; the pipeline feeds it and applies `Level`.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_S = 10.0
OVER_WINDOWS = 2
UNDER_WINDOWS = 3
UNDER_SHARE = 0.6
PROBE_WINDOWS = 6  # over budget this soon after stepping back: the cheaper level is still needed
MAX_UNDER_WINDOWS = 60  # ten minutes


@dataclass(frozen=True)
class Level:
    """What a camera may spend: multipliers on the configured rates, and whether to decode keyframes only."""

    index: int
    detect_factor: float
    motion_factor: float
    keyframes_only: bool
    label: str


LEVELS = (
    Level(0, 1.0, 1.0, False, "full"),
    Level(1, 0.5, 1.0, False, "face detection at half rate"),
    Level(2, 0.25, 0.5, False, "face detection at a quarter, motion at half rate"),
    Level(3, 0.25, 0.5, True, "keyframes only (live view about 1 fps)"),
)


@dataclass(frozen=True)
class Usage:
    """One window's measurement, as the dashboard shows it."""

    cpu_percent: float  # of one core
    budget_percent: float
    level: Level


class Governor:
    """Steps a camera between `LEVELS` from measured CPU use against `budget_percent` of one core."""

    def __init__(self, budget_percent: float) -> None:
        if not 0 < budget_percent <= 100:
            raise ValueError(f"budget_percent must be in (0, 100], got {budget_percent!r}")
        self.budget_percent = budget_percent
        self.level = LEVELS[0]
        self._over = 0
        self._under = 0
        self._need_under = UNDER_WINDOWS
        self._since_step_back: int | None = None  # windows since the last step back, while it is on probation
        self.last: Usage | None = None

    def report(self, cpu_seconds: float, wall_seconds: float) -> Usage:
        """Take one window's CPU seconds; returns the usage and leaves `level` where the next window runs."""
        if wall_seconds <= 0 or cpu_seconds < 0:
            raise ValueError(f"a window needs wall > 0 and cpu >= 0, got {cpu_seconds!r} / {wall_seconds!r}")
        percent = 100.0 * cpu_seconds / wall_seconds
        usage = Usage(percent, self.budget_percent, self.level)
        if self._since_step_back is not None:
            self._since_step_back += 1
            if self._since_step_back > PROBE_WINDOWS:  # the step back held
                self._since_step_back = None
                self._need_under = UNDER_WINDOWS
        if percent > self.budget_percent:
            self._over += 1
            self._under = 0
            if self._over >= OVER_WINDOWS and self.level.index < len(LEVELS) - 1:
                self.level = LEVELS[self.level.index + 1]
                self._over = 0
                if self._since_step_back is not None:  # a failed probe: wait longer before the next
                    self._need_under = min(2 * self._need_under, MAX_UNDER_WINDOWS)
                    self._since_step_back = None
        elif percent < UNDER_SHARE * self.budget_percent:
            self._under += 1
            self._over = 0
            if self._under >= self._need_under and self.level.index > 0:
                self.level = LEVELS[self.level.index - 1]
                self._under = 0
                self._since_step_back = 0
        else:
            self._over = self._under = 0
        self.last = usage
        return usage
