"""AuthManager: onboarding, user rules, logins and throttling, last-admin rules, persistence."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from pathlib import Path

import pytest

from hub.auth import (
    MAX_HASHING, ROLE_ADMIN, ROLE_RESIDENT, AuthError, AuthManager, InvalidCredentials, LoginThrottled, User, UserError,
)
from hub.clock import ManualClock
from hub.errors import HubError
from hub.storage import Database

PASSWORD = "correct horse battery"  # the `admin` fixture's (tests/hub/auth/conftest.py)
ADDRESS = "198.51.100.20"


async def test_onboarding_first_user_must_be_an_admin(auth: AuthManager) -> None:
    assert not auth.onboarded and auth.users() == []
    with pytest.raises(UserError) as err:
        await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    assert (err.value.code, err.value.field) == ("conflict", "role")
    user = await auth.create_user("Ana", " Ana López ", PASSWORD, ROLE_ADMIN, language="es-MX")
    assert auth.onboarded
    assert (user.username, user.name, user.role, user.active) == ("ana", "Ana López", "admin", True)
    assert user.language == "es-MX"
    assert auth.users() == [user] and auth.get_user(user.id) == user and auth.get_user_by_username("ANA") == user
    assert set(user.as_dict()) == {"id", "username", "name", "role", "active", "language", "created"}
    assert "scrypt" not in repr(user) and "scrypt" not in str(user.as_dict())


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"username": "ab"}, "username", "bad_request"),
        ({"username": "a" * 33}, "username", "bad_request"),
        ({"username": "ana maría"}, "username", "bad_request"),
        ({"username": "ana!"}, "username", "bad_request"),
        ({"username": "ANA"}, "username", "conflict"),
        ({"password": "short"}, "password", "bad_request"),
        ({"username": "beto.lopez", "password": "Beto.Lopez"}, "password", "bad_request"),
        ({"name": "  "}, "name", "bad_request"),
        ({"name": "x" * 65}, "name", "bad_request"),
        ({"role": "root"}, "role", "bad_request"),
        ({"language": "español"}, "language", "bad_request"),
    ],
)
async def test_user_input_is_checked(
    auth: AuthManager, admin: User, kwargs: dict[str, str], field: str, code: str
) -> None:
    values = {"username": "beto", "name": "Beto", "password": PASSWORD, "role": ROLE_RESIDENT, **kwargs}
    with pytest.raises(UserError) as err:
        await auth.create_user(values["username"], values["name"], values["password"], values["role"],
                               language=values.get("language"))
    assert (err.value.field, err.value.code) == (field, code)
    assert isinstance(err.value, AuthError) and isinstance(err.value, HubError)
    assert [u.username for u in auth.users()] == ["ana"]


async def test_login_returns_a_session(auth: AuthManager, admin: User) -> None:
    result = await auth.login("Ana", PASSWORD, address=ADDRESS, client_name="browser")
    assert result.user == admin and result.expires_in == 1800 and len(result.refresh_token) == 64
    [info] = auth.tokens()
    assert (info.id, info.name, info.kind) == (result.token_id, "browser", "session")


async def test_unknown_user_and_wrong_password_fail_alike(
    auth: AuthManager, admin: User, caplog: pytest.LogCaptureFixture
) -> None:
    errors = []
    with caplog.at_level(logging.WARNING):
        for username, password in (("ana", "wrong password!"), ("nobody", PASSWORD), ("a\r\nb", "x")):
            with pytest.raises(InvalidCredentials) as err:
                await auth.login(username, password, address=ADDRESS)
            errors.append((err.value.code, err.value.message))
    assert errors == [("unauthorized", "invalid username or password")] * 3
    assert [r.getMessage() for r in caplog.records] == [
        f"Login failed for ana from {ADDRESS}", f"Login failed for nobody from {ADDRESS}",
        f"Login failed for a??b from {ADDRESS}",
    ]
    assert "wrong password!" not in caplog.text and PASSWORD not in caplog.text


async def test_unknown_user_takes_as_long_as_a_wrong_password(auth: AuthManager, admin: User) -> None:
    async def timed(username: str, address: str) -> float:
        start = time.perf_counter()
        with pytest.raises(InvalidCredentials):
            await auth.login(username, "wrong password!", address=address)
        return time.perf_counter() - start

    # Alternate, keep the fastest of each: both verify one scrypt hash (~50 ms); without the
    # dummy hash an unknown user would answer in microseconds.
    wrong, unknown = [], []
    for n in range(3):
        wrong.append(await timed("ana", f"198.51.100.{n}"))
        unknown.append(await timed(f"nobody{n}", f"198.51.100.{n}"))
    assert min(unknown) > 0.5 * min(wrong)


async def test_inactive_user_cannot_log_in(auth: AuthManager, admin: User) -> None:
    beto = await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    await auth.update_user(beto.id, active=False)
    with pytest.raises(InvalidCredentials):
        await auth.login("beto", PASSWORD, address=ADDRESS)


async def test_login_is_throttled_per_address_with_the_right_password_too(
    auth: AuthManager, admin: User, clock: ManualClock
) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await auth.login("ana", "wrong password!", address=ADDRESS)
    for username in ("ana", "nobody"):  # same answer whether the user exists or not
        with pytest.raises(LoginThrottled) as err:
            await auth.login(username, PASSWORD, address=ADDRESS)
        assert (err.value.code, err.value.retry_after) == ("too_many_requests", 300)
        assert err.value.message == "too many failed logins; try again in 300 s"
    await auth.login("ana", PASSWORD, address="198.51.100.21")  # another address may
    await clock.advance(300)
    await auth.login("ana", PASSWORD, address=ADDRESS)


async def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit(auth: AuthManager, admin: User) -> None:
    results = await asyncio.gather(
        *(auth.login("ana", f"guess number {n}", address=ADDRESS) for n in range(40)), return_exceptions=True
    )
    tried = sum(isinstance(r, InvalidCredentials) for r in results)
    assert sum(isinstance(r, LoginThrottled) for r in results) == 40 - tried
    # Five failures lock the address; at most the guesses already hashing alongside the fifth finish.
    assert 5 <= tried <= 5 + MAX_HASHING - 1


async def test_trusted_network_skips_the_address_lockout(db: Database, clock: ManualClock) -> None:
    auth = AuthManager(db, clock=clock, trusted_networks=["192.168.0.0/16"])
    await auth.load()
    await auth.create_user("ana", "Ana", PASSWORD, ROLE_ADMIN)
    for n in range(6):
        with pytest.raises(InvalidCredentials):
            await auth.login(f"nobody{n}", "wrong password!", address="192.168.1.2")
    await auth.login("ana", PASSWORD, address="192.168.1.2")


async def test_last_active_admin_rules(auth: AuthManager, admin: User) -> None:
    async def refused(call: object) -> UserError:
        with pytest.raises(UserError) as err:
            await call  # type: ignore[misc]
        return err.value

    for call in (auth.update_user(admin.id, role=ROLE_RESIDENT), auth.update_user(admin.id, active=False),
                 auth.remove_user(admin.id)):
        assert (await refused(call)).code == "conflict"
    carla = await auth.create_user("carla", "Carla", PASSWORD, ROLE_ADMIN)
    assert (await refused(auth.remove_user(carla.id, acting_user_id=carla.id))).code == "conflict"
    await auth.update_user(carla.id, active=False)
    # Carla is an admin but inactive: Ana is still the last *active* one.
    assert (await refused(auth.remove_user(admin.id, acting_user_id=carla.id))).code == "conflict"
    await auth.update_user(carla.id, active=True)
    await auth.update_user(admin.id, role=ROLE_RESIDENT)
    assert (await refused(auth.update_user(carla.id, role=ROLE_RESIDENT))).code == "conflict"
    await auth.remove_user(admin.id, acting_user_id=carla.id)
    assert [u.username for u in auth.users()] == ["carla"]
    assert (await refused(auth.remove_user("no-such-id"))).code == "not_found"
    assert (await refused(auth.update_user("no-such-id", name="X"))).code == "not_found"
    assert (await refused(auth.update_user(carla.id, active="no"))).field == "active"  # type: ignore[arg-type]


async def test_update_user_changes_only_what_is_given(auth: AuthManager, admin: User) -> None:
    updated = await auth.update_user(admin.id, name="Ana L.", language=None)
    assert (updated.name, updated.language, updated.role, updated.active) == ("Ana L.", None, "admin", True)
    assert auth.get_user(admin.id) == updated
    assert await auth.update_user(admin.id) == updated
    with pytest.raises(UserError) as err:
        await auth.update_user(admin.id, password="ana")
    assert err.value.field == "password"


async def test_removing_a_user_removes_their_tokens(auth: AuthManager, admin: User) -> None:
    revoked: list[str] = []
    auth.on_revoke(revoked.append)
    beto = await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    session = await auth.login("beto", PASSWORD, address=ADDRESS)
    info, _ = await auth.create_long_lived_token(beto, "Beto's display", ROLE_RESIDENT, 30)
    await auth.remove_user(beto.id, acting_user_id=admin.id)
    assert sorted(revoked) == sorted([session.token_id, info.id])
    assert auth.tokens() == [] and auth.get_user_by_username("beto") is None
    assert auth.validate_access_token(session.access_token) is None


async def test_demotion_and_deactivation_notify_every_token_of_the_user(auth: AuthManager, admin: User) -> None:
    revoked: list[str] = []
    auth.on_revoke(revoked.append)
    carla = await auth.create_user("carla", "Carla", PASSWORD, ROLE_ADMIN)
    session = await auth.login("carla", PASSWORD, address=ADDRESS)
    info, token = await auth.create_long_lived_token(carla, "Integrator", ROLE_ADMIN, 30)
    await auth.update_user(carla.id, role=ROLE_RESIDENT)
    # Websockets opened as an admin must reconnect; the tokens themselves still work, as a resident.
    assert sorted(revoked) == sorted([session.token_id, info.id])
    principal = auth.validate_access_token(session.access_token)
    assert principal is not None and principal.role == ROLE_RESIDENT
    revoked.clear()
    await auth.update_user(carla.id, active=False)
    assert sorted(revoked) == sorted([session.token_id, info.id])
    assert [t.id for t in auth.tokens()] == [info.id]  # the session is gone, the long-lived token waits


async def test_a_broken_revoke_listener_does_not_stop_the_others(
    auth: AuthManager, admin: User, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(token_id: str) -> None:
        raise RuntimeError("boom")

    auth.on_revoke(broken)
    auth.on_revoke(seen.append)
    session = await auth.login("ana", PASSWORD, address=ADDRESS)
    await auth.revoke(session.token_id)
    assert seen == [session.token_id] and "Error in a token revocation listener" in caplog.text


async def test_sessions_per_user_are_capped(auth: AuthManager, admin: User, clock: ManualClock) -> None:
    auth.max_sessions = 3
    revoked: list[str] = []
    auth.on_revoke(revoked.append)
    sessions = []
    for _ in range(4):
        sessions.append(await auth.login("ana", PASSWORD, address=ADDRESS))
        await clock.advance(1)
    assert revoked == [sessions[0].token_id]
    assert [t.id for t in auth.tokens()] == [s.token_id for s in sessions[1:]]


async def test_everything_survives_a_restart(auth: AuthManager, admin: User, db: Database, db_path: Path,
                                             clock: ManualClock) -> None:
    beto = await auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
    session = await auth.login("beto", PASSWORD, address=ADDRESS)
    _, long_lived = await auth.create_long_lived_token(admin, "Integrator", ROLE_ADMIN, 30)
    users, tokens = auth.users(), auth.tokens()
    await db.stop()

    again = Database(db_path)
    await again.start()
    try:
        restarted = AuthManager(again, clock=clock)
        await restarted.load()
        assert restarted.users() == users and restarted.tokens() == tokens and restarted.onboarded
        principal = restarted.validate_access_token(session.access_token)
        assert principal is not None and principal.user == beto
        assert restarted.validate_access_token(long_lived) is not None
        access, _ = await restarted.refresh(session.refresh_token, address=ADDRESS)
        assert restarted.validate_access_token(access) is not None
        await restarted.login("ana", PASSWORD, address=ADDRESS)
    finally:
        await again.stop()


async def test_expired_sessions_are_dropped_at_load(auth: AuthManager, admin: User, db: Database,
                                                    clock: ManualClock) -> None:
    await auth.login("ana", PASSWORD, address=ADDRESS)
    await clock.advance(91 * 86400)
    restarted = AuthManager(db, clock=clock)
    await restarted.load()
    assert restarted.tokens() == []


async def test_a_weaker_stored_hash_is_replaced_at_the_next_login(auth: AuthManager, admin: User, db: Database,
                                                                  clock: ManualClock) -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**10, r=8, p=1, dklen=32)
    weak = f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    await db.run(lambda d: d.execute("UPDATE auth_users SET password_hash = ? WHERE id = ?", [weak, admin.id]))
    restarted = AuthManager(db, clock=clock)
    await restarted.load()
    await restarted.login("ana", PASSWORD, address=ADDRESS)
    [stored] = await db.run(lambda d: d.execute("SELECT password_hash FROM auth_users").fetchone())
    assert stored.startswith("scrypt$16384$8$1$")
    await restarted.login("ana", PASSWORD, address=ADDRESS)


async def test_dummy_hash_is_made_after_start_not_during_it(hub, clock) -> None:  # type: ignore[no-untyped-def]
    from hub.auth import passwords

    assert getattr(hub.auth, "_dummy_ready", None) is None  # start-up did not pay for it
    hub.auth.close()  # the timer start-up set is cancelled on stop
    assert hub.auth._warm_timer.cancelled()
    hub.auth.warm_up(delay=0)
    for _ in range(100):
        if getattr(hub.auth, "_dummy_ready", None) is not None:
            break
        await asyncio.sleep(0.01)
    assert await hub.auth._dummy_ready == passwords.dummy_hash()
