"""The aiohttp application: factory, middlewares (errors, authentication, headers) and the server.

Middlewares, outermost first: `_errors` gives every request an id and turns every failure into
the JSON error of docs/http.md; `_authenticate` demands a bearer token on /api (except the
public routes) and checks the route's role. `_headers` (on_response_prepare) puts the security
headers on every response, including static files, websocket handshakes and errors.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_urldispatcher import AbstractRoute

from . import openapi, static, views_admin, views_auth, views_automation, views_core, views_pairing, websocket
from .common import (
    ADMIN,
    HUB_KEY,
    MAX_BODY,
    PRINCIPAL_KEY,
    PUBLIC,
    REQUEST_ID_KEY,
    RESIDENT,
    VIEWS_KEY,
    ApiError,
    Handler,
    Route,
    error_response,
)

if TYPE_CHECKING:
    from ..runtime import Hub

_LOGGER = logging.getLogger(__name__)
_ACCESS_LOGGER = logging.getLogger("hub.http.access")

ROUTES_KEY: web.AppKey[dict[AbstractRoute, Route]] = web.AppKey("routes")
VIEW_ROUTE_KEY: web.RequestKey[Route] = web.RequestKey("view_route")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STOP_TIMEOUT = 2.0  # seconds for closing websockets and in-flight requests on stop


def route_table() -> tuple[Route, ...]:
    """Every /api and /auth endpoint: the one table that registers routes and builds OpenAPI."""
    return (
        *views_auth.ROUTES,
        *views_core.ROUTES,
        *views_admin.ROUTES,
        *views_automation.ROUTES,
        *views_pairing.ROUTES,
        *websocket.ROUTES,
        *openapi.ROUTES,
    )


def create_app(
    hub: Hub,
    *,
    web_root: Path | None = None,
    ws_queue_size: int = websocket.DEFAULT_QUEUE_SIZE,
    ws_auth_timeout: float = websocket.AUTH_TIMEOUT,
    ws_close_timeout: float = websocket.CLOSE_TIMEOUT,
) -> web.Application:
    """Build the application for `hub`; tests pass a small queue, short timeouts, a web root."""
    app = web.Application(middlewares=[_errors, _authenticate], client_max_size=MAX_BODY)
    app[HUB_KEY] = hub
    table = route_table()
    app[openapi.TABLE_KEY] = table
    routes: dict[AbstractRoute, Route] = {}
    for route in table:
        routes[app.router.add_route(route.method, route.path, route.handler)] = route
    app[ROUTES_KEY] = routes
    # After every core route: what integrations register while the hub runs (hub/http/views.py).
    app[VIEWS_KEY] = hub.views
    app.router.add_route("*", "/api/{tail:.+}", _dispatch_view)
    views_auth.setup(app)
    static.setup(app, web_root if web_root is not None else static.WEB_ROOT)
    websocket.setup(app, queue_size=ws_queue_size, auth_timeout=ws_auth_timeout, close_timeout=ws_close_timeout)
    app.on_response_prepare.append(_headers)
    return app


def _api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, body limit, and every failure as JSON; a traceback only ever reaches the log."""
    request[REQUEST_ID_KEY] = request_id = secrets.token_hex(8)
    try:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise ApiError(413, f"request body larger than {MAX_BODY // 1024} KiB")
        return await handler(request)
    except ApiError as err:
        return error_response(err)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return error_response(_from_http_exception(err))
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - the one place that turns any bug into a 500
        _LOGGER.exception("%s %s failed (request id %s)", request.method, request.path, request_id)
        return error_response(ApiError(500, "internal error"))


def _from_http_exception(err: web.HTTPException) -> ApiError:
    keep = {k: v for k, v in err.headers.items() if k in ("Allow", "Retry-After")}
    if err.status == 404:
        return ApiError(404, "not found", headers=keep)
    if err.status == 405:
        return ApiError(405, "method not allowed", headers=keep)
    if err.status == 413:
        return ApiError(413, f"request body larger than {MAX_BODY // 1024} KiB")
    return ApiError(err.status, err.reason or "error", headers=keep)


async def _dispatch_view(request: web.Request) -> web.StreamResponse:
    """The catch-all: serve a route an integration registered, else 404 / 405 like aiohttp would."""
    route = request.get(VIEW_ROUTE_KEY)
    if route is None:
        _, _, allowed = request.app[VIEWS_KEY].match(request.method, request.path)
        allowed |= await _core_methods(request)
        if allowed:
            raise ApiError(405, "method not allowed", headers={"Allow": ",".join(sorted(allowed))})
        raise ApiError(404, "not found")
    return await route.handler(request)


async def _core_methods(request: web.Request) -> set[str]:
    """Methods the core routes allow on this path (the catch-all also receives their wrong methods)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        match, methods = await resource.resolve(request)
        if match is None and "*" not in methods:
            allowed |= methods
    return allowed


def _route_of(request: web.Request) -> Route | None:
    """The Route behind this request: a core one, or one an integration registered."""
    route = request.app[ROUTES_KEY].get(request.match_info.route)
    if route is not None or request.match_info.route.handler is not _dispatch_view:
        return route
    view, params, _ = request.app[VIEWS_KEY].match(request.method, request.path)
    if view is not None:
        request[VIEW_ROUTE_KEY] = view
        # The handler reads its placeholders from match_info like a core handler does.
        request.match_info.update(params)
    return view


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer token on /api (public routes excepted) and the route's role; 401 / 403 otherwise."""
    route = _route_of(request)
    if (route is not None and route.role == PUBLIC) or not _api_path(request.path):
        return await handler(request)
    auth = request.app[HUB_KEY].auth
    if auth is None:
        raise ApiError(503, "authentication is not available")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    principal = auth.validate_access_token(token.strip())
    if principal is None:
        raise ApiError(
            401, "invalid or expired access token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if principal.role not in (ADMIN, RESIDENT) or (route is not None and route.role == ADMIN and principal.role != ADMIN):
        raise ApiError(403, "this needs the administrator role")
    request[PRINCIPAL_KEY] = principal
    return await handler(request)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response; no caching of API answers; the request id."""
    response.headers.update(SECURITY_HEADERS)
    path = request.path
    if _api_path(path) or path == "/auth" or path.startswith("/auth/"):
        response.headers["Cache-Control"] = "no-store"
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        response.headers["X-Request-Id"] = request_id


class AccessLogger(AbstractAccessLogger):
    """Access log without headers or query strings (either may carry a token); debug level."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """One line per request: address, method, path, status, size, duration, request id."""
        self.logger.debug(
            '%s "%s %s" %d %d %.1f ms id=%s',
            request.remote, request.method, request.path, response.status,
            response.body_length, time * 1000, request.get(REQUEST_ID_KEY, "-"),
        )  # fmt: skip

    @property
    def enabled(self) -> bool:
        """Only format lines someone will read."""
        return self.logger.isEnabledFor(logging.DEBUG)


class _RedactMalformedRequests(logging.Filter):
    """aiohttp logs a malformed request with its raw bytes, which may hold a token: keep one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite aiohttp's record of a request it could not parse; pass everything else."""
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "Refused a malformed HTTP request (%s, %s)", (error.code, type(error).__name__)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_REDACT = _RedactMalformedRequests()


class HttpServer:
    """Serves the API, the websocket and the dashboard on one address; started last, stopped first."""

    def __init__(self, hub: Hub, *, host: str, port: int, web_root: Path | None = None, **app_options: Any) -> None:
        self._hub = hub
        self.host = host
        self.port = port
        self._web_root = web_root
        self._app_options = app_options
        self.app: web.Application | None = None
        self.error: str | None = None  # why the server is not listening, if it is not
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where the dashboard is, e.g. http://127.0.0.1:8123."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._runner is not None

    async def start(self) -> None:
        """Listen on host:port (0 picks a free port; `.port` tells which).

        A port already in use is logged and leaves the hub running without its dashboard:
        alarms, history and integrations must not stop because another program took the port.
        """
        logging.getLogger("aiohttp.server").addFilter(_REDACT)  # idempotent; shared by every server
        self.app = create_app(self._hub, web_root=self._web_root, **self._app_options)
        runner = web.AppRunner(
            self.app, access_log_class=AccessLogger, access_log=_ACCESS_LOGGER,
            handle_signals=False, shutdown_timeout=STOP_TIMEOUT / 2,
        )  # fmt: skip
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as err:
            self.error = f"cannot listen on {self.url}: {err.strerror or err}"
            _LOGGER.error("HTTP server: %s; the dashboard and API are not available", self.error)
            await runner.cleanup()
            return
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        _LOGGER.info("HTTP server listening on %s", self.url)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close websockets with 1001 "hub stopping", then stop listening; bounded by `timeout`."""
        runner, self._runner = self._runner, None
        if runner is None or self.app is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await websocket.close_all(self.app, code=1001, message="hub stopping", timeout=timeout / 2)
                await runner.cleanup()
        except TimeoutError:
            _LOGGER.error("HTTP server did not stop within %.1f s", timeout)


__all__ = ["SECURITY_HEADERS", "AccessLogger", "HttpServer", "create_app", "route_table"]
