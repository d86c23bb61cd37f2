"""rtsp_camera in a real hub against GStreamer's RTSP server, through the HTTP API.

A Digest camera shows a face coming and going; a second camera has the wrong password. The hub
must show the first streaming with its costs, serve its snapshot and a live view of at least
5 frames per second, store the face snapshot, raise the armed panel's unknown-face alarm with it,
stop alarming once the face is enrolled, and say why the second camera is unavailable.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cam_helpers import RtspServer
from face_images import HEIGHT, WIDTH
from hub_api import Api, free_port, started_hub
from PIL import Image
from test_cam_pipeline import head_and_shoulders, wall_with, write_slides
from waiting import until

from hub.auth import ROLE_ADMIN, ROLE_RESIDENT
from hub.bus import Context
from hub.runtime import Hub
from integrations.rtsp_camera import get_runtime

PASSWORD = "correct horse battery"
WAIT_S = 60.0


@pytest.fixture
async def site(tmp_path: Path, rtsp_server: Callable[..., RtspServer]) -> AsyncIterator[dict[str, Any]]:
    slides = write_slides(tmp_path / "slides", [None, head_and_shoulders()])
    server = rtsp_server(slides=slides, slide_seconds=3, width=WIDTH, height=HEIGHT, fps=10)
    port = free_port()
    config = {
        "http": {"server_host": "127.0.0.1", "server_port": port},
        "rtsp_camera": {"cameras": [
            {"name": "Front door", "sub_url": server.url("/slides"), "username": server.user,
             "password": server.password, "area": "Entrance", "motion": {"fps": 5}, "cpu_budget": 80},
            {"name": "Patio", "sub_url": server.url("/test"), "username": server.user, "password": "wrong",
             "faces": {"enabled": False}},
        ]},
        "alarm_panel": {"name": "Casa", "exit_delay": 0, "code_arm_required": False, "zones": [
            {"id": "door_camera", "number": 20, "type": "camera", "events": ["face_unknown"],
             "cameras": ["camera.front_door"]},
        ]},
    }  # fmt: skip
    hub = await started_hub(tmp_path, config)
    api: Api | None = None
    other: Api | None = None
    try:
        assert hub.config_errors == [], hub.config_errors
        ana = await hub.auth.create_user("ana", "Ana López", PASSWORD, ROLE_ADMIN)
        await hub.auth.create_user("beto", "Beto", PASSWORD, ROLE_RESIDENT)
        token = (await hub.auth.login("ana", PASSWORD, address="127.0.0.1")).access_token
        resident = (await hub.auth.login("beto", PASSWORD, address="127.0.0.1")).access_token
        api = Api(f"http://127.0.0.1:{port}", token)
        other = Api(api.base, resident)
        yield {"hub": hub, "api": api, "resident": other, "server": server, "ana_id": ana.id}
    finally:
        for client in (api, other):
            if client is not None:
                await client.session.close()
        await hub.stop()


async def camera_row(api: Api, camera_id: str) -> dict[str, Any]:
    rows = (await api.json("GET", "/api/rtsp_camera/cameras"))["cameras"]
    return next(row for row in rows if row["id"] == camera_id)


async def test_a_camera_in_the_hub_end_to_end(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    api: Api = site["api"]
    faces_seen: list[dict[str, Any]] = []
    hub.bus.listen("face_detected", lambda event: faces_seen.append(dict(event.data)))
    ana = Context(user_id=site["ana_id"], origin="test")
    await hub.services.call("alarm_panel", "set_code", {"code": "4321"}, context=ana, return_response=True)
    await hub.services.call("alarm_panel", "arm_away", {"entity_id": "alarm_control_panel.casa"}, context=ana)

    # Streaming, with its costs, and the wrong password named on the other camera.
    async def streaming() -> dict[str, Any] | None:
        row = await camera_row(api, "front_door")
        return row if row["state"] == "streaming" and row["fps"] else None

    row = await until(streaming, "the front door camera streaming", timeout=WAIT_S)
    assert (row["width"], row["height"], row["codec"]) == (WIDTH, HEIGHT, "H264")
    assert row["entity_id"] == "camera.front_door" and row["area"] == "Entrance"
    assert "wrong" not in str(row) and "secret" not in row["url"]

    async def refused() -> dict[str, Any] | None:
        other = await camera_row(api, "patio")
        return other if other["state"] == "unavailable" and other["reason"] else None

    patio = await until(refused, "the patio camera refused", timeout=WAIT_S)
    assert patio["reason"].startswith("auth failed: ") and "admin" in patio["reason"]
    patio_state = hub.states.get("camera.patio")
    assert patio_state is not None and patio_state.state == "unavailable"
    assert patio_state.attributes["unavailable_reason"] == patio["reason"]

    # The snapshot: the latest frame, without a new RTSP session.
    status, kind, body = await site["api"].raw("/api/rtsp_camera/front_door/snapshot.jpg")
    assert (status, kind) == (200, "image/jpeg")
    with Image.open(io.BytesIO(body)) as picture:
        assert picture.size == (WIDTH, HEIGHT)
    status, _, body = await site["api"].raw("/api/rtsp_camera/patio/snapshot.jpg")
    assert status == 503 and b"auth failed" in body
    status, _, _ = await site["api"].raw("/api/rtsp_camera/nope/snapshot.jpg")
    assert status == 404

    # The live view: multipart JPEGs, at least 5 per second.
    async with api.session.get(api.base + "/api/rtsp_camera/front_door/live", headers=api.headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        reader = aiohttp.MultipartReader.from_response(response)
        parts = 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        while parts < 16:
            part = await reader.next()
            assert part is not None and isinstance(part, aiohttp.BodyPartReader)
            data = await part.read()
            assert data[:2] == b"\xff\xd8"
            parts += 1
        fps = (parts - 1) / (loop.time() - started)
    assert fps >= 5.0, f"live view at {fps:.1f} fps"

    # The face: an event with the stored snapshot, the unknown-face alarm with it.
    await until(lambda: faces_seen, "a face_detected event", timeout=WAIT_S)
    event = faces_seen[0]
    assert event["entity_id"] == "camera.front_door" and event["source"] == "hub" and event["count"] == 1
    assert event["faces"][0]["known"] is False and event["snapshot"].startswith("/api/rtsp_camera/snapshots/")
    status, kind, body = await api.raw(event["snapshot"])
    assert (status, kind) == (200, "image/jpeg") and body[:2] == b"\xff\xd8"
    detections = (await api.json("GET", "/api/rtsp_camera/detections?camera=front_door"))["detections"]
    assert detections[0]["snapshot_id"] == event["snapshot_id"] and detections[0]["kind"] == "face"

    async def alarm() -> dict[str, Any] | None:
        alarms = (await api.json("GET", "/api/alarm_panel/alarms"))["alarms"]
        return next((a for a in alarms if a["zone"]["id"] == "door_camera"), None)

    raised = await until(alarm, "the unknown-face alarm", timeout=WAIT_S)
    assert raised["snapshot"] == event["snapshot"]

    # Enrolment: residents may look, only admins change; then the same face is known.
    await site["resident"].json("POST", "/api/rtsp_camera/faces", {"name": "Ana", "snapshot_id": 1}, status=403)
    error = await api.json("POST", "/api/rtsp_camera/faces", {"name": "Ana", "image": _png(wall_with(None))}, status=400)
    assert "no face found" in str(error)
    enrolled = await api.json("POST", "/api/rtsp_camera/faces", {"name": "Ana", "snapshot_id": event["snapshot_id"]},
                              status=201)  # fmt: skip
    assert enrolled["name"] == "Ana" and enrolled["samples"] == 1
    listed = (await site["resident"].json("GET", "/api/rtsp_camera/faces"))["faces"]
    assert [f["name"] for f in listed] == ["Ana"] and "descriptor" not in listed[0]

    count = len(faces_seen)
    await until(lambda: any(f["known"] for e in faces_seen[count:] for f in e["faces"]), "Ana recognised",
                timeout=WAIT_S)  # fmt: skip
    known = next(e for e in faces_seen[count:] if e["faces"][0]["known"])
    assert known["faces"][0]["name"] == "Ana"
    await api.json("DELETE", f"/api/rtsp_camera/faces/{enrolled['id']}", status=204)
    assert (await api.json("GET", "/api/rtsp_camera/faces"))["faces"] == []
    await api.json("DELETE", f"/api/rtsp_camera/faces/{enrolled['id']}", status=404)

    # The entity: the picture URL for the dashboard's card, and the cost sensor.
    state = hub.states.get("camera.front_door")
    assert state is not None and state.state == "streaming"
    assert state.attributes["entity_picture"].startswith("/api/rtsp_camera/front_door/snapshot.jpg")
    assert get_runtime(_scoped(hub)).cameras["front_door"].pipeline.counters.detections > 0


def _png(image: Any) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _scoped(hub: Hub) -> Any:
    return hub.integrations.scoped_hub("rtsp_camera")


async def test_a_camera_that_goes_away_is_shown_unavailable_then_recovers(
    tmp_path: Path, rtsp_server: Callable[..., RtspServer]
) -> None:
    server = rtsp_server(auth="basic", fps=15)
    config = {"rtsp_camera": {"cameras": [
        {"name": "Garage", "sub_url": server.url("/test"), "username": server.user, "password": server.password,
         "auth": "basic", "faces": {"enabled": False}},
    ]}}  # fmt: skip
    hub = await started_hub(tmp_path, config)
    try:
        camera = get_runtime(_scoped(hub)).cameras["garage"]
        state = lambda: getattr(hub.states.get("camera.garage"), "state", None)
        await until(lambda: state() == "streaming", "streaming", timeout=WAIT_S)
        first = await camera.pipeline.jpeg()
        assert first is not None

        server.kill()
        def reason() -> str:
            current = hub.states.get("camera.garage")
            return str(current.attributes.get("unavailable_reason", "")) if current is not None else ""

        # The worker sees the refusal at once; the probe that follows names it for the dashboard.
        await until(lambda: state() == "unavailable" and reason().startswith("unreachable: "),
                    "unavailable, unreachable, once the camera is gone", timeout=WAIT_S)  # fmt: skip
        assert "refused" in reason()
        server.start()  # the same port, as a camera that rebooted
        await until(lambda: state() == "streaming", "streaming again", timeout=WAIT_S)
        assert camera.status is not None and camera.status.reconnects >= 1
        frame = camera.pipeline.worker.latest
        await until(lambda: camera.pipeline.worker.latest is not frame, "a new frame", timeout=WAIT_S)
        assert await camera.pipeline.jpeg() != first
    finally:
        await hub.stop()
