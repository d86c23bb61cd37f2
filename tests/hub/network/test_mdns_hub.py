"""mDNS wired into the Hub: announced after HTTP with the real API port, off under the test suite, GET /api/network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from netns import Link, PeerProcess, link_fixture, private_link  # noqa: F401 - the link and peer fixtures
from waiting import until

from hub import __version__
from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.clock import ManualClock
from hub.loader import CUSTOM_DIR
from hub.network.mdns import HUB_ID_FILE
from hub.pairing import PairingUnavailable
from hub.runtime import MDNS_ENV, Hub

PASSWORD = "a long enough password"



async def resident_get(hub: Hub, path: str) -> Any:
    """GET `path` on the hub's real HTTP server as a resident."""
    await hub.auth.create_user("ana", "Ana", PASSWORD, ROLE_ADMIN)
    await hub.auth.create_user("rita", "Rita", PASSWORD, ROLE_RESIDENT)
    token = (await hub.auth.login("rita", PASSWORD, address="127.0.0.1")).access_token
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.get(f"{hub.http.url}{path}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def write_config(config_dir: Path, link: Link) -> None:
    config_dir.mkdir(exist_ok=True)
    (config_dir / "configuration.yaml").write_text(
        f"hub:\n  name: Casa Norte\nhttp:\n  server_host: {link.host}\n  server_port: 0\n"
        f"network:\n  interfaces: [{link.host}]\n"
    )
    package = config_dir / CUSTOM_DIR / "espfake"
    package.mkdir(parents=True)
    manifest = {"domain": "espfake", "name": "ESP fake", "version": "1.0.0", "iot_class": "local_push",
                "zeroconf": [{"type": "_esphomelib._tcp.local.", "properties": {"mac": "*"}}]}
    (package / "manifest.json").write_text(json.dumps(manifest))
    (package / "__init__.py").write_text("raise RuntimeError('discovery must not import me')\n")


async def test_hub_announces_its_api_port_browses_and_says_goodbye_on_stop(
    tmp_path: Path, clock: ManualClock, link: Link
) -> None:
    write_config(tmp_path, link)
    async with PeerProcess(link) as peer:
        await peer.send(op="browse", type="_maderas._tcp.local.")
        hub = Hub(tmp_path, clock=clock, mdns=True)
        await hub.start()
        try:
            assert hub.mdns is not None and hub.mdns.status.state == "running"
            added = await until(lambda: [e for e in peer.events if e["event"] == "added"], "the hub announced", 30)
            hub_id = (tmp_path / HUB_ID_FILE).read_text().strip()
            assert added[0]["name"] == "Casa Norte._maderas._tcp.local."
            assert added[0]["properties"] == {
                "id": hub_id, "version": __version__, "api_port": str(hub.http.port), "path": "/"
            }
            assert added[0]["addresses"] == [link.host] and added[0]["port"] == hub.http.port

            await peer.send(op="register", type="_esphomelib._tcp.local.", name="garage",
                            properties={"mac": "a4cf12b3c4d5", "version": "2024.6.1", "friendly_name": "Garage door"})
            await until(lambda: "garage._esphomelib._tcp.local." in hub.mdns.found, "the hub to find the device", 30)
            assert set(hub.mdns.found["garage._esphomelib._tcp.local."].domains) == {"esphome", "espfake"}

            # Through real mDNS into the Discovered list: an ESPHome device is listed with what it is, not pairable.
            async def listed() -> list[Any]:
                return [row for row in await hub.pairing.list() if row.domain == "esphome"]

            [row] = await until(listed, "the ESPHome device in the Discovered list", 30)
            assert (row.title, row.kind, row.unique_id, row.found.host) == ("Garage door", "esphome",
                                                                              "mac:a4cf12b3c4d5", link.peer)
            assert row.details["esphome_version"] == "2024.6.1" and "cannot run them" in row.details["cannot_pair"]
            with pytest.raises(PairingUnavailable, match="Garage door: Maderas Hub lists ESPHome devices"):
                await hub.pairing.pair(row.id, {})

            body = await resident_get(hub, "/api/network")
            assert body["mdns"] == {"state": "running", "reason": None, "interfaces": [link.host], "name": "Casa Norte"}
            # rtsp_camera's manifest asks for ONVIF cameras: the hub probes for them on the same interfaces.
            assert body["wsdiscovery"]["state"] == "running" and body["wsdiscovery"]["every"] == 300
            assert body["wsdiscovery"]["listening"] is True  # Hello / Bye heard on the same interface
        finally:
            await hub.stop()
        await until(lambda: [e for e in peer.events if e["event"] == "removed"], "the goodbye on stop", 30)


async def test_under_the_test_suite_a_hub_does_not_start_mdns(hub: Hub) -> None:
    import os

    assert os.environ[MDNS_ENV] == "off"  # set by tests/conftest.py, inherited by `hub run` children
    assert hub.mdns_allowed is False and hub.mdns is None
    body = await resident_get(hub, "/api/network")
    assert body == {
        "mdns": {"state": "off", "reason": "mDNS is turned off", "interfaces": [], "name": None},
        "wsdiscovery": {"state": "off", "reason": "multicast discovery is turned off", "last_probe": None, "found": 0,
                        "every": None, "listening": False, "listen_error": None},
    }  # fmt: skip


async def test_loopback_api_is_not_announced_but_still_browses(tmp_path: Path, clock: ManualClock, link: Link) -> None:
    write_config(tmp_path, link)
    config = (tmp_path / "configuration.yaml").read_text().replace(f"server_host: {link.host}", "server_host: 127.0.0.1")
    (tmp_path / "configuration.yaml").write_text(config)
    async with PeerProcess(link) as peer:
        await peer.send(op="register", type="_esphomelib._tcp.local.", name="porch", properties={"mac": "bb"})
        await peer.send(op="browse", type="_maderas._tcp.local.")
        hub = Hub(tmp_path, clock=clock, mdns=True)
        await hub.start()
        try:
            await until(lambda: "porch._esphomelib._tcp.local." in hub.mdns.found, "the hub to find the device", 30)
            assert hub.mdns.status.state == "running" and hub.mdns.status.name is None
            assert hub.mdns.status.reason == "browsing only: the hub itself is not announced"
            assert not [e for e in peer.events if e["event"] == "added"]
        finally:
            await hub.stop()
