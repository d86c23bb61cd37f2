"""Login, refresh, logout and onboarding over HTTP, for browsers (cookie) and API clients (body)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.runtime import Hub

PASSWORD = "correct horse battery"  # the users fixture's password

JSON = {"Content-Type": "application/json"}


async def test_login_for_an_api_client_returns_both_tokens(api: Any) -> None:
    response = await api.call("POST", "/auth/login", json={"username": "rita", "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    assert body["user"] == {"id": body["user"]["id"], "username": "rita", "name": "Rita Mendoza",
                            "role": "resident", "language": "en"}  # fmt: skip
    assert "hub_refresh" not in response.cookies
    me = await api.ok("GET", "/api/me", token=body["access_token"])
    assert me["username"] == "rita"
    refreshed = await api.call(
        "POST", "/auth/token", json={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    )
    assert refreshed.status == 200
    new = await refreshed.json()
    assert set(new) == {"access_token", "token_type", "expires_in"}
    assert (await api.ok("GET", "/api/me", token=new["access_token"]))["username"] == "rita"


async def test_browser_login_sets_a_strict_http_only_cookie_scoped_to_auth(api: Any) -> None:
    response = await api.call(
        "POST", "/auth/login", json={"username": "ana", "password": PASSWORD, "client": "browser"}
    )
    assert response.status == 200
    body = await response.json()
    assert "refresh_token" not in body and body["access_token"]
    cookie = response.cookies["hub_refresh"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/auth"
    assert not cookie["secure"]  # plain HTTP here; Secure is set when the request came over HTTPS
    # The page reloads: the cookie alone gets a new access token.
    response = await api.client.post("/auth/token", json={})
    assert response.status == 200
    token = (await response.json())["access_token"]
    assert (await api.ok("GET", "/api/me", token=token))["role"] == "admin"
    # Logout revokes the session and forgets the cookie: the cookie no longer works.
    cookie_value = cookie.value
    response = await api.client.post("/auth/logout", json={})
    assert response.status == 204
    assert response.cookies["hub_refresh"].value == ""
    error = await api.error("POST", "/auth/token", 401, json={"refresh_token": cookie_value})
    assert error["code"] == "unauthorized"
    await api.error("GET", "/api/me", 401, token=token)  # its session is gone


async def test_wrong_password_and_unknown_user_get_the_same_401(api: Any) -> None:
    wrong = await api.error("POST", "/auth/login", 401, json={"username": "ana", "password": "not the password"})
    unknown = await api.error("POST", "/auth/login", 401, json={"username": "nobody", "password": PASSWORD})
    assert wrong == unknown == {"code": "unauthorized", "message": "invalid username or password"}


async def test_repeated_failures_are_throttled_with_retry_after(api: Any) -> None:
    for _ in range(5):
        await api.error("POST", "/auth/login", 401, json={"username": "ana", "password": "wrong password!"})
    response = await api.call("POST", "/auth/login", json={"username": "ana", "password": PASSWORD})
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.json())["error"]["code"] == "too_many_requests"


async def test_auth_posts_require_json(api: Any) -> None:
    for path in ("/auth/login", "/auth/token", "/auth/logout"):
        error = await api.error("POST", path, 415, data="username=ana&password=x",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert error["code"] == "unsupported_media_type"
    error = await api.error("POST", "/api/onboarding", 415, data="{}", headers={"Content-Type": "text/plain"})
    assert error["code"] == "unsupported_media_type"


async def test_login_input_errors_name_the_field(api: Any) -> None:
    error = await api.error("POST", "/auth/login", 400, json={"password": PASSWORD})
    assert error["field"] == "username"
    error = await api.error("POST", "/auth/login", 400, json={"username": "ana", "password": PASSWORD, "client": "tv"})
    assert error["field"] == "client"
    error = await api.error("POST", "/auth/login", 400, data=b"{not json", headers=JSON)
    assert error["message"] == "body is not valid JSON"


async def test_refresh_errors(api: Any) -> None:
    error = await api.error("POST", "/auth/token", 401, json={})
    assert error["message"] == "no refresh token; log in again"
    await api.error("POST", "/auth/token", 401, json={"refresh_token": "0" * 64})
    # A stale cookie is answered with 401 and deleted.
    api.client.session.cookie_jar.update_cookies({"hub_refresh": "f" * 64})
    response = await api.client.post("/auth/token", json={})
    assert response.status == 401
    assert response.cookies["hub_refresh"].value == ""


async def test_logout_with_a_refresh_token_in_the_body_revokes_it(api: Any) -> None:
    result = await api.hub.auth.login("rita", PASSWORD, address="127.0.0.1")
    response = await api.call("POST", "/auth/logout", json={"refresh_token": result.refresh_token})
    assert response.status == 204
    await api.error("GET", "/api/me", 401, token=result.access_token)
    # Logging out twice is fine.
    assert (await api.call("POST", "/auth/logout", json={"refresh_token": result.refresh_token})).status == 204


async def test_onboarding_creates_the_first_admin_once(hub: Hub, client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/onboarding")
    assert response.status == 200 and await response.json() == {"done": False}
    response = await client.post("/api/onboarding", json={"name": "Ana", "username": "ana", "password": "short"})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "password"
    form = {"name": "Ana López", "username": "ana", "password": PASSWORD, "language": "es-MX"}
    response = await client.post("/api/onboarding", json=form)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["user"]["role"] == "admin" and body["user"]["language"] == "es-MX"
    assert response.cookies["hub_refresh"]["httponly"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (await me.json())["username"] == "ana"
    assert await (await client.get("/api/onboarding")).json() == {"done": True}
    response = await client.post("/api/onboarding", json={**form, "username": "eve"})
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    assert [u.username for u in hub.auth.users()] == ["ana"]


async def test_onboarding_language_is_validated(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/api/onboarding", json={"name": "Ana", "username": "ana", "password": PASSWORD, "language": "klingon!"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "language"
