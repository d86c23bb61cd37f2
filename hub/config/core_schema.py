"""Schemas of the hub's own top-level blocks: hub, recorder, logger, http, network."""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from datetime import timedelta
from typing import Any

import voluptuous as vol

from .errors import did_you_mean
from .schemas import (
    ensure_list,
    entity_id,
    host,
    listen_port,
    number,
    period_at_least,
    port,
    positive_int,
    slug,
    string,
    time_period,
    url,
)

DEFAULT_NAME = "Maderas Hub"
DEFAULT_TIME_ZONE = "America/Mexico_City"
DEFAULT_LANGUAGE = "es-MX"
DEFAULT_SERVER_HOST = "127.0.0.1"
DEFAULT_SERVER_PORT = 8123
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|\d{3}))?$")
_LOGGER_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*$")


def time_zone(value: Any) -> str:
    """An IANA time zone name known to zoneinfo, e.g. America/Mexico_City."""
    text = string(value).strip()
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        suggestion = did_you_mean(text, zoneinfo.available_timezones())
        raise vol.Invalid("unknown time zone" + suggestion) from None
    return text


def _bounded(low: float, high: float, what: str) -> Any:
    """Return a validator for a number in [low, high]."""

    def check(value: Any) -> float:
        result = number(value)
        if not low <= result <= high:
            raise vol.Invalid(f"expected a {what} between {low:g} and {high:g}")
        return result

    check.__doc__ = f"A {what} between {low:g} and {high:g}."
    return check


latitude = _bounded(-90.0, 90.0, "latitude")
longitude = _bounded(-180.0, 180.0, "longitude")


def unit_system(value: Any) -> str:
    """The unit system; only metric is supported."""
    if value != "metric":
        raise vol.Invalid("only 'metric' is supported")
    return "metric"


def language(value: Any) -> str:
    """A language tag such as es-MX, en or es-419."""
    text = string(value).strip()
    if not _LANGUAGE_RE.match(text):
        raise vol.Invalid("expected a language tag such as 'es-MX' or 'en'")
    return text


def log_level(value: Any) -> str:
    """A logging level name, any case; returned upper-case for logging.setLevel."""
    text = string(value).strip().upper()
    if text == "WARN":
        text = "WARNING"
    if text not in LOG_LEVELS:
        raise vol.Invalid(f"expected a log level ({', '.join(level.lower() for level in LOG_LEVELS)})")
    return text


def logger_name(value: Any) -> str:
    """A dotted Python logger name such as integrations.modbus_tank."""
    text = string(value)
    if not _LOGGER_NAME_RE.match(text):
        raise vol.Invalid("expected a logger name such as 'integrations.modbus_tank'")
    return text


def ip_network(value: Any) -> str:
    """A network in CIDR form (192.168.1.0/24, fd00::/8); returned normalised."""
    text = string(value).strip()
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise vol.Invalid("expected a network in CIDR form such as 192.168.1.0/24") from None
    raise vol.Invalid(f"host bits are set (did you mean '{loose}'?)")


HUB_SCHEMA = vol.Schema(
    {
        vol.Optional("name", default=DEFAULT_NAME): string,
        vol.Optional("time_zone", default=DEFAULT_TIME_ZONE): time_zone,
        vol.Optional("latitude"): latitude,
        vol.Optional("longitude"): longitude,
        vol.Optional("unit_system", default="metric"): unit_system,
        vol.Optional("language", default=DEFAULT_LANGUAGE): language,
        vol.Optional("internal_url"): url,
    }
)

RECORDER_SCHEMA = vol.Schema(
    {
        # How much state history a crash may lose: one commit interval (DESIGN: default 1 s).
        vol.Optional("commit_interval", default=timedelta(seconds=1)): vol.All(
            time_period, period_at_least(timedelta(milliseconds=100))
        ),
        vol.Optional("purge_keep_days", default=10): positive_int,
        vol.Optional("exclude", default=lambda: {"entities": [], "domains": []}): {
            vol.Optional("entities", default=list): vol.All(ensure_list, [entity_id]),
            vol.Optional("domains", default=list): vol.All(ensure_list, [slug]),
        },
    }
)

LOGGER_SCHEMA = vol.Schema(
    {
        vol.Optional("default", default="INFO"): log_level,
        vol.Optional("logs", default=dict): {logger_name: log_level},
    }
)

HTTP_SCHEMA = vol.Schema(
    {
        # Loopback by default: the dashboard is exposed on the LAN only when the user says so.
        vol.Optional("server_host", default=DEFAULT_SERVER_HOST): host,
        # 0 asks the system for a free port (tests, several hubs on one machine); the ready line says which.
        vol.Optional("server_port", default=DEFAULT_SERVER_PORT): listen_port,
        vol.Optional("trusted_networks", default=list): vol.All(ensure_list, [ip_network]),
    }
)

def mdns_interfaces(value: Any) -> str | list[str]:
    """`all`, or a list of interface names (eth0) and IPv4 addresses (192.168.1.20) for mDNS."""
    if value == "all":
        return "all"
    items = ensure_list(value)
    if not items:
        raise vol.Invalid("expected 'all' or a list of interface names or IPv4 addresses")
    out: list[str] = []
    for item in items:
        text = string(item).strip()
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            if not _INTERFACE_RE.match(text):
                raise vol.Invalid(f"expected an interface name or IPv4 address, got '{text}'") from None
        out.append(text)
    return out


_INTERFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")  # Linux IFNAMSIZ - 1

NETWORK_SCHEMA = vol.Schema(
    {
        # Announce the hub (_maderas._tcp) and browse for the devices the manifests know.
        vol.Optional("mdns", default=True): bool,
        vol.Optional("interfaces", default="all"): mdns_interfaces,
    }
)

CORE_SCHEMAS: dict[str, vol.Schema] = {
    "hub": HUB_SCHEMA,
    "recorder": RECORDER_SCHEMA,
    "logger": LOGGER_SCHEMA,
    "http": HTTP_SCHEMA,
    "network": NETWORK_SCHEMA,
}
