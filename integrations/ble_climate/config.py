"""The `ble_climate:` block: the local adapter, the known devices and their bindkeys, the proxies.

A Mopeka device may carry a `tank:` block (the shared schema of hub.tanks; mounted under the tank,
LP gas unless said otherwise), `min_quality` and `refill_settle`; see docs/ble_climate.md.

Every error carries its key path (`devices -> A4:C1:38:00:00:01 -> bindkey: ...`). Bindkeys and
proxy tokens are meant to come from secrets.yaml (`!secret`); validators never echo them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import voluptuous as vol

from firmware.ble_proxy import protocol
from hub.config.schemas import host, listen_port, period_at_least, string, time_period
from hub.tanks.schema import buildable, tank_schema

SCANNING_MODES = ("passive", "active")
DEFAULT_ADAPTER = "hci0"
DEFAULT_PROXY_HOST = "0.0.0.0"  # proxies on the LAN must reach it
MIN_TOKEN_LEN = 16
# Mopeka's reading quality is 0-3 (the stars of its app). One star is the sensor saying it barely
# heard an echo: such levels jump about, so by default a tank takes two stars or more.
DEFAULT_MIN_QUALITY = 2
DEFAULT_REFILL_SETTLE = timedelta(minutes=5)

_MAC_RE = re.compile(r"^[0-9A-F]{2}(?::[0-9A-F]{2}){5}$")
_HEX32_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_ADAPTER_RE = re.compile(r"^hci\d{1,2}$")
_PROXY_ID_RE = re.compile(rf"^[A-Za-z0-9_.-]{{1,{protocol.MAX_ID}}}$")


def mac_address(value: Any) -> str:
    """AA:BB:CC:DD:EE:FF (any case, `-` or `:`) -> upper case with colons, as bleak prints it."""
    text = string(value).strip().upper().replace("-", ":")
    if not _MAC_RE.match(text):
        raise vol.Invalid("expected a Bluetooth address like A4:C1:38:00:00:01")
    return text


def bindkey(value: Any) -> bytes:
    """32 hex digits (16 bytes) -> the key; the error never repeats the value (it is a secret)."""
    if isinstance(value, bytes) and len(value) == 16:
        return value  # already validated: the hub validates a block twice (check, setup)
    text = str(value).strip() if isinstance(value, str) else ""
    if not _HEX32_RE.match(text):
        raise vol.Invalid("a bindkey is 32 hexadecimal digits")
    return bytes.fromhex(text)


def adapter(value: Any) -> str:
    """A BlueZ adapter name such as hci0."""
    text = string(value).strip()
    if not _ADAPTER_RE.match(text):
        raise vol.Invalid(f"expected an adapter name like hci0, got {text!r}")
    return text


def proxy_id(value: Any) -> str:
    """A proxy id as the protocol carries it: 1..32 of A-Z a-z 0-9 _ . -."""
    text = string(value)
    if not _PROXY_ID_RE.match(text):
        raise vol.Invalid(f"a proxy id is 1..{protocol.MAX_ID} of A-Z a-z 0-9 _ . -")
    return text


def token(value: Any) -> str:
    """A proxy token: at least MIN_TOKEN_LEN characters; never echoed in errors."""
    if not isinstance(value, str) or len(value) < MIN_TOKEN_LEN:
        raise vol.Invalid(f"a proxy token has at least {MIN_TOKEN_LEN} characters")
    return str(value)


# A Mopeka sits under the tank and reads the liquid height: the only mounting it has.
TANK_SCHEMA = vol.All(tank_schema(mountings=("bottom",), commodity="lp_gas", mounting="bottom"), buildable)

DEVICE_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): string,
        vol.Optional("area"): string,
        vol.Optional("bindkey"): bindkey,
        vol.Optional("tank"): TANK_SCHEMA,
        # With a tank only (defaults DEFAULT_MIN_QUALITY, DEFAULT_REFILL_SETTLE, applied by the tank feed,
        # so a device without a tank validates to what it always did). Levels read with a lower
        # quality are not fed to the tank model (they still show in mm); refill_settle is how long a
        # rise must hold still before it counts as one delivery, as in modbus_tank.
        vol.Optional("min_quality"): vol.All(int, vol.Range(min=0, max=3, msg="expected a quality from 0 to 3")),
        vol.Optional("refill_settle"): vol.All(time_period, period_at_least(timedelta(seconds=1))),
    }
)

PROXY_SCHEMA = vol.Schema({vol.Required("id"): proxy_id, vol.Required("token"): token})

# Config entries made by pairing (pairing.py): a device block with its address, or a proxy and its token.
DEVICE_ENTRY_SCHEMA = vol.Schema(
    {vol.Required("address"): mac_address, vol.Optional("name"): string, vol.Optional("bindkey"): bindkey}
)
PROXY_ENTRY_SCHEMA = vol.Schema({vol.Required("proxy_id"): proxy_id, vol.Required("token"): token})


def _devices(value: Any) -> dict[str, dict[str, Any]]:
    """{address: {...}} with addresses normalised; each error keyed by the address as written."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping of Bluetooth address -> device")
    out: dict[str, dict[str, Any]] = {}
    errors: list[vol.Invalid] = []
    for raw, block in value.items():
        try:
            address = mac_address(raw)
        except vol.Invalid as err:
            errors.append(vol.Invalid(err.msg, path=[str(raw)]))
            continue
        if address in out:
            errors.append(vol.Invalid(f"{address} is listed twice", path=[str(raw)]))
            continue
        try:
            out[address] = DEVICE_SCHEMA(block or {})
        except vol.MultipleInvalid as err:
            errors.extend(vol.Invalid(e.msg, path=[str(raw), *e.path]) for e in err.errors)
            continue
        if "tank" not in out[address]:
            errors.extend(vol.Invalid("only for a device with a tank: block", path=[str(raw), key])
                          for key in ("min_quality", "refill_settle") if key in out[address])  # fmt: skip
    if errors:
        raise vol.MultipleInvalid(errors)
    return out


def _check(config: dict[str, Any]) -> dict[str, Any]:
    """Cross-field rules; each error names its path."""
    seen: set[str] = set()
    errors: list[vol.Invalid] = []
    for index, proxy in enumerate(config["proxies"]):
        if proxy["id"] in seen:
            errors.append(vol.Invalid(f"proxy id '{proxy['id']}' is used twice", path=["proxies", index, "id"]))
        seen.add(proxy["id"])
    if errors:
        raise vol.MultipleInvalid(errors)
    return config


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("adapter", default=DEFAULT_ADAPTER): adapter,
            vol.Optional("scanning_mode", default="passive"): vol.In(SCANNING_MODES),
            vol.Optional("devices", default=dict): _devices,
            vol.Optional("proxies", default=list): [PROXY_SCHEMA],
            vol.Optional("proxy_port", default=protocol.DEFAULT_PORT): listen_port,
            vol.Optional("proxy_host", default=DEFAULT_PROXY_HOST): host,
        }
    ),
    _check,
)

__all__ = [
    "CONFIG_SCHEMA",
    "DEVICE_ENTRY_SCHEMA",
    "PROXY_ENTRY_SCHEMA",
    "SCANNING_MODES",
    "TANK_SCHEMA",
    "bindkey",
    "mac_address",
    "proxy_id",
    "token",
]
