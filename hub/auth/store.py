"""Users and refresh tokens in SQLite (component `auth`), mirrored in memory.

Everything is read into dicts at `load()`, so validating a token is a dict lookup. A change is
committed through the database writer thread first and applied in memory after, so memory
never holds what a crash could undo. Revoking a token is deleting its row: its signing key
goes with it.

The records that carry secrets (password hash, refresh-token hash, signing key) keep them out
of `repr`, so a traceback or a debug log cannot print them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from ..storage import Database
from .models import KIND_SESSION, ROLE_ADMIN, TokenInfo, User


@dataclass(frozen=True, slots=True)
class StoredUser:
    """A user with its password hash, as stored."""

    user: User
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token row: what admins see plus the refresh-token hash (sessions only) and signing key."""

    info: TokenInfo
    token_hash: str | None = field(repr=False)
    signing_key: bytes = field(repr=False)


def _create_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE auth_users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, name TEXT NOT NULL, "
        "role TEXT NOT NULL, active INTEGER NOT NULL, language TEXT, password_hash TEXT NOT NULL, "
        "created REAL NOT NULL)"
    )
    # token_hash is NULL for long-lived tokens: they have no refresh token, only their key.
    db.execute(
        "CREATE TABLE auth_refresh_tokens (id TEXT PRIMARY KEY, "
        "user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE, kind TEXT NOT NULL, "
        "name TEXT NOT NULL, role TEXT, token_hash TEXT UNIQUE, signing_key BLOB NOT NULL, "
        "created REAL NOT NULL, expires REAL NOT NULL, last_used REAL, last_used_address TEXT)"
    )
    db.execute("CREATE INDEX auth_refresh_tokens_user ON auth_refresh_tokens(user_id)")


MIGRATIONS = [_create_tables]

_USER_COLUMNS = ("id", "username", "name", "role", "active", "language", "password_hash", "created")
_TOKEN_COLUMNS = (
    "id", "user_id", "kind", "name", "role", "token_hash", "signing_key", "created", "expires", "last_used",
    "last_used_address",
)


def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    # An upsert, never INSERT OR REPLACE: REPLACE deletes the old row first, and the cascade
    # would take every token of a user whose name was edited.
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT(id) DO UPDATE SET {updates}"
    )


_UPSERT_USER = _upsert_sql("auth_users", _USER_COLUMNS)
_UPSERT_TOKEN = _upsert_sql("auth_refresh_tokens", _TOKEN_COLUMNS)


def _user_row(record: StoredUser) -> list[Any]:
    u = record.user
    return [u.id, u.username, u.name, u.role, int(u.active), u.language, record.password_hash, u.created]


def _token_row(record: StoredToken) -> list[Any]:
    t = record.info
    return [
        t.id, t.user_id, t.kind, t.name, t.role, record.token_hash, record.signing_key, t.created, t.expires,
        t.last_used, t.last_used_address,
    ]


def _user_from_row(row: tuple[Any, ...]) -> StoredUser:
    id_, username, name, role, active, language, password_hash, created = row
    return StoredUser(User(id_, username, name, role, bool(active), language, created), password_hash)


def _token_from_row(row: tuple[Any, ...]) -> StoredToken:
    id_, user_id, kind, name, role, token_hash, key, created, expires, last_used, address = row
    info = TokenInfo(id_, user_id, kind, name, role, created, expires, last_used, address)
    return StoredToken(info, token_hash, bytes(key))


class AuthStore:
    """The `auth` tables and their in-memory mirror; writes are atomic and committed first."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.users: dict[str, StoredUser] = {}
        self.usernames: dict[str, str] = {}  # username -> user id
        self.tokens: dict[str, StoredToken] = {}
        self.hashes: dict[str, str] = {}  # refresh-token hash -> token id

    async def load(self, now: float) -> None:
        """Create or upgrade the tables, drop expired tokens, and read everything into memory."""
        await self._db.migrate("auth", MIGRATIONS)

        def read(db: sqlite_utils.Database) -> tuple[list[Any], list[Any]]:
            db.execute("DELETE FROM auth_refresh_tokens WHERE expires <= ?", [now])
            users = db.execute(f"SELECT {', '.join(_USER_COLUMNS)} FROM auth_users").fetchall()
            tokens = db.execute(f"SELECT {', '.join(_TOKEN_COLUMNS)} FROM auth_refresh_tokens").fetchall()
            return users, tokens

        user_rows, token_rows = await self._db.run(read)
        self.users, self.usernames, self.tokens, self.hashes = {}, {}, {}, {}
        self._apply(
            users=[_user_from_row(r) for r in user_rows], tokens=[_token_from_row(r) for r in token_rows],
            delete_tokens=(), delete_users=(),
        )

    async def write(
        self,
        *,
        users: Iterable[StoredUser] = (),
        tokens: Iterable[StoredToken] = (),
        delete_tokens: Iterable[str] = (),
        delete_users: Iterable[str] = (),
    ) -> None:
        """Delete tokens, upsert users and tokens, delete users (with their tokens): one transaction."""
        users, tokens = list(users), list(tokens)
        delete_tokens, delete_users = list(delete_tokens), list(delete_users)

        def apply(db: sqlite_utils.Database) -> None:
            for token_id in delete_tokens:
                db.execute("DELETE FROM auth_refresh_tokens WHERE id = ?", [token_id])
            for user in users:
                db.execute(_UPSERT_USER, _user_row(user))
            for token in tokens:
                db.execute(_UPSERT_TOKEN, _token_row(token))
            for user_id in delete_users:
                db.execute("DELETE FROM auth_refresh_tokens WHERE user_id = ?", [user_id])
                db.execute("DELETE FROM auth_users WHERE id = ?", [user_id])

        await self._db.run(apply)
        self._apply(users=users, tokens=tokens, delete_tokens=delete_tokens, delete_users=delete_users)

    def _apply(
        self,
        *,
        users: list[StoredUser],
        tokens: list[StoredToken],
        delete_tokens: Iterable[str],
        delete_users: Iterable[str],
    ) -> None:
        for token_id in delete_tokens:
            self._forget_token(token_id)
        for record in users:
            old = self.users.get(record.user.id)
            if old is not None:
                self.usernames.pop(old.user.username, None)
            self.users[record.user.id] = record
            self.usernames[record.user.username] = record.user.id
        for token in tokens:
            self._forget_token(token.info.id)
            self.tokens[token.info.id] = token
            if token.token_hash is not None:
                self.hashes[token.token_hash] = token.info.id
        for user_id in delete_users:
            removed = self.users.pop(user_id, None)
            if removed is not None:
                self.usernames.pop(removed.user.username, None)
            for token_id in self.token_ids(user_id):
                self._forget_token(token_id)

    def _forget_token(self, token_id: str) -> None:
        removed = self.tokens.pop(token_id, None)
        if removed is not None and removed.token_hash is not None:
            self.hashes.pop(removed.token_hash, None)

    def session(self, token_hash: str) -> StoredToken | None:
        """The session whose refresh token has this hash, or None."""
        stored = self.tokens.get(self.hashes.get(token_hash, ""))
        return stored if stored is not None and stored.info.kind == KIND_SESSION else None

    def token_ids(self, user_id: str, kind: str | None = None) -> list[str]:
        """Ids of the tokens of `user_id` (of one kind, if given)."""
        return [
            t.info.id for t in self.tokens.values()
            if t.info.user_id == user_id and (kind is None or t.info.kind == kind)
        ]

    def is_last_active_admin(self, user: User) -> bool:
        """Whether `user` is the only active administrator."""
        if not (user.active and user.role == ROLE_ADMIN):
            return False
        return sum(1 for r in self.users.values() if r.user.active and r.user.role == ROLE_ADMIN) == 1

    def sessions_to_evict(self, user_id: str, now: float, *, keep: int) -> list[str]:
        """Sessions of `user_id` to drop: the expired, then the least recently used beyond `keep`."""
        sessions = sorted(
            (self.tokens[t].info for t in self.token_ids(user_id, KIND_SESSION)),
            key=lambda i: i.last_used or i.created,
        )
        expired = [i.id for i in sessions if i.expires <= now]
        alive = [i.id for i in sessions if i.expires > now]
        return expired + alive[: max(0, len(alive) - keep)]
