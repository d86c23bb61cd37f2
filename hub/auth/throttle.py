"""Login throttling: lock a client address, or a username, after repeated failed logins.

Rules (docs/http.md, "Login throttling"):

- per address: 5 failures within 5 minutes lock the address for 5 minutes, doubling with each
  further lockout up to 1 hour; addresses in trusted networks skip this rule;
- per username: 10 failures within 15 minutes lock the username for 15 minutes from every
  address (trusted ones included), doubling up to 1 hour.

An IPv6 client is counted by its /64: one host usually owns a whole /64, and counting single
addresses would give it 2^64 fresh tries. Text that is not an IP address is counted under one
shared key, so it cannot mint new keys either. Memory is bounded: entries are forgotten once
their window, lockout and doubling memory have passed, and at most `max_entries` addresses and
as many usernames are tracked (the least recently failed is dropped first).
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from ..clock import Clock

_LOGGER = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_ENTRIES = 10_000
_INVALID = "invalid-address"
_USERNAME_KEY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Rule:
    """How many failures within which window lock for how long (doubling up to a cap)."""

    failures: int
    window: float
    lockout: float
    max_lockout: float

    def duration(self, level: int) -> float:
        """Length of the lockout after `level` earlier ones."""
        return min(self.max_lockout, self.lockout * 2.0 ** min(level, 32))


ADDRESS_RULE = Rule(failures=5, window=300.0, lockout=300.0, max_lockout=3600.0)
USER_RULE = Rule(failures=10, window=900.0, lockout=900.0, max_lockout=3600.0)


class _Entry:
    """Recent failure times, the current lockout and how many lockouts came before it."""

    __slots__ = ("failures", "level", "locked_until")

    def __init__(self) -> None:
        self.failures: deque[float] = deque()
        self.locked_until = 0.0
        self.level = 0


class _Tracker:
    """Failures and lockouts per key under one rule."""

    def __init__(self, rule: Rule, max_entries: int) -> None:
        self.rule = rule
        self.max_entries = max_entries
        self.entries: OrderedDict[str, _Entry] = OrderedDict()

    def _refresh(self, entry: _Entry, now: float) -> None:
        """Drop what has aged out: failures past the window, the doubling memory after a quiet hour."""
        while entry.failures and entry.failures[0] <= now - self.rule.window:
            entry.failures.popleft()
        if entry.level and now >= entry.locked_until + self.rule.max_lockout:
            entry.level = 0

    def _stale(self, entry: _Entry, now: float) -> bool:
        self._refresh(entry, now)
        return not entry.failures and not entry.level and entry.locked_until <= now

    def remaining(self, key: str, now: float) -> float:
        entry = self.entries.get(key)
        return 0.0 if entry is None else max(0.0, entry.locked_until - now)

    def failure(self, key: str, now: float) -> float | None:
        """Count a failure; returns the lockout length if this failure starts one."""
        entry = self.entries.pop(key, None) or _Entry()
        self._prune(now)
        self.entries[key] = entry  # now the most recently failed
        self._refresh(entry, now)
        if entry.locked_until > now:
            return None  # already locked (a request that passed the check before the lock began)
        entry.failures.append(now)
        if len(entry.failures) < self.rule.failures:
            return None
        duration = self.rule.duration(entry.level)
        entry.level += 1
        entry.locked_until = now + duration
        entry.failures.clear()
        return duration

    def reset(self, key: str) -> None:
        """Forget the failures of `key` (not a lockout in force, nor the doubling memory)."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.failures.clear()

    def _prune(self, now: float) -> None:
        # Least recently failed first: forget what has aged out, and leave room for one more.
        while self.entries:
            key, entry = next(iter(self.entries.items()))
            if len(self.entries) >= self.max_entries or self._stale(entry, now):
                del self.entries[key]
            else:
                break


def address_key(address: str) -> tuple[str, IPAddress | None]:
    """The key an address is counted under, and the parsed address (None if not an IP)."""
    try:
        ip = ipaddress.ip_address(address)
    except (ValueError, TypeError):
        return _INVALID, None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))), ip
    return str(ip), ip


def username_key(username: str) -> str:
    """The key a username is counted under (case-insensitive, bounded length)."""
    return str(username).strip().lower()[:_USERNAME_KEY_LENGTH]


def printable(text: object, limit: int = 64) -> str:
    """`text` made safe for one log line: control characters replaced, length bounded."""
    value = "".join(ch if ch.isprintable() else "?" for ch in str(text)[:limit])
    return value + "…" if len(str(text)) > limit else value


class LoginThrottle:
    """Counts failed logins per address and per username and says how long to wait."""

    def __init__(
        self, clock: Clock, trusted_networks: Iterable[IPNetwork | str] = (), *, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._clock = clock
        self._trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_networks)
        self._addresses = _Tracker(ADDRESS_RULE, max_entries)
        self._users = _Tracker(USER_RULE, max_entries)

    @property
    def tracked(self) -> tuple[int, int]:
        """Number of (addresses, usernames) currently remembered."""
        return len(self._addresses.entries), len(self._users.entries)

    def trusted(self, address: str) -> bool:
        """Whether `address` is in a trusted network (exempt from the per-address rule only)."""
        ip = address_key(address)[1]
        return ip is not None and any(ip in net for net in self._trusted)

    def check(self, address: str, username: str) -> int | None:
        """Seconds to wait before this address may try this username again, or None."""
        now = self._clock.monotonic()
        wait = self._users.remaining(username_key(username), now)
        if not self.trusted(address):
            wait = max(wait, self._addresses.remaining(address_key(address)[0], now))
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failure(self, address: str, username: str) -> None:
        """Count a failed login; logs a lockout when one begins."""
        now = self._clock.monotonic()
        if not self.trusted(address):
            key = address_key(address)[0]
            locked = self._addresses.failure(key, now)
            if locked is not None:
                _LOGGER.warning(
                    "Login locked for address %s for %d s after %d failed logins",
                    key, locked, ADDRESS_RULE.failures,
                )
        user = username_key(username)
        locked = self._users.failure(user, now)
        if locked is not None:
            _LOGGER.warning(
                "Login locked for user %s for %d s after %d failed logins",
                printable(user), locked, USER_RULE.failures,
            )

    def success(self, address: str, username: str) -> None:
        """A login succeeded: the address starts counting afresh (the username does not)."""
        # The username's count stays: a distributed guesser must not be able to clear it by
        # timing its tries around the owner's logins.
        del username
        self._addresses.reset(address_key(address)[0])
