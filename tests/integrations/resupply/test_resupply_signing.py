"""Callback signatures: a fixed vector, freshness both ways, tampering, malformed headers, key rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from integrations.resupply.errors import SignatureError
from integrations.resupply.signing import HEADER, sign, verify

SECRET = "whsec_test_2026"
BODY = b'{"id":"ord_1","status":"confirmed"}'
T = 1764180000
# Computed outside Python with: printf '1764180000.<body>' | openssl dgst -sha256 -hmac whsec_test_2026
OPENSSL_HEX = "b42983056ac49d4826b95d008e530d7bcc809415a7d0284d1dc5b6d258a69d92"


def reference_hex(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def test_header_name() -> None:
    assert HEADER == "X-Supplier-Signature"


def test_sign_matches_an_independent_vector() -> None:
    assert reference_hex(SECRET, BODY, T) == OPENSSL_HEX
    assert sign(SECRET, BODY, timestamp=T) == f"t={T},v1={OPENSSL_HEX}"
    assert sign(SECRET.encode(), BODY, timestamp=T) == f"t={T},v1={OPENSSL_HEX}"


def test_verify_accepts_the_vector() -> None:
    assert verify(SECRET, BODY, f"t={T},v1={OPENSSL_HEX}", now=T + 10) == T
    # Whitespace and upper-case hex are still the same signature.
    assert verify(SECRET, BODY, f" t={T} , v1={OPENSSL_HEX.upper()} ", now=T) == T


@pytest.mark.parametrize(
    ("now", "accepted"),
    [(T + 300, True), (T + 301, False), (T - 300, True), (T - 301, False)],
)
def test_tolerance_both_ways(now: float, accepted: bool) -> None:
    header = f"t={T},v1={OPENSSL_HEX}"
    if accepted:
        assert verify(SECRET, BODY, header, now=now) == T
    else:
        with pytest.raises(SignatureError, match="stale" if now > T else "future"):
            verify(SECRET, BODY, header, now=now)


def test_custom_tolerance() -> None:
    with pytest.raises(SignatureError, match="stale signature: signed 61 s ago, accepted up to 60 s"):
        verify(SECRET, BODY, f"t={T},v1={OPENSSL_HEX}", now=T + 61, tolerance_s=60)


@pytest.mark.parametrize(
    ("body", "secret", "t"),
    [
        (BODY.replace(b"confirmed", b"delivered"), SECRET, T),  # tampered body
        (BODY, "another-secret", T),  # wrong secret
    ],
)
def test_wrong_signature(body: bytes, secret: str, t: int) -> None:
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(secret, body, f"t={t},v1={OPENSSL_HEX}", now=T)


def test_timestamp_is_part_of_the_signature() -> None:
    # The same hex under a neighbouring timestamp is a replay with a forged time.
    with pytest.raises(SignatureError, match="signature does not match"):
        verify(SECRET, BODY, f"t={T + 1},v1={OPENSSL_HEX}", now=T)


def test_rotation_accepts_any_v1_entry() -> None:
    old = reference_hex("old-secret", BODY, T)
    new = reference_hex(SECRET, BODY, T)
    header = f"t={T},v1={old},v1={new}"
    assert verify(SECRET, BODY, header, now=T) == T
    assert verify("old-secret", BODY, header, now=T) == T
    with pytest.raises(SignatureError, match="does not match"):
        verify("third-secret", BODY, header, now=T)


def test_unknown_schemes_are_ignored() -> None:
    assert verify(SECRET, BODY, f"t={T},v0=abc,v1={OPENSSL_HEX}", now=T) == T


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    with pytest.raises(SignatureError, match="missing X-Supplier-Signature header"):
        verify(SECRET, BODY, header, now=T)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("garbage", "not key=value"),
        (f"v1={OPENSSL_HEX}", "no timestamp"),
        (f"t={T}", "no v1= signature"),
        (f"t={T},v0={OPENSSL_HEX}", "no v1= signature"),
        (f"t=-{T},v1={OPENSSL_HEX}", "not whole seconds"),
        (f"t={T}.5,v1={OPENSSL_HEX}", "not whole seconds"),
        (f"t={T},t={T},v1={OPENSSL_HEX}", "more than one timestamp"),
        (f"t={T},v1={OPENSSL_HEX[:-1]}", "not 64 hex digits"),
        (f"t={T},v1={OPENSSL_HEX[:-1]}z", "not 64 hex digits"),
    ],
)
def test_malformed_header(header: str, why: str) -> None:
    with pytest.raises(SignatureError, match=f"malformed X-Supplier-Signature header: .*{why}"):
        verify(SECRET, BODY, header, now=T)


def test_signing_round_trip_at_another_time() -> None:
    header = sign(SECRET, b"{}", timestamp=T + 1000)
    assert header == f"t={T + 1000},v1={reference_hex(SECRET, b'{}', T + 1000)}"
    assert verify(SECRET, b"{}", header, now=T + 1000) == T + 1000


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        sign("", BODY, timestamp=T)
    with pytest.raises(ValueError):
        verify(b"", BODY, f"t={T},v1={OPENSSL_HEX}", now=T)
