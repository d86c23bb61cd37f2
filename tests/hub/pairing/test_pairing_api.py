"""/api/discovered end to end on the fake integration: roles, pairing answers, errors, ignore and forget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pairing_fake import DOMAIN, UNREACHABLE_HOST, write_fakecam
from test_pairing_manager import garage

from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.clock import ManualClock
from hub.http.app import create_app
from hub.runtime import Hub

PASSWORD = "correct horse battery"


class Client:
    """The test client with an admin's and a resident's bearer tokens."""

    def __init__(self, client: TestClient[Any, Any], admin: str, resident: str) -> None:
        self.client, self.admin, self.resident = client, admin, resident

    async def call(self, method: str, path: str, *, token: str, body: Any = None, status: int) -> Any:
        response = await self.client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status == status, f"{method} {path}: {response.status} {await response.text()}"
        return await response.json() if response.status != 204 else None


@pytest.fixture
async def site(tmp_path: Path, clock: ManualClock) -> AsyncIterator[tuple[Hub, Client]]:
    write_fakecam(tmp_path)
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        await hub.auth.create_user("ana", "Ana", PASSWORD, ROLE_ADMIN)
        await hub.auth.create_user("rita", "Rita", PASSWORD, ROLE_RESIDENT)
        admin = (await hub.auth.login("ana", PASSWORD, address="127.0.0.1")).access_token
        resident = (await hub.auth.login("rita", PASSWORD, address="127.0.0.1")).access_token
        async with TestClient(TestServer(create_app(hub))) as client:
            yield hub, Client(client, admin, resident)
    finally:
        await hub.stop()


async def test_residents_read_admins_pair_and_a_refused_pin_names_the_field(site: tuple[Hub, Client]) -> None:
    hub, api = site
    [row] = await hub.pairing.found([DOMAIN], garage())
    body = await api.call("GET", "/api/discovered", token=api.resident, status=200)
    assert body == {"discovered": [{
        "id": row.id, "domain": DOMAIN, "unique_id": "SN-1", "title": "Garage", "kind": "thing", "source": "zeroconf",
        "host": "10.0.0.7", "port": 8554, "address": None, "first_seen": row.first_seen, "last_seen": row.last_seen,
        "ignored": False, "present": True, "asks": [{"key": "pin", "label": "PIN", "secret": True, "default": None}],
        "details": {"model": "FC-2"},
    }]}  # fmt: skip
    pair = f"/api/discovered/{row.id}/pair"
    await api.call("POST", pair, token=api.resident, body={"answers": {"pin": "1234"}}, status=403)

    refused = await api.call("POST", pair, token=api.admin, body={"answers": {"pin": "9999"}}, status=400)
    assert refused == {"error": {"code": "bad_request", "message": "the device refused that PIN", "field": "pin"}}
    missing = await api.call("POST", pair, token=api.admin, body={"answers": {}}, status=400)
    assert missing["error"]["field"] == "pin"
    await api.call("POST", pair, token=api.admin, body={"answers": {"pin": 1234}}, status=400)
    assert hub.config_entries.entries(DOMAIN) == []

    made = await api.call("POST", pair, token=api.admin, body={"answers": {"pin": "1234"}}, status=201)
    [entry] = hub.config_entries.entries(DOMAIN)
    assert made == {"entry_id": entry.entry_id, "title": "Garage", "state": "loaded", "reveal": {}}
    assert entry.unique_id == "SN-1" and entry.source == "discovery"
    assert (await api.call("GET", "/api/discovered", token=api.resident, status=200)) == {"discovered": []}
    await api.call("POST", pair, token=api.admin, body={"answers": {"pin": "1234"}}, status=404)


async def test_an_unreachable_device_is_a_502_and_saves_nothing(site: tuple[Hub, Client]) -> None:
    hub, api = site
    [row] = await hub.pairing.found([DOMAIN], garage(host=UNREACHABLE_HOST))
    body = await api.call("POST", f"/api/discovered/{row.id}/pair", token=api.admin, body={"answers": {"pin": "1234"}},
                          status=502)  # fmt: skip
    assert body["error"]["code"] == "unreachable" and "could not reach Garage at 10.9.9.9" in body["error"]["message"]
    assert "field" not in body["error"] and hub.config_entries.entries(DOMAIN) == []


async def test_ignore_and_forget(site: tuple[Hub, Client]) -> None:
    hub, api = site
    [row] = await hub.pairing.found([DOMAIN], garage())
    await api.call("POST", f"/api/discovered/{row.id}/ignore", token=api.resident, status=403)
    await api.call("POST", f"/api/discovered/{row.id}/ignore", token=api.admin, status=204)
    assert (await api.call("GET", "/api/discovered", token=api.resident, status=200))["discovered"] == []
    hidden = await api.call("GET", "/api/discovered?ignored=1", token=api.resident, status=200)
    assert [(r["id"], r["ignored"]) for r in hidden["discovered"]] == [(row.id, True)]
    await api.call("GET", "/api/discovered?ignored=yes", token=api.resident, status=400)

    await api.call("DELETE", f"/api/discovered/{row.id}", token=api.resident, status=403)
    await api.call("DELETE", f"/api/discovered/{row.id}", token=api.admin, status=204)
    await api.call("DELETE", f"/api/discovered/{row.id}", token=api.admin, status=404)
    await api.call("POST", "/api/discovered/no%20such/ignore", token=api.admin, status=400)
    assert (await api.call("GET", "/api/discovered?ignored=1", token=api.admin, status=200))["discovered"] == []
