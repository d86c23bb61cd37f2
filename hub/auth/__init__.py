"""Users, sessions and API tokens: `AuthManager` is the one object the HTTP layer and the CLI use.

Names, errors and records live in `hub.auth.models` and are re-exported here; the error tree is
documented there. Password hashing runs in an executor, never on the loop; token validation is
in memory and synchronous.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..bus import new_id
from ..clock import Clock
from ..storage import Database
from . import passwords, tokens as tokens_
from .models import (
    _RANK, KIND_LONG_LIVED, KIND_SESSION, MAX_LIFESPAN_DAYS, ROLE_ADMIN, ROLE_RESIDENT, ROLES, UNSET, AuthError,
    InvalidCredentials, InvalidToken, LoginResult, LoginThrottled, Principal, TokenInfo, User, UserError, _Unset,
    check_language, check_lifespan, check_name, check_password, check_role, check_username, user_changes,
)
from .store import AuthStore, StoredToken, StoredUser
from .throttle import IPNetwork, LoginThrottle, printable

__all__ = [
    "ROLE_ADMIN", "ROLE_RESIDENT", "ROLES", "UNSET", "AuthError", "InvalidCredentials", "LoginThrottled",
    "InvalidToken", "UserError", "User", "TokenInfo", "Principal", "LoginResult", "AuthManager",
    "MAX_LIFESPAN_DAYS", "MAX_HASHING",
]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_HASHING = 2  # concurrent scrypt runs (16 MiB each): a login flood queues instead of eating RAM
MAX_SESSIONS_PER_USER = 100  # the least recently used goes first; bounds what a login loop can store


class AuthManager:
    """Users, logins, sessions and long-lived tokens, validated in memory."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        trusted_networks: Iterable[IPNetwork | str] = (),
        session_lifetime_days: float = 90,
        access_lifetime: int = 1800,
    ) -> None:
        self._store = AuthStore(db)
        self._clock = clock
        self._throttle = LoginThrottle(clock, trusted_networks)
        self._session_lifetime = session_lifetime_days * 86400.0
        self._access_lifetime = int(access_lifetime)
        self._lock = asyncio.Lock()  # serialises check-then-write (last admin, taken names)
        self._hashing = asyncio.Semaphore(MAX_HASHING)
        self.max_sessions = MAX_SESSIONS_PER_USER
        self._revoke_listeners: list[Callable[[str], None]] = []
        # Long-lived tokens are validated without I/O, so their last use is kept in memory only.
        self._seen: dict[str, float] = {}

    async def load(self) -> None:
        """Create or upgrade the tables and read users and tokens into memory."""
        await self._store.load(self._clock.time())

    def warm_up(self, delay: float = 2.0) -> None:
        """Make the dummy hash in the background a little after the hub starts serving.

        The first login for an unknown username then costs one hash, like a known one. Made
        during start it was most of the start time (a scrypt hash is ~50 ms of CPU and holds
        the interpreter while it runs), so it waits until start-up is over.
        """
        loop = asyncio.get_running_loop()

        def start() -> None:
            self._dummy_ready = loop.run_in_executor(None, passwords.dummy_hash)

        # Real time on purpose: this is about the machine's CPU, not the home's clock (a test's
        # manual clock would otherwise count it among the hub's timers).
        self._warm_timer = loop.call_later(delay, start)

    def close(self) -> None:
        """Cancel background work that has not started yet (the hub is stopping)."""
        timer = getattr(self, "_warm_timer", None)
        if timer is not None:
            timer.cancel()

    async def _cpu(self, fn: Callable[..., _T], *args: Any) -> _T:
        async with self._hashing:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    @property
    def onboarded(self) -> bool:
        """Whether any user exists (onboarding is over)."""
        return bool(self._store.users)

    # -- users --------------------------------------------------------------------------

    def users(self) -> list[User]:
        """Every user, oldest first."""
        return sorted((r.user for r in self._store.users.values()), key=lambda u: (u.created, u.username))

    def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        record = self._store.users.get(user_id)
        return None if record is None else record.user

    def get_user_by_username(self, username: str) -> User | None:
        """The user with this username (case-insensitive), or None."""
        return self.get_user(self._store.usernames.get(str(username).lower(), ""))

    def _require(self, user_id: str) -> StoredUser:
        record = self._store.users.get(user_id)
        if record is None:
            raise UserError(f"user {printable(user_id)} not found", code="not_found")
        return record

    async def create_user(
        self, username: str, name: str, password: str, role: str, *, language: str | None = None
    ) -> User:
        """Add a user; the first one must be an administrator."""
        username = check_username(username)
        name, role, language = check_name(name), check_role(role), check_language(language)
        password = check_password(password, username)
        if username in self._store.usernames:  # also checked under the lock; this spares a hash
            raise UserError(f"username {username} is taken", code="conflict", field="username")
        password_hash = await self._cpu(passwords.hash_password, password)
        async with self._lock:
            if username in self._store.usernames:
                raise UserError(f"username {username} is taken", code="conflict", field="username")
            if not self._store.users and role != ROLE_ADMIN:
                raise UserError("the first user must be an administrator", code="conflict", field="role")
            user = User(new_id(), username, name, role, True, language, self._clock.time())
            await self._store.write(users=[StoredUser(user, password_hash)])
        _LOGGER.info("Added %s %s", role, username)
        return user

    async def update_user(
        self,
        user_id: str,
        *,
        name: str | _Unset = UNSET,
        role: str | _Unset = UNSET,
        active: bool | _Unset = UNSET,
        password: str | _Unset = UNSET,
        language: str | None | _Unset = UNSET,
    ) -> User:
        """Change a user; a new password or deactivation signs out the user's sessions."""
        changes = user_changes(name=name, role=role, active=active, language=language)
        new_hash = None
        if password is not UNSET:
            password = check_password(password, self._require(user_id).user.username)
            new_hash = await self._cpu(passwords.hash_password, password)
        async with self._lock:
            record = self._require(user_id)
            old = record.user
            new = dataclasses.replace(old, **changes)
            if self._store.is_last_active_admin(old) and not (new.active and new.role == ROLE_ADMIN):
                raise UserError("the last active administrator cannot be demoted or deactivated", code="conflict")
            deactivated = old.active and not new.active
            signed_out = self._store.token_ids(user_id, KIND_SESSION) if new_hash or deactivated else []
            await self._store.write(
                users=[StoredUser(new, new_hash or record.password_hash)], delete_tokens=signed_out
            )
        # Websockets must stop trusting every token that no longer carries what it was opened with.
        if deactivated or _RANK[new.role] < _RANK[old.role]:
            self._notify(signed_out + self._store.token_ids(user_id))
        else:
            self._notify(signed_out)
        if new_hash:
            _LOGGER.info("Changed the password of %s; signed out %d session(s)", new.username, len(signed_out))
        return new

    async def remove_user(self, user_id: str, *, acting_user_id: str | None = None) -> None:
        """Delete a user and every token of theirs."""
        async with self._lock:
            record = self._require(user_id)
            if acting_user_id == user_id:
                raise UserError("you cannot remove yourself", code="conflict")
            if self._store.is_last_active_admin(record.user):
                raise UserError("the last active administrator cannot be removed", code="conflict")
            token_ids = self._store.token_ids(user_id)
            await self._store.write(delete_users=[user_id])
        self._notify(token_ids)
        _LOGGER.info("Removed user %s", record.user.username)

    # -- logins and sessions --------------------------------------------------------------

    def _check_throttle(self, address: str, username: str) -> None:
        wait = self._throttle.check(address, username)
        if wait is not None:
            raise LoginThrottled(wait)

    async def login(self, username: str, password: str, *, address: str, client_name: str = "api") -> LoginResult:
        """Check a username and password and open a session."""
        username = username.lower() if isinstance(username, str) else ""
        password = password if isinstance(password, str) else ""
        self._check_throttle(address, username)
        async with self._hashing:
            # Again: requests that queued here before a lockout began must not each get a try.
            self._check_throttle(address, username)
            record = self._store.users.get(self._store.usernames.get(username, ""))
            encoded = None if record is None else record.password_hash
            ok = await asyncio.get_running_loop().run_in_executor(None, passwords.verify_or_dummy, password, encoded)
        if not ok or record is None or not record.user.active:
            self._throttle.failure(address, username)
            _LOGGER.warning("Login failed for %s from %s", printable(username), printable(address))
            raise InvalidCredentials()
        self._throttle.success(address, username)
        rehashed = None
        if passwords.needs_rehash(record.password_hash):
            rehashed = await self._cpu(passwords.hash_password, password)
        async with self._lock:
            current = self._store.users.get(record.user.id)
            # Changed or deactivated while the hash ran: what was verified is no longer the password.
            if current is None or current.password_hash != record.password_hash or not current.user.active:
                raise InvalidCredentials()
            now = self._clock.time()
            refresh_token = tokens_.new_refresh_token()
            info = TokenInfo(
                new_id(), current.user.id, KIND_SESSION, printable(client_name, 32).strip() or "api", None, now,
                now + self._session_lifetime, now, printable(address, 100),
            )
            stored = StoredToken(info, tokens_.hash_refresh_token(refresh_token), tokens_.new_signing_key())
            evicted = self._store.sessions_to_evict(current.user.id, now, keep=self.max_sessions - 1)
            users = [StoredUser(current.user, rehashed)] if rehashed else []
            await self._store.write(users=users, tokens=[stored], delete_tokens=evicted)
        self._notify(evicted)
        access_token, expires_in = self._mint(stored, now)
        return LoginResult(current.user, access_token, expires_in, refresh_token, info.id)

    def _mint(self, stored: StoredToken, now: float) -> tuple[str, int]:
        """An access token signed with the key of `stored`, and its lifetime in seconds."""
        iat, info = int(now), stored.info
        exp = int(info.expires)
        if info.kind == KIND_SESSION:
            exp = min(iat + self._access_lifetime, exp)
        claims = tokens_.AccessClaims(sub=info.user_id, rid=info.id, iat=iat, exp=exp)
        return tokens_.encode_access_token(stored.signing_key, claims), exp - iat

    async def refresh(self, refresh_token: str, *, address: str) -> tuple[str, int]:
        """A new access token for a session's refresh token; the session's expiry slides forward."""
        if not tokens_.is_refresh_token(refresh_token):
            raise InvalidToken()
        expired: list[str] = []
        async with self._lock:
            stored = self._store.session(tokens_.hash_refresh_token(refresh_token))
            if stored is None:
                raise InvalidToken()
            now = self._clock.time()
            record = self._store.users.get(stored.info.user_id)
            if stored.info.expires <= now:
                expired = [stored.info.id]
                await self._store.write(delete_tokens=expired)
            elif record is None or not record.user.active:
                raise InvalidToken()
            else:
                info = dataclasses.replace(
                    stored.info, last_used=now, last_used_address=printable(address, 100),
                    expires=now + self._session_lifetime,
                )
                stored = dataclasses.replace(stored, info=info)
                await self._store.write(tokens=[stored])
        if expired:
            self._notify(expired)
            raise InvalidToken()
        return self._mint(stored, now)

    def validate_access_token(self, token: str) -> Principal | None:
        """Who `token` speaks for, or None if it is malformed, forged, expired, revoked or its user inactive."""
        parsed = tokens_.parse_access_token(token)
        if parsed is None:
            return None
        stored = self._store.tokens.get(parsed.claims.rid)
        if stored is None or not parsed.signature_ok(stored.signing_key):
            return None
        info, now = stored.info, self._clock.time()
        if parsed.claims.sub != info.user_id or now >= parsed.claims.exp or now >= info.expires:
            return None
        record = self._store.users.get(info.user_id)
        if record is None or not record.user.active:
            return None
        user = record.user
        # Never above the user's role today; an unknown role (a damaged row) ranks lowest and is refused.
        role = user.role if info.role is None else min(info.role, user.role, key=lambda r: _RANK.get(r, 0))
        if role not in _RANK:
            return None
        if info.kind == KIND_LONG_LIVED:
            self._seen[info.id] = now
        return Principal(user, role, info.id, info.kind)

    async def logout(self, refresh_token: str) -> None:
        """End the session of `refresh_token`; unknown tokens are ignored."""
        if not tokens_.is_refresh_token(refresh_token):
            return
        async with self._lock:
            stored = self._store.session(tokens_.hash_refresh_token(refresh_token))
            if stored is None:
                return
            await self._store.write(delete_tokens=[stored.info.id])
        self._notify([stored.info.id])

    # -- long-lived tokens and revocation -------------------------------------------------

    async def create_long_lived_token(
        self, creator: User, name: str, role: str, lifespan_days: int
    ) -> tuple[TokenInfo, str]:
        """A long-lived access token with a role no higher than its creator's; the secret is returned once."""
        name, role, lifespan_days = check_name(name), check_role(role), check_lifespan(lifespan_days)
        async with self._lock:
            record = self._store.users.get(creator.id)
            if record is None or not record.user.active:
                raise UserError("only an active user can create tokens", code="forbidden")
            if _RANK[role] > _RANK.get(record.user.role, 0):
                raise UserError(f"a {record.user.role} cannot grant {role}", code="forbidden", field="role")
            now = self._clock.time()
            expires = now + lifespan_days * 86400.0
            info = TokenInfo(new_id(), record.user.id, KIND_LONG_LIVED, name, role, now, expires, None, None)
            stored = StoredToken(info, None, tokens_.new_signing_key())
            await self._store.write(tokens=[stored])
        _LOGGER.info("%s created long-lived token %r (%s, %d days)", record.user.username, name, role, lifespan_days)
        return info, self._mint(stored, now)[0]

    def tokens(self, *, user_id: str | None = None) -> list[TokenInfo]:
        """Sessions and long-lived tokens (of one user, if given), oldest first."""
        found = []
        for stored in self._store.tokens.values():
            info = stored.info
            if user_id is not None and info.user_id != user_id:
                continue
            seen = self._seen.get(info.id)
            if seen is not None and (info.last_used is None or seen > info.last_used):
                info = dataclasses.replace(info, last_used=seen)
            found.append(info)
        return sorted(found, key=lambda i: (i.created, i.id))

    async def revoke(self, token_id: str) -> None:
        """Delete a session or long-lived token; every access token it signed stops working."""
        async with self._lock:
            if token_id not in self._store.tokens:
                raise UserError(f"token {printable(token_id)} not found", code="not_found")
            await self._store.write(delete_tokens=[token_id])
        self._seen.pop(token_id, None)
        self._notify([token_id])

    def on_revoke(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback(token_id)` whenever what was authenticated with that token must stop being trusted."""
        self._revoke_listeners.append(callback)

        def remove() -> None:
            if callback in self._revoke_listeners:
                self._revoke_listeners.remove(callback)

        return remove

    def _notify(self, token_ids: Iterable[str]) -> None:
        for token_id in dict.fromkeys(token_ids):
            for callback in list(self._revoke_listeners):
                try:
                    callback(token_id)
                except Exception:  # one broken listener must not stop the others
                    _LOGGER.exception("Error in a token revocation listener")
