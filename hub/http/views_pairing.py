"""/api/discovered: the Discovered list, pairing, ignore and forget (docs/discovery.md, the contract)."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ..bus import Context
from ..pairing import PairingError, PairingManager, PairingUnavailable, UnknownDiscovered
from .common import (
    ADMIN,
    HUB_KEY,
    PRINCIPAL_KEY,
    RESIDENT,
    ApiError,
    Param,
    Route,
    json_response,
    no_content,
    validated_body,
)
from .openapi import ANY_OBJECT, BOOLEAN, NUMBER, STRING, array, nullable, obj, text
from .views_admin import id_param

_ANSWER = vol.All(str, vol.Length(max=1024))
PAIR_BODY = vol.Schema({vol.Required("answers"): vol.Schema({vol.All(str, vol.Length(min=1, max=64)): _ANSWER})})
UNREACHABLE = "unreachable"  # the error code of a 502: the device did not answer


def _manager(request: web.Request) -> PairingManager:
    manager: PairingManager | None = request.app[HUB_KEY].pairing
    if manager is None:
        raise ApiError(503, "pairing is not running")
    return manager


async def _row_id(request: web.Request, manager: PairingManager) -> str:
    item_id = id_param(request, "discovered_id")
    try:
        await manager.get(item_id)
    except UnknownDiscovered as err:
        raise ApiError(404, str(err)) from None
    return item_id


async def get_discovered(request: web.Request) -> web.Response:
    """The Discovered list (ignored rows with ?ignored=1)."""
    flag = request.query.get("ignored", "0")
    if flag not in ("0", "1"):
        raise ApiError(400, "ignored: 0 or 1", field="ignored")
    rows = await _manager(request).list(ignored=flag == "1")
    return json_response({"discovered": [row.as_api() for row in rows]})


async def pair_discovered(request: web.Request) -> web.Response:
    """Pair with the answers: 201 and the new config entry, or the field the device refused."""
    manager = _manager(request)
    item_id = await _row_id(request, manager)
    body = await validated_body(request, PAIR_BODY)
    principal = request[PRINCIPAL_KEY]
    try:
        result = await manager.pair(item_id, body["answers"], Context(user_id=principal.user.id, origin="api"))
    except UnknownDiscovered as err:  # forgotten while the device was being asked
        raise ApiError(404, str(err)) from None
    except PairingUnavailable as err:
        raise ApiError(503, str(err)) from None
    except PairingError as err:
        if err.field is not None:
            raise ApiError(400, err.message, field=err.field) from None
        unreachable = ApiError(502, err.message)
        unreachable.code = UNREACHABLE
        raise unreachable from None
    entry = result.entry
    body = {"entry_id": entry.entry_id, "title": entry.title, "state": entry.state.value, "reveal": dict(result.reveal)}
    return json_response(body, status=201)


async def ignore_discovered(request: web.Request) -> web.Response:
    """Hide a row; it stays hidden when the device is found again."""
    manager = _manager(request)
    try:
        await manager.ignore(await _row_id(request, manager))
    except UnknownDiscovered as err:
        raise ApiError(404, str(err)) from None
    return no_content()


async def forget_discovered(request: web.Request) -> web.Response:
    """Remove a row; the device is listed again when next found."""
    manager = _manager(request)
    try:
        await manager.forget(await _row_id(request, manager))
    except UnknownDiscovered as err:
        raise ApiError(404, str(err)) from None
    return no_content()


_ASK = obj({"key": STRING, "label": STRING, "secret": BOOLEAN, "default": nullable(STRING)}, "key", "label", "secret")
_ROW = obj(
    {"id": STRING, "domain": STRING, "unique_id": STRING, "title": STRING, "kind": STRING, "source": STRING,
     "host": nullable(STRING), "port": nullable({"type": "integer"}), "address": nullable(STRING),
     "first_seen": NUMBER, "last_seen": NUMBER, "ignored": BOOLEAN, "present": BOOLEAN, "asks": array(_ASK),
     "details": ANY_OBJECT},
    "id", "domain", "unique_id", "title", "kind", "source", "first_seen", "last_seen", "ignored", "asks",
)  # fmt: skip

ROUTES = (
    Route("GET", "/api/discovered", get_discovered, RESIDENT, "Devices found on the network, waiting to be paired",
          response=obj({"discovered": array(_ROW)}, "discovered"),
          query=(Param("ignored", {"type": "string", "enum": ["0", "1"]}, "1: the ignored ones too"),)),
    Route("POST", "/api/discovered/{discovered_id}/pair", pair_discovered, ADMIN,
          "Pair a discovered device with the answers its integration asks for",
          request=obj({"answers": {"type": "object", "additionalProperties": text(1024, 0)}}, "answers"),
          response=obj({"entry_id": STRING, "title": STRING, "state": STRING,
                        "reveal": {"type": "object", "additionalProperties": STRING}}, "entry_id", "title"),
          status=201,
          errors=(404, 502, 503)),
    Route("POST", "/api/discovered/{discovered_id}/ignore", ignore_discovered, ADMIN,
          "Hide a discovered device (it stays hidden when found again)", status=204, errors=(404,)),
    Route("DELETE", "/api/discovered/{discovered_id}", forget_discovered, ADMIN,
          "Forget a discovered device (listed again when found again)", status=204, errors=(404,)),
)  # fmt: skip

__all__ = ["ROUTES"]
