"""aiohttp's test server on the `hub` fixture's Hub, users made through hub.auth, request helpers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.http import create_app
from hub.http.common import Route
from hub.runtime import Hub

PASSWORD = "correct horse battery"

# A valid value for each path parameter, so table-driven tests can call any route.
SAMPLE_PARAMS = {
    "entity_id": "sensor.cistern_level",
    "domain": "demo",
    "service": "ping",
    "device_id": "dev1",
    "entry_id": "entry1",
    "user_id": "user1",
    "token_id": "token1",
    "automation_id": "cistern_low",
    "run_id": "run1",
    "discovered_id": "disc1",
}


@dataclass
class Api:
    """A test client plus the hub behind it and two logged-in users' access tokens."""

    client: TestClient[Any, Any]
    hub: Hub
    admin: str  # access token of ana (admin)
    resident: str  # access token of rita (resident)

    async def call(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> ClientResponse:
        """`method path` with `token` as bearer (none if None)."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.request(method, path, json=json, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, *, token: str | None = None, json: Any = None, status: int = 200) -> Any:
        """The JSON body of a call that must answer `status` (as admin unless `token` is given)."""
        response = await self.call(method, path, token=token or self.admin, json=json)
        assert response.status == status, await response.text()
        return None if status == 204 else await response.json()

    async def error(
        self, method: str, path: str, status: int, *, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The `error` object of a call that must fail with `status`."""
        response = await self.call(method, path, token=token, json=json, **kwargs)
        assert response.status == status, await response.text()
        assert response.content_type == "application/json"
        body = await response.json()
        assert set(body) == {"error"}
        return body["error"]


def sample_path(route: Route) -> str:
    """The route's path with every {parameter} filled in."""
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS[m.group(1)], route.path)


@contextlib.asynccontextmanager
async def serve(hub: Hub, **options: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """A test client on a fresh app of `hub` (options: web_root, ws_queue_size, ws_auth_timeout)."""
    async with TestClient(TestServer(create_app(hub, **options))) as client:
        yield client


async def login(hub: Hub, username: str, password: str = PASSWORD) -> str:
    """An access token for `username`."""
    result = await hub.auth.login(username, password, address="127.0.0.1")
    return result.access_token


@pytest.fixture
def password() -> str:
    """The password of every test user."""
    return PASSWORD


@pytest.fixture(name="serve")
def serve_fixture() -> Any:
    """`serve(hub, **options)`: an async context manager giving a test client on a fresh app."""
    return serve


@pytest.fixture(name="sample_path")
def sample_path_fixture() -> Any:
    """`sample_path(route)`: the route's path with sample parameters."""
    return sample_path


@pytest.fixture
def api_class() -> type[Api]:
    """The Api helper, for tests that build their own hub."""
    return Api


@pytest.fixture
async def users(hub: Hub) -> tuple[str, str]:
    """Ana (admin) and Rita (resident), logged in: their access tokens."""
    await hub.auth.create_user("ana", "Ana López", PASSWORD, ROLE_ADMIN, language="es-MX")
    await hub.auth.create_user("rita", "Rita Mendoza", PASSWORD, ROLE_RESIDENT, language="en")
    return await login(hub, "ana"), await login(hub, "rita")


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[TestClient[Any, Any]]:
    """A test client on the hub's app, before any user exists."""
    async with serve(hub) as test_client:
        yield test_client


@pytest.fixture
async def api(hub: Hub, client: TestClient[Any, Any], users: tuple[str, str]) -> Api:
    """The test client with an admin's and a resident's tokens."""
    return Api(client, hub, *users)
