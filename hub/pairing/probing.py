"""The WS-Discovery feed: probe for the types manifests ask for, at start and every 5 minutes of hub clock."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..loader import match_wsdiscovery
from ..network.interfaces import InterfaceLister, NoInterfaceError, host_interfaces, resolve_interfaces
from ..network.wsdiscovery import Announcement, AnnouncementListener, ProbeMatch
from ..network.wsdiscovery import probe as ws_probe
from ..scope import ScopedHub
from .models import Found

_LOGGER = logging.getLogger(__name__)

PROBE_EVERY_S = 300.0
Prober = Callable[..., Awaitable[list[ProbeMatch]]]
GoneHandler = Callable[[str], Coroutine[Any, Any, Any]]
FoundHandler = Callable[[list[str], Found], Coroutine[Any, Any, Any]]


def wsdiscovery_origin(endpoint: str) -> str:
    """What identifies a WS-Discovery device across probes."""
    return f"wsdiscovery:{endpoint}"


def found_from_probe_match(match: ProbeMatch) -> Found:
    """A ProbeMatch as the pairing contract's Found: host and port from the first http XAddr."""
    host: str | None = None
    port: int | None = None
    for xaddr in match.xaddrs:
        parts = urlsplit(xaddr)
        if parts.scheme in ("http", "https") and parts.hostname:
            host = parts.hostname
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:  # a port that is not a number: keep the host, guess nothing
                port = None
            break
    extra = {"endpoint": match.endpoint, "xaddrs": list(match.xaddrs), "scopes": list(match.scopes),
             "types": list(match.types), "hardware": match.hardware, "location": match.location}  # fmt: skip
    return Found(
        source="wsdiscovery", type=match.types[0] if match.types else None, name=match.name, host=host,
        addresses=(host,) if host else (), port=port, extra=extra, origin=wsdiscovery_origin(match.endpoint),
    )  # fmt: skip


class WsDiscoveryPoller:
    """Probes on the configured interfaces and hands each matching ProbeMatch to `on_found`; with
    `on_gone`, it also listens for the Hello a device multicasts when it joins (found at once, not at
    the next probe; a Hello without XAddrs starts a probe) and its Bye (`on_gone(origin)`)."""

    def __init__(
        self,
        scoped: ScopedHub,
        index: Mapping[str, Any],
        on_found: FoundHandler,
        *,
        interfaces: str | Sequence[str] = "all",
        probe: Prober = ws_probe,
        lister: InterfaceLister = host_interfaces,
        interval: float = PROBE_EVERY_S,
        on_gone: GoneHandler | None = None,
    ) -> None:
        self._scoped = scoped
        self._index = index
        self._on_found = on_found
        self._interfaces = interfaces
        self._probe = probe
        self._lister = lister
        self._interval = interval
        self._busy = False
        self.rounds = 0  # probes completed (for status and tests)
        self.last_probe: float | None = None  # hub time the last round ended
        self.last_found = 0  # matching devices that answered it
        self.reason: str | None = None  # why the last round could not probe (no interface)
        self._on_gone = on_gone
        self.listener: AnnouncementListener | None = None
        self.listen_error: str | None = None  # why Hello/Bye are not heard (port taken, no interface)
        self.hellos = 0  # matching Hellos handed on (for status and tests)

    @property
    def type_sets(self) -> list[tuple[str, ...]]:
        """The distinct type lists the manifests ask for (one Probe each)."""
        out: list[tuple[str, ...]] = []
        for entry in self._index.get("wsdiscovery", ()):
            types = tuple(entry["types"])
            if types not in out:
                out.append(types)
        return out

    def status(self) -> dict[str, Any]:
        """For GET /api/network: probing or not (and why), when last, how many answered."""
        if not self.type_sets:
            state = "off"
        elif self.reason is not None:
            state = "no_interface"
        else:
            state = "running"
        return {"state": state, "reason": self.reason if state != "off" else "no integration asks for it",
                "last_probe": self.last_probe, "found": self.last_found, "every": self._interval,
                "listening": self.listener is not None and self.listener.listening,
                "listen_error": self.listen_error}  # fmt: skip

    def start(self) -> None:
        """Probe now and every `interval` seconds of hub clock, until the scope closes."""
        if not self.type_sets:
            return
        self._scoped.create_task(self.run_once(), "pairing ws-discovery")
        self._scoped.clock.every(self._interval, self._due)
        if self._on_gone is not None:
            self._scoped.create_task(self._listen(), "pairing ws-discovery listen")

    async def _listen(self) -> None:
        """Join the group on the interfaces' addresses; a port another program holds is a status, not a crash."""
        try:
            addresses = resolve_interfaces(self._interfaces, self._lister)
        except NoInterfaceError as err:
            self.listen_error = str(err)
            return
        listener = AnnouncementListener(list(addresses), self._heard)
        try:
            await listener.start()
        except OSError as err:
            self.listen_error = f"cannot listen for WS-Discovery Hello on port 3702: {err}"
            _LOGGER.warning("%s; cameras are still found by the probes every %d s", self.listen_error, self._interval)
            return
        self.listener = listener
        self._scoped.on_unload(listener.close)

    def _heard(self, announcement: Announcement) -> None:
        """A Hello or Bye: hand it on in a task (this runs in the socket's callback)."""
        device = announcement.device
        if announcement.kind == "bye":
            if self._on_gone is not None:
                self._scoped.create_task(self._on_gone(wsdiscovery_origin(device.endpoint)), "pairing ws-discovery bye")
            return
        domains = match_wsdiscovery(self._index, device.types)
        if not domains:
            return
        if not device.xaddrs:  # it did not say where it is: ask (Resolve is not implemented; a Probe answers)
            self._due()
            return
        self.hellos += 1
        self._scoped.create_task(self._on_found(domains, found_from_probe_match(device)), "pairing ws-discovery hello")

    def _due(self) -> None:
        self._scoped.create_task(self.run_once(), "pairing ws-discovery")

    async def run_once(self) -> int:
        """One round of probes; how many matching devices answered (a round still running is not doubled)."""
        if self._busy:
            return 0
        self._busy = True
        try:
            try:
                addresses = resolve_interfaces(self._interfaces, self._lister)
            except NoInterfaceError as err:
                _LOGGER.debug("WS-Discovery: not probing: %s", err)
                self.reason = str(err)
                return 0
            self.reason = None
            count = 0
            for types in self.type_sets:
                for match in await self._probe(list(addresses), types=types):
                    domains = match_wsdiscovery(self._index, match.types)
                    if domains:
                        count += 1
                        await self._on_found(domains, found_from_probe_match(match))
            self.rounds += 1
            self.last_probe, self.last_found = self._scoped.clock.time(), count
            return count
        finally:
            self._busy = False
