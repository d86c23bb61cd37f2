"""Pairing an ONVIF camera found by WS-Discovery: its streams come from GetStreamUri, not from the resident.

The camera is the test ONVIF device (onvif_device.py: WS-UsernameToken digest, media profiles) whose
GetStreamUri names GStreamer's RTSP server (Digest). What WS-Discovery found is built from a
ProbeMatch the way the hub's poller builds it. Pairing asks only user and password; a refused
password names the password field and saves nothing; the right one makes an entry with the main
(largest) and sub (smallest) stream, the camera streams and serves a snapshot. A URI naming 0.0.0.0
with inline credentials, a camera without profiles and an address nobody answers are covered too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cam_helpers import RtspServer
from hub_api import Api, free_port, started_hub
from onvif_device import MediaProfile, OnvifDevice
from test_cam_hub import camera_row
from waiting import until

from hub.network.wsdiscovery import NETWORK_VIDEO_TRANSMITTER, ProbeMatch
from hub.pairing import Found, PairingError
from hub.pairing.probing import found_from_probe_match
from hub.runtime import Hub
from integrations.rtsp_camera.onvif_media import Profile, choose_profiles, stream_location
from integrations.rtsp_camera.pairing import async_discovered

ADMIN_PASSWORD = "correct horse battery"
CAMERA_PASSWORD = "Pl4in-Camera-Pw"  # distinctive, so a leak into a message or a log line shows
WAIT_S = 60.0


def answered(port: int, *, name: str | None = None, endpoint: str = "urn:uuid:cam-0001") -> Found:
    """What the WS-Discovery poller hands the pairing manager for a camera whose device service is on this port."""
    match = ProbeMatch(endpoint=endpoint, types=(NETWORK_VIDEO_TRANSMITTER,), scopes=(),
                       xaddrs=(f"http://127.0.0.1:{port}/onvif/device_service",), metadata_version=1,
                       name=name, hardware="PullPoint-1", location=None)  # fmt: skip
    return found_from_probe_match(match)


def test_main_is_the_largest_picture_sub_the_smallest_and_uris_lose_their_credentials() -> None:
    hd, vga, qhd = Profile("a", "HD", 1280, 720), Profile("b", "VGA", 640, 480), Profile("c", "QHD", 2560, 1440)
    assert choose_profiles([hd, vga, qhd]) == (qhd, vga)
    assert choose_profiles([hd]) == (hd, hd)  # one profile is both
    assert choose_profiles([hd, Profile("d", "HD too", 1280, 720)]) == (hd, hd)  # equals: the first
    with pytest.raises(ValueError):
        choose_profiles([])

    where = stream_location("rtsp://admin:pw%40x@0.0.0.0:8554/cam/realmonitor?channel=1&subtype=1")
    assert (where.host, where.port, where.path) == ("0.0.0.0", 8554, "/cam/realmonitor?channel=1&subtype=1")
    assert "pw" not in repr(where)
    assert (stream_location("rtsp://10.0.0.9").port, stream_location("rtsp://10.0.0.9").path) == (554, "/")
    with pytest.raises(ValueError, match="not rtsp://"):
        stream_location("http://10.0.0.9/live")


async def test_the_offer_asks_only_user_and_password() -> None:
    offer = await async_discovered(None, answered(8080, name="Garden"))
    assert offer is not None and (offer.unique_id, offer.title, offer.kind) == ("urn:uuid:cam-0001", "Garden", "camera")
    assert [(a.key, a.secret, a.default) for a in offer.asks] == [("username", False, None), ("password", True, None)]
    assert offer.details["onvif"] == ["http://127.0.0.1:8080/onvif/device_service"]
    assert offer.address_data == {"host": "127.0.0.1", "onvif_port": 8080}


@pytest.fixture
async def site(
    tmp_path: Path, rtsp_server: Callable[..., RtspServer], still_png: Path
) -> AsyncIterator[dict[str, Any]]:
    server = rtsp_server(auth="digest", user="admin", password=CAMERA_PASSWORD, image=still_png)
    devices: list[OnvifDevice] = []

    async def device(**kwargs: Any) -> OnvifDevice:
        made = OnvifDevice("admin", CAMERA_PASSWORD, **kwargs)
        devices.append(made)
        await made.start()
        return made

    port = free_port()
    hub = await started_hub(tmp_path, {"http": {"server_host": "127.0.0.1", "server_port": port}})
    clients: list[Api] = []
    try:
        await hub.auth.create_user("ana", "Ana", ADMIN_PASSWORD, "admin")
        login = await hub.auth.login("ana", ADMIN_PASSWORD, address="127.0.0.1")
        admin = Api(f"http://127.0.0.1:{port}", login.access_token)
        clients.append(admin)
        yield {"hub": hub, "admin": admin, "server": server, "device": device}
    finally:
        for client in clients:
            await client.session.close()
        await hub.stop()  # first: paired cameras unsubscribe from their device's events
        for made in devices:
            await made.stop()


async def listed(hub: Hub, found: Found) -> str:
    """Hand the found camera to the pairing manager; the id of its row in the Discovered list."""
    await hub.pairing.found(["rtsp_camera"], found)
    [row] = [r for r in await hub.pairing.list() if r.unique_id == found.extra["endpoint"]]
    return row.id


async def test_a_wsdiscovery_camera_pairs_with_its_streams_from_get_stream_uri(
    site: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    server: RtspServer = site["server"]
    device: OnvifDevice = await site["device"](profiles=[
        MediaProfile("main", 1920, 1080, server.url("/still"), name="MainStream"),
        MediaProfile("sub", 640, 360, server.url("/test"), name="SubStream"),
    ])  # fmt: skip
    caplog.set_level(logging.DEBUG)
    row_id = await listed(hub, answered(device.port))
    [row] = (await admin.json("GET", "/api/discovered"))["discovered"]
    assert [ask["key"] for ask in row["asks"]] == ["username", "password"]
    pair = f"/api/discovered/{row_id}/pair"

    refused = await admin.json("POST", pair, {"answers": {"username": "admin", "password": "wrong"}}, status=400)
    assert refused["error"]["field"] == "password" and "refused user admin" in refused["error"]["message"]
    assert "wrong" not in refused["error"]["message"] and device.auth_failures > 0
    assert hub.config_entries.entries("rtsp_camera") == [] and device.stream_requests == []

    made = await admin.json("POST", pair, {"answers": {"username": "admin", "password": CAMERA_PASSWORD}}, status=201)
    [entry] = hub.config_entries.entries("rtsp_camera")
    assert made["entry_id"] == entry.entry_id and made["state"] == "loaded"
    # No name scope: the title is the model and serial GetDeviceInformation gave.
    data = entry.data
    assert entry.title == "PullPoint-1 MT-0001" and (data["model"], data["serial"]) == ("PullPoint-1", "MT-0001")
    assert (data["host"], data["rtsp_port"], data["onvif_port"]) == ("127.0.0.1", server.port, device.port)
    assert (data["main_path"], data["sub_path"]) == ("/still", "/test") and "stream_path" not in data
    asked = {(r["ProfileToken"], r["Stream"], r["Protocol"]) for r in device.stream_requests}
    assert asked == {("main", "RTP-Unicast", "RTSP"), ("sub", "RTP-Unicast", "RTSP")}

    camera_id = data["id"]
    assert camera_id == "pullpoint_1_mt_0001"

    async def streaming() -> dict[str, Any] | None:
        camera = await camera_row(admin, camera_id)
        return camera if camera["state"] == "streaming" and camera["fps"] else None

    camera = await until(streaming, "the paired camera streaming its sub stream", timeout=WAIT_S)
    assert camera["url"].endswith(f"127.0.0.1:{server.port}/test") and CAMERA_PASSWORD not in str(camera)
    status, kind, body = await admin.raw(f"/api/rtsp_camera/{camera_id}/snapshot.jpg")
    assert (status, kind) == (200, "image/jpeg") and body[:2] == b"\xff\xd8"
    # The paired camera also listens to its device's ONVIF events, with the same credentials.
    await until(lambda: device.subscriptions, "the paired camera's ONVIF subscription", timeout=WAIT_S)

    # Back at another ONVIF port: the entry's address follows, its streams stay.
    await hub.pairing.found(["rtsp_camera"], answered(device.port + 1))
    [moved] = hub.config_entries.entries("rtsp_camera")
    assert moved.entry_id == entry.entry_id and moved.data["onvif_port"] == device.port + 1
    assert (moved.data["main_path"], moved.data["sub_path"]) == ("/still", "/test")
    assert await hub.pairing.list() == []

    assert "Paired PullPoint-1 MT-0001" in caplog.text  # the log was captured ...
    assert CAMERA_PASSWORD not in caplog.text  # ... and no line of the whole pairing holds the password


async def test_a_uri_naming_0000_with_inline_credentials_is_used_at_the_cameras_address(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    server: RtspServer = site["server"]
    # Some cameras answer their own bind address or a stale one; and this one's clock is ten minutes off.
    device: OnvifDevice = await site["device"](clock_offset=timedelta(minutes=10), profiles=[
        MediaProfile("only", 640, 360, f"rtsp://admin:{CAMERA_PASSWORD}@0.0.0.0:{server.port}/test"),
    ])  # fmt: skip
    row_id = await listed(hub, answered(device.port, name="Garden"))
    result = await hub.pairing.pair(row_id, {"username": "admin", "password": CAMERA_PASSWORD})
    data = result.entry.data
    assert result.entry.title == "Garden" and (data["host"], data["rtsp_port"]) == ("127.0.0.1", server.port)
    assert data["main_path"] == data["sub_path"] == "/test"  # one profile is both streams
    assert CAMERA_PASSWORD not in data["main_path"] and len(device.stream_requests) == 1

    async def streaming() -> bool:
        return (await camera_row(site["admin"], "garden"))["state"] == "streaming"

    await until(streaming, "the camera at its found address", timeout=WAIT_S)


async def test_a_stale_address_in_the_uri_is_replaced_by_the_found_host(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    server: RtspServer = site["server"]
    device: OnvifDevice = await site["device"](profiles=[
        MediaProfile("hd", 1280, 720, f"rtsp://192.0.2.77:{server.port}/still"),  # TEST-NET: nobody there
        MediaProfile("sd", 320, 240, f"rtsp://192.0.2.77:{server.port}/test"),
    ])  # fmt: skip
    row_id = await listed(hub, answered(device.port, name="Drive"))
    result = await hub.pairing.pair(row_id, {"username": "admin", "password": CAMERA_PASSWORD})
    assert (result.entry.data["host"], result.entry.data["main_path"], result.entry.data["sub_path"]) == (
        "127.0.0.1", "/still", "/test")  # fmt: skip


async def test_a_camera_without_media_profiles_or_service_says_so(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    bare: OnvifDevice = await site["device"](profiles=[])
    row_id = await listed(hub, answered(bare.port, name="Shed", endpoint="urn:uuid:shed"))
    with pytest.raises(PairingError) as refused:
        await hub.pairing.pair(row_id, {"username": "admin", "password": CAMERA_PASSWORD})
    assert refused.value.field is None and "no media profiles" in refused.value.message
    assert refused.value.message.startswith("Shed: ")

    blind: OnvifDevice = await site["device"](media=False)
    row_id = await listed(hub, answered(blind.port, name="Attic", endpoint="urn:uuid:attic"))
    with pytest.raises(PairingError) as refused:
        await hub.pairing.pair(row_id, {"username": "admin", "password": CAMERA_PASSWORD})
    assert refused.value.field is None and "no ONVIF media service" in refused.value.message
    assert hub.config_entries.entries("rtsp_camera") == []


async def test_an_xaddr_nobody_answers_is_unreachable(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    admin: Api = site["admin"]
    port = free_port()  # nothing listens there
    row_id = await listed(hub, answered(port, name="Porch"))
    answer = await admin.json("POST", f"/api/discovered/{row_id}/pair",
                              {"answers": {"username": "admin", "password": CAMERA_PASSWORD}}, status=502)  # fmt: skip
    error = answer["error"]  # a 502 names no field: the device, not an answer, was the trouble
    assert error["code"] == "unreachable" and error["message"].startswith(f"could not reach Porch at 127.0.0.1:{port}")
    assert CAMERA_PASSWORD not in str(answer) and hub.config_entries.entries("rtsp_camera") == []
    with pytest.raises(PairingError) as refused:
        await hub.pairing.pair(row_id, {"username": "admin", "password": CAMERA_PASSWORD})
    assert refused.value.field is None and "could not reach Porch" in refused.value.message
