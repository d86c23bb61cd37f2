"""/api/alarm_panel: the alarm history for the dashboard, and acknowledging an alarm."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.bus import Context
from hub.http.common import PRINCIPAL_KEY, RESIDENT, ApiError, Param, Route, json_response
from hub.http.openapi import INTEGER, NUMBER, STRING, array, nullable, obj

from .panel import AlarmNotFound, AlreadyAcknowledged

_NUM = nullable(NUMBER)
_TEXT = nullable(STRING)
ZONE_SCHEMA = obj({"id": STRING, "number": INTEGER, "name": STRING, "type": STRING}, "id", "number", "name")
ALARM_SCHEMA = obj(
    {"id": STRING, "category": STRING, "kind": STRING, "zone": {"anyOf": [ZONE_SCHEMA, {"type": "null"}]},
     "entity_id": _TEXT, "time": NUMBER, "context_id": _TEXT, "snapshot": _TEXT, "status": STRING,
     "message": STRING, "mode": STRING, "user": nullable(INTEGER), "raised_at": NUMBER, "acknowledged_by": _TEXT,
     "acknowledged_at": _NUM, "restored_at": _NUM},
    "id", "category", "kind", "status", "time", extra=True,
)  # fmt: skip
MAX_LIMIT = 1000


def routes(panel: Any) -> tuple[Route, ...]:
    """The routes, bound to one AlarmPanel (registered by setup, released on unload)."""

    async def list_alarms(request: web.Request) -> web.Response:
        status = request.query.get("status", "all")
        if status not in ("active", "all"):
            raise ApiError(400, "status must be active or all", field="status")
        try:
            limit = int(request.query.get("limit", "200"))
        except ValueError:
            raise ApiError(400, "limit must be a whole number", field="limit") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"limit must be from 1 to {MAX_LIMIT}", field="limit")
        alarms = await panel.store.list(status, limit=limit)
        return json_response({"alarms": [a.as_record() for a in alarms]})

    async def acknowledge(request: web.Request) -> web.Response:
        principal = request.get(PRINCIPAL_KEY)
        context = Context(user_id=principal.user.id if principal is not None else None, origin="http")
        try:
            alarm = await panel.acknowledge(request.match_info["alarm_id"], context=context)
        except AlarmNotFound as err:
            raise ApiError(404, str(err)) from None
        except AlreadyAcknowledged as err:
            raise ApiError(409, str(err)) from None
        return json_response(alarm.as_record())

    return (
        Route("GET", "/api/alarm_panel/alarms", list_alarms, RESIDENT, "Alarm history, newest first",
              response=obj({"alarms": array(ALARM_SCHEMA)}, "alarms"),
              query=(Param("status", {"type": "string", "enum": ["active", "all"]},
                           "active: not restored yet (active or acknowledged); default all"),
                     Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, "default 200"))),
        Route("POST", "/api/alarm_panel/alarms/{alarm_id}/acknowledge", acknowledge, RESIDENT,
              "Acknowledge an alarm (it stays unrestored until its condition clears)", response=ALARM_SCHEMA,
              errors=(404, 409)),
    )  # fmt: skip


__all__ = ["ALARM_SCHEMA", "routes"]
