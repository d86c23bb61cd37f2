"""Shared voluptuous pieces that integration schemas are assembled from.

Validators are plain functions (value in, cleaned value out, ``vol.Invalid`` on error).
The ``*_schema`` pieces are plain dicts so they combine with ``{**a, **b}``; use
:func:`merge` when a later piece must also replace a key's Required/Optional marker.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from .errors import did_you_mean

_SLUG = r"[a-z0-9]+(?:_[a-z0-9]+)*"
_SLUG_RE = re.compile(rf"^{_SLUG}$")
_ENTITY_ID_RE = re.compile(rf"^{_SLUG}\.{_SLUG}$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_INT_RE = re.compile(r"^[-+]?\d+$")
_CLOCK_RE = re.compile(r"^([-+])?(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d+)?))?$")
_AMOUNT_RE = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*([a-z]+)$", re.IGNORECASE)
_UNIT_SECONDS = {
    **dict.fromkeys(("ms", "msec", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
_PERIOD_KEYS = ("days", "hours", "minutes", "seconds", "milliseconds")
_TRUE = frozenset({"yes", "on", "true", "1"})
_FALSE = frozenset({"no", "off", "false", "0"})
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PERIOD_HELP = "use seconds, 'HH:MM:SS', 'HH:MM', '30s', '5m', '2h', '1d' or days/hours/minutes/seconds"


def _is_number(value: Any) -> bool:
    """Return whether ``value`` is an int or float but not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any, what: str) -> str:
    """Return a non-empty string, keeping NodeStr/SecretStr when nothing needs stripping."""
    if not isinstance(value, str):
        raise vol.Invalid(f"expected {what}")
    stripped = value.strip()
    if not stripped:
        raise vol.Invalid(f"expected {what}, got an empty string")
    return value if stripped == value else stripped


def string(value: Any) -> str:
    """A string; numbers are accepted and converted (YAML reads `1234` as an int)."""
    if _is_number(value):
        return str(value)
    if not isinstance(value, str):
        raise vol.Invalid("expected a string")
    return value


def integer(value: Any) -> int:
    """An int, or a string of digits (values from !secret and !env_var are strings)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise vol.Invalid("expected int")


def number(value: Any) -> float:
    """A float, from a number or a numeric string."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise vol.Invalid("expected a number")


def positive_int(value: Any) -> int:
    """An integer of at least 1."""
    result = integer(value)
    if result < 1:
        raise vol.Invalid("expected a positive integer")
    return result


def port(value: Any) -> int:
    """A TCP/UDP port number, 1-65535."""
    result = integer(value)
    if not 1 <= result <= 65535:
        raise vol.Invalid("expected a port between 1 and 65535")
    return result


def listen_port(value: Any) -> int:
    """A port to listen on: 1-65535, or 0 for any free port the system picks."""
    result = integer(value)
    return 0 if result == 0 else port(result)


def host(value: Any) -> str:
    """A host name or an IPv4/IPv6 address."""
    text = _text(value, "a host name or IP address")
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    name = text[:-1] if text.endswith(".") else text
    if len(name) > 253 or not all(_HOST_LABEL_RE.match(label) for label in name.split(".")):
        raise vol.Invalid("expected a host name or IP address")
    return text


def url(value: Any) -> str:
    """An http:// or https:// URL with a host."""
    text = _text(value, "a URL")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise vol.Invalid("expected an http:// or https:// URL")
    return text


def email(value: Any) -> str:
    """An email address: one @, something on both sides, a dot in the domain, no spaces."""
    text = _text(value, "an email address")
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in text) or "@" in local:
        raise vol.Invalid(f"expected an email address like name@example.com, got '{text}'")
    return text


def slug(value: Any) -> str:
    """Lowercase letters and digits joined by single underscores, e.g. ``rooftop_tank``."""
    text = _text(value, "a slug")
    if not _SLUG_RE.match(text):
        raise vol.Invalid("expected a slug (lowercase letters and digits joined by single underscores)")
    return text


def entity_id(value: Any) -> str:
    """An entity id, ``domain.object_id``, both parts slugs."""
    text = _text(value, "an entity id")
    if not _ENTITY_ID_RE.match(text):
        raise vol.Invalid("expected an entity id like 'sensor.cistern_level' (lowercase, single underscores)")
    return text


def time_period(value: Any) -> timedelta:
    """A duration: seconds, 'HH:MM[:SS]', '30s'/'5m'/'2h'/'1d'/'5 min', or a days..milliseconds mapping."""
    try:
        return _time_period(value)
    except OverflowError:
        raise vol.Invalid("time period out of range") from None


def _time_period(value: Any) -> timedelta:
    """Parse every time_period form; OverflowError for absurd (or infinite) amounts."""
    if isinstance(value, timedelta):
        return value
    if _is_number(value):
        if value != value:  # NaN compares unequal to itself and would make a broken timedelta
            raise OverflowError
        return timedelta(seconds=value)
    if isinstance(value, Mapping):
        return _period_from_mapping(value)
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.match(text):
            return timedelta(seconds=int(text))
        if clock := _CLOCK_RE.match(text):
            sign, hours, minutes, seconds = clock.groups()
            period = timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds or 0))
            return -period if sign == "-" else period
        if amount := _AMOUNT_RE.match(text):
            factor = _UNIT_SECONDS.get(amount.group(2).lower())
            if factor is not None:
                return timedelta(seconds=float(amount.group(1)) * factor)
    raise vol.Invalid(f"expected a time period ({PERIOD_HELP})")


def _period_from_mapping(value: Mapping[Any, Any]) -> timedelta:
    """Build a timedelta from a days/hours/minutes/seconds/milliseconds mapping."""
    if not value:
        raise vol.Invalid(f"expected at least one of {', '.join(_PERIOD_KEYS)}")
    amounts: dict[str, float] = {}
    for key, amount in value.items():
        if key not in _PERIOD_KEYS:
            raise vol.Invalid("unknown key" + did_you_mean(str(key), _PERIOD_KEYS), path=[key])
        if not _is_number(amount):
            raise vol.Invalid("expected a number", path=[key])
        amounts[str(key)] = amount
    return timedelta(**amounts)


def period_at_least(minimum: timedelta) -> Callable[[timedelta], timedelta]:
    """Return a validator rejecting periods shorter than ``minimum`` (chain after time_period)."""

    def check(period: timedelta) -> timedelta:
        if period < minimum:
            raise vol.Invalid(f"must be at least {minimum.total_seconds():g} s")
        return period

    return check


def seconds(value: Any) -> float:
    """A positive duration in any time_period form, returned as float seconds."""
    period = time_period(value)
    if period <= timedelta(0):
        raise vol.Invalid("expected a duration above zero")
    return period.total_seconds()


def time_of_day(value: Any) -> time:
    """A clock time 'HH:MM' or 'HH:MM:SS' (24 h)."""
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        clock = _CLOCK_RE.match(value.strip())
        if clock and clock.group(1) is None and int(clock.group(2)) < 24 and "." not in (clock.group(4) or ""):
            return time(int(clock.group(2)), int(clock.group(3)), int(clock.group(4) or 0))
    raise vol.Invalid("expected a time of day 'HH:MM' or 'HH:MM:SS'")


def ensure_list(value: Any) -> list[Any]:
    """A list; a single value becomes a one-item list and an empty value an empty list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def boolean(value: Any) -> bool:
    """A yes/no value: yes/no, on/off, true/false, 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)):
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise vol.Invalid("expected a boolean (yes/no, on/off, true/false, 1/0)")


def serial_device(value: Any) -> str:
    """A serial port: a device path such as /dev/ttyUSB0, COM3, or a pyserial URL."""
    text = _text(value, "a serial port such as /dev/ttyUSB0")
    if any(char.isspace() for char in text):
        raise vol.Invalid("expected a serial port such as /dev/ttyUSB0")
    return text


def parity(value: Any) -> str:
    """Serial parity: N, E or O (none/even/odd accepted)."""
    text = str(value).strip().upper() if isinstance(value, str) else ""
    text = {"NONE": "N", "EVEN": "E", "ODD": "O"}.get(text, text)
    if text not in ("N", "E", "O"):
        raise vol.Invalid("expected parity N, E or O")
    return text


def baudrate(value: Any) -> int:
    """A standard baud rate from 1200 to 115200."""
    result = integer(value)
    if result not in BAUDRATES:
        raise vol.Invalid(f"expected a standard baud rate ({', '.join(map(str, BAUDRATES))})")
    return result


def unit_id(value: Any) -> int:
    """A Modbus unit (slave) id, 1-247."""
    result = integer(value)
    if not 1 <= result <= 247:
        raise vol.Invalid("expected a Modbus unit id between 1 and 247")
    return result


def merge(*pieces: Mapping[Any, Any]) -> dict[Any, Any]:
    """Combine schema dicts; a later key replaces an earlier one including its Required/Optional marker."""
    result: dict[Any, Any] = {}
    for piece in pieces:
        for key, value in piece.items():
            # Markers hash and compare like their name, so pop() finds Required("port")
            # when the new key is Optional("port"); plain {**a, **b} would keep the old marker.
            result.pop(key, None)
            result[key] = value
    return result


#: A serial line: port path, baudrate (default 9600), bytesize, parity, stopbits, timeout (s).
serial_port_schema: dict[Any, Any] = {
    vol.Required("port"): serial_device,
    vol.Optional("baudrate", default=9600): baudrate,
    vol.Optional("bytesize", default=8): vol.All(integer, vol.In((7, 8), msg="expected 7 or 8")),
    vol.Optional("parity", default="N"): parity,
    vol.Optional("stopbits", default=1): vol.All(integer, vol.In((1, 2), msg="expected 1 or 2")),
    vol.Optional("timeout", default=1.0): seconds,
}

#: A TCP peer: host and port.
tcp_endpoint_schema: dict[Any, Any] = {
    vol.Required("host"): host,
    vol.Required("port"): port,
}

#: How often to poll: scan_interval, default 30 s, at least 1 s.
polling_schema: dict[Any, Any] = {
    vol.Optional("scan_interval", default=timedelta(seconds=30)): vol.All(
        time_period, period_at_least(timedelta(seconds=1))
    ),
}

#: One Modbus device on a bus: unit_id (1-247) and name.
modbus_device_schema: dict[Any, Any] = {
    vol.Required("unit_id"): unit_id,
    vol.Required("name"): string,
}
