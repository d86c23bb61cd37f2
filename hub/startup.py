"""The hub's start and stop sequences (kept apart from the Hub class to keep both small).

Start: configuration (executor) -> database -> registries -> users and tokens -> recorder ->
outbox -> integrations in dependency order -> config entries -> automations -> pairing (the
Discovered list) -> HTTP server -> mDNS (it announces the API port) and WS-Discovery, both feeding
pairing. Stop begins with mDNS (goodbyes), then the HTTP server, then pairing, then automations, so no request or websocket sees a half-stopped hub and no automation acts on an
integration being unloaded. A configuration error
disables the block it is in, not the hub; a database that cannot be opened stops the start,
because a hub that cannot persist alarms must not pretend it can.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import __version__
from .auth import AuthManager
from .automation.engine import AutomationManager
from .check import CheckResult, validate_configuration
from .config import CONFIG_FILE, ConfigError, write_default_config
from .config.core_schema import DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT
from .config_entries import ConfigEntries
from .http import HttpServer
from .integrations import IntegrationManager
from .loader import discover, discovery_index
from .network import MdnsService, load_hub_id
from .outbox import Outbox
from .pairing import PairingManager
from .pairing.probing import WsDiscoveryPoller
from .recorder import Recorder
from .registry import DeviceRegistry, EntityRegistry

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger(__name__)


async def start_hub(hub: Hub) -> None:
    """Bring every part up in order; integrations that fail do so alone."""
    loop = asyncio.get_running_loop()
    checked = await loop.run_in_executor(None, _load_config, hub)
    hub.config = checked.config
    hub.config_errors = checked.errors
    for error in checked.errors:
        _LOGGER.error("Configuration: %s", error)
    core = hub.config.get("hub", {})
    hub.name = core.get("name", "Maderas Hub")
    hub.time_zone = ZoneInfo(core.get("time_zone", "America/Mexico_City"))
    _apply_logger_config(hub.config.get("logger", {}))

    await hub.db.start()
    hub.entities = EntityRegistry(hub.db, hub.bus, clock_time=hub.clock.time)
    await hub.entities.load()
    hub.devices = DeviceRegistry(hub.db, hub.bus, hub.entities, clock_time=hub.clock.time)
    await hub.devices.load()
    http = hub.config.get("http", {})
    hub.auth = AuthManager(hub.db, clock=hub.clock, trusted_networks=tuple(http.get("trusted_networks", ())))
    await hub.auth.load()

    rec = hub.config.get("recorder", {})
    exclude = rec.get("exclude", {})
    hub.recorder = Recorder(
        hub.bus,
        hub.db,
        clock=hub.clock,
        commit_interval=_seconds(rec.get("commit_interval", 1.0)),
        keep_days=rec.get("purge_keep_days", 10),
        exclude_entities=exclude.get("entities", ()),
        exclude_domains=exclude.get("domains", ()),
    )
    await hub.recorder.start()
    hub.outbox = Outbox(hub.db, clock=hub.clock, create_task=hub.create_task)
    await hub.outbox.start()

    hub.integrations = IntegrationManager(hub, hub.discovery.integrations, problems=checked.problems)
    hub.config_entries = ConfigEntries(hub, hub.integrations)
    await hub.config_entries.load()
    domains = checked.configured | set(hub.config_entries.domains())
    await hub.integrations.setup(domains, hub.config)
    await _start_automations(hub)
    hub.pairing = PairingManager(hub)  # before HTTP: /api/discovered reads it
    await hub.pairing.start()

    hub.http = HttpServer(
        hub, host=http.get("server_host", DEFAULT_SERVER_HOST), port=http.get("server_port", DEFAULT_SERVER_PORT)
    )
    await hub.http.start()
    hub.auth.warm_up()
    await _start_mdns(hub)


async def stop_hub(hub: Hub, timeout: float) -> None:
    """Unload integrations, stop the outbox, flush history, close the database, all within `timeout`.

    Integrations get most of the budget; whatever they leave, the recorder flush and the
    database close still get a share, so history reaches the disk even if an unload hangs.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if hub.auth is not None:
        hub.auth.close()
    reserve = min(1.0, timeout / 4)  # kept back for the outbox, the recorder and the database

    def budget(keep: float) -> float:
        return max(0.1, deadline - loop.time() - keep)

    if hub.mdns is not None:  # first: the goodbye packets go out while everything still answers
        await _bounded("stopping mDNS", hub.mdns.stop(), min(2.0, budget(reserve) / 2))
    if hub.http is not None:
        await _bounded("stopping the HTTP server", hub.http.stop(), min(2.0, budget(reserve) / 2))
    if hub.pairing is not None:  # no discovery may set an integration up while they unload
        await _bounded("stopping pairing", hub.pairing.stop(), min(2.0, budget(reserve) / 2))
    if hub.automations is not None:
        await _bounded("stopping automations", hub.automations.stop(), min(2.0, budget(reserve) / 2))
    if hub.integrations is not None:
        await _bounded("unloading integrations", hub.integrations.unload_all(budget(reserve)), budget(reserve))
    if hub.config_entries is not None:
        await _bounded("closing config entries", hub.config_entries.close(), budget(reserve))
    if hub.outbox is not None:
        await _bounded("stopping the outbox", hub.outbox.stop(), budget(reserve / 2))
    if hub.recorder is not None:
        await _bounded("flushing history", hub.recorder.stop(), budget(0))
    await hub.db.stop()


async def _start_mdns(hub: Hub) -> None:
    """Announce the hub and browse for known devices, unless turned off; never stops the start."""
    network = hub.config.get("network", {})
    if not hub.mdns_allowed or not network.get("mdns", True):
        _LOGGER.info("mDNS is off")
        return
    loop = asyncio.get_running_loop()
    hub_id = await loop.run_in_executor(None, load_hub_id, hub.config_dir)
    index = discovery_index(hub.discovery.integrations)
    # An API on loopback cannot be reached from the network: announcing it would send phones nowhere.
    announce = not _is_loopback(hub.http.host)
    if not announce:
        _LOGGER.info("mDNS: not announcing the hub, its API listens on %s only (see http: server_host)", hub.http.host)
    service = MdnsService(
        hub_id,
        hub.name,
        __version__,
        hub.http.port,
        interfaces=network.get("interfaces", "all"),
        index=index,
        on_found=hub.pairing.mdns_found,
        on_updated=hub.pairing.mdns_found,
        on_removed=hub.pairing.mdns_removed,
        clock=hub.clock,
        announce=announce,
    )
    await service.start()
    hub.mdns = service
    # WS-Discovery multicasts too, so it follows the same switch; it runs in the pairing scope.
    hub.pairing.poller = WsDiscoveryPoller(
        hub.pairing.scoped, index, hub.pairing.found, interfaces=network.get("interfaces", "all"),
        on_gone=hub.pairing.removed,
    )
    hub.pairing.poller.start()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _start_automations(hub: Hub) -> None:
    """Automations run on what the integrations provide; one that cannot start leaves the hub running."""
    manager = AutomationManager(hub)
    try:
        await manager.start()
    except Exception:  # alarms and orders must still flow without automations
        _LOGGER.exception("Automations could not be started; the hub runs without them")
        await _bounded("stopping automations", manager.stop(), 2.0)
        return
    hub.automations = manager


def _load_config(hub: Hub) -> CheckResult:
    """Runs in an executor: discovery and YAML both read files, schemas import modules."""
    hub.discovery = discover(hub.config_dir)
    for domain, message in hub.discovery.errors().items():
        _LOGGER.error("Integration %s: %s", domain, message)
    if not (hub.config_dir / CONFIG_FILE).exists():
        write_default_config(hub.config_dir)
    return validate_configuration(hub.config_dir, hub.discovery)


async def _bounded(what: str, coro: Any, timeout: float) -> None:
    try:
        await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        _LOGGER.error("Stop: %s took longer than %.0f s; going on", what, timeout)
    except Exception:
        _LOGGER.exception("Stop: %s failed; going on", what)


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def _apply_logger_config(block: dict[str, Any]) -> None:
    """Per-logger levels from the `logger:` block (the root level is the CLI's choice)."""
    for name, level in block.get("logs", {}).items():
        logging.getLogger(name).setLevel(level if isinstance(level, int) else str(level).upper())


__all__ = ["ConfigError", "start_hub", "stop_hub"]
