"""A camera that detects on its own: its ONVIF events become the hub's camera events.

GStreamer serves a still picture of a face (the camera's video), the test ONVIF device serves the
camera's events. Motion and tamper from ONVIF show on the entities; an ONVIF face event carries no
identity, so the hub looks at its own latest frame and reports who it sees there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cam_helpers import RtspServer
from face_images import HEIGHT, WIDTH
from hub_api import started_hub
from onvif_device import OnvifDevice
from PIL import Image
from test_cam_pipeline import head_and_shoulders, wall_with
from waiting import until

from hub.runtime import Hub
from integrations.rtsp_camera import get_runtime

MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
FACE = "tns1:RuleEngine/MyRuleDetector/FaceDetect"
TAMPER = "tns1:RuleEngine/TamperDetector/Tamper"
WAIT_S = 60.0


@pytest.fixture
async def site(tmp_path: Path, rtsp_server: Callable[..., RtspServer]) -> AsyncIterator[dict[str, Any]]:
    picture = tmp_path / "door.png"
    Image.fromarray(wall_with(head_and_shoulders())).save(picture)
    server = rtsp_server(image=picture, width=WIDTH, height=HEIGHT, fps=10)
    device = OnvifDevice(server.user, server.password)
    port = await device.start()
    config = {"rtsp_camera": {"cameras": [
        {"name": "Gate", "sub_url": server.url("/still"), "username": server.user, "password": server.password,
         "onvif": {"port": port}},
    ]}}  # fmt: skip
    hub = await started_hub(tmp_path, config)
    try:
        assert hub.config_errors == [], hub.config_errors
        yield {"hub": hub, "device": device}
    finally:
        await hub.stop()
        await device.stop()
    assert device.unsubscribed  # the hub said goodbye to the camera


async def test_onvif_motion_face_and_tamper_become_the_hubs_events(site: dict[str, Any]) -> None:
    hub: Hub = site["hub"]
    device: OnvifDevice = site["device"]
    camera = get_runtime(hub.integrations.scoped_hub("rtsp_camera")).cameras["gate"]
    motion: list[dict[str, Any]] = []
    faces: list[dict[str, Any]] = []
    hub.bus.listen("camera_motion", lambda event: motion.append(dict(event.data)))
    hub.bus.listen("face_detected", lambda event: faces.append(dict(event.data)))
    await until(lambda: camera.onvif_status is not None and camera.onvif_status.state == "subscribed",
                "the ONVIF subscription", timeout=WAIT_S)  # fmt: skip
    await until(lambda: camera.state == "streaming", "the picture", timeout=WAIT_S)
    assert camera.as_api()["onvif"]["state"] == "subscribed"

    device.push(MOTION, {"IsMotion": "true"})
    await until(lambda: motion, "ONVIF motion", timeout=WAIT_S)
    assert motion[0]["source"] == "onvif" and motion[0]["started"] is True and motion[0]["entity_id"] == "camera.gate"
    await until(lambda: getattr(hub.states.get("binary_sensor.gate_motion"), "state", None) == "on", "motion on")
    device.push(MOTION, {"IsMotion": "false"})
    await until(lambda: getattr(hub.states.get("binary_sensor.gate_motion"), "state", None) == "off", "motion off")

    device.push(FACE, {"State": "true"})
    await until(lambda: faces, "the face event", timeout=WAIT_S)
    face = faces[0]
    assert face["source"] == "onvif" and face["count"] == 1
    assert face["faces"][0]["known"] is False and face["faces"][0]["box"] is not None  # found in the hub's frame
    assert face["snapshot"].startswith("/api/rtsp_camera/snapshots/")

    device.push(TAMPER, {"IsTamper": "true"})
    await until(lambda: hub.states.get("camera.gate").attributes.get("tamper") is True, "tamper")  # type: ignore[union-attr]
