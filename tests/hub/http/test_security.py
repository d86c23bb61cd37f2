"""Authentication and roles for every route, errors as JSON, headers, body limit, static files, logs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.http import HttpServer, route_table
from hub.http.app import SECURITY_HEADERS
from hub.http.common import ADMIN, PUBLIC
from hub.runtime import Hub
from hub.services import ServiceCall

ROUTES = route_table()
ADMIN_ROUTES = [r for r in ROUTES if r.role == ADMIN]
PROTECTED_ROUTES = [r for r in ROUTES if r.role != PUBLIC]


def route_id(route: Any) -> str:
    return f"{route.method} {route.path}"


def assert_security_headers(response: aiohttp.ClientResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("X-Request-Id")


def test_the_route_table_is_not_trivial() -> None:
    assert len(ADMIN_ROUTES) == 18 and len(PROTECTED_ROUTES) == 38  # docs/http.md, less the public ones
    assert {r.path for r in ROUTES if r.role == PUBLIC} == {
        "/auth/login", "/auth/token", "/auth/logout", "/api/onboarding", "/api/websocket",
    }  # fmt: skip


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=route_id)
async def test_every_protected_route_needs_a_bearer_token(api: Any, route: Any, sample_path: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer v1.forged.token"}, {"Authorization": f"Basic {api.admin}"}):
        response = await api.client.request(route.method, sample_path(route), headers=headers, json={})
        assert response.status == 401, await response.text()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "unauthorized"
        assert_security_headers(response)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
async def test_every_admin_route_refuses_a_resident(api: Any, route: Any, sample_path: Any) -> None:
    error = await api.error(route.method, sample_path(route), 403, token=api.resident, json={})
    assert error == {"code": "forbidden", "message": "this needs the administrator role"}


async def test_a_resident_token_of_an_admin_is_limited_like_a_resident(api: Any) -> None:
    _, secret = await api.hub.auth.create_long_lived_token(api.hub.auth.get_user_by_username("ana"), "kiosk",
                                                           "resident", 30)  # fmt: skip
    await api.error("GET", "/api/users", 403, token=secret)
    await api.ok("GET", "/api/states", token=secret)


async def test_errors_are_json_with_security_headers(api: Any) -> None:
    response = await api.call("GET", "/api/", token=api.resident)
    assert response.status == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    for path, token in (("/api/nothing", api.resident), ("/nothing", None), ("/auth/nothing", None)):
        error = await api.error("GET", path, 404, token=token)
        assert error == {"code": "not_found", "message": "not found"}
    response = await api.call("PUT", "/api/states", token=api.resident)
    assert response.status == 405 and "GET" in response.headers["Allow"]
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert_security_headers(response)
    response = await api.call("GET", "/api/")
    assert response.status == 401
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"
    response = await api.client.post("/auth/login", json={"username": "ana", "password": "wrong password"})
    assert response.headers["Cache-Control"] == "no-store"
    assert_security_headers(response)


async def test_a_crash_is_a_500_without_traceback_but_logged_with_the_request_id(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(call: ServiceCall) -> None:
        raise RuntimeError("the secret internals")

    api.hub.services.register("test", "explode", explode)
    response = await api.call("POST", "/api/services/test/explode", token=api.admin)
    assert response.status == 500
    text = await response.text()
    assert "Traceback" not in text and "secret internals" not in text
    assert await response.json() == {"error": {"code": "internal", "message": "internal error"}}
    assert_security_headers(response)
    request_id = response.headers["X-Request-Id"]
    record = next(r for r in caplog.records if request_id in r.getMessage())
    assert record.exc_info is not None and "the secret internals" in str(record.exc_info[1])


async def test_bodies_over_64_kib_are_refused(api: Any) -> None:
    big = b'{"x": "' + b"a" * 65536 + b'"}'
    headers = {"Content-Type": "application/json"}
    error = await api.error("POST", "/api/services/test/x", 413, token=api.admin, data=big, headers=headers)
    assert error["code"] == "payload_too_large"
    error = await api.error("POST", "/auth/login", 413, data=big, headers=headers)
    assert error["code"] == "payload_too_large"

    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for _ in range(70):
            yield b"a" * 1024

    error = await api.error("POST", "/auth/login", 413, data=chunks(), headers=headers)
    assert error["code"] == "payload_too_large"


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "static" / "i18n").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>hub</title>")
    (root / "static" / "app.js").write_text("export const x = 1;\n")
    (root / "static" / "app.css").write_text("body { margin: 0 }\n")
    (root / "static" / "i18n" / "en.json").write_text('{"hello": "Hello"}')
    (root / "secret.txt").write_text("outside static")
    (root / "static" / "escape.txt").symlink_to(root / "secret.txt")
    return root


async def test_static_files_have_exact_types_and_security_headers(hub: Hub, serve: Any, web_root: Path) -> None:
    async with serve(hub, web_root=web_root) as client:
        for path, content_type in (
            ("/", "text/html; charset=utf-8"),
            ("/static/app.js", "text/javascript; charset=utf-8"),
            ("/static/app.css", "text/css; charset=utf-8"),
            ("/static/i18n/en.json", "application/json"),
        ):
            response = await client.get(path)
            assert response.status == 200, path
            assert response.headers["Content-Type"] == content_type
            assert response.headers["Cache-Control"] == "no-cache"
            assert_security_headers(response)
        for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/escape.txt", "/static/nope.js"):
            response = await client.get(path)
            assert response.status == 404, path
            assert "outside static" not in await response.text()
            assert_security_headers(response)


async def test_a_missing_dashboard_answers_503(hub: Hub, serve: Any, tmp_path: Path) -> None:
    async with serve(hub, web_root=tmp_path / "no-web") as client:
        response = await client.get("/")
        assert response.status == 503
        assert await response.json() == {"error": {"code": "unavailable", "message": "dashboard files not installed"}}
        assert_security_headers(response)


async def test_server_logs_no_token_query_string_or_password(
    hub: Hub, users: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = HttpServer(hub, host="127.0.0.1", port=0)
    await server.start()
    try:
        assert server.port and server.url == f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {users[0]}"}
            async with session.get(f"{server.url}/api/states?access_token=leaky", headers=headers) as response:
                assert response.status == 200
            async with session.post(f"{server.url}/auth/login",
                                    json={"username": "ana", "password": "hunter2 hunter2"}) as response:  # fmt: skip
                assert response.status == 401
        # A request aiohttp cannot parse: its raw bytes (with the token) must not reach the log.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(f"GET /api/ HTTP/1.1\r\nAuthorization: Bearer {users[0]}\x00\r\n\r\n".encode())
            assert b" 400 " in await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()
    finally:
        await server.stop()
    access = [r.getMessage() for r in caplog.records if r.name == "hub.http.access"]
    assert any('"GET /api/states" 200' in line for line in access), access
    logged = caplog.text
    assert users[0] not in logged and "leaky" not in logged and "hunter2" not in logged


async def test_a_port_in_use_leaves_the_hub_running_without_http(hub: Hub) -> None:
    first = HttpServer(hub, host="127.0.0.1", port=0)
    await first.start()
    try:
        second = HttpServer(hub, host="127.0.0.1", port=first.port)
        await second.start()
        assert not second.running and "cannot listen on" in (second.error or "")
        await second.stop()  # harmless
    finally:
        await first.stop()


async def test_the_websocket_path_without_an_upgrade_is_a_json_400(api: Any) -> None:
    response = await api.call("GET", "/api/websocket")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"
    assert_security_headers(response)
