"""The `command_center:` block (docs/alarms.md "Configuration"): account, receivers, key, webhooks.

Field schemas first, then `_check` for the rules that span fields; every error names its key
path (`receivers -> 1 -> name: 'primary' is used twice`). The AES key and the webhook secrets
arrive as `!secret` strings: no message here ever contains their value, only their length.
The hub validates a block twice (check-config, then setup), so every validator accepts its
own output.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from hub.config.errors import did_you_mean
from hub.config.schemas import boolean, ensure_list, host, number, port, positive_int, seconds, string, time_period, url

from .mapping import CATEGORIES

FORMATS = ("ADM-CID", "SIA-DCS")
PROTOCOLS = ("tcp", "udp")
KEY_FORMATS = ("ascii", "hex")
RECEIVER_NAMES = ("primary", "backup")
ASCII_KEY_LENGTHS = (16, 24, 32)
HEX_KEY_LENGTHS = (32, 48, 64)
MIN_SECRET_LENGTH = 16
MIN_SUPERVISION_S = 10.0

_ACCOUNT_RE = re.compile(r"^[0-9A-F]{3,16}$")
_PREFIXED_HEX_RE = re.compile(r"^[0-9A-F]{1,6}$")
_HEX_RE = re.compile(r"^[0-9A-Fa-f]+$")
_SIA_CODE_RE = re.compile(r"^[A-Z]{2}$")
# CAP forbids spaces, commas, '<' and '&' in sender and identifier.
_CAP_ID_RE = re.compile(r"^[^\s,<&]+$")


def account(value: Any) -> str:
    """3-16 hex digits, upper case (pysiaalarm and others NAK a lower-case account)."""
    text = string(value).strip().upper()
    if not _ACCOUNT_RE.match(text):
        raise vol.Invalid("expected an account of 3 to 16 hex digits, e.g. '1234'")
    return text


def _prefixed(letter: str, what: str) -> Any:
    def validate(value: Any) -> str:
        text = string(value).strip().upper()
        if text.startswith(letter):
            text = text[1:]
        if not _PREFIXED_HEX_RE.match(text):
            raise vol.Invalid(f"expected a {what} of 1 to 6 hex digits, e.g. '{letter}0'")
        return text

    return validate


def _format(value: Any) -> str:
    text = string(value).strip().upper()
    if text not in FORMATS:
        raise vol.Invalid(f"expected one of {', '.join(FORMATS)}")
    return text


def _non_negative_period(value: Any) -> timedelta:
    period = time_period(value)
    if period < timedelta(0):
        raise vol.Invalid("must be 0 or more")
    return period


def _positive_period(value: Any) -> timedelta:
    period = time_period(value)
    if period <= timedelta(0):
        raise vol.Invalid("must be more than 0")
    return period


def _cap_id(value: Any) -> str:
    text = string(value).strip()
    if not text or not _CAP_ID_RE.match(text):
        raise vol.Invalid("expected text without spaces, commas, '<' or '&' (CAP identifier rules)")
    return text


def _latitude(value: Any) -> float:
    result = number(value)
    if not -90 <= result <= 90:
        raise vol.Invalid("expected a latitude from -90 to 90")
    return result


def _longitude(value: Any) -> float:
    result = number(value)
    if not -180 <= result <= 180:
        raise vol.Invalid("expected a longitude from -180 to 180")
    return result


def _radius(value: Any) -> float:
    result = number(value)
    if result <= 0:
        raise vol.Invalid("expected a radius in km above 0")
    return result


RECEIVER_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(string, str.strip, vol.Length(min=1, max=32)),
        vol.Required("host"): host,
        vol.Required("port"): port,
        vol.Optional("protocol", default="tcp"): vol.All(string, str.lower, vol.In(PROTOCOLS)),
    }
)

WEBHOOK_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(string, str.strip, vol.Length(min=1, max=32)),
        vol.Required("url"): url,
        vol.Required("secret"): string,
        vol.Optional("cap", default=False): boolean,
        vol.Optional("attach_snapshot", default=False): boolean,
        vol.Optional("timeout", default=10.0): seconds,
    }
)

SITE_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(string, str.strip, vol.Length(min=1, max=200)),
        vol.Optional("latitude"): _latitude,
        vol.Optional("longitude"): _longitude,
        vol.Optional("radius_km", default=0.05): _radius,
    }
)

CODE_VALUE = vol.Any(int, tuple, [string], string)


def _loopback(hostname: str | None) -> bool:
    if hostname is None:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_key(config: dict[str, Any], errors: list[vol.Invalid]) -> None:
    key = config.get("key")
    if key is None:
        return
    # Never echo the key: only its length and what is wrong with it.
    if config["key_format"] == "ascii":
        if len(key) not in ASCII_KEY_LENGTHS:
            errors.append(vol.Invalid(
                f"an ascii key must have 16, 24 or 32 characters (AES-128/192/256), this one has {len(key)}",
                path=["key"]))  # fmt: skip
        elif not key.isascii() or any(c in key for c in "|[]"):
            errors.append(vol.Invalid("an ascii key must be plain ASCII characters", path=["key"]))
    elif not _HEX_RE.match(key) or len(key) not in HEX_KEY_LENGTHS:
        errors.append(vol.Invalid(
            f"a hex key must be 32, 48 or 64 hex digits (AES-128/192/256), this one has {len(key)} characters"
            + ("" if _HEX_RE.match(key) else " and not all are hex digits"),
            path=["key"]))  # fmt: skip


def _check_receivers(config: dict[str, Any], errors: list[vol.Invalid]) -> None:
    receivers = config["receivers"]
    if not receivers:
        errors.append(vol.Invalid("list at least one receiver (the primary)", path=["receivers"]))
    if len(receivers) > len(RECEIVER_NAMES):
        errors.append(vol.Invalid(f"at most two receivers (primary and backup), got {len(receivers)}",
                                  path=["receivers"]))  # fmt: skip
    seen: set[str] = set()
    for index, receiver in enumerate(receivers):
        receiver.setdefault("name", RECEIVER_NAMES[min(index, len(RECEIVER_NAMES) - 1)])
        if receiver["name"] in seen:
            errors.append(vol.Invalid(f"'{receiver['name']}' is used twice", path=["receivers", index, "name"]))
        seen.add(receiver["name"])


def _check_codes(config: dict[str, Any], errors: list[vol.Invalid]) -> None:
    for category, code in config["codes"].items():
        path = ["codes", category]
        if category not in CATEGORIES:
            errors.append(vol.Invalid(f"unknown alarm category '{category}'" + did_you_mean(category, CATEGORIES),
                                      path=path))  # fmt: skip
        elif config["format"] == "ADM-CID":
            text = str(code).strip()
            if isinstance(code, bool) or not text.isdigit() or not 0 < int(text) <= 999:
                errors.append(vol.Invalid(f"expected a Contact ID event code from 1 to 999, got {code!r}", path=path))
            else:
                config["codes"][category] = int(text)
        else:
            pair = [str(c).strip().upper() for c in code] if isinstance(code, list | tuple) else []
            if len(pair) != 2 or not all(_SIA_CODE_RE.match(c) for c in pair):
                errors.append(vol.Invalid(f"expected a SIA code pair [alarm, restore] such as [GA, GH], got {code!r}",
                                          path=path))  # fmt: skip
            else:
                config["codes"][category] = (pair[0], pair[1])


def _check_webhooks(config: dict[str, Any], errors: list[vol.Invalid]) -> None:
    names: set[str] = set()
    for index, hook in enumerate(config["webhooks"]):
        path = ["webhooks", index]
        hook.setdefault("name", str(index))
        if hook["name"] in names:
            errors.append(vol.Invalid(f"'{hook['name']}' is used twice", path=[*path, "name"]))
        names.add(hook["name"])
        parts = urlsplit(hook["url"])
        if parts.scheme != "https" and not _loopback(parts.hostname):
            errors.append(vol.Invalid("alarms leave the house only over https:// (http:// is for loopback tests)",
                                      path=[*path, "url"]))  # fmt: skip
        if len(hook["secret"]) < MIN_SECRET_LENGTH:
            errors.append(vol.Invalid(f"the signing secret needs at least {MIN_SECRET_LENGTH} characters, "
                                      f"this one has {len(hook['secret'])}", path=[*path, "secret"]))  # fmt: skip


def _check(config: dict[str, Any]) -> dict[str, Any]:
    """Cross-field rules; each error names its path."""
    errors: list[vol.Invalid] = []
    _check_key(config, errors)
    _check_receivers(config, errors)
    _check_codes(config, errors)
    _check_webhooks(config, errors)
    supervision = config["supervision_interval"].total_seconds()
    if 0 < supervision < MIN_SUPERVISION_S:
        errors.append(vol.Invalid(f"must be 0 (off) or at least {MIN_SUPERVISION_S:g} s, got {supervision:g} s",
                                  path=["supervision_interval"]))  # fmt: skip
    elif 0 < supervision <= config["ack_timeout"]:
        errors.append(vol.Invalid(f"must be longer than ack_timeout ({config['ack_timeout']:g} s)",
                                  path=["supervision_interval"]))  # fmt: skip
    site = config["site"]
    if ("latitude" in site) != ("longitude" in site):
        errors.append(vol.Invalid("give both latitude and longitude, or neither", path=["site"]))
    if errors:
        raise vol.MultipleInvalid(errors)
    return config


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("account"): account,
            vol.Optional("receiver", default="0"): _prefixed("R", "receiver number"),
            vol.Optional("line", default="0"): _prefixed("L", "line (account prefix)"),
            vol.Optional("format", default="ADM-CID"): _format,
            vol.Optional("key"): string,
            vol.Optional("key_format", default="ascii"): vol.All(string, str.lower, vol.In(KEY_FORMATS)),
            vol.Required("receivers"): vol.All(ensure_list, [RECEIVER_SCHEMA]),
            vol.Optional("ack_timeout", default=5.0): seconds,
            vol.Optional("attempts_before_failover", default=3): positive_int,
            vol.Optional("return_after", default=timedelta(minutes=5)): _positive_period,
            vol.Optional("supervision_interval", default=timedelta(seconds=90)): _non_negative_period,
            vol.Optional("report_open_close", default=False): boolean,
            vol.Optional("codes", default={}): {vol.All(string, str.strip, str.lower): CODE_VALUE},
            vol.Optional("webhooks", default=[]): vol.All(ensure_list, [WEBHOOK_SCHEMA]),
            vol.Optional("site", default={}): SITE_SCHEMA,
            vol.Optional("cap_sender"): _cap_id,
            vol.Optional("external_url"): url,
        }
    ),
    _check,
)

__all__ = ["CONFIG_SCHEMA", "FORMATS", "PROTOCOLS", "account"]
