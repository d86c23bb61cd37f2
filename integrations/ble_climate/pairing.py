"""Pairing BLE climate sensors heard but not configured, and our BLE proxies announcing `_maderas-proxy._tcp`.

A sensor is offered by its address; an encrypted one asks for its bindkey, which pairing checks by
decrypting the advertisement the offer carries with the same parsers the pipeline uses, so a wrong
key is refused before anything is saved. A proxy asks nothing: the hub makes its token, shows it
once (`Paired.reveal`) for the proxy's setup page, and the running proxy endpoint accepts it.
The entries run like YAML blocks (runtime.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from hub.pairing import Ask, Found, Offer, Paired, PairingError, PairingUnavailable

from . import DOMAIN, get_runtime
from .config import proxy_id as valid_proxy_id

PROXY_TYPE = "_maderas-proxy._tcp.local."
TOKEN_BYTES = 24  # token_urlsafe(24) is 32 characters; config.py wants at least 16
BINDKEY = Ask("bindkey", "Bindkey (32 hex digits)", secret=True, pattern=r"[0-9A-Fa-f]{32}")
PROXY_TOKEN_LABEL = "Proxy token"


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return (value.strip() or None) if isinstance(value, str) else None


def _runtime(hub: Any) -> Any:
    return get_runtime(hub)


def _configured(hub: Any, key: str) -> bool:
    """An entry of ours already has this unique id (loaded or not)."""
    return hub.config_entries.find(DOMAIN, key) is not None


def sensor_title(address: str, model: str | None, name: str | None) -> str:
    """The model (else the name) and the address's last three bytes: `LYWSD03MMC 0283F4`."""
    return f"{model or name or 'BLE sensor'} {address.replace(':', '')[-6:].upper()}"


def proxy_id_of(found: Found) -> str | None:
    """The proxy id from an announcement's TXT `id` (else its instance name), if it is a valid one."""
    candidate = _text(found.properties.get("id")) or _text(found.name)
    try:
        return valid_proxy_id(candidate) if candidate else None
    except vol.Invalid:
        return None


async def async_discovered(hub: Any, found: Found) -> Offer | None:
    """An offer for an unconfigured sensor or an announced proxy; None when it is configured already."""
    if found.source == "bluetooth" and found.address:
        return _sensor_offer(hub, found)
    if found.source == "zeroconf" and found.type == PROXY_TYPE:
        return _proxy_offer(hub, found)
    return None


def _sensor_offer(hub: Any, found: Found) -> Offer | None:
    address = found.address.upper() if found.address else ""
    if _runtime(hub).is_configured(address) or _configured(hub, address):
        return None
    extra = found.extra
    kind, model, encrypted = _text(extra.get("kind")), _text(extra.get("model")), extra.get("encrypted") is True
    details = {"model": model, "kind": kind, "encrypted": encrypted, "rssi": found.rssi}
    return Offer(address, sensor_title(address, model, found.name), "tank_sensor" if kind == "mopeka" else
                 "climate_sensor", (BINDKEY,) if encrypted else (), details)  # fmt: skip


def _proxy_offer(hub: Any, found: Found) -> Offer | None:
    proxy_id = proxy_id_of(found)
    if proxy_id is None or proxy_id in _runtime(hub).yaml_proxies or _configured(hub, proxy_id):
        return None
    properties = found.properties
    details = {"firmware": _text(properties.get("fw")), "protocol": _text(properties.get("proto")),
               "hub_port": _text(properties.get("hub_port"))}  # fmt: skip
    return Offer(proxy_id, f"BLE proxy {proxy_id}", "ble_proxy", (), details)


async def async_pair(hub: Any, found: Found, answers: Mapping[str, str]) -> Paired:
    """The entry's data once the bindkey decrypts the device's advertisement; a proxy gets a new token."""
    if found.source == "zeroconf":
        return _pair_proxy(hub, found)
    address = (found.address or "").upper()
    title = sensor_title(address, _text(found.extra.get("model")), found.name)
    data: dict[str, Any] = {"address": address, "name": title}
    if found.extra.get("encrypted") is True:
        key = answers["bindkey"].strip().lower()
        if not _decrypts(hub, found, bytes.fromhex(key)):
            raise PairingError("bindkey", f"that bindkey does not decrypt {title}'s advertisements")
        data["bindkey"] = key
    # A Mopeka is paired without a tank: block (its shape and size are not on the air); the level
    # shows in mm until one is configured in configuration.yaml.
    return Paired(title, data)


def _decrypts(hub: Any, found: Found, key: bytes) -> bool:
    """Whether `key` opens the advertisement the offer was made from (a fresh parser, nothing kept)."""
    from .discovery import advertisement_of
    from .parsers import ParserSet

    try:
        adv = advertisement_of(found, time=hub.clock.time())
    except ValueError:
        return False
    reading = ParserSet({adv.address: key}).parse(adv)
    return reading is not None and reading.problem is None and bool(reading.values or reading.events)


def _pair_proxy(hub: Any, found: Found) -> Paired:
    proxy_id = proxy_id_of(found)
    if proxy_id is None:
        raise PairingError(None, f"{found.name or 'the proxy'} announced no usable proxy id")
    if _runtime(hub).server is None:
        # The hub's own configuration, not the device: 503 "cannot pair now", not 502 "unreachable".
        raise PairingUnavailable("the hub's BLE proxy endpoint is off (ble_climate: proxy_port is 0)")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    title = f"BLE proxy {proxy_id}"
    return Paired(title, {"proxy_id": proxy_id, "token": token}, reveal={PROXY_TOKEN_LABEL: token})


__all__ = ["BINDKEY", "PROXY_TYPE", "async_discovered", "async_pair", "proxy_id_of", "sensor_title"]
