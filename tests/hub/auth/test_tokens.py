"""Access and refresh tokens: the wire format, then expiry, tampering, revocation and roles in AuthManager."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from hub.auth import (
    ROLE_ADMIN, ROLE_RESIDENT, AuthManager, InvalidToken, LoginResult, Principal, User, UserError,
)
from hub.auth.tokens import (
    AccessClaims, encode_access_token, hash_refresh_token, is_refresh_token, new_refresh_token, parse_access_token,
)
from hub.clock import ManualClock
from hub.storage import Database

PASSWORD = "correct horse battery"  # the `admin` fixture's (tests/hub/auth/conftest.py)
KEY = bytes(range(32))
CLAIMS = AccessClaims(sub="u1", rid="r1", iat=1768478400, exp=1768480200)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- the format (docs/http.md, "Tokens and sessions") -------------------------------------


def test_access_token_is_exactly_the_documented_format() -> None:
    # Built here independently of hub.auth.tokens from the documented recipe.
    payload = b64url(b'{"sub":"u1","rid":"r1","iat":1768478400,"exp":1768480200}')
    signature = b64url(hmac.new(KEY, f"v1.{payload}".encode(), hashlib.sha256).digest())
    assert encode_access_token(KEY, CLAIMS) == f"v1.{payload}.{signature}"
    parsed = parse_access_token(f"v1.{payload}.{signature}")
    assert parsed is not None and parsed.claims == CLAIMS and parsed.signature_ok(KEY)
    assert not parsed.signature_ok(bytes(32))


def _token_with(payload: object, signature: str | None = None) -> str:
    body = b64url(json.dumps(payload).encode())
    return f"v1.{body}.{signature or b64url(hmac.new(KEY, f'v1.{body}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(
    "token",
    [
        "", "v1", "v1..", "v1.a.b.c", "v2" + encode_access_token(KEY, CLAIMS)[2:],
        encode_access_token(KEY, CLAIMS) + "=",  # padding is not b64url as documented
        encode_access_token(KEY, CLAIMS) + ".x",
        encode_access_token(KEY, CLAIMS)[:-2],  # signature too short
        "v1.!!!!.AAAA",
        "v1." + b64url(b"not json") + "." + b64url(bytes(32)),
        "v1." + b64url(b"\xff\xfe") + "." + b64url(bytes(32)),
        _token_with(["u1", "r1", 1, 2]),
        _token_with({"sub": "u1", "rid": "r1", "iat": 1}),
        _token_with({"sub": "u1", "rid": "r1", "iat": 1, "exp": 2, "role": "admin"}),
        _token_with({"sub": "u1", "rid": "r1", "iat": True, "exp": 2}),
        _token_with({"sub": "u1", "rid": "r1", "iat": 1, "exp": "2"}),
        _token_with({"sub": "u1", "rid": "r1", "iat": 1, "exp": 2.5}),
        _token_with({"sub": 1, "rid": "r1", "iat": 1, "exp": 2}),
        "v1." + "A" * 2000 + "." + b64url(bytes(32)),
        "v1.é." + b64url(bytes(32)),
    ],
)
def test_malformed_access_tokens_parse_to_none(token: str) -> None:
    assert parse_access_token(token) is None


def test_non_text_tokens_parse_to_none() -> None:
    assert parse_access_token(None) is None
    assert parse_access_token(encode_access_token(KEY, CLAIMS).encode()) is None


def test_refresh_tokens_are_random_hex_stored_as_sha256() -> None:
    token = new_refresh_token()
    assert is_refresh_token(token) and len(token) == 64 and token != new_refresh_token()
    assert hash_refresh_token(token) == hashlib.sha256(token.encode()).hexdigest()
    for bad in ("", token.upper(), token[:-1], token + "0", None, 42):
        assert not is_refresh_token(bad)


# -- access tokens in the manager -----------------------------------------------------------


async def _login(auth: AuthManager, username: str = "ana") -> LoginResult:
    return await auth.login(username, PASSWORD, address="192.0.2.10")


async def test_access_token_expires_after_thirty_minutes(auth: AuthManager, admin: User, clock: ManualClock) -> None:
    result = await _login(auth)
    assert result.expires_in == 1800
    principal = auth.validate_access_token(result.access_token)
    assert principal == Principal(admin, ROLE_ADMIN, result.token_id, "session")
    await clock.advance(1799)
    assert auth.validate_access_token(result.access_token) is not None
    await clock.advance(1)
    assert auth.validate_access_token(result.access_token) is None
    access, expires_in = await auth.refresh(result.refresh_token, address="192.0.2.10")
    assert expires_in == 1800 and auth.validate_access_token(access) is not None


async def test_tampered_payload_or_signature_is_refused(auth: AuthManager, admin: User) -> None:
    resident = await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    mine, theirs = await _login(auth, "beto"), await _login(auth)
    _, payload, signature = mine.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == resident.id
    # Claim to be the admin, or extend the expiry, keeping the signature: refused.
    for change in ({"sub": admin.id}, {"exp": claims["exp"] + 86400}):
        forged = b64url(json.dumps({**claims, **change}, separators=(",", ":")).encode())
        assert auth.validate_access_token(f"v1.{forged}.{signature}") is None
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert auth.validate_access_token(f"v1.{payload}.{flipped}") is None
    # Another session's signature on this payload: refused too.
    assert auth.validate_access_token(f"v1.{payload}.{theirs.access_token.split('.')[2]}") is None
    assert auth.validate_access_token("garbage") is None


async def test_revoked_token_is_refused_at_once_and_cannot_refresh(auth: AuthManager, admin: User) -> None:
    revoked: list[str] = []
    auth.on_revoke(revoked.append)
    result = await _login(auth)
    await auth.revoke(result.token_id)
    assert revoked == [result.token_id]
    assert auth.validate_access_token(result.access_token) is None
    with pytest.raises(InvalidToken):
        await auth.refresh(result.refresh_token, address="192.0.2.10")
    with pytest.raises(UserError) as err:
        await auth.revoke(result.token_id)
    assert err.value.code == "not_found"


async def test_logout_ends_the_session(auth: AuthManager, admin: User) -> None:
    revoked: list[str] = []
    auth.on_revoke(revoked.append)
    result = await _login(auth)
    await auth.logout(result.refresh_token)
    await auth.logout(result.refresh_token)  # twice, or unknown: nothing happens
    await auth.logout("not a token")
    assert revoked == [result.token_id]
    assert auth.validate_access_token(result.access_token) is None
    assert auth.tokens() == []


async def test_inactive_user_is_refused(auth: AuthManager, admin: User) -> None:
    await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    beto = await _login(auth, "beto")
    info, long_lived = await auth.create_long_lived_token(admin, "Tank display", ROLE_RESIDENT, 30)
    await auth.create_user("carla", "Carla", PASSWORD, ROLE_ADMIN)  # so ana may be deactivated
    await auth.update_user(beto.user.id, active=False)
    assert auth.validate_access_token(beto.access_token) is None
    with pytest.raises(InvalidToken):
        await auth.refresh(beto.refresh_token, address="192.0.2.10")
    await auth.update_user(admin.id, active=False)
    assert auth.validate_access_token(long_lived) is None
    await auth.update_user(admin.id, active=True)
    principal = auth.validate_access_token(long_lived)
    assert principal is not None and principal.token_id == info.id


async def test_refresh_updates_last_used_and_slides_the_session(
    auth: AuthManager, admin: User, clock: ManualClock
) -> None:
    result = await _login(auth)
    [info] = auth.tokens()
    assert (info.kind, info.name, info.role, info.last_used_address) == ("session", "api", None, "192.0.2.10")
    assert info.expires == clock.time() + 90 * 86400
    await clock.advance(60 * 86400)
    await auth.refresh(result.refresh_token, address="2001:db8::7")
    [info] = auth.tokens()
    assert (info.last_used, info.last_used_address) == (clock.time(), "2001:db8::7")
    assert info.expires == clock.time() + 90 * 86400
    await clock.advance(90 * 86400)
    with pytest.raises(InvalidToken):
        await auth.refresh(result.refresh_token, address="2001:db8::7")
    assert auth.tokens() == []
    for bad in ("", "x" * 64, result.refresh_token.upper()):
        with pytest.raises(InvalidToken):
            await auth.refresh(bad, address="192.0.2.10")


async def test_password_change_revokes_sessions_and_fires_on_revoke(auth: AuthManager, admin: User) -> None:
    revoked: list[str] = []
    unsubscribe = auth.on_revoke(revoked.append)
    first, second = await _login(auth), await _login(auth)
    _, long_lived = await auth.create_long_lived_token(admin, "Integrator", ROLE_ADMIN, 365)
    await auth.update_user(admin.id, password="a new long password")
    assert sorted(revoked) == sorted([first.token_id, second.token_id])
    assert auth.validate_access_token(first.access_token) is None
    with pytest.raises(InvalidToken):
        await auth.refresh(second.refresh_token, address="192.0.2.10")
    assert auth.validate_access_token(long_lived) is not None  # integrations keep working
    await auth.login("ana", "a new long password", address="192.0.2.10")
    unsubscribe()
    await auth.update_user(admin.id, password="yet another password")
    assert len(revoked) == 2


async def test_long_lived_token_role_is_capped_by_its_creator(
    auth: AuthManager, admin: User, clock: ManualClock
) -> None:
    resident = await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    with pytest.raises(UserError) as err:
        await auth.create_long_lived_token(resident, "Sneaky", ROLE_ADMIN, 30)
    assert (err.value.code, err.value.field) == ("forbidden", "role")
    info, token = await auth.create_long_lived_token(admin, "Integrator", ROLE_ADMIN, 365)
    assert (info.kind, info.role, info.expires) == ("long_lived", ROLE_ADMIN, clock.time() + 365 * 86400)
    principal = auth.validate_access_token(token)
    assert principal is not None and (principal.role, principal.kind) == (ROLE_ADMIN, "long_lived")
    # Demote the creator: the token is never above its user's role today.
    await auth.create_user("carla", "Carla", PASSWORD, ROLE_ADMIN)
    await auth.update_user(admin.id, role=ROLE_RESIDENT)
    principal = auth.validate_access_token(token)
    assert principal is not None and principal.role == ROLE_RESIDENT
    # It is an access token, not a refresh token.
    with pytest.raises(InvalidToken):
        await auth.refresh(token, address="192.0.2.10")
    await clock.advance(365 * 86400)
    assert auth.validate_access_token(token) is None


@pytest.mark.parametrize("days", [0, 3651, -1, True, 1.5, "30", None])
async def test_long_lived_lifespan_is_one_day_to_ten_years(auth: AuthManager, admin: User, days: object) -> None:
    with pytest.raises(UserError) as err:
        await auth.create_long_lived_token(admin, "Integrator", ROLE_RESIDENT, days)  # type: ignore[arg-type]
    assert (err.value.code, err.value.field) == ("bad_request", "lifespan_days")


async def test_long_lived_last_use_is_listed(auth: AuthManager, admin: User, clock: ManualClock) -> None:
    info, token = await auth.create_long_lived_token(admin, "Integrator", ROLE_RESIDENT, 3650)
    assert info.last_used is None
    await clock.advance(10)
    assert auth.validate_access_token(token) is not None
    assert [i.last_used for i in auth.tokens(user_id=admin.id)] == [clock.time()]
    assert auth.tokens(user_id="someone else") == []
    assert "signing_key" not in info.as_dict() and token not in json.dumps(info.as_dict())


async def test_secrets_are_stored_only_as_hashes(auth: AuthManager, admin: User, db: Database, db_path: Path) -> None:
    result = await _login(auth)
    _, long_lived = await auth.create_long_lived_token(admin, "Integrator", ROLE_RESIDENT, 30)
    sql = "SELECT kind, token_hash FROM auth_refresh_tokens ORDER BY kind"
    rows = await db.run(lambda d: d.execute(sql).fetchall())
    assert rows == [("long_lived", None), ("session", hashlib.sha256(result.refresh_token.encode()).hexdigest())]
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob("hub.db*") if p.is_file())
    for secret in (result.refresh_token, result.access_token, long_lived, PASSWORD):
        assert secret.encode() not in stored
    assert result.refresh_token not in repr(result) and result.access_token not in repr(result)
