"""Durations, times of day and weekdays as automations write them."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import voluptuous as vol

from hub.automation import timeparse
from hub.automation.timeparse import parse_duration, parse_time, parse_weekday, parse_weekdays


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        ("45", timedelta(seconds=45)),
        (" 2.5 ", timedelta(seconds=2.5)),
        ("00:10", timedelta(minutes=10)),
        ("01:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        ({"minutes": 10}, timedelta(minutes=10)),
        ({"days": 1, "hours": 2, "minutes": 3, "seconds": 4, "milliseconds": 5},
         timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ({"minutes": "10"}, timedelta(minutes=10)),  # what a rendered template gives
        (timedelta(hours=3), timedelta(hours=3)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration_forms(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (-5, "negative"),
        ("-00:05", "negative"),
        ("soon", "invalid duration 'soon'"),
        ({"weeks": 1}, "weeks"),
        ({"minutes": "ten"}, "minutes"),
        ({}, "at least one"),
        (True, "invalid duration True"),
        (None, "invalid duration None"),
        (float("nan"), "out of range"),
    ],
)
def test_parse_duration_rejects(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_duration(value)
    assert fragment in str(info.value)


def test_parse_time() -> None:
    assert parse_time("07:00") == time(7, 0)
    assert parse_time(" 22:15:30 ") == time(22, 15, 30)
    assert parse_time(time(6, 5)) == time(6, 5)
    for bad in ("24:00", "7", "07:60", "-01:00", 700, None):
        with pytest.raises(ValueError, match="invalid time of day"):
            parse_time(bad)


def test_weekdays() -> None:
    assert parse_weekday("mon") == 0
    assert parse_weekday(" SUN ") == 6
    assert parse_weekdays(["fri", "mon", "fri"]) == frozenset({0, 4})
    assert parse_weekdays("wed") == frozenset({2})
    with pytest.raises(ValueError, match="invalid weekday 'monday'"):
        parse_weekday("monday")
    with pytest.raises(ValueError, match="at least one"):
        parse_weekdays([])


def test_validators_raise_invalid_with_the_reason() -> None:
    assert timeparse.duration({"hours": 1}) == timedelta(hours=1)
    assert timeparse.time_of_day("06:30") == time(6, 30)
    assert timeparse.weekday("Tue") == "tue"
    assert timeparse.weekdays(["sun", "mon"]) == ["mon", "sun"]
    schema = vol.Schema({"for": timeparse.duration, "at": timeparse.time_of_day, "weekday": timeparse.weekdays})
    assert schema({"for": "00:01", "at": "07:00", "weekday": "sat"}) == {
        "for": timedelta(minutes=1), "at": time(7), "weekday": ["sat"],
    }
    with pytest.raises(vol.Invalid, match="must not be negative"):
        timeparse.duration(-1)
    with pytest.raises(vol.Invalid, match="invalid time of day"):
        timeparse.time_of_day("25:00")
    with pytest.raises(vol.Invalid, match="invalid weekday"):
        timeparse.weekday("someday")
    with pytest.raises(vol.Invalid, match="invalid weekday"):
        timeparse.weekdays(["mon", "funday"])
