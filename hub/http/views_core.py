"""What residents read and do: hub info, health, own profile, states, history, events, services."""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import voluptuous as vol
from aiohttp import web

from .. import __version__
from ..auth import AuthError, InvalidCredentials
from ..bus import Context
from ..config.core_schema import language
from ..errors import (
    HubError,
    ServiceNotFound,
    ServiceValidationError,
    TransientError,
    Unauthorized,
)
from ..states import valid_entity_id
from .common import (
    ADMIN,
    HUB_KEY,
    PRINCIPAL_KEY,
    RESIDENT,
    SLUG_PATTERN,
    ApiError,
    Param,
    Route,
    bad_request,
    from_auth_error,
    json_response,
    peer,
    raw_json_response,
    read_json,
    validated_body,
)
from .openapi import (
    ANY_OBJECT,
    BOOLEAN,
    INTEGER,
    LANGUAGE,
    NAME,
    NUMBER,
    STRING,
    array,
    nullable,
    obj,
    text,
)
from .views_auth import NEW_PASSWORD, USER_SCHEMA, public_user

DAY = 86400.0
MAX_RANGE = 31 * DAY
MAX_POINTS = 2000
MAX_EVENTS = 1000
_SLUG = re.compile(SLUG_PATTERN)

STATE_SCHEMA = obj(
    {"entity_id": STRING, "state": STRING, "attributes": ANY_OBJECT, "last_changed": NUMBER,
     "last_updated": NUMBER, "context": ANY_OBJECT}, "entity_id", "state",
)  # fmt: skip

ME_SCHEMA = vol.Schema(
    {
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("language"): language,
        vol.Optional("password"): vol.All(str, vol.Length(min=1, max=1024)),
        vol.Optional("current_password"): vol.All(str, vol.Length(min=1, max=1024)),
    }
)


def entity_id_param(request: web.Request) -> str:
    """The {entity_id} of the path, checked; 400 names it when malformed."""
    entity_id = request.match_info["entity_id"]
    if not valid_entity_id(entity_id):
        raise bad_request(f"entity_id: invalid entity id {entity_id!r}", "entity_id")
    return entity_id


def slug_param(request: web.Request, name: str) -> str:
    """A lowercase-slug path parameter ({domain}, {service}); 400 when it is not one."""
    value = request.match_info[name]
    if not _SLUG.fullmatch(value):
        raise bad_request(f"{name}: expected lowercase letters, digits and underscores", name)
    return value


async def get_root(request: web.Request) -> web.Response:
    """Name, version, time zone and language of the hub."""
    hub = request.app[HUB_KEY]
    return json_response(
        {
            "name": hub.name,
            "version": __version__,
            "time_zone": str(hub.time_zone),
            "language": hub.config.get("hub", {}).get("language"),
        }
    )


async def get_health(request: web.Request) -> web.Response:
    """Uptime, hub state, storage, recorder backlog, outbox, loop lag and failing integrations."""
    hub = request.app[HUB_KEY]
    failed = [
        {"domain": s.domain, "error": s.error} for s in hub.integrations.statuses() if s.state.value == "failed"
    ]
    return json_response(
        {
            "state": hub.state.value,
            "uptime": None if hub.started_at is None else max(0.0, hub.clock.time() - hub.started_at),
            "database_size": _size(hub.db.path) + _size(Path(f"{hub.db.path}-wal")),
            "recorder_pending_rows": hub.recorder.pending_rows,
            "outbox": await hub.outbox.stats(),
            "loop_lag_max": hub.watchdog.max_lag,
            "loop_blocked_count": hub.watchdog.blocked_count,
            "integrations_failed": failed,
            "config_errors": len(hub.config_errors),
        }
    )


async def get_network(request: web.Request) -> web.Response:
    """mDNS: state, why it is not running, the addresses it uses; WS-Discovery: probing or not, when last."""
    hub = request.app[HUB_KEY]
    if hub.mdns is None:
        mdns: dict[str, Any] = {"state": "off", "reason": "mDNS is turned off", "interfaces": [], "name": None}
    else:
        mdns = hub.mdns.status.as_dict()
    poller = hub.pairing.poller if hub.pairing is not None else None
    if poller is None:
        wsd: dict[str, Any] = {"state": "off", "reason": "multicast discovery is turned off", "last_probe": None,
                               "found": 0, "every": None, "listening": False, "listen_error": None}  # fmt: skip
    else:
        wsd = poller.status()
    return json_response({"mdns": mdns, "wsdiscovery": wsd})


def _size(path: Path) -> int:
    try:
        return path.stat().st_size  # one stat: cheaper than a trip to the executor
    except OSError:
        return 0


async def get_me(request: web.Request) -> web.Response:
    """The current user; `role` is the token's role (a long-lived token may have less than its user)."""
    principal = request[PRINCIPAL_KEY]
    return json_response({**public_user(principal.user), "role": principal.role})


async def patch_me(request: web.Request) -> web.Response:
    """Change own name, language or password (the password needs the current one)."""
    data = await validated_body(request, ME_SCHEMA)
    principal = request[PRINCIPAL_KEY]
    auth = request.app[HUB_KEY].auth
    if "password" in data:
        if "current_password" not in data:
            raise bad_request("current_password: required to change the password", "current_password")
        try:
            # The interface has no verify call: a login (throttled like any other) proves the
            # password, and its session is revoked at once.
            check = await auth.login(
                principal.user.username, data["current_password"], address=peer(request), client_name="password check"
            )
        except InvalidCredentials:
            raise bad_request("current_password: wrong password", "current_password") from None
        except AuthError as err:
            raise from_auth_error(err) from None
        await auth.logout(check.refresh_token)
    changes = {k: data[k] for k in ("name", "language", "password") if k in data}
    try:
        user = await auth.update_user(principal.user.id, **changes) if changes else principal.user
    except AuthError as err:
        raise from_auth_error(err) from None
    return json_response({**public_user(user), "role": principal.role})


async def get_states(request: web.Request) -> web.Response:
    """Every state, joined from each state's cached JSON (never re-serialised)."""
    states = request.app[HUB_KEY].states.all()
    return raw_json_response(b"[" + b",".join(s.as_json() for s in states) + b"]")


async def get_state(request: web.Request) -> web.Response:
    """One state."""
    entity_id = entity_id_param(request)
    state = request.app[HUB_KEY].states.get(entity_id)
    if state is None:
        raise ApiError(404, f"entity {entity_id} not found")
    return raw_json_response(state.as_json())


def parse_time(text: str, name: str) -> float:
    """ISO 8601 with a UTC offset, or epoch seconds -> epoch seconds; 400 names `name` otherwise."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise bad_request(f"{name}: must be a finite number of seconds", name)
        return value
    # An unencoded '+' in a query string arrives as a space; an ISO time has no other space.
    iso = text.replace(" ", "+") if "T" in text else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise bad_request(f"{name}: expected ISO 8601 (e.g. 2026-01-15T12:00:00-06:00) or epoch seconds", name) from None
    if moment.tzinfo is None:
        raise bad_request(f"{name}: an ISO 8601 time needs a UTC offset (Z or e.g. -06:00)", name)
    return moment.timestamp()


def time_range(request: web.Request) -> tuple[float, float]:
    """`start`/`end` of the query: default the last 24 h; end after start; at most 31 days."""
    query = request.query
    end = parse_time(query["end"], "end") if "end" in query else request.app[HUB_KEY].clock.time()
    start = parse_time(query["start"], "start") if "start" in query else end - DAY
    if end <= start:
        raise bad_request("end: must be after start", "end")
    if end - start > MAX_RANGE:
        raise bad_request("start: the range may span at most 31 days", "start")
    return start, end


def int_param(request: web.Request, name: str, low: int, high: int) -> int | None:
    """An integer query parameter within [low, high], or None when absent."""
    if name not in request.query:
        return None
    try:
        value = int(request.query[name])
    except ValueError:
        raise bad_request(f"{name}: expected an integer", name) from None
    if not low <= value <= high:
        raise bad_request(f"{name}: must be between {low} and {high}", name)
    return value


async def get_history(request: web.Request) -> web.Response:
    """Recorded states in a range, or min/mean/max per bucket with `points`."""
    entity_id = entity_id_param(request)
    start, end = time_range(request)
    points = int_param(request, "points", 2, MAX_POINTS)
    recorder = request.app[HUB_KEY].recorder
    body: dict[str, Any] = {"entity_id": entity_id, "start": start, "end": end}
    if points is None:
        body["states"] = await recorder.history(entity_id, start, end)
    else:
        bucket = (end - start) / points
        body.update(points=points, bucket_seconds=bucket)
        body["statistics"] = await recorder.statistics(entity_id, start, end, bucket)
    return json_response(body)


async def get_events(request: web.Request) -> web.Response:
    """Recorded events in a range, newest first."""
    event_type = request.query.get("event_type")
    if event_type is not None and not _SLUG.fullmatch(event_type):
        raise bad_request("event_type: expected lowercase letters, digits and underscores", "event_type")
    start, end = time_range(request)
    limit = int_param(request, "limit", 1, MAX_EVENTS) or 100
    events = await newest_events(request.app[HUB_KEY].recorder, event_type, start, end, limit)
    return json_response({"start": start, "end": end, "events": events})


async def newest_events(recorder: Any, event_type: str | None, start: float, end: float, limit: int) -> list[Any]:
    """The newest `limit` events of [start, end), newest first.

    The recorder answers oldest first, so walk back from `end` in windows: a window that fills a
    page is split until it does not (then it is complete), and the window grows after each hit.
    """
    page = max(limit, 200)
    found: list[Any] = []
    high, width = end, min(end - start, 3600.0)
    while high > start and len(found) < limit:
        low = max(start, high - width)
        rows = await recorder.events(event_type, low, high, limit=page)
        if len(rows) >= page and width > 0.001:
            width /= 8
            continue
        found.extend(reversed(rows))
        high, width = low, width * 4
    return found[:limit]


async def get_services(request: web.Request) -> web.Response:
    """Every service with its fields and whether residents may call it."""
    return json_response(request.app[HUB_KEY].services.describe())


async def call_service(
    hub: Any, principal: Any, domain: str, service: str, data: Any, *, return_response: bool
) -> dict[str, Any]:
    """Call a service as `principal` (REST and websocket); errors as ApiError."""
    if not isinstance(data, dict):
        raise bad_request("service data must be a JSON object")
    if not hub.services.has(domain, service):
        raise ApiError(404, f"service {domain}.{service} not found")
    if principal.role != ADMIN and not hub.services.resident_allowed(domain, service):
        raise ApiError(403, f"residents may not call {domain}.{service}")
    context = Context(user_id=principal.user.id, origin="api")
    try:
        result = await hub.services.call(domain, service, data, context=context, return_response=return_response)
    except ServiceValidationError as err:
        field = ".".join(str(p) for p in err.path) or None
        raise bad_request(f"{field}: {err.message}" if field else err.message, field) from None
    except ServiceNotFound as err:
        raise ApiError(404, str(err)) from None
    except Unauthorized as err:
        raise ApiError(403, str(err) or "not allowed") from None
    except TransientError as err:
        raise ApiError(503, str(err) or "not available now; try again") from None
    except HubError as err:
        raise bad_request(str(err)) from None
    body: dict[str, Any] = {"context": context.as_dict()}
    if return_response:
        body["response"] = result
    return body


async def post_service(request: web.Request) -> web.Response:
    """Call `domain.service` with the body as its data; `?return_response=1` for its answer."""
    domain, service = slug_param(request, "domain"), slug_param(request, "service")
    flag = request.query.get("return_response", "0").lower()
    if flag not in ("0", "1", "true", "false"):
        raise bad_request("return_response: expected 1 or 0", "return_response")
    data = await read_json(request)
    hub = request.app[HUB_KEY]
    return json_response(
        await call_service(hub, request[PRINCIPAL_KEY], domain, service, data, return_response=flag in ("1", "true"))
    )


_TIME = {"oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]}
_RANGE = (
    Param("start", _TIME, "ISO 8601 with offset, or epoch seconds (default: end - 24 h)"),
    Param("end", _TIME, "ISO 8601 with offset, or epoch seconds (default: now); at most 31 days after start"),
)
_ME_BODY = obj({"name": NAME, "language": LANGUAGE, "password": NEW_PASSWORD, "current_password": text(1024)})
_ME = {**USER_SCHEMA, "required": ["id", "username", "name", "role"]}
_CONTEXT = obj({"id": STRING, "user_id": nullable(STRING), "parent_id": nullable(STRING), "origin": nullable(STRING)})
_HISTORY = obj(
    {"entity_id": STRING, "start": NUMBER, "end": NUMBER, "points": INTEGER, "bucket_seconds": NUMBER,
     "states": array(obj({"state": nullable(STRING), "attributes": ANY_OBJECT, "last_changed": nullable(NUMBER),
                          "last_updated": NUMBER}, extra=True)),
     "statistics": array(obj({"start": NUMBER, "min": NUMBER, "mean": NUMBER, "max": NUMBER, "count": INTEGER}))},
    "entity_id", "start", "end",
)  # fmt: skip

ROUTES = (
    Route("GET", "/api/", get_root, RESIDENT, "Name, version, time zone and language of the hub",
          response=obj({"name": STRING, "version": STRING, "time_zone": STRING, "language": nullable(STRING)})),
    Route("GET", "/api/health", get_health, RESIDENT, "Uptime, storage, recorder, outbox, loop lag, failures",
          response=obj({"state": STRING, "uptime": nullable(NUMBER), "database_size": INTEGER,
                        "recorder_pending_rows": INTEGER, "outbox": ANY_OBJECT, "loop_lag_max": NUMBER,
                        "loop_blocked_count": INTEGER, "integrations_failed": array(ANY_OBJECT),
                        "config_errors": INTEGER})),
    Route("GET", "/api/network", get_network, RESIDENT,
          "Discovery on the network: mDNS state and interfaces, WS-Discovery probing",
          response=obj({"mdns": obj({"state": STRING, "reason": nullable(STRING), "interfaces": array(STRING),
                                     "name": nullable(STRING)}, "state", "interfaces"),
                        "wsdiscovery": obj({"state": STRING, "reason": nullable(STRING), "last_probe": nullable(NUMBER),
                                            "found": INTEGER, "every": nullable(NUMBER), "listening": BOOLEAN,
                                            "listen_error": nullable(STRING)}, "state")},
                       "mdns", "wsdiscovery")),
    Route("GET", "/api/me", get_me, RESIDENT, "The current user", response=_ME),
    Route("PATCH", "/api/me", patch_me, RESIDENT, "Change own name, language or password",
          request=_ME_BODY, response=_ME, errors=(429,)),
    Route("GET", "/api/states", get_states, RESIDENT, "Every current state", response=array(STATE_SCHEMA)),
    Route("GET", "/api/states/{entity_id}", get_state, RESIDENT, "One current state", response=STATE_SCHEMA,
          errors=(404,)),
    Route("GET", "/api/history/{entity_id}", get_history, RESIDENT,
          "Recorded states of an entity, or min/mean/max per bucket with `points`", response=_HISTORY,
          query=(*_RANGE, Param("points", {"type": "integer", "minimum": 2, "maximum": MAX_POINTS},
                                "number of buckets; without it the raw states"))),
    Route("GET", "/api/events", get_events, RESIDENT, "Recorded events, newest first",
          response=obj({"start": NUMBER, "end": NUMBER, "events": array(ANY_OBJECT)}),
          query=(Param("event_type", {"type": "string", "pattern": SLUG_PATTERN}, "only events of this type"), *_RANGE,
                 Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS}, "default 100"))),
    Route("GET", "/api/services", get_services, RESIDENT, "Services with their fields and who may call them",
          response=ANY_OBJECT),
    Route("POST", "/api/services/{domain}/{service}", post_service, RESIDENT,
          "Call a service (residents: only services registered for residents)",
          request={"type": "object"}, response=obj({"context": _CONTEXT, "response": nullable(ANY_OBJECT)}, "context"),
          query=(Param("return_response", {"type": "string", "enum": ["0", "1", "true", "false"]},
                       "1 to get the service's response data"),),
          errors=(403, 404, 503)),
)  # fmt: skip

__all__ = ["ROUTES", "call_service", "parse_time"]
