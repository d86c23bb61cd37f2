"""The OpenAPI 3.1 description, built from the same route table that registers the routes."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from .. import __version__
from .common import (
    ENTITY_ID_PATTERN,
    ID_PATTERN,
    PUBLIC,
    RESIDENT,
    SLUG_PATTERN,
    VIEWS_KEY,
    Route,
    json_response,
)

TABLE_KEY: web.AppKey[tuple[Route, ...]] = web.AppKey("route_table")

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
ANY_OBJECT: dict[str, Any] = {"type": "object"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def text(max_length: int = 64, min_length: int = 1, pattern: str | None = None) -> dict[str, Any]:
    """A JSON Schema string with length bounds (and a pattern)."""
    schema: dict[str, Any] = {"type": "string", "minLength": min_length, "maxLength": max_length}
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


NAME = text(64, pattern=r"\S")  # a display name: not only spaces
LANGUAGE = {"type": "string", "pattern": r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$"}
ENTITY_ID = {"type": "string", "pattern": ENTITY_ID_PATTERN}
PATH_PARAMS = {"entity_id": ENTITY_ID, "domain": {"type": "string", "pattern": SLUG_PATTERN},
               "service": {"type": "string", "pattern": SLUG_PATTERN}}  # fmt: skip
ID = {"type": "string", "pattern": ID_PATTERN}

_DESCRIPTIONS = {
    400: "invalid input; `field` names what is wrong",
    401: "no bearer token, or an invalid or expired one",
    403: "the token's role may not do this",
    404: "no such thing",
    409: "conflicts with the current state",
    413: "body larger than 64 KiB",
    415: "body is not application/json",
    429: "too many failed logins; see Retry-After",
    500: "internal error (see the log under X-Request-Id)",
    503: "not available now",
}


def obj(properties: dict[str, Any], *required: str, extra: bool = False) -> dict[str, Any]:
    """A JSON Schema object with these properties, `required` ones and no others unless `extra`."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema array of `items`."""
    return {"type": "array", "items": items}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (JSON Schema 2020-12 style, as OpenAPI 3.1 uses)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


ERROR_SCHEMA = obj(
    {"error": obj({"code": STRING, "message": STRING, "field": STRING}, "code", "message")}, "error"
)


def build_spec(routes: tuple[Route, ...]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes`."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Maderas Hub API",
            "version": __version__,
            "description": "REST API of the hub. `x-role` says which role an operation needs.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": _operation_id(route),
        "summary": route.summary,
        "x-role": route.role,
        "responses": _responses(route),
    }
    if route.role == PUBLIC:
        op["security"] = []
    params = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS.get(name, ID)}
        for name in re.findall(r"\{(\w+)\}", route.path)
    ]
    params += [
        {"name": p.name, "in": "query", "required": False, "schema": p.schema, "description": p.description}
        for p in route.query
    ]
    if params:
        op["parameters"] = params
    if route.request is not None:
        # A body whose fields are all optional may be left out (an empty PATCH changes nothing),
        # except on public routes, which always demand a JSON body (see common.read_json).
        needed = bool(route.request.get("required")) or route.role == PUBLIC
        op["requestBody"] = {"required": needed, "content": {"application/json": {"schema": route.request}}}
    op.update(route.extra)
    return op


def _responses(route: Route) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "done" if route.response is not None else "done, no content"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": route.response}}
    responses: dict[str, Any] = {str(route.status): ok}
    statuses = set(route.errors) | {500}
    if route.role != PUBLIC:
        statuses |= {401} if route.role == RESIDENT else {401, 403}
    if route.request is not None or route.query or "{" in route.path:
        statuses.add(400)
    if route.request is not None:
        statuses |= {413, 415}
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _DESCRIPTIONS.get(status, "error"),
            "content": {"application/json": {"schema": ERROR_REF}},
        }
    return responses


def _operation_id(route: Route) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", route.path.lower().replace("{", "by_")).strip("_")
    return f"{route.method.lower()}_{words or 'root'}"


async def get_openapi(request: web.Request) -> web.Response:
    """This API's OpenAPI description."""
    views = request.app.get(VIEWS_KEY)
    return json_response(build_spec((*request.app[TABLE_KEY], *(views.routes() if views is not None else ()))))


ROUTES = (
    Route("GET", "/api/openapi.json", get_openapi, RESIDENT, "This API's OpenAPI 3.1 description", response=ANY_OBJECT),
)
