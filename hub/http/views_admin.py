"""Registries, integrations, config entries, users and tokens: read by residents, changed by admins."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import voluptuous as vol
from aiohttp import web

from ..auth import ROLE_ADMIN, ROLE_RESIDENT, AuthError
from ..config.core_schema import language
from ..config_entries import ConfigEntryError
from ..registry import UNDEFINED, EntityIdInvalid, RegistryError, UnknownEntry
from .common import (
    ADMIN,
    HUB_KEY,
    ID_PATTERN,
    PRINCIPAL_KEY,
    RESIDENT,
    ApiError,
    Route,
    bad_request,
    from_auth_error,
    json_response,
    no_content,
    validated_body,
)
from .openapi import (
    BOOLEAN,
    ENTITY_ID,
    INTEGER,
    LANGUAGE,
    NAME,
    STRING,
    array,
    nullable,
    obj,
    text,
)
from .views_auth import NEW_PASSWORD, USERNAME
from .views_core import entity_id_param, slug_param

_ID = re.compile(ID_PATTERN)
_NAME = vol.All(str, vol.Length(min=1, max=64))
_ROLE = vol.In([ROLE_ADMIN, ROLE_RESIDENT])
_AREA = vol.Any(None, vol.All(str, vol.Length(max=64)))
_NULLABLE_NAME = vol.Any(None, vol.All(str, vol.Length(max=64)))

ENTITY_PATCH = vol.Schema(
    {vol.Optional("name"): _NULLABLE_NAME, vol.Optional("new_entity_id"): str,
     vol.Optional("disabled"): bool, vol.Optional("area"): _AREA}
)  # fmt: skip
DEVICE_PATCH = vol.Schema({vol.Optional("name"): _NULLABLE_NAME, vol.Optional("area"): _AREA, vol.Optional("disabled"): bool})
ENTRY_PATCH = vol.Schema({vol.Optional("disabled"): bool, vol.Optional("title"): vol.All(str, vol.Length(min=1, max=128))})
USER_CREATE = vol.Schema(
    {vol.Required("username"): _NAME, vol.Required("name"): _NAME, vol.Required("password"): vol.All(str, vol.Length(1, 1024)),
     vol.Required("role"): _ROLE, vol.Optional("language"): language}
)  # fmt: skip
USER_PATCH = vol.Schema(
    {vol.Optional("name"): _NAME, vol.Optional("role"): _ROLE, vol.Optional("active"): bool,
     vol.Optional("password"): vol.All(str, vol.Length(1, 1024)), vol.Optional("language"): language}
)  # fmt: skip
TOKEN_CREATE = vol.Schema(
    {vol.Required("name"): _NAME, vol.Required("role"): _ROLE,
     vol.Optional("lifespan_days", default=365): vol.All(int, vol.Range(min=1, max=3650))}
)  # fmt: skip


def id_param(request: web.Request, name: str) -> str:
    """An opaque id from the path (letters, digits, '-' and '_'); 400 names it otherwise."""
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise bad_request(f"{name}: malformed id", name)
    return value


def _hub(request: web.Request) -> Any:
    return request.app[HUB_KEY]


# -- entities and devices ------------------------------------------------------------------


def entity_dict(entry: Any) -> dict[str, Any]:
    """A registry entry as JSON."""
    return {**dataclasses.asdict(entry), "disabled": entry.disabled}


def device_dict(entry: Any) -> dict[str, Any]:
    """A device entry as JSON (identifier and connection pairs as sorted lists)."""
    data = dataclasses.asdict(entry)
    data["identifiers"] = sorted([list(p) for p in entry.identifiers])
    data["connections"] = sorted([list(p) for p in entry.connections])
    data["display_name"] = entry.display_name
    return data


async def get_entities(request: web.Request) -> web.Response:
    """Every entity registry entry."""
    return json_response([entity_dict(e) for e in _hub(request).entities.all()])


async def patch_entity(request: web.Request) -> web.Response:
    """Rename, re-id, disable or move an entity to an area."""
    entity_id = entity_id_param(request)
    data = await validated_body(request, ENTITY_PATCH)
    registry = _hub(request).entities
    if registry.get(entity_id) is None:
        raise ApiError(404, f"entity {entity_id} is not in the entity registry")
    new_id = data.get("new_entity_id", UNDEFINED)
    if new_id not in (UNDEFINED, entity_id) and registry.get(new_id) is not None:
        raise ApiError(409, f"new_entity_id: {new_id} is taken", field="new_entity_id")
    disabled = data.get("disabled", UNDEFINED)
    try:
        entry = await registry.async_update(
            entity_id, name=data.get("name", UNDEFINED), new_entity_id=new_id, area=data.get("area", UNDEFINED),
            disabled_by=UNDEFINED if disabled is UNDEFINED else ("user" if disabled else None),
        )  # fmt: skip
    except EntityIdInvalid as err:
        raise bad_request(f"new_entity_id: {err}", "new_entity_id") from None
    except UnknownEntry as err:
        raise ApiError(404, str(err)) from None
    return json_response(entity_dict(entry))


async def get_devices(request: web.Request) -> web.Response:
    """Every device registry entry."""
    return json_response([device_dict(d) for d in _hub(request).devices.all()])


async def patch_device(request: web.Request) -> web.Response:
    """Rename, move or disable a device."""
    device_id = id_param(request, "device_id")
    data = await validated_body(request, DEVICE_PATCH)
    disabled = data.get("disabled", UNDEFINED)
    try:
        entry = await _hub(request).devices.async_update(
            device_id, name_by_user=data.get("name", UNDEFINED), area=data.get("area", UNDEFINED),
            disabled_by=UNDEFINED if disabled is UNDEFINED else ("user" if disabled else None),
        )  # fmt: skip
    except UnknownEntry as err:
        raise ApiError(404, str(err)) from None
    except RegistryError as err:
        raise bad_request(str(err)) from None
    return json_response(device_dict(entry))


# -- integrations and config entries ---------------------------------------------------------


def _integration_dict(hub: Any, status: Any) -> dict[str, Any]:
    known = hub.integrations.integrations.get(status.domain)
    return {
        "domain": status.domain, "name": known.name if known else status.domain, "version": status.version,
        "state": status.state.value, "error": status.error, "attempts": status.attempts,
        "next_retry": status.next_retry, "source": status.source,
    }  # fmt: skip


def _known_domain(request: web.Request) -> str:
    domain = slug_param(request, "domain")
    if domain not in {s.domain for s in _hub(request).integrations.statuses()}:
        raise ApiError(404, f"integration {domain} not found")
    return domain


async def get_integrations(request: web.Request) -> web.Response:
    """Status of every integration."""
    hub = _hub(request)
    return json_response([_integration_dict(hub, s) for s in hub.integrations.statuses()])


def _require_state(request: web.Request, allowed: tuple[str, ...], action: str) -> str:
    """The domain, if its integration is in one of the `allowed` states (else 409 saying why)."""
    domain = _known_domain(request)
    state = _hub(request).integrations.status(domain).state.value
    if state not in allowed:
        raise ApiError(409, f"integration {domain} is {state.replace('_', ' ')}; only {' or '.join(allowed)} ones can be {action}")
    return domain


async def retry_integration(request: web.Request) -> web.Response:
    """Try a failed or retrying integration again now."""
    hub, domain = _hub(request), _require_state(request, ("failed", "retrying"), "retried")
    return json_response(_integration_dict(hub, await hub.integrations.retry_now(domain)))


async def reload_integration(request: web.Request) -> web.Response:
    """Unload and set up a loaded (or failed) integration and its dependents again."""
    hub, domain = _hub(request), _require_state(request, ("loaded", "failed", "retrying"), "reloaded")
    return json_response(_integration_dict(hub, await hub.integrations.reload(domain)))


def entry_dict(entry: Any) -> dict[str, Any]:
    """A config entry without its data and options, which may hold passwords and keys."""
    data = entry.as_dict()
    data.pop("data", None)
    data.pop("options", None)
    return data


def _entry(request: web.Request) -> Any:
    try:
        return _hub(request).config_entries.get(id_param(request, "entry_id"))
    except ConfigEntryError as err:
        raise ApiError(404, str(err)) from None


async def get_config_entries(request: web.Request) -> web.Response:
    """Every config entry with its state and error."""
    return json_response([entry_dict(e) for e in _hub(request).config_entries.entries()])


async def reload_config_entry(request: web.Request) -> web.Response:
    """Unload and set up a config entry again."""
    entry = _entry(request)
    return json_response(entry_dict(await _hub(request).config_entries.reload_entry(entry.entry_id)))


async def patch_config_entry(request: web.Request) -> web.Response:
    """Disable, enable or retitle a config entry."""
    entry = _entry(request)
    data = await validated_body(request, ENTRY_PATCH)
    entries = _hub(request).config_entries
    if "title" in data:
        entry = await entries.update(entry.entry_id, title=data["title"])
    if "disabled" in data:
        entry = await entries.set_disabled(entry.entry_id, data["disabled"])
    return json_response(entry_dict(entry))


async def delete_config_entry(request: web.Request) -> web.Response:
    """Remove a config entry with its devices and entities."""
    entry = _entry(request)
    hub = _hub(request)
    await hub.config_entries.remove(entry.entry_id)
    for device in [d for d in hub.devices.all() if d.config_entry_id == entry.entry_id]:
        await hub.devices.async_remove(device.id)  # takes the device's entities along
    for item in hub.entities.entries_for_config_entry(entry.entry_id):
        await hub.entities.async_remove(item.entity_id)
    return no_content()


# -- users and tokens ------------------------------------------------------------------------


def _user(request: web.Request) -> Any:
    user = _hub(request).auth.get_user(id_param(request, "user_id"))
    if user is None:
        raise ApiError(404, "user not found")
    return user


async def get_users(request: web.Request) -> web.Response:
    """Every user."""
    return json_response([u.as_dict() for u in _hub(request).auth.users()])


async def post_user(request: web.Request) -> web.Response:
    """Create a user."""
    data = await validated_body(request, USER_CREATE)
    try:
        user = await _hub(request).auth.create_user(
            data["username"], data["name"], data["password"], data["role"], language=data.get("language")
        )
    except AuthError as err:
        raise from_auth_error(err) from None
    return json_response(user.as_dict(), status=201)


async def patch_user(request: web.Request) -> web.Response:
    """Change a user's name, role, active flag, password or language."""
    user = _user(request)
    data = await validated_body(request, USER_PATCH)
    try:
        user = await _hub(request).auth.update_user(user.id, **data)
    except AuthError as err:
        raise from_auth_error(err) from None
    return json_response(user.as_dict())


async def delete_user(request: web.Request) -> web.Response:
    """Remove a user (never the last administrator, never yourself)."""
    user = _user(request)
    try:
        await _hub(request).auth.remove_user(user.id, acting_user_id=request[PRINCIPAL_KEY].user.id)
    except AuthError as err:
        raise from_auth_error(err) from None
    return no_content()


async def get_tokens(request: web.Request) -> web.Response:
    """Long-lived tokens and sessions (never their secrets)."""
    return json_response([t.as_dict() for t in _hub(request).auth.tokens()])


async def post_token(request: web.Request) -> web.Response:
    """Create a long-lived token; its secret is in this answer and nowhere else, ever."""
    data = await validated_body(request, TOKEN_CREATE)
    try:
        info, secret = await _hub(request).auth.create_long_lived_token(
            request[PRINCIPAL_KEY].user, data["name"], data["role"], data["lifespan_days"]
        )
    except AuthError as err:
        raise from_auth_error(err) from None
    return json_response({**info.as_dict(), "token": secret}, status=201)


async def delete_token(request: web.Request) -> web.Response:
    """Revoke a long-lived token or a session; its websockets close."""
    try:
        await _hub(request).auth.revoke(id_param(request, "token_id"))
    except AuthError as err:
        raise from_auth_error(err) from None
    return no_content()


_ENTITY = obj({"entity_id": STRING, "unique_id": STRING, "platform": STRING, "domain": STRING,
               "name": nullable(STRING), "disabled": BOOLEAN, "area": nullable(STRING)}, extra=True)
_DEVICE = obj({"id": STRING, "name": nullable(STRING), "display_name": nullable(STRING), "area": nullable(STRING),
               "identifiers": array(array(STRING)), "connections": array(array(STRING))}, extra=True)
_INTEGRATION = obj({"domain": STRING, "name": STRING, "version": nullable(STRING), "state": STRING,
                    "error": nullable(STRING), "attempts": INTEGER, "next_retry": nullable({"type": "number"}),
                    "source": nullable(STRING)})
_ENTRY = obj({"entry_id": STRING, "domain": STRING, "title": STRING, "state": STRING, "error": nullable(STRING),
              "disabled": BOOLEAN}, extra=True)
_USER = obj({"id": STRING, "username": STRING, "name": STRING, "role": STRING}, extra=True)
_TOKEN = obj({"id": STRING, "name": STRING, "role": nullable(STRING)}, extra=True)  # a session's is null
_USER_FIELDS = {"username": USERNAME, "name": NAME, "password": NEW_PASSWORD,
                "role": {"enum": [ROLE_ADMIN, ROLE_RESIDENT]}, "language": LANGUAGE}

ROUTES = (
    Route("GET", "/api/entities", get_entities, RESIDENT, "Entity registry entries", response=array(_ENTITY)),
    Route("PATCH", "/api/entities/{entity_id}", patch_entity, ADMIN, "Rename, re-id, disable or move an entity",
          request=obj({"name": nullable(text(64, 0)), "new_entity_id": ENTITY_ID, "disabled": BOOLEAN,
                       "area": nullable(text(64, 0))}), response=_ENTITY, errors=(404, 409)),
    Route("GET", "/api/devices", get_devices, RESIDENT, "Device registry entries", response=array(_DEVICE)),
    Route("PATCH", "/api/devices/{device_id}", patch_device, ADMIN, "Rename, move or disable a device",
          request=obj({"name": nullable(text(64, 0)), "area": nullable(text(64, 0)), "disabled": BOOLEAN}),
          response=_DEVICE, errors=(404,)),
    Route("GET", "/api/integrations", get_integrations, RESIDENT, "Integration statuses",
          response=array(_INTEGRATION)),
    Route("POST", "/api/integrations/{domain}/retry", retry_integration, ADMIN, "Retry a failed integration now",
          response=_INTEGRATION, errors=(404, 409)),
    Route("POST", "/api/integrations/{domain}/reload", reload_integration, ADMIN, "Reload an integration",
          response=_INTEGRATION, errors=(404, 409)),
    Route("GET", "/api/config_entries", get_config_entries, RESIDENT, "Config entries (data left out)",
          response=array(_ENTRY)),
    Route("POST", "/api/config_entries/{entry_id}/reload", reload_config_entry, ADMIN, "Reload a config entry",
          response=_ENTRY, errors=(404,)),
    Route("PATCH", "/api/config_entries/{entry_id}", patch_config_entry, ADMIN, "Disable, enable or retitle an entry",
          request=obj({"disabled": BOOLEAN, "title": text(128)}), response=_ENTRY, errors=(404,)),
    Route("DELETE", "/api/config_entries/{entry_id}", delete_config_entry, ADMIN,
          "Remove a config entry, its devices and entities", status=204, errors=(404,)),
    Route("GET", "/api/users", get_users, ADMIN, "Users", response=array(_USER)),
    Route("POST", "/api/users", post_user, ADMIN, "Create a user",
          request=obj(_USER_FIELDS, "username", "name", "password", "role"), response=_USER, status=201,
          errors=(409,)),
    Route("PATCH", "/api/users/{user_id}", patch_user, ADMIN, "Change a user (not the last admin's role or active)",
          request=obj({k: v for k, v in _USER_FIELDS.items() if k != "username"} | {"active": BOOLEAN}),
          response=_USER, errors=(404, 409)),
    Route("DELETE", "/api/users/{user_id}", delete_user, ADMIN, "Remove a user (not the last admin, not yourself)",
          status=204, errors=(404, 409)),
    Route("GET", "/api/tokens", get_tokens, ADMIN, "Long-lived tokens and sessions", response=array(_TOKEN)),
    Route("POST", "/api/tokens", post_token, ADMIN, "Create a long-lived token (shown once)",
          request=obj({"name": NAME, "role": {"enum": [ROLE_ADMIN, ROLE_RESIDENT]},
                       "lifespan_days": {"type": "integer", "minimum": 1, "maximum": 3650}}, "name", "role"),
          response={**_TOKEN, "properties": {**_TOKEN["properties"], "token": STRING}}, status=201),
    Route("DELETE", "/api/tokens/{token_id}", delete_token, ADMIN, "Revoke a long-lived token or a session",
          status=204, errors=(404,)),
)  # fmt: skip

__all__ = ["ROUTES"]
