"""The vocabulary of `hub.auth`: roles, errors, users, tokens, principals and input checks.

AuthError (HubError)      `.code` names the HTTP error; `.message` is safe to show
 +-- InvalidCredentials   unauthorized: one message for an unknown user, a wrong password, an inactive user
 +-- LoginThrottled       too_many_requests, with `.retry_after` seconds
 +-- InvalidToken         unauthorized: unknown, expired or revoked token, or inactive user
 +-- UserError            bad_request (with `.field`), conflict (last admin, taken username),
                          forbidden (role above the creator's), not_found
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass
from typing import Any

from ..errors import HubError
from . import passwords

ROLE_ADMIN = "admin"
ROLE_RESIDENT = "resident"
ROLES = (ROLE_ADMIN, ROLE_RESIDENT)
_RANK = {ROLE_ADMIN: 2, ROLE_RESIDENT: 1}
KIND_SESSION = "session"
KIND_LONG_LIVED = "long_lived"

_USERNAME = re.compile(r"[a-z0-9._-]{3,32}")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")
_MAX_NAME = 64
MAX_LIFESPAN_DAYS = 3650


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET  # "leave unchanged", where None is a meaningful value (language)


class AuthError(HubError):
    """Base of authentication and user-management errors."""

    code = "unauthorized"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.field = field


class InvalidCredentials(AuthError):
    """Wrong username or password (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("invalid username or password")


class LoginThrottled(AuthError):
    """Too many failed logins from this address or for this username."""

    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class InvalidToken(AuthError):
    """A refresh or access token that is unknown, expired, revoked or of an inactive user."""

    def __init__(self) -> None:
        super().__init__("invalid or expired token")


class UserError(AuthError):
    """A user or token request that cannot be honoured as asked."""

    code = "bad_request"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an access token speaks for, with the role it may act with now."""

    user: User
    role: str
    token_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A new session: the user, a first access token and the refresh token (shown once)."""

    user: User
    access_token: str = dataclasses.field(repr=False)
    expires_in: int
    refresh_token: str = dataclasses.field(repr=False)
    token_id: str


def check_username(value: object) -> str:
    """The username lower-cased, or UserError(field="username")."""
    username = value.lower() if isinstance(value, str) else ""
    if _USERNAME.fullmatch(username) is None:
        raise UserError("username must be 3-32 characters of a-z, 0-9, '.', '_' and '-'", field="username")
    return username


def check_name(value: object, field: str = "name") -> str:
    """The display name stripped, or UserError naming `field`."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > _MAX_NAME or not text.isprintable():
        raise UserError(f"{field} must be 1-{_MAX_NAME} printable characters", field=field)
    return text


def check_role(value: object) -> str:
    """`value` if it is a role, or UserError(field="role")."""
    if value not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}", field="role")
    return str(value)


def check_language(value: object) -> str | None:
    """None or a language tag, or UserError(field="language")."""
    if value is not None and not (isinstance(value, str) and _LANGUAGE.fullmatch(value)):
        raise UserError("language must be a language tag such as 'en' or 'es-MX'", field="language")
    return value


def check_password(password: object, username: str) -> str:
    """`password` if the policy accepts it for `username`, or UserError(field="password")."""
    problem = passwords.password_problem(password, username)
    if problem is not None or not isinstance(password, str):
        raise UserError(problem or "password must be text", field="password")
    return password


def check_lifespan(value: object) -> int:
    """A long-lived token's lifespan in whole days (1 to 3650), or UserError(field="lifespan_days")."""
    if type(value) is not int or not 1 <= value <= MAX_LIFESPAN_DAYS:
        raise UserError(f"lifespan_days must be a whole number from 1 to {MAX_LIFESPAN_DAYS}", field="lifespan_days")
    return value


def user_changes(*, name: object, role: object, active: object, language: object) -> dict[str, Any]:
    """The checked fields of a user update that are not UNSET."""
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = check_name(name)
    if role is not UNSET:
        changes["role"] = check_role(role)
    if active is not UNSET:
        if not isinstance(active, bool):
            raise UserError("active must be true or false", field="active")
        changes["active"] = active
    if language is not UNSET:
        changes["language"] = check_language(language)
    return changes


@dataclass(frozen=True, slots=True)
class User:
    """A person who may log in; never carries the password hash."""

    id: str
    username: str
    name: str
    role: str
    active: bool
    language: str | None
    created: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view for the API."""
        return {
            "id": self.id, "username": self.username, "name": self.name, "role": self.role,
            "active": self.active, "language": self.language, "created": self.created,
        }


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A session or long-lived token as administrators see it; never its secret or key.

    `role` is None for sessions (they act with their user's current role).
    """

    id: str
    user_id: str
    kind: str
    name: str
    role: str | None
    created: float
    expires: float
    last_used: float | None
    last_used_address: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view for the API."""
        return {
            "id": self.id, "user_id": self.user_id, "kind": self.kind, "name": self.name, "role": self.role,
            "created": self.created, "expires": self.expires, "last_used": self.last_used,
            "last_used_address": self.last_used_address,
        }
