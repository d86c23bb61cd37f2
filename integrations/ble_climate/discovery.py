"""The Discovered-list feed: recognised devices nobody configured, offered to the hub's pairing.

A device is offered when first heard and then at most once per `FEED_EVERY_S` (each offer only
refreshes its row's last sighting), never per advertisement: sensors advertise every second or so.
The offer is a `Found` carrying what pairing needs to check a bindkey without the radio: the
advertisement's service and manufacturer data as hex, the parser's kind and model, and whether the
payload is sealed. `advertisement_of` turns such a Found back into an `Advertisement`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hub.pairing import Found

from .manager import Discovered
from .models import Advertisement

_LOGGER = logging.getLogger(__name__)

FEED_EVERY_S = 600.0
FEED_KEPT = 1024  # addresses whose last offer is remembered; the oldest is forgotten beyond that
SOURCE = "bluetooth"

# Offers one Found with the advertisement's matcher fields (hub.pairing.bluetooth, bound by setup).
Sink = Callable[[Found, Advertisement], Awaitable[Any]]
TaskStarter = Callable[[Awaitable[Any], str], Any]


def found_of(item: Discovered, adv: Advertisement) -> Found:
    """An unconfigured device as the pairing contract's Found (the advertisement kept as hex)."""
    extra = {
        "kind": item.kind, "model": item.model, "encrypted": item.encrypted,
        "service_data": {uuid: data.hex() for uuid, data in adv.service_data.items()},
        "manufacturer_data": {str(company): data.hex() for company, data in adv.manufacturer_data.items()},
        "service_uuids": list(adv.service_uuids),
    }  # fmt: skip
    return Found(source=SOURCE, name=adv.name or item.name, address=item.address, rssi=item.rssi, extra=extra)


def advertisement_of(found: Found, *, time: float) -> Advertisement:
    """The advertisement a Found from `found_of` was made from (ValueError if its hex is not hex)."""
    extra = found.extra
    service_data: Mapping[str, Any] = extra.get("service_data") or {}
    manufacturer_data: Mapping[str, Any] = extra.get("manufacturer_data") or {}
    return Advertisement(
        address=(found.address or "").upper(), name=found.name, rssi=found.rssi if found.rssi is not None else 0,
        service_data={str(uuid): bytes.fromhex(str(data)) for uuid, data in service_data.items()},
        manufacturer_data={int(company): bytes.fromhex(str(data)) for company, data in manufacturer_data.items()},
        service_uuids=tuple(str(u) for u in extra.get("service_uuids") or ()), time=time, source="pairing",
    )  # fmt: skip


class DiscoveryFeed:
    """`manager.on_discovered`: throttles per device and offers each one through `sink` in a task."""

    def __init__(
        self,
        *,
        time: Callable[[], float],
        sink: Sink,
        start_task: TaskStarter,
        ready: Callable[[], bool] = lambda: True,
        every: float = FEED_EVERY_S,
    ) -> None:
        self._time = time
        self._sink = sink
        self._start_task = start_task
        self._ready = ready  # False while nobody can take offers (the hub still starting): try again next time
        self._every = every
        self._last: OrderedDict[str, float] = OrderedDict()
        self.offers = 0  # offers started (diagnostics and tests)

    def __call__(self, item: Discovered, adv: Advertisement) -> None:
        """One reading of an unconfigured device; returns at once and never raises."""
        try:
            now = self._time()
            last = self._last.get(item.address)
            if (last is not None and now - last < self._every) or not self._ready():
                return
            self._last[item.address] = now
            self._last.move_to_end(item.address)
            while len(self._last) > FEED_KEPT:
                self._last.popitem(last=False)
            self.offers += 1
            self._start_task(self._offer(found_of(item, adv), adv), f"ble_climate offer {item.address}")
        except Exception:  # called from the scanner's and the proxies' callbacks
            _LOGGER.exception("could not offer %s for pairing", item.address)

    async def _offer(self, found: Found, adv: Advertisement) -> None:
        try:
            await self._sink(found, adv)
        except Exception:  # one device's offer must not end anything else
            _LOGGER.exception("offering %s for pairing failed", found.address)

    def forget(self, address: str) -> None:
        """Offer the device again when next heard (it was unpaired, or it went silent for long)."""
        self._last.pop(address.upper(), None)


__all__ = ["FEED_EVERY_S", "DiscoveryFeed", "advertisement_of", "found_of"]
