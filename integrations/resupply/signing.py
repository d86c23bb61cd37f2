"""HMAC-SHA256 signatures of supplier callbacks and webhooks: `t=<unix seconds>,v1=<hex>`.

The signed message is `f"{t}.".encode() + body`, so a captured signature is worth nothing for
another body or, after `tolerance_s`, at all. Several `v1=` entries may be present: a sender that
rotates its secret signs with the old and the new one until every receiver has the new one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re

from integrations.resupply.errors import SignatureError

HEADER = "X-Supplier-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300.0

_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def _digest(key: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, *, timestamp: int) -> str:
    """The header value that proves `body` was sent at `timestamp` by a holder of `secret`."""
    if timestamp < 0:
        raise ValueError(f"timestamp must be >= 0, got {timestamp!r}")
    return f"t={timestamp},{SCHEME}={_digest(_key(secret), body, timestamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) from a header value; SignatureError when it is not one."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header: {item.strip()[:20]!r} is not key=value")
        if name == "t":
            if timestamp is not None:
                raise SignatureError(f"malformed {HEADER} header: more than one timestamp")
            if not _DIGITS.fullmatch(value):
                raise SignatureError(f"malformed {HEADER} header: the timestamp is not whole seconds")
            timestamp = int(value)
        elif name == SCHEME:
            value = value.lower()  # hex is hex in either case
            if not _HEX64.fullmatch(value):
                raise SignatureError(f"malformed {HEADER} header: a {SCHEME} signature is not 64 hex digits")
            signatures.append(value)
        # Other schemes (a future v2) are ignored, as long as a v1 is there.
    if timestamp is None:
        raise SignatureError(f"malformed {HEADER} header: no timestamp t=")
    if not signatures:
        raise SignatureError(f"malformed {HEADER} header: no {SCHEME}= signature")
    return timestamp, signatures


def verify(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a signed body at `now` (epoch s); returns its timestamp or raises SignatureError."""
    key = _key(secret)
    if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s!r}")
    if header is None or not header.strip():
        raise SignatureError(f"missing {HEADER} header")
    timestamp, signatures = _parse(header)
    age = now - timestamp
    if age > tolerance_s:
        raise SignatureError(f"stale signature: signed {age:.0f} s ago, accepted up to {tolerance_s:.0f} s")
    if -age > tolerance_s:
        raise SignatureError(
            f"signature from the future: timestamp {-age:.0f} s ahead, accepted up to {tolerance_s:.0f} s"
        )
    expected = _digest(key, body, timestamp)
    # Compare against every entry (no early exit), each in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("signature does not match the body")
    return timestamp


__all__ = ["DEFAULT_TOLERANCE_S", "HEADER", "SCHEME", "sign", "verify"]
