"""Pairing an RTSP camera from the Discovered list against GStreamer's RTSP server, through the HTTP API.

The camera is "found" by injecting what the mDNS browser would report for an `_rtsp._tcp` announcement
(the real mDNS path is covered by tests/hub/network). A wrong password is refused on the password field
with nothing saved; the right one makes a config entry whose camera streams like a YAML one and shows in
/api/rtsp_camera/cameras; deleting the entry takes the camera and its entities away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cam_helpers import RtspServer
from hub_api import Api, free_port, started_hub
from test_cam_hub import camera_row
from waiting import until

from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.pairing import Found
from hub.runtime import Hub
from integrations.rtsp_camera.pairing import async_discovered, camera_conf

PASSWORD = "correct horse battery"
WAIT_S = 60.0
NVT = "{http://www.onvif.org/ver10/network/wsdl}NetworkVideoTransmitter"


def announced(port: int, *, name: str = "Porch", properties: dict[str, Any] | None = None) -> Found:
    """What the mDNS browser reports for a camera announcing `_rtsp._tcp` on this machine."""
    return Found(source="zeroconf", type="_rtsp._tcp.local.", name=name, host="127.0.0.1", addresses=("127.0.0.1",),
                 port=port, properties=properties if properties is not None else {"path": "/test"},
                 origin=f"zeroconf:{name}._rtsp._tcp.local.")  # fmt: skip


async def test_offers_for_rtsp_announcements_and_onvif_answers() -> None:
    plain = await async_discovered(None, announced(8554))
    assert plain is not None and (plain.unique_id, plain.title, plain.kind) == ("127.0.0.1:8554", "Porch", "camera")
    assert [(a.key, a.secret) for a in plain.asks] == [("username", False), ("password", True)]
    assert plain.details["url"] == "rtsp://127.0.0.1:8554/test" and plain.address_data == {"host": "127.0.0.1",
                                                                                           "rtsp_port": 8554}
    serial = await async_discovered(None, announced(554, properties={"serial": "AB12", "path": "live"}))
    assert serial is not None and serial.unique_id == "serial:ab12" and serial.details["path"] == "/live"

    onvif = Found(source="wsdiscovery", type=NVT, name=None, host="10.0.0.40", port=8080,
                  extra={"endpoint": "urn:uuid:1234", "hardware": "IPC-1", "xaddrs": ["http://10.0.0.40:8080/x"]})
    offer = await async_discovered(None, onvif)
    assert offer is not None and (offer.unique_id, offer.title) == ("urn:uuid:1234", "IPC-1")
    # The stream comes from ONVIF GetStreamUri: only the credentials are asked.
    assert [(a.key, a.secret) for a in offer.asks] == [("username", False), ("password", True)]
    assert offer.address_data == {"host": "10.0.0.40", "onvif_port": 8080}
    assert await async_discovered(None, Found(source="bluetooth", address="AA:BB")) is None

    # An entry paired before ONVIF streams (one `stream_path`) keeps working.
    conf = camera_conf({"name": "Patio", "id": "patio", "host": "fd00::5", "rtsp_port": 554, "stream_path": "/s1",
                        "username": "u", "password": "p", "onvif_port": 8080})  # fmt: skip
    assert conf["sub_url"] == "rtsp://[fd00::5]:554/s1" and "main_url" not in conf and conf["onvif"] == {"port": 8080}
    # An ONVIF entry: both streams on the entry's host (which `address_data` updates), paths kept apart.
    both = camera_conf({"name": "Gate", "id": "gate", "host": "10.0.0.41", "rtsp_port": 8554, "main_path": "/ch1/main",
                        "sub_path": "/cam?channel=1&subtype=1", "main_rtsp_port": 554, "onvif_port": 80})  # fmt: skip
    assert both["main_url"] == "rtsp://10.0.0.41:554/ch1/main"
    assert both["sub_url"] == "rtsp://10.0.0.41:8554/cam?channel=1&subtype=1"


@pytest.fixture
async def site(tmp_path: Path, rtsp_server: Callable[..., RtspServer]) -> AsyncIterator[dict[str, Any]]:
    server = rtsp_server(auth="digest", user="admin", password="secret")
    port = free_port()
    hub = await started_hub(tmp_path, {"http": {"server_host": "127.0.0.1", "server_port": port}})  # no rtsp_camera:
    admin: Api | None = None
    resident: Api | None = None
    try:
        await hub.auth.create_user("ana", "Ana", PASSWORD, ROLE_ADMIN)
        await hub.auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
        admin = Api(f"http://127.0.0.1:{port}", (await hub.auth.login("ana", PASSWORD, address="127.0.0.1")).access_token)
        resident = Api(admin.base, (await hub.auth.login("beto", PASSWORD, address="127.0.0.1")).access_token)
        yield {"hub": hub, "admin": admin, "resident": resident, "server": server}
    finally:
        for client in (admin, resident):
            if client is not None:
                await client.session.close()
        await hub.stop()


async def test_a_found_camera_is_paired_streams_and_goes_away_with_its_entry(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    resident: Api = site["resident"]
    server: RtspServer = site["server"]

    txt = {"path": "/test", "serial": "PORCH-1"}
    await hub.pairing.found(["rtsp_camera"], announced(server.port, properties=txt))
    [row] = (await resident.json("GET", "/api/discovered"))["discovered"]
    assert (row["domain"], row["kind"], row["title"], row["host"]) == ("rtsp_camera", "camera", "Porch", "127.0.0.1")
    pair = f"/api/discovered/{row['id']}/pair"
    await resident.json("POST", pair, {"answers": {"username": "admin", "password": "secret"}}, status=403)

    refused = await admin.json("POST", pair, {"answers": {"username": "admin", "password": "wrong"}}, status=400)
    assert refused["error"]["field"] == "password" and "refused user admin" in refused["error"]["message"]
    assert hub.config_entries.entries("rtsp_camera") == []

    made = await admin.json("POST", pair, {"answers": {"username": "admin", "password": "secret"}}, status=201)
    [entry] = hub.config_entries.entries("rtsp_camera")
    assert made["entry_id"] == entry.entry_id and made["state"] == "loaded" and entry.source == "discovery"
    assert entry.data["stream_path"] == "/test" and entry.data["rtsp_port"] == server.port
    assert (await resident.json("GET", "/api/discovered"))["discovered"] == []

    async def streaming() -> dict[str, Any] | None:
        camera = await camera_row(admin, "porch")
        return camera if camera["state"] == "streaming" and camera["fps"] else None

    camera = await until(streaming, "the paired camera streaming", timeout=WAIT_S)
    assert camera["entity_id"] == "camera.porch" and "secret" not in str(camera)
    owned = {e.entity_id for e in hub.entities.entries_for_config_entry(entry.entry_id)}
    assert owned == {"camera.porch", "binary_sensor.porch_motion", "sensor.porch_cpu"}
    assert hub.states.get("camera.porch") is not None

    # Back at another port (a DHCP or firmware change): the entry follows, nothing is listed.
    await hub.pairing.found(["rtsp_camera"], announced(server.port + 1, properties=txt))
    [moved] = hub.config_entries.entries("rtsp_camera")
    assert moved.entry_id == entry.entry_id and moved.data["rtsp_port"] == server.port + 1
    assert (await resident.json("GET", "/api/discovered"))["discovered"] == []
    assert (await camera_row(admin, "porch"))["url"].endswith(f":{server.port + 1}/test")

    await admin.json("DELETE", f"/api/config_entries/{entry.entry_id}", status=204)
    assert (await admin.json("GET", "/api/rtsp_camera/cameras"))["cameras"] == []
    assert all(hub.states.get(entity_id) is None for entity_id in owned)
    assert hub.entities.entries_for_config_entry(entry.entry_id) == []

    # Still on the network: the next sighting lists it again.
    await hub.pairing.found(["rtsp_camera"], announced(server.port, properties=txt))
    assert [r["title"] for r in (await resident.json("GET", "/api/discovered"))["discovered"]] == ["Porch"]
