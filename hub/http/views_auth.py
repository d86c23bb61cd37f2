"""Login, token refresh, logout and onboarding: the endpoints that answer without a bearer token.

A browser gets its refresh token in the `hub_refresh` cookie (HttpOnly, SameSite=Strict,
Path=/auth, Secure over HTTPS) and an access token in the body; an API client gets both in
the body. Every POST here insists on Content-Type application/json (see common.read_json).
"""

from __future__ import annotations

import asyncio
from typing import Any

import voluptuous as vol
from aiohttp import web

from ..auth import ROLE_ADMIN, AuthError, InvalidToken, LoginResult
from ..config.core_schema import language
from .common import (
    HUB_KEY,
    PUBLIC,
    ApiError,
    Route,
    error_response,
    from_auth_error,
    json_response,
    no_content,
    peer,
    validated_body,
)
from .openapi import BOOLEAN, INTEGER, LANGUAGE, NAME, STRING, nullable, obj, text

COOKIE = "hub_refresh"
COOKIE_PATH = "/auth"
COOKIE_MAX_AGE = 90 * 86400  # the session lifetime; the token itself is what expires
ONBOARDING_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("onboarding_lock")

_TEXT = vol.All(str, vol.Length(min=1, max=64))
_PASSWORD = vol.All(str, vol.Length(min=1, max=1024))  # bounds the work of hashing; auth sets the minimum
_CLIENT = vol.In(["api", "browser"])

LOGIN_SCHEMA = vol.Schema(
    {
        vol.Required("username"): _TEXT,
        vol.Required("password"): _PASSWORD,
        vol.Optional("client", default="api"): _CLIENT,
        vol.Optional("client_name"): _TEXT,
    }
)
TOKEN_SCHEMA = vol.Schema(
    {vol.Optional("grant_type"): vol.In(["refresh_token"]), vol.Optional("refresh_token"): vol.All(str, vol.Length(1, 256))}
)
LOGOUT_SCHEMA = vol.Schema({vol.Optional("refresh_token"): vol.All(str, vol.Length(1, 256))})
ONBOARDING_SCHEMA = vol.Schema(
    {
        vol.Required("name"): _TEXT,
        vol.Required("username"): _TEXT,
        vol.Required("password"): _PASSWORD,
        vol.Optional("language"): language,
        vol.Optional("client", default="browser"): _CLIENT,
    }
)

USER_SCHEMA = obj(
    {"id": STRING, "username": STRING, "name": STRING, "role": STRING, "language": nullable(STRING)}, extra=True
)
TOKEN_RESPONSE = obj(
    {"access_token": STRING, "token_type": STRING, "expires_in": INTEGER, "refresh_token": STRING, "user": USER_SCHEMA},
    "access_token", "token_type", "expires_in",
)


def setup(app: web.Application) -> None:
    """State these views keep in the app."""
    app[ONBOARDING_LOCK] = asyncio.Lock()


def public_user(user: Any) -> dict[str, Any]:
    """What a user may see of itself: id, username, name, role, language."""
    data = user.as_dict()
    return {key: data.get(key) for key in ("id", "username", "name", "role", "language")}


def _logged_in(request: web.Request, result: LoginResult, client: str) -> web.Response:
    body: dict[str, Any] = {
        "access_token": result.access_token,
        "token_type": "Bearer",
        "expires_in": result.expires_in,
        "user": public_user(result.user),
    }
    if client == "api":
        body["refresh_token"] = result.refresh_token
    response = json_response(body)
    if client == "browser":
        response.set_cookie(
            COOKIE, result.refresh_token, max_age=COOKIE_MAX_AGE, path=COOKIE_PATH,
            httponly=True, samesite="Strict", secure=request.secure,
        )  # fmt: skip
    return response


async def login(request: web.Request) -> web.Response:
    """Username and password -> access token (+ refresh token in the body or the cookie)."""
    data = await validated_body(request, LOGIN_SCHEMA, require_type=True)
    auth = request.app[HUB_KEY].auth
    try:
        result = await auth.login(
            data["username"], data["password"], address=peer(request),
            client_name=data.get("client_name", data["client"]),
        )  # fmt: skip
    except AuthError as err:
        raise from_auth_error(err) from None
    return _logged_in(request, result, data["client"])


async def token(request: web.Request) -> web.Response:
    """A new access token from a refresh token (in the body, else the browser's cookie)."""
    data = await validated_body(request, TOKEN_SCHEMA, require_type=True)
    from_cookie = "refresh_token" not in data
    refresh_token = data.get("refresh_token") or request.cookies.get(COOKIE)
    if not refresh_token:
        raise ApiError(401, "no refresh token; log in again")
    try:
        access_token, expires_in = await request.app[HUB_KEY].auth.refresh(refresh_token, address=peer(request))
    except InvalidToken as err:
        response = error_response(from_auth_error(err))
        if from_cookie:
            response.del_cookie(COOKIE, path=COOKIE_PATH)
        return response
    except AuthError as err:
        raise from_auth_error(err) from None
    return json_response({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in})


async def logout(request: web.Request) -> web.Response:
    """Revoke the refresh token (body or cookie) and forget the cookie; idempotent."""
    data = await validated_body(request, LOGOUT_SCHEMA, require_type=True)
    refresh_token = data.get("refresh_token") or request.cookies.get(COOKIE)
    if refresh_token:
        try:
            await request.app[HUB_KEY].auth.logout(refresh_token)
        except InvalidToken:
            pass  # already gone: the outcome the client asked for
        except AuthError as err:
            raise from_auth_error(err) from None
    response = no_content()
    response.del_cookie(COOKIE, path=COOKIE_PATH)
    return response


async def get_onboarding(request: web.Request) -> web.Response:
    """Whether the first administrator exists."""
    return json_response({"done": bool(request.app[HUB_KEY].auth.onboarded)})


async def post_onboarding(request: web.Request) -> web.Response:
    """Create the first administrator and log it in; 403 once any user exists."""
    data = await validated_body(request, ONBOARDING_SCHEMA, require_type=True)
    hub = request.app[HUB_KEY]
    auth = hub.auth
    async with request.app[ONBOARDING_LOCK]:  # two first-visitors racing must not both become admin
        if auth.onboarded:
            raise ApiError(403, "onboarding is done; log in instead")
        try:
            await auth.create_user(
                data["username"], data["name"], data["password"], ROLE_ADMIN,
                language=data.get("language") or hub.config.get("hub", {}).get("language"),
            )  # fmt: skip
            result = await auth.login(data["username"], data["password"], address=peer(request), client_name="onboarding")
        except AuthError as err:
            raise from_auth_error(err) from None
    return _logged_in(request, result, data["client"])


_CLIENT_DOC = {"type": "string", "enum": ["api", "browser"]}
USERNAME = text(32, 3, pattern=r"^[A-Za-z0-9._-]{3,32}$")  # hub.auth's rule (it lower-cases)
NEW_PASSWORD = text(1024, 10)  # hub.auth's policy (also: not the username)

ROUTES = (
    Route(
        "POST", "/auth/login", login, PUBLIC, "Log in with username and password",
        request=obj({"username": text(64), "password": text(1024), "client": _CLIENT_DOC, "client_name": text(64)},
                    "username", "password"),
        response=TOKEN_RESPONSE, errors=(401, 429),
    ),
    Route(
        "POST", "/auth/token", token, PUBLIC, "A new access token from a refresh token (body or cookie)",
        request=obj({"grant_type": {"type": "string", "enum": ["refresh_token"]}, "refresh_token": text(256)}),
        response=TOKEN_RESPONSE, errors=(401,),
    ),
    Route(
        "POST", "/auth/logout", logout, PUBLIC, "Revoke the refresh token (body or cookie)",
        request=obj({"refresh_token": text(256)}), response=None, status=204,
    ),
    Route(
        "GET", "/api/onboarding", get_onboarding, PUBLIC, "Whether the first administrator exists",
        response=obj({"done": BOOLEAN}, "done"),
    ),
    Route(
        "POST", "/api/onboarding", post_onboarding, PUBLIC, "Create the first administrator and log it in",
        request=obj({"name": NAME, "username": USERNAME, "password": NEW_PASSWORD, "language": LANGUAGE,
                     "client": _CLIENT_DOC}, "name", "username", "password"),
        response=TOKEN_RESPONSE, errors=(403, 409, 429),
    ),
)  # fmt: skip
