"""The CPU governor: steps down under load, back up when there is room, and settles instead of swinging."""

from __future__ import annotations

import pytest

from integrations.rtsp_camera.budget import LEVELS, MAX_UNDER_WINDOWS, Governor


def run(governor: Governor, percents: list[float]) -> list[int]:
    return [(governor.report(p / 100 * 10, 10.0), governor.level.index)[1] for p in percents]


def test_within_budget_stays_full() -> None:
    governor = Governor(25)
    assert run(governor, [20, 24, 10, 25]) == [0, 0, 0, 0]
    assert governor.last is not None and governor.last.cpu_percent == pytest.approx(25)


def test_one_spike_is_not_enough_two_windows_over_step_down() -> None:
    governor = Governor(25)
    assert run(governor, [40, 20, 40, 40]) == [0, 0, 0, 1]
    assert run(governor, [40, 40, 40, 40, 40, 40, 40]) == [1, 2, 2, 3, 3, 3, 3]
    assert governor.level.keyframes_only
    assert governor.level.label == LEVELS[-1].label


def test_room_again_steps_back_one_level_at_a_time() -> None:
    governor = Governor(25)
    run(governor, [50, 50, 50, 50])
    assert governor.level.index == 2
    assert run(governor, [5, 5, 5]) == [2, 2, 1]
    assert run(governor, [20, 20, 20]) == [1, 1, 1]  # 80 % of the budget: no reason to move either way
    assert run(governor, [5, 5, 5]) == [1, 1, 0]


def test_a_level_that_does_not_fit_is_probed_less_and_less_often() -> None:
    governor = Governor(25)
    run(governor, [60, 60])
    assert governor.level.index == 1
    waits = []
    for _ in range(6):  # at level 1 the camera costs 10 %; at level 0 it costs 60 %
        windows = 0
        while governor.level.index == 1:
            governor.report(1.0, 10.0)
            windows += 1
            assert windows <= MAX_UNDER_WINDOWS
        waits.append(windows)
        run(governor, [60, 60])
        assert governor.level.index == 1
    assert waits == [3, 6, 12, 24, 48, 60]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="budget_percent"):
        Governor(0)
    with pytest.raises(ValueError, match="wall > 0"):
        Governor(10).report(1.0, 0.0)
