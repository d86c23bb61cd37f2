"""Token formats: signed access tokens, random refresh tokens and their stored hashes.

Access token (docs/http.md): `v1.<b64url payload>.<b64url signature>` where payload is the JSON
`{"sub": user id, "rid": refresh token id, "iat": s, "exp": s}` and the signature is
HMAC-SHA256 over the ASCII text `v1.<b64url payload>` with the signing key of the refresh
token `rid`. b64url is unpadded. Each refresh token has its own key, so deleting its row makes
every access token it minted fail at once, with no revocation list.

Pure functions: no clock, no storage. Parsing is strict and never raises.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

VERSION = "v1"
SIGNING_KEY_BYTES = 32
REFRESH_TOKEN_BYTES = 32
MAX_ACCESS_TOKEN_LENGTH = 1024  # ours are ~200 characters; longer text is refused before decoding

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_REFRESH = re.compile(f"[0-9a-f]{{{2 * REFRESH_TOKEN_BYTES}}}")
_CLAIMS = frozenset({"sub", "rid", "iat", "exp"})


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token says: whose it is, which refresh token signed it, when it ends."""

    sub: str
    rid: str
    iat: int
    exp: int


def new_refresh_token() -> str:
    """A refresh token: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_hex(REFRESH_TOKEN_BYTES)


def hash_refresh_token(token: str) -> str:
    """The SHA-256 (hex) under which a refresh token is stored and looked up.

    Looking up by hash also means the lookup's timing depends on nothing the client controls.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_refresh_token(token: object) -> bool:
    """Whether `token` has the shape of a refresh token (64 lowercase hex characters)."""
    return isinstance(token, str) and _REFRESH.fullmatch(token) is not None


def new_signing_key() -> bytes:
    """A fresh 32-byte HMAC key for the access tokens of one refresh token."""
    return secrets.token_bytes(SIGNING_KEY_BYTES)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes | None:
    if _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _sign(key: bytes, signed: bytes) -> bytes:
    return hmac.new(key, signed, hashlib.sha256).digest()


def encode_access_token(key: bytes, claims: AccessClaims) -> str:
    """The signed access token carrying `claims`."""
    payload = json.dumps(
        {"sub": claims.sub, "rid": claims.rid, "iat": claims.iat, "exp": claims.exp},
        separators=(",", ":"),
    ).encode("utf-8")
    signed = f"{VERSION}.{_b64url(payload)}"
    return f"{signed}.{_b64url(_sign(key, signed.encode('ascii')))}"


@dataclass(frozen=True, slots=True)
class ParsedToken:
    """A structurally valid access token whose signature is not checked yet."""

    claims: AccessClaims
    signed: bytes
    signature: bytes

    def signature_ok(self, key: bytes) -> bool:
        """Whether the signature was made with `key` (constant-time comparison)."""
        return hmac.compare_digest(_sign(key, self.signed), self.signature)


def parse_access_token(token: object) -> ParsedToken | None:
    """The claims and signature of a well-formed access token, or None for anything else."""
    if not isinstance(token, str) or len(token) > MAX_ACCESS_TOKEN_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        return None
    payload, signature = _unb64url(parts[1]), _unb64url(parts[2])
    if payload is None or signature is None or len(signature) != hashlib.sha256().digest_size:
        return None
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != _CLAIMS:
        return None
    sub, rid, iat, exp = data["sub"], data["rid"], data["iat"], data["exp"]
    if not (isinstance(sub, str) and isinstance(rid, str)):
        return None
    # bool is an int in Python; `true` is not a time.
    if type(iat) is not int or type(exp) is not int:
        return None
    return ParsedToken(AccessClaims(sub, rid, iat, exp), f"{parts[0]}.{parts[1]}".encode("ascii"), signature)
