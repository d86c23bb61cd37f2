"""The hub's mDNS service: announces `_maderas._tcp`, browses the types the manifests ask for.

One `AsyncZeroconf` on the hub's own event loop (no thread), bound only to the addresses that
`network: interfaces:` resolves to. No usable interface is a status, retried on the hub clock,
never an exception; the rest of the hub runs either way.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from ..clock import Clock, RealClock, Repeating
from ..loader import match_zeroconf, normalize_service_type
from .interfaces import InterfaceLister, NoInterfaceError, host_interfaces, resolve_interfaces

_LOGGER = logging.getLogger(__name__)

HUB_SERVICE_TYPE = "_maderas._tcp.local."
HUB_ID_FILE = ".hub_id"
RETRY_INTERVAL = 60.0  # seconds of hub clock between looks at the interfaces
RESOLVE_TIMEOUT_MS = 3000
# Waits before each resolution attempt: a device whose first answer was lost (a busy network, a
# device still booting) is asked again instead of waiting for its next TXT change to be noticed.
RESOLVE_WAITS_S = (0.0, 5.0, 30.0)
_MAX_LABEL = 63  # bytes in one DNS label (the instance name)

FoundCallback = Callable[["FoundService"], None]
TxtValue = str | bytes | None


@dataclass(frozen=True)
class FoundService:
    """A service on the network that some integration's manifest asked for."""

    type: str  # `_esphomelib._tcp.local.`
    name: str  # the instance name, without the type: `kitchen`
    host: str | None  # the server name: `kitchen.local.`
    addresses: tuple[str, ...]
    port: int | None
    properties: Mapping[str, TxtValue] = field(hash=False)  # UTF-8 values as str, others kept as bytes
    domains: tuple[str, ...]

    @property
    def full_name(self) -> str:
        """The DNS-SD name: `kitchen._esphomelib._tcp.local.`."""
        return f"{self.name}.{self.type}"


@dataclass(frozen=True)
class MdnsStatus:
    """What the mDNS service is doing, in words the dashboard can show."""

    state: str  # stopped | running | no_interface | error
    reason: str | None = None
    interfaces: tuple[str, ...] = ()  # the addresses in use
    name: str | None = None  # the instance name announced (after a rename on conflict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form for `GET /api/network`."""
        return {"state": self.state, "reason": self.reason, "interfaces": list(self.interfaces), "name": self.name}


def load_hub_id(config_dir: Path) -> str:
    """This hub's stable id, made on first use (blocking file I/O: call it from an executor)."""
    path = config_dir / HUB_ID_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if re.fullmatch(r"[0-9a-f]{32}", text):
        return text
    hub_id = uuid.uuid4().hex
    path.write_text(hub_id + "\n")
    return hub_id


class MdnsService:
    """Announces the hub and reports matching services found on the configured interfaces."""

    def __init__(
        self,
        hub_id: str,
        name: str,
        version: str,
        api_port: int,
        *,
        interfaces: str | Sequence[str] = "all",
        index: Mapping[str, Any] | None = None,
        on_found: FoundCallback | None = None,
        on_updated: FoundCallback | None = None,
        on_removed: FoundCallback | None = None,
        clock: Clock | None = None,
        announce: bool = True,
        lister: InterfaceLister = host_interfaces,
        retry_interval: float = RETRY_INTERVAL,
    ) -> None:
        self.hub_id = hub_id
        self.name = _instance_name(name)
        self.version = version
        self.api_port = api_port
        self.interfaces = interfaces
        self.index: Mapping[str, Any] = index or {}
        self.on_found = on_found
        self.on_updated = on_updated
        self.on_removed = on_removed
        self.clock = clock or RealClock()
        self.announce = announce
        self.retry_interval = retry_interval
        self._lister = lister
        self._status = MdnsStatus("stopped")
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._addresses: tuple[str, ...] = ()
        self._timer: Repeating | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._generation: dict[str, int] = {}  # full name -> event count; a stale resolution is dropped
        self.found: dict[str, FoundService] = {}  # full name -> the last one reported

    @property
    def status(self) -> MdnsStatus:
        """State, reason and the interfaces in use."""
        return self._status

    @property
    def service_types(self) -> list[str]:
        """The types browsed: every zeroconf key of the discovery index."""
        return sorted(normalize_service_type(t) for t in self.index.get("zeroconf", {}))

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind, announce and browse; without a usable interface, set the status and retry later."""
        self._timer = self.clock.every(self.retry_interval, self._on_tick)
        async with self._lock:
            await self._open()

    async def stop(self) -> None:
        """Say goodbye (the network drops the hub at once), stop browsing and close the sockets."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        async with self._lock:
            await self._close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._status = MdnsStatus("stopped")

    def _on_tick(self) -> None:
        self._spawn(self._recheck(), "mdns interfaces")

    async def _recheck(self) -> None:
        """Reopen when the addresses changed, or a failed start may now succeed."""
        async with self._lock:
            try:
                addresses = resolve_interfaces(self.interfaces, self._lister)
            except (NoInterfaceError, OSError):
                addresses = ()
            if self._zc is not None and addresses == self._addresses:
                return
            _LOGGER.info("mDNS: interfaces changed from %s to %s", list(self._addresses), list(addresses))
            await self._close()
            await self._open()

    async def _open(self) -> None:
        try:
            addresses = resolve_interfaces(self.interfaces, self._lister)
        except NoInterfaceError as err:
            self._set_status("no_interface", f"no network interface for mDNS: {err}")
            return
        except OSError as err:  # the interface list itself could not be read
            self._set_status("error", f"mDNS could not list the network interfaces: {err}")
            return
        try:
            self._zc = AsyncZeroconf(interfaces=list(addresses), ip_version=IPVersion.V4Only)
            self._addresses = addresses
            if self.announce:
                await self._register(addresses)
            types = self.service_types
            if types:
                self._browser = AsyncServiceBrowser(self._zc.zeroconf, types, handlers=[self._on_change])
        except Exception as err:  # a bind refused, a bad name: a status, not a hub that will not start
            _LOGGER.exception("mDNS could not start on %s", list(addresses))
            await self._close()
            self._set_status("error", f"mDNS could not start: {err}")
            return
        announced = self._info.name.removesuffix("." + HUB_SERVICE_TYPE) if self._info else None
        reason = None if self.announce else "browsing only: the hub itself is not announced"
        self._status = MdnsStatus("running", reason, addresses, announced)
        _LOGGER.info("mDNS on %s: announcing %s, browsing %d types", list(addresses), announced, len(types))

    async def _register(self, addresses: tuple[str, ...]) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(
            HUB_SERVICE_TYPE,
            f"{self.name}.{HUB_SERVICE_TYPE}",
            port=self.api_port,
            properties={"id": self.hub_id, "version": self.version, "api_port": str(self.api_port), "path": "/"},
            server=f"maderas-{self.hub_id[:12]}.local.",
            parsed_addresses=list(addresses),
        )
        sent = await self._zc.async_register_service(info, allow_name_change=True)
        self._info = info
        await sent
        if info.name != f"{self.name}.{HUB_SERVICE_TYPE}":
            _LOGGER.warning("mDNS: the name %r is taken on the network; announced as %r", self.name, info.name)

    async def _close(self) -> None:
        browser, zc = self._browser, self._zc
        self._browser = self._zc = self._info = None
        self._addresses = ()
        try:
            if browser is not None:
                await browser.async_cancel()
            if zc is not None:
                await zc.async_close()  # unregisters first: the goodbye packets go out here
        except Exception:  # closing must finish; the sockets are gone either way
            _LOGGER.exception("mDNS: error while closing")

    def _set_status(self, state: str, reason: str) -> None:
        if self._status.state != state or self._status.reason != reason:
            _LOGGER.warning("%s", reason)
        self._status = MdnsStatus(state, reason)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- browsing ---------------------------------------------------------------------------

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        """Browser callback: never raises, whatever the network sent."""
        try:
            self._generation[name] = self._generation.get(name, 0) + 1
            if state_change is ServiceStateChange.Removed:
                self._generation.pop(name, None)
                self._report_removed(name)
            else:
                self._spawn(self._resolve(service_type, name, self._generation[name]), f"mdns resolve {name[:60]}")
        except Exception:
            _LOGGER.debug("mDNS: dropped a %s of %r", state_change, name, exc_info=True)

    async def _resolve(self, service_type: str, name: str, generation: int) -> None:
        try:
            zc = self._zc
            if zc is None:
                return
            for attempt, wait in enumerate(RESOLVE_WAITS_S, 1):
                if wait:
                    await asyncio.sleep(wait)  # network time, as python-zeroconf's own timers
                if self._generation.get(name) != generation or self._zc is not zc:
                    return  # removed or changed again meanwhile (the newer event decides), or stopped
                info = AsyncServiceInfo(service_type, name)
                if await info.async_request(zc.zeroconf, RESOLVE_TIMEOUT_MS):
                    break
                _LOGGER.debug("mDNS: %r did not resolve (attempt %d of %d)", name, attempt, len(RESOLVE_WAITS_S))
            else:
                return
            if self._generation.get(name) != generation:
                return  # removed or changed again meanwhile; the newer event decides
            found = _found_service(info, service_type, name, self.index)
        except Exception:
            _LOGGER.debug("mDNS: could not read %r", name, exc_info=True)
            return
        if found is None:
            self._report_removed(name)  # it may have matched before its TXT changed
            return
        previous = self.found.get(name)
        self.found[name] = found
        if previous is None:
            self._call(self.on_found, found)
        elif previous != found:
            self._call(self.on_updated, found)

    def _report_removed(self, name: str) -> None:
        previous = self.found.pop(name, None)
        if previous is not None:
            self._call(self.on_removed, previous)

    @staticmethod
    def _call(callback: FoundCallback | None, found: FoundService) -> None:
        if callback is None:
            return
        try:
            callback(found)
        except Exception:  # a consumer's bug must not stop discovery
            _LOGGER.exception("mDNS: a handler failed for %s", found.full_name)


def _found_service(
    info: AsyncServiceInfo, service_type: str, name: str, index: Mapping[str, Any]
) -> FoundService | None:
    """The resolved service if some manifest asks for it, else None."""
    instance = name[: -len(service_type) - 1] if name.endswith("." + service_type) else name
    properties = decode_txt(info.properties)
    domains = match_zeroconf(index, service_type, instance, properties)
    if not domains:
        return None
    return FoundService(
        type=normalize_service_type(service_type),
        name=instance,
        host=info.server,
        addresses=tuple(info.parsed_addresses()),
        port=info.port,
        properties=properties,
        domains=tuple(domains),
    )


def decode_txt(raw: Mapping[Any, Any] | None) -> dict[str, TxtValue]:
    """TXT keys as text (undecodable ones dropped); values as text where UTF-8, else the bytes."""
    out: dict[str, TxtValue] = {}
    for key, value in (raw or {}).items():
        try:
            text_key = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        except UnicodeDecodeError:
            continue
        if isinstance(value, bytes):
            try:
                out[text_key] = value.decode("utf-8")
            except UnicodeDecodeError:
                out[text_key] = value
        else:
            out[text_key] = value if value is None else str(value)
    return out


def _instance_name(name: str) -> str:
    """The hub's name cut to one DNS label (63 bytes), on a character boundary; dots would split it."""
    text = name.replace(".", " ").strip() or "Maderas Hub"
    encoded = text.encode("utf-8")[:_MAX_LABEL]
    return encoded.decode("utf-8", "ignore").strip()
