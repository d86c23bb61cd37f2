"""The command centre's entities: the link (connectivity binary_sensor) and the count of queued alarms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from hub.entities import Entity, EntityDescription

LINK = EntityDescription(key="link", name="Command centre link", device_class="connectivity", icon="mdi:shield-link-variant")
QUEUED = EntityDescription(key="queued", name="Command centre queued alarms", state_class="measurement",
                           icon="mdi:tray-full")  # fmt: skip


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """What the dashboard shows about the line to the monitoring centre; `connected` None = not tried yet."""

    connected: bool | None
    receiver: str  # name of the receiver in use ("primary", "backup")
    address: str  # its host:port/protocol
    down_since: float | None = None  # epoch seconds of the first failure of this outage
    last_ack: float | None = None
    last_error: str | None = None  # "primary 10.0.0.5:9000: connection refused"
    message: str | None = None  # the dashboard's line while down


def iso(moment: float | None, tz: tzinfo) -> str | None:
    """Epoch seconds as ISO 8601 in the home's time zone (what attributes carry)."""
    return None if moment is None else datetime.fromtimestamp(moment, tz).isoformat(timespec="seconds")


class LinkSensor(Entity):
    """binary_sensor: on while the centre ACKs; attributes say since when it is down and why."""

    domain = "binary_sensor"
    entity_description = LINK
    has_entity_name = False

    def __init__(self, account: str, status: LinkStatus, tz: tzinfo) -> None:
        self.unique_id = f"{account}:link"
        self.suggested_object_id = "command_center_link"
        self.status = status
        self._tz = tz

    @property
    def native_value(self) -> bool | None:
        return self.status.connected

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        status = self.status
        return {
            "down_since": iso(status.down_since, self._tz),
            "last_ack": iso(status.last_ack, self._tz),
            "receiver": status.receiver,
            "address": status.address,
            "last_error": status.last_error,
            "message": status.message,
        }

    def show(self, status: LinkStatus) -> None:
        self.status = status
        self.write_state()


class QueuedSensor(Entity):
    """sensor: alarms stored but not yet accepted by the centre (all channels); failed ones as an attribute."""

    domain = "sensor"
    entity_description = QUEUED
    has_entity_name = False

    def __init__(self, account: str) -> None:
        self.unique_id = f"{account}:queued"
        self.suggested_object_id = "command_center_queued"
        self.pending = 0
        self.failed = 0

    @property
    def native_value(self) -> int:
        return self.pending

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        return {"failed": self.failed}

    def show(self, pending: int, failed: int) -> None:
        if (pending, failed) != (self.pending, self.failed):
            self.pending, self.failed = pending, failed
            self.write_state()


__all__ = ["LINK", "QUEUED", "LinkSensor", "LinkStatus", "QueuedSensor", "iso"]
