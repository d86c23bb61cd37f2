"""The BLE climate vocabulary: one advertisement in, one reading out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

Kind = Literal["bthome", "xiaomi", "atc", "pvvx", "mopeka"]
Value = float | int | bool

# Device problems a reading can carry; each means "heard, but nothing trustworthy decoded".
WRONG_BINDKEY = "wrong bindkey"
NO_BINDKEY = "encrypted, no bindkey"
REPLAYED_COUNTER = "replayed counter"
DOWNGRADE = "plain advertisement from a device with a bindkey"
MALFORMED = "malformed advertisement"


@dataclass(frozen=True, kw_only=True)
class Advertisement:
    """One advertisement as heard by the local scanner or a proxy (UUIDs lower-case, 128-bit)."""

    address: str
    name: str | None
    rssi: int
    service_data: Mapping[str, bytes]
    manufacturer_data: Mapping[int, bytes]
    service_uuids: tuple[str, ...]
    time: float
    source: str

    @classmethod
    def from_bleak(cls, device: BLEDevice, data: AdvertisementData, *, time: float, source: str) -> Advertisement:
        """Take the fields the parsers need from bleak's pair."""
        return cls(
            address=device.address.upper(),
            name=data.local_name or device.name,
            rssi=data.rssi,
            service_data=data.service_data,
            manufacturer_data=data.manufacturer_data,
            service_uuids=tuple(data.service_uuids),
            time=time,
            source=source,
        )


@dataclass(frozen=True, kw_only=True)
class Reading:
    """What one advertisement said about its device, or why it could not be trusted (`problem`)."""

    address: str
    kind: Kind
    time: float
    values: Mapping[str, Value]
    events: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    model: str | None = None
    # Sleepy devices send only on events: silence is not unavailability.
    trigger_based: bool = False
    problem: str | None = None
