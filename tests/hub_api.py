"""A real hub on the real clock with its HTTP API, and a bearer-token client for it (shared by integration tests)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    """A loopback port nobody listens on (a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Api:
    """An aiohttp client with a bearer token; `close()` when done."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = aiohttp.ClientSession()

    async def json(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.session.request(method, self.base + path, json=body, headers=self.headers) as response:
            assert response.status == status, f"{method} {path}: {response.status} {await response.text()}"
            return await response.json() if response.status != 204 else None

    async def raw(self, path: str) -> tuple[int, str, bytes]:
        async with self.session.get(self.base + path, headers=self.headers) as response:
            return response.status, response.content_type, await response.read()

    async def close(self) -> None:
        await self.session.close()


async def started_hub(tmp_path: Path, config: dict[str, Any]) -> Any:
    """A real Hub (real clock) on `config` written as configuration.yaml under tmp_path/hub; started, no errors."""
    import yaml

    from hub.runtime import Hub

    config_dir = tmp_path / "hub"
    config_dir.mkdir()
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    hub = Hub(config_dir)
    await hub.start()
    if hub.config_errors:
        await hub.stop()
        raise AssertionError(f"configuration errors: {hub.config_errors}")
    return hub


async def api_users(hub: Any, port: int, password: str) -> tuple[Api, Api]:
    """An admin (ana) and a resident (beto) logged in to the hub's API on 127.0.0.1:port."""
    from hub.auth import ROLE_ADMIN, ROLE_RESIDENT

    await hub.auth.create_user("ana", "Ana", password, ROLE_ADMIN)
    await hub.auth.create_user("beto", "Beto", password, ROLE_RESIDENT)
    base = f"http://127.0.0.1:{port}"
    admin = Api(base, (await hub.auth.login("ana", password, address="127.0.0.1")).access_token)
    resident = Api(base, (await hub.auth.login("beto", password, address="127.0.0.1")).access_token)
    return admin, resident
