"""Alarm codes: a 4-8 digit PIN per hub user, stored only as a scrypt hash, and wrong-code throttling.

Rules (docs/alarms.md, "PINs"): five wrong codes within 10 minutes lock code entry on the panel
for 5 minutes, for everyone (the keypad is one shared door; a per-user count would let a guesser
spread tries). A right code clears the count. Each user who has a code or has armed gets a stable
small number (1, 2, ...) for Contact ID open/close reports.

A code is checked against every stored hash (no early exit, so the time does not say whose code
matched); two users may choose the same PIN, which then names the caller if it is theirs, else
the lowest user number. Refusing duplicates would tell a resident someone else's PIN.
Hashing runs in an executor (about 50 ms each). Nothing here logs a code or a hash, and no
error message contains one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import sqlite_utils

from hub.auth import passwords
from hub.errors import HubError

_LOGGER = logging.getLogger(__name__)

CODE_PATTERN = re.compile(r"^[0-9]{4,8}$")
MAX_FAILURES = 5
FAILURE_WINDOW = 600.0  # seconds
LOCKOUT = 300.0  # seconds


class CodeError(HubError):
    """A code was refused; the message is safe to show (it never contains the code)."""


class WrongCode(CodeError):
    def __init__(self, locked_text: str | None = None) -> None:
        super().__init__("wrong code" + (f"; {locked_text}" if locked_text else ""))


class CodeLocked(CodeError):
    def __init__(self, until: float, text: str) -> None:
        super().__init__(text)
        self.until = until


class CodeRequired(CodeError):
    """A request that needs a code (or the current code) came without one."""


class BadCode(CodeError):
    """A new code that does not meet the rules (4 to 8 digits)."""


class CodeThrottle:
    """Counts wrong codes; pure (times are passed in)."""

    def __init__(self, failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW, lockout: float = LOCKOUT) -> None:
        self.failures, self.window, self.lockout = failures, window, lockout
        self._times: deque[float] = deque()
        self.locked_until = 0.0

    def locked(self, now: float) -> bool:
        return now < self.locked_until

    def failure(self, now: float) -> bool:
        """Count a wrong code; True when this one starts a lockout."""
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        self._times.append(now)
        if len(self._times) < self.failures:
            return False
        self._times.clear()
        self.locked_until = now + self.lockout
        return True

    def success(self) -> None:
        self._times.clear()


@dataclass(frozen=True, slots=True)
class _User:
    user_id: str
    number: int
    code_hash: str | None


def _matches(code: str, hashes: list[tuple[str, str]]) -> list[str]:
    """User ids whose hash `code` verifies against; every hash is tried."""
    found = []
    for user_id, encoded in hashes:
        if passwords.verify_password(code, encoded):
            found.append(user_id)
    return found


class CodeBook:
    """Users' codes and numbers, cached in memory and written through to `alarm_panel_users`."""

    def __init__(self, db: Any, *, time: Callable[[], float], tz: tzinfo, throttle: CodeThrottle | None = None) -> None:
        self._db = db
        self._time = time
        self._tz = tz
        self.throttle = throttle or CodeThrottle()
        self._users: dict[str, _User] = {}
        self._lock = asyncio.Lock()  # serialises code checks, code changes and number assignment

    async def load(self) -> None:
        rows = await self._db.run(
            lambda db: db.execute("SELECT user_id, number, code_hash FROM alarm_panel_users").fetchall()
        )
        self._users = {r[0]: _User(r[0], r[1], r[2]) for r in rows}

    @property
    def has_codes(self) -> bool:
        return any(u.code_hash for u in self._users.values())

    def has_code(self, user_id: str) -> bool:
        user = self._users.get(user_id)
        return user is not None and user.code_hash is not None

    def number_of(self, user_id: str | None) -> int | None:
        user = self._users.get(user_id) if user_id else None
        return user.number if user is not None else None

    async def user_number(self, user_id: str) -> int:
        """The user's number, given at first use and kept for good."""
        async with self._lock:
            return (await self._ensure(user_id)).number

    async def _ensure(self, user_id: str) -> _User:
        user = self._users.get(user_id)
        if user is not None:
            return user
        now = self._time()

        def insert(db: sqlite_utils.Database) -> int:
            row = db.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM alarm_panel_users").fetchone()
            db.execute("INSERT INTO alarm_panel_users VALUES (?, ?, NULL, ?)", [user_id, row[0], now])
            return int(row[0])

        user = self._users[user_id] = _User(user_id, await self._db.run(insert), None)
        return user

    def lock_text(self) -> str:
        until = datetime.fromtimestamp(self.throttle.locked_until, self._tz)
        return f"code entry locked until {until:%H:%M}"

    def _check_lock(self) -> None:
        if self.throttle.locked(self._time()):
            raise CodeLocked(self.throttle.locked_until, self.lock_text())

    def _failed(self) -> WrongCode:
        if self.throttle.failure(self._time()):
            _LOGGER.warning("Alarm code entry locked for %d s after %d wrong codes", LOCKOUT, MAX_FAILURES)
            return WrongCode(self.lock_text())
        return WrongCode()

    async def identify(self, code: str, *, caller: str | None = None) -> tuple[str, int]:
        """(user_id, user number) of the code's owner; WrongCode or CodeLocked."""
        # One check at a time: parallel guesses must not all pass the lock check before any counts.
        async with self._lock:
            self._check_lock()
            hashes = [(u.user_id, u.code_hash) for u in self._users.values() if u.code_hash]
            found = await self._verify(code, hashes) if CODE_PATTERN.match(code) else []
            if not found:
                raise self._failed()
            self.throttle.success()
        owner = caller if caller in found else min(found, key=lambda uid: self._users[uid].number)
        return owner, self._users[owner].number

    async def set_code(self, user_id: str, code: str, *, current_code: str | None, need_current: bool) -> int:
        """Give `user_id` a new code; `need_current`: the user's present code must be given. Returns the number."""
        if not CODE_PATTERN.match(code):
            raise BadCode("the code must be 4 to 8 digits")
        async with self._lock:
            user = self._users.get(user_id)
            if need_current and user is not None and user.code_hash is not None:
                self._check_lock()
                if current_code is None:
                    raise CodeRequired("give current_code to change your code")
                if not CODE_PATTERN.match(current_code) or not await self._verify(
                    current_code, [(user_id, user.code_hash)]
                ):
                    raise self._failed()
                self.throttle.success()
            user = await self._ensure(user_id)
            encoded = await asyncio.get_running_loop().run_in_executor(None, passwords.hash_password, code)
            now = self._time()
            await self._db.run(lambda db: db.execute(
                "UPDATE alarm_panel_users SET code_hash = ?, updated = ? WHERE user_id = ?", [encoded, now, user_id]))  # fmt: skip
            self._users[user_id] = _User(user_id, user.number, encoded)
        _LOGGER.info("Alarm code set for user number %d", user.number)
        return user.number

    async def _verify(self, code: str, hashes: list[tuple[str, str]]) -> list[str]:
        if not hashes:
            return []
        return await asyncio.get_running_loop().run_in_executor(None, _matches, code, hashes)


__all__ = ["CODE_PATTERN", "BadCode", "CodeBook", "CodeError", "CodeLocked", "CodeRequired", "CodeThrottle", "WrongCode"]
