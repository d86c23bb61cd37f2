"""Password hashing with scrypt: encode, verify in constant time, and tell when to rehash.

A hash reads `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`. The cost parameters travel with each
hash, so raising them later only means new hashes use the new values and `needs_rehash` says
which stored ones to replace at the next successful login.

Everything here is CPU-bound (about 50 ms per call at the default cost): callers on the event
loop run it in an executor. Nothing here logs or raises with the password in the message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import unicodedata

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
DKLEN = 32
SALT_BYTES = 16

MIN_LENGTH = 10
MAX_LENGTH = 1024  # scrypt would take more, but nobody types this much; bounds the work per request

# A stored hash is trusted data, but a damaged or hostile row must not make one verify cost
# gigabytes of memory: parameters outside these bounds make the hash invalid.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAX_MEM = 1 << 30


def _encode(password: str) -> bytes:
    # NFKC: the same password typed on a phone and on a desktop can arrive in different
    # Unicode forms; both must verify.
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    maxmem = min(_MAX_MEM, 130 * n * r * p + (1 << 20))  # OpenSSL needs ~128*n*r*p bytes, plus room
    return hashlib.scrypt(_encode(password), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str) -> str:
    """Hash `password` with a new random salt at the current cost."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, DKLEN)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    """(n, r, p, salt, digest) of a well-formed hash within the cost bounds, else None."""
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != SCHEME or not all(x.isdigit() for x in parts[1:4]):
        return None
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        return None
    if 128 * n * r * p > _MAX_MEM:
        return None
    try:
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`; False (never an exception) for a malformed hash."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    try:
        candidate = _scrypt(password, salt, n, r, p, len(digest))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate, digest)


def needs_rehash(encoded: str) -> bool:
    """Whether `encoded` uses weaker (or other) parameters than new hashes would."""
    parsed = _parse(encoded)
    if parsed is None:
        return True
    n, r, p, salt, digest = parsed
    return (n, r, p, len(salt), len(digest)) != (SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, DKLEN)


def verify_or_dummy(password: str, encoded: str | None) -> bool:
    """Verify against `encoded`, or, when there is no user, against the dummy hash at the same cost."""
    ok = verify_password(password, encoded or dummy_hash())
    return ok and encoded is not None


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows, verified for unknown usernames to spend the same time."""
    return hash_password(secrets.token_urlsafe(16))


def password_problem(password: object, username: str) -> str | None:
    """Why `password` is not acceptable for `username`, or None when it is."""
    if not isinstance(password, str):
        return "password must be text"
    length = len(unicodedata.normalize("NFKC", password))
    if length < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if length > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if unicodedata.normalize("NFKC", password).casefold() == username.casefold():
        return "password must not be the username"
    return None
