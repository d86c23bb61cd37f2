"""The pairing manager: feeds found devices through their integrations' pairing modules into the list.

A device found again with the same (domain, unique id) updates its row (first_seen kept, ignored
kept); one that already has a config entry updates that entry's address instead of being listed.
Pairing runs the integration's `async_pair`, then saves the config entry and drops the row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..bus import Context, new_id
from ..errors import HubError
from ..integrations import IntegrationState
from ..loader import discovery_index, match_bluetooth
from ..scope import ScopedHub
from .models import CANNOT_PAIR, Ask, Discovered, Found, Offer, Paired, PairingError, PairResult
from .probing import WsDiscoveryPoller
from .store import DiscoveredStore

if TYPE_CHECKING:
    from ..config_entries import ConfigEntry
    from ..network import FoundService
    from ..runtime import Hub

_LOGGER = logging.getLogger(__name__)

# A listed device unseen this long leaves the list (a neighbour's BLE sensor heard once, a camera
# unplugged): found again, it is listed again. BLE sightings and WS-Discovery answers refresh
# `last_seen` while the device is there; an mDNS device stays until it said goodbye. Looked at
# at start and when the list is read, at most once an hour: no timer of its own, no write per read.
STALE_AFTER_S = 24 * 3600.0
EXPIRE_AT_MOST_EVERY_S = 3600.0
REFRESHED_SOURCES = ("bluetooth", "wsdiscovery")
EVENT_DEVICE_DISCOVERED = "device_discovered"
EVENT_DEVICE_PAIRED = "device_paired"
PAIRING_MODULE = "pairing"


class UnknownDiscovered(HubError):
    """No row of the Discovered list has this id."""


class PairingUnavailable(HubError):
    """The row's integration cannot pair now (not installed, failed to set up, no pairing module)."""


class PairingManager:
    """The Discovered list and the pairing flows of one hub."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._store = DiscoveredStore(hub.db)
        self.scoped: ScopedHub = hub.scoped("pairing")  # owns the tasks the sync mDNS callbacks start
        self._lock = asyncio.Lock()  # one found/update at a time: no two rows for one device
        self.poller: WsDiscoveryPoller | None = None  # set by the hub when multicast discovery is on
        self._index: dict[str, Any] | None = None  # the manifests' matchers, compiled on first use
        self._expired_at: float | None = None  # hub time of the last look for stale rows

    async def start(self) -> None:
        """Create or migrate the table; drop stale rows."""
        await self._store.start()
        await self.expire()

    async def expire(self) -> int:
        """Forget rows unseen for STALE_AFTER_S that are gone or would have been seen again; how many."""
        now = self._hub.clock.time()
        self._expired_at = now
        async with self._lock:
            count = await self._store.expire(now - STALE_AFTER_S, REFRESHED_SOURCES)
        if count:
            _LOGGER.info("Discovered list: %d device(s) not seen for a day left the list", count)
        return count

    async def stop(self) -> None:
        """Cancel what is still being looked at (the hub calls this before unloading integrations)."""
        await self.scoped.scope.close(timeout=1.0)

    # -- feeds ----------------------------------------------------------------------------

    def mdns_found(self, service: FoundService) -> None:
        """MdnsService's on_found / on_updated: look at the service in a task of our own."""
        self.scoped.create_task(self.found(service.domains, found_from_mdns(service)), f"pairing {service.full_name}")

    def mdns_removed(self, service: FoundService) -> None:
        """MdnsService's on_removed (a goodbye)."""
        self.scoped.create_task(self.removed(mdns_origin(service.full_name)), f"pairing gone {service.full_name}")

    async def bluetooth(
        self,
        found: Found,
        *,
        service_uuids: Iterable[str] = (),
        service_data_uuids: Iterable[str] = (),
        manufacturer_ids: Iterable[int] = (),
    ) -> list[Discovered]:
        """A BLE advertisement nobody configured: offered to every domain whose manifest matcher it fits."""
        if self._index is None:
            self._index = discovery_index(self._hub.discovery.integrations)
        domains = match_bluetooth(self._index, service_uuids, service_data_uuids, manufacturer_ids, found.name)
        return await self.found(domains, found) if domains else []

    async def found(self, domains: Iterable[str], found: Found) -> list[Discovered]:
        """Offer `found` to each matched domain; the rows added or refreshed (none when an entry took it)."""
        rows: list[Discovered] = []
        for domain in domains:
            try:
                row = await self._found_one(domain, found)
            except Exception:  # one integration's bug must not stop discovery for the others
                _LOGGER.exception("Pairing: %s failed to look at %s (%s)", domain, found.name or found.host, found.source)
                continue
            if row is not None:
                rows.append(row)
        return rows

    async def _found_one(self, domain: str, found: Found) -> Discovered | None:
        flow = await self._flow(domain)
        if flow is None:
            return None
        module, scoped = flow
        offer: Offer | None = await module.async_discovered(scoped, found)
        if offer is None:
            return None
        async with self._lock:
            entry = self._hub.config_entries.find(domain, offer.unique_id)
            if entry is not None:
                await self._moved(entry, offer)
                return None
            before = await self._store.find(domain, offer.unique_id)
            now = self._hub.clock.time()
            row = Discovered(
                id=before.id if before else new_id(), domain=domain, unique_id=offer.unique_id, title=offer.title,
                kind=offer.kind, source=found.source, found=found, asks=offer.asks,
                details={**offer.details, **({CANNOT_PAIR: offer.cannot_pair} if offer.cannot_pair else {})},
                first_seen=before.first_seen if before else now, last_seen=now,
                ignored=before.ignored if before else False, present=True,
            )  # fmt: skip
            await self._store.put(row)
        if before is None:
            _LOGGER.info("Discovered %s (%s) at %s", row.title, domain, found.host or found.address)
            self._hub.bus.fire(EVENT_DEVICE_DISCOVERED, _event_data(row))
        return row

    async def _moved(self, entry: ConfigEntry, offer: Offer) -> None:
        """A configured device seen again: give its entry the address it has now (reloads it if it moved)."""
        data = {**entry.data, **offer.address_data}
        if data != entry.data:
            _LOGGER.info("Config entry %s (%s) has a new address: %s", entry.title, entry.domain, dict(offer.address_data))
            await self._hub.config_entries.update(entry.entry_id, data=data)

    async def removed(self, origin: str) -> int:
        """A device said goodbye: its rows stay (pairing may be under way) but show as not present."""
        return await self._store.mark_gone(origin)

    # -- the list -------------------------------------------------------------------------

    async def list(self, *, ignored: bool = False) -> list[Discovered]:
        """The Discovered list, newest sighting first, stale rows dropped first; ignored rows only when asked."""
        if self._expired_at is None or self._hub.clock.time() - self._expired_at >= EXPIRE_AT_MOST_EVERY_S:
            await self.expire()
        return await self._store.all(ignored=ignored)

    async def get(self, item_id: str) -> Discovered:
        """One row; UnknownDiscovered if none."""
        row = await self._store.get(item_id)
        if row is None:
            raise UnknownDiscovered(f"discovered device {item_id} not found")
        return row

    async def ignore(self, item_id: str) -> Discovered:
        """Hide the row; it stays hidden when the device is found again."""
        async with self._lock:
            row = dataclasses.replace(await self.get(item_id), ignored=True)
            await self._store.put(row)
        return row

    async def forget(self, item_id: str) -> None:
        """Remove the row; the device is listed again when next found."""
        async with self._lock:
            if not await self._store.delete(item_id):
                raise UnknownDiscovered(f"discovered device {item_id} not found")

    # -- pairing --------------------------------------------------------------------------

    async def pair(self, item_id: str, answers: Mapping[str, str], context: Context | None = None) -> PairResult:
        """Run the integration's async_pair with the answers and save the config entry; PairingError if refused."""
        row = await self.get(item_id)
        if row.details.get(CANNOT_PAIR):
            raise PairingUnavailable(f"{row.title}: {row.details[CANNOT_PAIR]}")
        checked = check_answers(row.asks, answers)
        flow = await self._flow(row.domain)
        if flow is None:
            raise PairingUnavailable(f"{row.domain} cannot pair devices now ({self._why_not(row.domain)})")
        module, scoped = flow
        try:
            paired: Paired = await module.async_pair(scoped, row.found, checked)
        except (OSError, TimeoutError) as err:  # an integration that let a network error out
            where = row.found.host or row.found.address or "its address"
            raise PairingError(None, f"could not reach {row.title} at {where}: {err or type(err).__name__}") from err
        entry = await self._hub.config_entries.add(
            row.domain, paired.title, paired.data, unique_id=row.unique_id, source="discovery"
        )
        async with self._lock:
            await self._store.delete(row.id)
        _LOGGER.info("Paired %s (%s) as config entry %s", paired.title, row.domain, entry.entry_id)
        self._hub.bus.fire(EVENT_DEVICE_PAIRED, {**_event_data(row), "entry_id": entry.entry_id}, context=context)
        return PairResult(entry, dict(paired.reveal))

    # -- integrations ---------------------------------------------------------------------

    async def _flow(self, domain: str) -> tuple[ModuleType, ScopedHub] | None:
        """The domain's pairing module and ScopedHub, setting the integration up first like config entries do."""
        manager = self._hub.integrations
        integration = manager.integrations.get(domain)
        if integration is None:
            return None
        if manager.status(domain).state is not IntegrationState.loaded:
            await manager.setup([domain])
        scoped, module = manager.scoped_hub(domain), manager.module(domain)
        if scoped is None or module is None:
            _LOGGER.debug("Pairing: %s is not loaded (%s)", domain, self._why_not(domain))
            return None
        name = f"{module.__name__}.{PAIRING_MODULE}"
        try:
            # Importing may read files and pull in libraries: off the event loop, like integration imports.
            pairing = await asyncio.get_running_loop().run_in_executor(None, importlib.import_module, name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            _LOGGER.debug("Pairing: %s has no pairing module", domain)
            return None
        return pairing, scoped

    def _why_not(self, domain: str) -> str:
        manager = self._hub.integrations
        if domain not in manager.integrations:
            return "not installed"
        status = manager.status(domain)
        return status.error or status.state.value


def check_answers(asks: tuple[Ask, ...], answers: Mapping[str, Any]) -> dict[str, str]:
    """The answers the asks want, defaults filled in; PairingError naming the first missing or wrong one."""
    known = {ask.key for ask in asks}
    for key in answers:
        if key not in known:
            raise PairingError(key, f"{key}: not asked for")
    out: dict[str, str] = {}
    for ask in asks:
        value = answers.get(ask.key)
        if value is None or value == "":
            if ask.default is None:
                raise PairingError(ask.key, f"{ask.label}: required")
            value = ask.default
        if not isinstance(value, str):
            raise PairingError(ask.key, f"{ask.label}: expected text")
        if ask.pattern is not None and not re.fullmatch(ask.pattern, value):
            raise PairingError(ask.key, f"{ask.label}: not in the expected form")
        out[ask.key] = value
    return out


def mdns_origin(full_name: str) -> str:
    """What a goodbye of this mDNS service is matched by."""
    return f"zeroconf:{full_name}"


def preferred_address(addresses: Iterable[str]) -> str | None:
    """The address to talk to: IPv4 first, then a global IPv6; never a link-local IPv6 (it has no scope here)."""
    ranked: list[tuple[int, str]] = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 4:
            ranked.append((0, text))
        elif not address.is_link_local:
            ranked.append((1, text))
    return min(ranked)[1] if ranked else None


def found_from_mdns(service: FoundService) -> Found:
    """A resolved mDNS service as the pairing contract's Found (an IPv4 address as host when it has one)."""
    return Found(
        source="zeroconf", type=service.type, name=service.name,
        host=preferred_address(service.addresses) or service.host, addresses=service.addresses,
        port=service.port, properties=dict(service.properties), extra={"server": service.host},
        origin=mdns_origin(service.full_name),
    )  # fmt: skip


def _event_data(row: Discovered) -> dict[str, Any]:
    return {"id": row.id, "domain": row.domain, "unique_id": row.unique_id, "title": row.title, "kind": row.kind,
            "source": row.source, "host": row.found.host}  # fmt: skip
