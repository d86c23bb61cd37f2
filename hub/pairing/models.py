"""The pairing contract's values: what was found, what an integration offers and asks, what pairing made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config_entries import ConfigEntry

SOURCES = ("zeroconf", "bluetooth", "wsdiscovery")


@dataclass(frozen=True)
class Found:
    """One device as a discovery source saw it (mDNS service, BLE advertisement or ONVIF ProbeMatch)."""

    source: str  # one of SOURCES
    type: str | None = None  # `_rtsp._tcp.local.`, a WS-Discovery type, ...
    name: str | None = None  # the mDNS instance name or the ONVIF name scope
    host: str | None = None  # the address to talk to (an IP address or a .local name)
    addresses: tuple[str, ...] = ()
    port: int | None = None
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False)  # TXT records
    address: str | None = None  # BLE address
    rssi: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)  # source-specific (ONVIF endpoint ...)
    origin: str | None = None  # what a goodbye names: the mDNS full name, the ONVIF endpoint

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (bytes TXT values become text) for the table and the API."""
        return {
            "source": self.source, "type": self.type, "name": self.name, "host": self.host,
            "addresses": list(self.addresses), "port": self.port, "properties": jsonable(self.properties),
            "address": self.address, "rssi": self.rssi, "extra": jsonable(self.extra), "origin": self.origin,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Found:
        """The inverse of as_dict."""
        return cls(
            source=data["source"], type=data.get("type"), name=data.get("name"), host=data.get("host"),
            addresses=tuple(data.get("addresses") or ()), port=data.get("port"),
            properties=dict(data.get("properties") or {}), address=data.get("address"), rssi=data.get("rssi"),
            extra=dict(data.get("extra") or {}), origin=data.get("origin"),
        )  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """One answer pairing needs from the resident (a PIN, a password ...)."""

    key: str
    label: str
    secret: bool = False
    pattern: str | None = None  # a regular expression the whole answer must match
    default: str | None = None  # used when the resident leaves it out; an Ask with a default is optional

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "label": self.label, "secret": self.secret, "pattern": self.pattern,
                "default": self.default}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ask:
        """The inverse of as_dict."""
        return cls(data["key"], data["label"], bool(data.get("secret")), data.get("pattern"), data.get("default"))


@dataclass(frozen=True)
class Offer:
    """An integration's answer to a Found: this is mine, it is called so, pairing asks these."""

    unique_id: str
    title: str
    kind: str  # what it is, in one word the dashboard can show: camera, tank_sensor ...
    asks: tuple[Ask, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)  # shown as found (model, firmware)
    # Where the device is now: merged into an existing entry's data with this unique id (a new address).
    address_data: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Listed so the household knows it is there, but the hub cannot run it: why, in words (kept in
    # the row's details under CANNOT_PAIR; pairing it answers 503 with this).
    cannot_pair: str | None = None


CANNOT_PAIR = "cannot_pair"


@dataclass(frozen=True)
class Paired:
    """What a successful pairing makes: the config entry's title and data."""

    title: str
    data: Mapping[str, Any]
    # Shown to the resident once, in the pairing answer, and never stored outside the entry (a token
    # the hub made for the device's own setup page): label -> value.
    reveal: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class PairResult:
    """What `PairingManager.pair` made: the config entry, and what to show the resident once."""

    entry: ConfigEntry
    reveal: Mapping[str, str] = field(default_factory=dict, hash=False)


class PairingError(Exception):
    """Pairing could not be done: `field` names the answer the device refused (None: it was unreachable)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Discovered:
    """One row of the Discovered list."""

    id: str
    domain: str
    unique_id: str
    title: str
    kind: str
    source: str
    found: Found
    asks: tuple[Ask, ...]
    details: Mapping[str, Any]
    first_seen: float
    last_seen: float
    ignored: bool
    present: bool  # False after the device said goodbye (mDNS); True again when it is found again

    def as_api(self) -> dict[str, Any]:
        """The row as GET /api/discovered shows it (no secrets: answers are never stored)."""
        return {
            "id": self.id, "domain": self.domain, "unique_id": self.unique_id, "title": self.title,
            "kind": self.kind, "source": self.source, "host": self.found.host, "port": self.found.port,
            "address": self.found.address, "first_seen": self.first_seen, "last_seen": self.last_seen,
            "ignored": self.ignored, "present": self.present,
            "asks": [{"key": a.key, "label": a.label, "secret": a.secret, "default": a.default} for a in self.asks],
            "details": jsonable(self.details),
        }  # fmt: skip


def jsonable(value: Any) -> Any:
    """Mappings and sequences with bytes turned into text (TXT values that are not UTF-8)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
