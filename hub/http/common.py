"""What every HTTP module shares: typed keys, the route-table entry, API errors and JSON helpers.

ApiError (one per failed request; rendered as {"error": {"code", "message", "field"?}})
 carries the HTTP status, the code from docs/http.md, an optional field and extra headers.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol
from aiohttp import web

from ..auth import ROLE_ADMIN, ROLE_RESIDENT, AuthError, LoginThrottled

if TYPE_CHECKING:
    from ..runtime import Hub
    from .views import ViewRegistry

MAX_BODY = 64 * 1024  # bytes; larger bodies get 413 (docs/http.md)

PUBLIC = "public"  # the role of routes that answer without a bearer token
ADMIN = ROLE_ADMIN
RESIDENT = ROLE_RESIDENT

# Path and query parameters; the OpenAPI document states the same patterns (ECMA-262 syntax).
SLUG_PATTERN = r"^[a-z0-9_]{1,64}$"  # a domain, service or event type
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # an opaque id: device, config entry, user, token
ENTITY_ID_PATTERN = r"^[a-z0-9]+(_[a-z0-9]+)*\.[a-z0-9]+(_[a-z0-9]+)*$"  # what states.valid_entity_id accepts

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
PRINCIPAL_KEY: web.RequestKey[Any] = web.RequestKey("principal")
REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("request_id")
VIEWS_KEY: web.AppKey[ViewRegistry] = web.AppKey("views")  # routes integrations register (views.py)

STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}
CODE_STATUS: dict[str, int] = {code: status for status, code in STATUS_CODES.items()}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request that fails with a status, an error code and a message meant for the client."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = STATUS_CODES.get(status, "bad_request" if status < 500 else "internal")
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


def from_auth_error(err: AuthError) -> ApiError:
    """An auth failure as the API error with the same code (and Retry-After when throttled)."""
    headers = {}
    if isinstance(err, LoginThrottled):
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    return ApiError(CODE_STATUS.get(err.code, 400), err.message, field=getattr(err, "field", None), headers=headers)


def error_response(err: ApiError) -> web.Response:
    """The JSON response of an error, with its headers."""
    response = json_response(err.body(), status=err.status)
    response.headers.update(err.headers)
    return response


def bad_request(message: str, field: str | None = None) -> ApiError:
    """A 400 that names the offending field."""
    return ApiError(400, message, field=field)


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter, for validation and for the OpenAPI document."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: registers the aiohttp route and describes it in the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    role: str  # PUBLIC, RESIDENT or ADMIN
    summary: str
    request: dict[str, Any] | None = None  # JSON Schema of the body
    response: dict[str, Any] | None = None  # JSON Schema of the 200 body (None: 204, no body)
    query: tuple[Param, ...] = ()
    status: int = 200
    errors: tuple[int, ...] = ()  # error statuses beyond those every route may give
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the OpenAPI operation


def peer(request: web.Request) -> str:
    """The client's address as the socket says (no proxy header is trusted to say otherwise)."""
    return request.remote or "unknown"


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(data, default=_default), status=status, content_type="application/json")


def raw_json_response(body: bytes, status: int = 200) -> web.Response:
    """A response whose body is already JSON bytes (states joined from their cached JSON)."""
    return web.Response(body=body, status=status, content_type="application/json")


def no_content() -> web.Response:
    """204: done, nothing to say."""
    return web.Response(status=204)


def _default(value: Any) -> Any:
    """orjson fallback: states and contexts by their dict form, sets as lists, the rest as text."""
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(data: Any) -> bytes:
    """orjson with the API's fallback for hub objects."""
    return orjson.dumps(data, default=_default)


async def read_json(request: web.Request, *, require_type: bool = False) -> Any:
    """The request body as JSON; an empty body is {} unless `require_type`.

    `require_type` (the /auth endpoints and onboarding, which answer without a bearer token)
    insists on Content-Type application/json even for an empty body: a page on another origin
    can send a plain form POST, but not a JSON one, without a CORS preflight we never grant.
    """
    is_json = request.content_type == "application/json"
    if require_type and not is_json:
        raise ApiError(415, "Content-Type must be application/json")
    raw = await request.read()  # raises 413 past client_max_size
    if not raw.strip():
        return {}
    if not is_json:
        raise ApiError(415, "Content-Type must be application/json")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("body is not valid JSON") from None


async def validated_body(request: web.Request, schema: vol.Schema, *, require_type: bool = False) -> dict[str, Any]:
    """The JSON body checked against a voluptuous schema; 400 names the first wrong field."""
    data = await read_json(request, require_type=require_type)
    if not isinstance(data, dict):
        raise bad_request("body must be a JSON object")
    return validate(schema, data)


def validate(schema: vol.Schema, data: Any) -> Any:
    """Run `schema`; a failure becomes a 400 naming the field."""
    try:
        return schema(data)
    except vol.Invalid as err:
        raise invalid_to_error(err) from None


def invalid_to_error(err: vol.Invalid) -> ApiError:
    """The first voluptuous error as a 400 with `field`."""
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    path = ".".join(str(p) for p in first.path) or None
    message = first.error_message or str(first)
    if message == "extra keys not allowed":
        message = "unknown field"
    elif message == "required key not provided":
        message = "required"
    return bad_request(f"{path}: {message}" if path else message, path)
