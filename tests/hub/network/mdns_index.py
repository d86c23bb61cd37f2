"""What the mDNS tests browse for: a discovery index built from manifest-like integrations, and a recorder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.loader import discovery_index
from hub.manifest import Integration, Source
from hub.network import FoundService


def integration(domain: str, *zeroconf: dict[str, Any]) -> Integration:
    """An integration known only by its manifest's zeroconf matchers (nothing to import)."""
    return Integration(
        domain=domain, name=domain, version="1", path=Path("nowhere") / domain, module=f"x.{domain}",
        source=Source.custom, iot_class="local_push", zeroconf=zeroconf,
    )


INDEX = discovery_index([
    integration("esphome", {"type": "_esphomelib._tcp.local.", "properties": {"mac": "*"}}),
    integration("rtsp_camera", {"type": "_RTSP._tcp.local"}),  # written loosely: the index normalises it
    integration("cam_brand", {"type": "_rtsp._tcp.local.", "name": "cam-*"}),
])


class Recorder:
    """Collects what the hub's service reports, per kind."""

    def __init__(self) -> None:
        self.found: list[FoundService] = []
        self.updated: list[FoundService] = []
        self.removed: list[FoundService] = []
