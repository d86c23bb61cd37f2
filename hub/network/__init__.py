"""The hub on the local network: its mDNS announcement and browsing (discovery, issue 9)."""

from __future__ import annotations

from .interfaces import NoInterfaceError, host_interfaces, resolve_interfaces
from .mdns import HUB_SERVICE_TYPE, FoundService, MdnsService, MdnsStatus, load_hub_id

__all__ = [
    "HUB_SERVICE_TYPE",
    "FoundService",
    "MdnsService",
    "MdnsStatus",
    "NoInterfaceError",
    "host_interfaces",
    "load_hub_id",
    "resolve_interfaces",
]
