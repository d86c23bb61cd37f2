"""One pipeline for local and proxy advertisements, and the merger that picks each device's best source.

Every advertisement, from the local scanner or any proxy, goes through `BleClimateManager.handle`:
the merger notes its source's signal, `Tracker.seen` drops an exact repeat (the same packet heard
by two sources, or a device repeating itself) before any parsing, `ParserSet.parse` decodes what is
new, and the reading goes to the device's entities. Data is taken from whichever source hears a
packet first; only the shown signal strength and source follow the merger's choice. A recognised
device nobody configured is kept in `discovered` and handed to `on_discovered` (the Discovered-list
feed); a device paired at runtime is `configure`d and `unconfigure`d as its config entry comes and goes.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mopeka_iot_ble import MediumType

from integrations.ble_climate.models import Advertisement, Reading
from integrations.ble_climate.parsers import ParserSet, is_encrypted
from integrations.ble_climate.tracker import Tracker

_LOGGER = logging.getLogger(__name__)

# A source keeps a device while it has heard it within WINDOW_S; another source takes over only if
# its smoothed RSSI is MARGIN_DB stronger, so two receivers at similar strength do not take turns.
WINDOW_S = 60.0
MARGIN_DB = 6.0
SMOOTHING = 0.3  # weight of a new RSSI sample in a source's moving average
DISCOVERED_KEPT = 50  # unconfigured devices remembered for the diagnostics sensor


@dataclass(frozen=True, kw_only=True)
class SourceSignal:
    """How well one source hears one device: its latest RSSI, the smoothed one, and when."""

    source: str
    rssi: int
    smoothed: float
    time: float


@dataclass(frozen=True, kw_only=True)
class Discovered:
    """A recognised device that is not in the configuration (shown, not given entities)."""

    address: str
    kind: str
    name: str | None
    model: str | None
    rssi: int
    time: float
    problem: str | None
    encrypted: bool = False  # its advertisements are sealed: pairing asks for the bindkey


class SourceMerger:
    """Per device, the source whose signal is shown: the strongest recent one, kept until clearly beaten."""

    def __init__(self, window: float = WINDOW_S, margin_db: float = MARGIN_DB) -> None:
        self.window = window
        self.margin_db = margin_db
        self._signals: dict[str, dict[str, SourceSignal]] = {}
        self._holder: dict[str, str] = {}

    def observe(self, adv: Advertisement) -> SourceSignal:
        """Note this advertisement's signal; returns the device's winning source afterwards."""
        signals = self._signals.setdefault(adv.address, {})
        old = signals.get(adv.source)
        smoothed = float(adv.rssi) if old is None else old.smoothed + SMOOTHING * (adv.rssi - old.smoothed)
        latest = max(adv.time, old.time) if old is not None else adv.time
        mine = signals[adv.source] = SourceSignal(source=adv.source, rssi=adv.rssi, smoothed=smoothed, time=latest)
        holder = signals.get(self._holder.get(adv.address, ""))
        if holder is None or latest - holder.time > self.window:
            recent = [s for s in signals.values() if latest - s.time <= self.window]
            winner = max(recent, key=lambda s: s.smoothed)
        elif mine.source != holder.source and mine.smoothed > holder.smoothed + self.margin_db:
            winner = mine
        else:
            winner = holder
        self._holder[adv.address] = winner.source
        return winner

    def best(self, address: str) -> SourceSignal | None:
        """The device's current source, None if never heard."""
        holder = self._holder.get(address)
        return self._signals.get(address, {}).get(holder) if holder is not None else None

    def forget(self, address: str) -> None:
        """Drop a device (gone for good)."""
        self._signals.pop(address, None)
        self._holder.pop(address, None)


ReadingListener = Callable[[Reading, SourceSignal], None]
DiscoveredListener = Callable[[Discovered, Advertisement], None]


class BleClimateManager:
    """The pipeline from advertisements to readings, and what the diagnostics sensors report."""

    def __init__(
        self,
        devices: Mapping[str, Mapping[str, Any]],
        *,
        parsers: ParserSet | None = None,
        tracker: Tracker | None = None,
        merger: SourceMerger | None = None,
    ) -> None:
        self.devices = {address.upper(): dict(block) for address, block in devices.items()}
        bindkeys = {address: block["bindkey"] for address, block in self.devices.items() if block.get("bindkey")}
        # A Mopeka's echo time becomes a height by the speed of sound in the liquid: water tanks say so.
        media = {address: MediumType.FRESH_WATER for address, block in self.devices.items()
                 if block.get("tank", {}).get("commodity") == "water"}  # fmt: skip
        self.parsers = parsers if parsers is not None else ParserSet(bindkeys, mopeka_media=media)
        self.tracker = tracker if tracker is not None else Tracker()
        self.merger = merger if merger is not None else SourceMerger()
        self.discovered: OrderedDict[str, Discovered] = OrderedDict()
        self.advertisements = 0
        self.readings = 0
        self._listeners: dict[str, ReadingListener] = {}
        # Called with each unconfigured device's reading and the advertisement it came from; must not raise.
        self.on_discovered: DiscoveredListener | None = None

    def listen(self, address: str, listener: ReadingListener) -> None:
        """Call `listener(reading, signal)` for each reading of a configured device."""
        self._listeners[address.upper()] = listener

    def unlisten(self, address: str) -> None:
        """Stop calling the device's listener."""
        self._listeners.pop(address.upper(), None)

    def configure(self, address: str, block: Mapping[str, Any]) -> None:
        """A device configured while running (a paired config entry): parsed with its bindkey from now on."""
        address = address.upper()
        self.devices[address] = dict(block)
        self.parsers.set_bindkey(address, block.get("bindkey"))
        self.discovered.pop(address, None)

    def unconfigure(self, address: str) -> None:
        """The device's config entry went: it is an unconfigured device again (listed when next heard)."""
        address = address.upper()
        self.devices.pop(address, None)
        self.unlisten(address)
        self.parsers.set_bindkey(address, None)

    def handle(self, adv: Advertisement) -> None:
        """The one entry point for every advertisement; never raises for what the radio brings."""
        self.advertisements += 1
        signal = self.merger.observe(adv)
        if not self.tracker.seen(adv):
            return
        reading = self.parsers.parse(adv)
        if reading is None:
            return
        self.readings += 1
        if reading.trigger_based:
            self.tracker.mark_trigger_based(reading.address)
        listener = self._listeners.get(reading.address)
        if listener is not None:
            listener(reading, signal)
        elif reading.address not in self.devices:
            self._discover(reading, signal, adv)

    def _discover(self, reading: Reading, signal: SourceSignal, adv: Advertisement) -> None:
        if reading.address not in self.discovered:
            _LOGGER.debug("unconfigured %s device %s heard", reading.kind, reading.address)
        item = self.discovered[reading.address] = Discovered(
            address=reading.address, kind=reading.kind, name=reading.name, model=reading.model,
            rssi=signal.rssi, time=reading.time, problem=reading.problem, encrypted=is_encrypted(adv),
        )  # fmt: skip
        self.discovered.move_to_end(reading.address)
        while len(self.discovered) > DISCOVERED_KEPT:
            self.discovered.popitem(last=False)
        if self.on_discovered is not None:
            try:
                self.on_discovered(item, adv)
            except Exception:  # the scanner's and the proxies' callbacks must never see it
                _LOGGER.exception("unconfigured device %s could not be offered for pairing", reading.address)

    def expire(self, now: float) -> list[str]:
        """Forget devices silent for a day, in every part of the pipeline."""
        gone = self.tracker.expire(now)
        for address in gone:
            self.parsers.forget(address)
            self.merger.forget(address)
            self.discovered.pop(address, None)
        return gone


__all__ = ["BleClimateManager", "Discovered", "SourceMerger", "SourceSignal"]
