"""/api/command_center/status: the link to the monitoring centre and what waits in its queues."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.http.common import RESIDENT, Route, json_response
from hub.http.openapi import BOOLEAN, INTEGER, NUMBER, STRING, nullable, obj

from .entity import iso

_TEXT = nullable(STRING)
LINK_SCHEMA = obj(
    {"connected": nullable(BOOLEAN), "receiver": STRING, "address": STRING, "down_since": _TEXT, "last_ack": _TEXT,
     "last_error": _TEXT, "message": _TEXT},
    "connected", "receiver",
)  # fmt: skip
CHANNEL_SCHEMA = obj({"pending": INTEGER, "delivered": INTEGER, "failed": INTEGER, "cancelled": INTEGER,
                      "oldest_pending_age": nullable(NUMBER)}, "pending", "failed")  # fmt: skip
STATUS_SCHEMA = obj(
    {"link": nullable(LINK_SCHEMA), "channels": {"type": "object", "additionalProperties": CHANNEL_SCHEMA}},
    "link", "channels",
)  # fmt: skip


def routes(forwarder: Any, time_zone: Any) -> tuple[Route, ...]:
    """The routes, bound to one Forwarder (registered by setup, released on unload)."""

    async def status(request: web.Request) -> web.Response:
        channels = await forwarder.channel_stats()
        link = None
        if forwarder.group is not None:
            state = forwarder.group.status
            link = {"connected": state.connected, "receiver": state.receiver, "address": state.address,
                    "down_since": iso(state.down_since, time_zone), "last_ack": iso(state.last_ack, time_zone),
                    "last_error": state.last_error, "message": state.message}  # fmt: skip
        return json_response({"link": link, "channels": channels})

    return (
        Route("GET", "/api/command_center/status", status, RESIDENT,
              "The command centre link (receiver in use, down since, last ACK) and its queues",
              response=STATUS_SCHEMA),
    )  # fmt: skip


__all__ = ["STATUS_SCHEMA", "routes"]
