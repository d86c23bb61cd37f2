"""Durations, times of day and weekdays as automations write them, parsed once.

The forms are the configuration's own (`hub.config.schemas.time_period` and `time_of_day`),
so a `for:` in an automation reads like a `scan_interval:` anywhere else. On top of those an
automation duration must not be negative, and a mapping may carry numeric strings (a
rendered template gives `{"minutes": "10"}`). `parse_*` raise ValueError; the validators of
the same meaning raise `vol.Invalid` for voluptuous schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time as dtime
from datetime import timedelta
from typing import Any

import voluptuous as vol

from ..config import schemas

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(value: Any) -> timedelta:
    """Seconds (number or numeric string), 'HH:MM[:SS]', or {days, hours, minutes, seconds, milliseconds}."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            value = text
    elif isinstance(value, Mapping):
        value = {key: _number_or_same(amount) for key, amount in value.items()}
    try:
        if isinstance(value, bool):  # YAML `yes`; a bool is an int to Python
            raise vol.Invalid("expected a duration")
        period = schemas.time_period(value)
    except vol.Invalid as exc:
        raise ValueError(f"invalid duration {_show(value)}: {_invalid_text(exc)}") from None
    if period < timedelta(0):
        raise ValueError(f"invalid duration {_show(value)}: must not be negative")
    return period


def parse_time(value: Any) -> dtime:
    """'HH:MM' or 'HH:MM:SS' (24 h), or a `datetime.time` as is."""
    try:
        return schemas.time_of_day(value)
    except vol.Invalid:
        raise ValueError(f"invalid time of day {_show(value)}: expected 'HH:MM' or 'HH:MM:SS'") from None


def parse_weekday(value: Any) -> int:
    """'mon'..'sun' (any case) -> 0..6, Monday first like `datetime.weekday()`."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in WEEKDAYS:
            return WEEKDAYS.index(text)
    raise ValueError(f"invalid weekday {_show(value)}: expected one of {', '.join(WEEKDAYS)}")


def parse_weekdays(value: Any) -> frozenset[int]:
    """One weekday name or a list of them -> the set of weekday numbers."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError("expected at least one weekday")
    return frozenset(parse_weekday(item) for item in items)


# -- voluptuous validators ----------------------------------------------------------------


def duration(value: Any) -> timedelta:
    """Validator: a non-negative duration in any `parse_duration` form."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def time_of_day(value: Any) -> dtime:
    """Validator: a time of day 'HH:MM[:SS]'."""
    try:
        return parse_time(value)
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def weekday(value: Any) -> str:
    """Validator: one weekday name, returned lowercase."""
    try:
        return WEEKDAYS[parse_weekday(value)]
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def weekdays(value: Any) -> list[str]:
    """Validator: one weekday name or a list of them, returned as a list in week order."""
    try:
        return [WEEKDAYS[day] for day in sorted(parse_weekdays(value))]
    except ValueError as exc:
        raise vol.Invalid(str(exc)) from None


def _number_or_same(amount: Any) -> Any:
    """'10' -> 10.0 inside a duration mapping; anything else unchanged for the schema to judge."""
    if isinstance(amount, str):
        try:
            return float(amount.strip())
        except ValueError:
            return amount
    return amount


def _invalid_text(exc: vol.Invalid) -> str:
    where = " -> ".join(str(p) for p in exc.path)
    return f"{where}: {exc.msg}" if where else str(exc.msg)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
