"""Automations: the list with state and errors, their traces, and reload (enable/disable/run are services)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..config import ConfigError, format_path
from ..errors import HubError
from .common import ADMIN, HUB_KEY, ID_PATTERN, RESIDENT, ApiError, Route, bad_request, json_response
from .openapi import BOOLEAN, INTEGER, NUMBER, STRING, array, nullable, obj

_ID = re.compile(ID_PATTERN)
_STATES = ["running", "finished", "stopped", "condition_failed", "error", "cancelled", "restarted"]


def _manager(request: web.Request) -> Any:
    manager = request.app[HUB_KEY].automations
    if manager is None:
        raise ApiError(503, "automations are not running")
    return manager


def _id_param(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise bad_request(f"{name}: expected letters, digits, '_' or '-'", name)
    return value


def _listing(manager: Any) -> dict[str, Any]:
    return {
        "automations": [automation.as_dict() for automation in manager.list()],
        "errors": [_file_error(e) for e in manager.config_errors],
    }


def _file_error(error: ConfigError) -> dict[str, Any]:
    """file, line and the message with the key it concerns (`actions[1]: unknown action ...`)."""
    where = format_path(error.path[1:])  # the first element is always "automation"
    return {"file": error.file, "line": error.line, "message": f"{where}: {error.message}" if where else error.message}


async def get_automations(request: web.Request) -> web.Response:
    """Every automation with its state, and the errors of automations.yaml."""
    return json_response(_listing(_manager(request)))


async def get_traces(request: web.Request) -> web.Response:
    """The stored traces of one automation, newest first."""
    manager = _manager(request)
    automation_id = _id_param(request, "automation_id")
    traces = manager.traces(automation_id)
    if not traces and manager.get(automation_id) is None:
        raise ApiError(404, f"automation {automation_id} not found")
    return json_response({"traces": traces})


async def get_trace(request: web.Request) -> web.Response:
    """One trace: trigger, conditions and every step."""
    manager = _manager(request)
    automation_id = _id_param(request, "automation_id")
    run_id = _id_param(request, "run_id")
    trace = manager.trace(automation_id, run_id)
    if trace is None:
        raise ApiError(404, f"trace {run_id} of automation {automation_id} not found")
    return json_response(trace)


async def post_reload(request: web.Request) -> web.Response:
    """Re-read automations.yaml; unchanged automations keep running."""
    manager = _manager(request)
    try:
        await manager.reload()
    except HubError as err:
        raise bad_request(str(err)) from None
    return json_response(_listing(manager))


_STATE = {"type": "string", "enum": _STATES}
_AUTOMATION = obj(
    {"id": STRING, "alias": STRING, "description": STRING, "entity_id": STRING, "enabled": BOOLEAN, "mode": STRING,
     "current": INTEGER, "last_triggered": nullable(STRING), "last_error": nullable(STRING)},
    "id", "alias", "description", "entity_id", "enabled", "mode", "current", "last_triggered", "last_error",
)  # fmt: skip
_FILE_ERROR = obj({"file": nullable(STRING), "line": nullable(INTEGER), "message": STRING}, "file", "line", "message")
_LISTING = obj({"automations": array(_AUTOMATION), "errors": array(_FILE_ERROR)}, "automations", "errors")
_SUMMARY = obj(
    {"run_id": STRING, "started": NUMBER, "finished": nullable(NUMBER), "state": _STATE, "trigger": STRING,
     "error": nullable(STRING)},
    "run_id", "started", "finished", "state", "trigger", "error",
)  # fmt: skip
_ANY = {"anyOf": [{"type": "object"}, {"type": "array"}, {"type": "string"}, {"type": "number"}, {"type": "boolean"},
                  {"type": "null"}]}  # fmt: skip
_STEP = obj(
    {"path": STRING, "action": STRING, "alias": nullable(STRING), "started": NUMBER, "duration": nullable(NUMBER),
     "result": _ANY, "error": nullable(STRING)},
    "path", "action", "alias", "started", "duration", "result", "error",
)  # fmt: skip
_TRACE = obj(
    {"run_id": STRING, "automation_id": STRING, "context_id": nullable(STRING), "started": NUMBER,
     "finished": nullable(NUMBER), "state": _STATE, "error": nullable(STRING),
     "trigger": obj({"description": STRING, "variables": {"type": "object"}}, "description", "variables"),
     "conditions": array(obj({"path": STRING, "result": BOOLEAN, "reason": STRING}, "path", "result", "reason")),
     "steps": array(_STEP)},
    "run_id", "automation_id", "context_id", "started", "finished", "state", "error", "trigger", "conditions", "steps",
)  # fmt: skip

ROUTES = (
    Route("GET", "/api/automations", get_automations, RESIDENT, "Automations with their state, and file errors",
          response=_LISTING, errors=(503,)),
    Route("GET", "/api/automations/{automation_id}/traces", get_traces, RESIDENT,
          "Stored traces of an automation, newest first", response=obj({"traces": array(_SUMMARY)}, "traces"),
          errors=(404, 503)),
    Route("GET", "/api/automations/{automation_id}/traces/{run_id}", get_trace, RESIDENT,
          "One trace of an automation: trigger, conditions, steps", response=_TRACE, errors=(404, 503)),
    Route("POST", "/api/automations/reload", post_reload, ADMIN,
          "Re-read automations.yaml (unchanged automations keep running)", response=_LISTING, errors=(503,)),
)  # fmt: skip

__all__ = ["ROUTES"]
