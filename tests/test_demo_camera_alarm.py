"""`hub demo`'s front-door camera reaches the alarm panel: the demo camera (hub/demo_camera.py) on
loopback, the demo's `rtsp_camera:` block and its camera zone, the demo receiver as the command centre.

Armed away, the visitor comes to the door: the hub's own pipeline (PyAV, motion, dlib in the face
worker) sees an unknown face, the panel raises the camera zone's alarm with the snapshot, and the
receiver gets it as Contact ID event 130 on zone 020.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from waiting import until

from hub.bus import Context
from hub.clock import ManualClock
from hub.demo import FRONT_DOOR, configured_camera_port, write_demo_config
from hub.demo_camera import DemoCamera
from hub.demo_receiver import DemoReceiver
from hub.runtime import Hub
from integrations.rtsp_camera import get_runtime

PANEL = "alarm_control_panel.casa"
WAIT_S = 90.0


@pytest.fixture
def clock() -> ManualClock:
    # The face worker and the camera run on real time; the hub's timers on a manual clock for the exit delay.
    return ManualClock(datetime.now(UTC))


async def test_an_unknown_visitor_at_the_armed_front_door_reaches_the_command_centre(
    tmp_path: Path, clock: ManualClock, quiet_pymodbus: None
) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=False, alarms=True, camera=True)
    port = configured_camera_port(tmp_path)
    assert port is not None
    faces: list[dict[str, Any]] = []
    async with (
        DemoReceiver(tmp_path, now=clock.now) as receiver,
        DemoCamera(tmp_path, port=port, visit_every=3600, first_visit=3600) as camera,
    ):  # fmt: skip
        hub = Hub(tmp_path, clock=clock)
        await hub.start()
        try:
            assert hub.config_errors == []
            hub.bus.listen("face_detected", lambda event: faces.append(dict(event.data)))
            await until(lambda: getattr(hub.states.get("camera.front_door"), "state", None) == "streaming",
                        what="the demo camera streaming", timeout=WAIT_S)  # fmt: skip
            user = await hub.auth.create_user("ana", "Ana", "correct horse battery", "admin")
            ana = Context(user_id=user.id, origin="test")
            await hub.services.call("alarm_panel", "set_code", {"code": "2468"}, context=ana, return_response=True)
            await clock.advance(61)  # the demo's front door is open for the first minute of every ten
            assert hub.states.get(FRONT_DOOR).state == "off"  # type: ignore[union-attr]
            await hub.services.call("alarm_panel", "arm_away", {"entity_id": PANEL}, context=ana)
            await clock.advance(21)  # the demo's exit delay is 20 s
            assert hub.states.get(PANEL).state == "armed_away"  # type: ignore[union-attr]

            camera.trigger_visit()
            await until(lambda: faces, what="the visitor's face", timeout=WAIT_S)
            assert faces[0]["entity_id"] == "camera.front_door" and faces[0]["faces"][0]["known"] is False
            [alarm] = await until(lambda: [r for r in receiver.received if r.event.startswith("1130")],
                                  what="the unknown-face alarm at the receiver", timeout=WAIT_S)  # fmt: skip
            assert alarm.event == "1130 01 020"
            panel = hub.states.get(PANEL)
            assert panel is not None and panel.state in ("triggered", "armed_away")
            assert panel.attributes["active_alarms"] == 1
            runtime = get_runtime(hub.integrations.scoped_hub("rtsp_camera"))
            picture = await runtime.snapshots.get(faces[0]["snapshot_id"])
            assert picture[:2] == b"\xff\xd8"  # the snapshot the alarm record points at
        finally:
            await hub.stop()
