"""ONVIF PullPoint events through onvif-zeep-async against the test camera in onvif_device.py."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import zeep.exceptions
from onvif_device import OnvifDevice, password_digest
from waiting import until

from integrations.rtsp_camera.onvif_events import TOPICS, CameraEvent, OnvifEvents, OnvifStatus, topic_path

MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
FACE = "tns1:RuleEngine/MyRuleDetector/FaceDetect"
HUB_TIME = 1_768_478_400.0  # what the hub's clock says; events carry it, not the camera's clock


class Watcher:
    """An OnvifEvents client on a task, with everything it reported."""

    def __init__(self, device: OnvifDevice, password: str | None, options: dict[str, Any]) -> None:
        self.events: list[CameraEvent] = []
        self.statuses: list[OnvifStatus] = []
        settings: dict[str, Any] = {"pull_timeout": 1.0, "retry_initial": 0.2, "retry_max": 1.0, **options}
        self.client = OnvifEvents(
            "127.0.0.1",
            device.port,
            device.username,
            device.password if password is None else password,
            on_event=self.events.append,
            on_status=self.statuses.append,
            clock_time=lambda: HUB_TIME,
            **settings,
        )
        self.task = asyncio.create_task(self.client.run(), name="onvif-events")

    def states(self) -> list[str]:
        return [status.state for status in self.statuses]

    def changes(self) -> list[tuple[str, bool]]:
        """(kind, active) of the non-initial events, in arrival order."""
        return [(event.kind, event.active) for event in self.events if not event.initial]

    async def subscribed(self) -> None:
        await until(lambda: self.client.status.state == "subscribed", "subscribed", timeout=30)


@asynccontextmanager
async def watching(device: OnvifDevice, password: str | None = None, **options: Any) -> AsyncIterator[Watcher]:
    watcher = Watcher(device, password, options)
    try:
        yield watcher
    finally:
        await watcher.client.stop()
        assert watcher.task.done()


@pytest.fixture
async def device() -> AsyncIterator[OnvifDevice]:
    camera = OnvifDevice()
    await camera.start()
    yield camera
    await camera.stop()


def test_ws_username_token_digest_vector() -> None:
    nonce = bytes.fromhex("00112233445566778899aabbccddeeff")
    assert base64.b64encode(nonce).decode() == "ABEiM0RVZneImaq7zN3u/w=="
    assert password_digest(nonce, "2025-01-01T00:00:00Z", "admin123") == "FhF/9PwIwDVxIMGPKoyn03ww7Bo="


def test_topic_path_drops_any_namespace_prefix() -> None:
    assert topic_path(" tns1:RuleEngine/CellMotionDetector/Motion ") == "RuleEngine/CellMotionDetector/Motion"
    assert topic_path("tns1:RuleEngine/tnsvendor:MyRuleDetector/FaceDetect") == "RuleEngine/MyRuleDetector/FaceDetect"


async def test_motion_and_face_events_arrive_in_order(device: OnvifDevice) -> None:
    async with watching(device) as watcher:
        await watcher.subscribed()
        device.push(MOTION, {"IsMotion": "true"})
        device.push(FACE, {"State": "true"}, {"Source": "VideoSourceToken", "Rule": "MyFaceDetectorRule"})
        device.push(FACE, {"State": "false"}, {"Source": "VideoSourceToken", "Rule": "MyFaceDetectorRule"})
        device.push(MOTION, {"IsMotion": "false"})
        await until(lambda: len(watcher.events) >= 4, "four events", timeout=30)
        assert watcher.changes() == [("motion", True), ("face", True), ("face", False), ("motion", False)]
        first = watcher.events[0]
        assert (first.source, first.topic, first.time, first.initial) == ("onvif", MOTION, HUB_TIME, False)
        assert first.data["source"] == {"VideoSourceConfigurationToken": "VideoSourceToken"}
        assert first.data["data"] == {"IsMotion": "true"} and first.data["operation"] == "Changed"
        assert watcher.events[1].data["source"]["Rule"] == "MyFaceDetectorRule"
        identity = watcher.client.device
        assert identity is not None and (identity.manufacturer, identity.serial) == ("Maderas Test", "MT-0001")
        assert watcher.client.status.device == identity and identity.unique_id == "maderas_test-pullpoint-1-mt-0001"
        assert watcher.states() == ["connecting", "subscribed"]


async def test_every_mapped_topic_decodes_to_its_kind(device: OnvifDevice) -> None:
    async with watching(device) as watcher:
        await watcher.subscribed()
        for path, (_kind, names) in TOPICS.items():
            device.push(f"tns1:{path}", {names[0]: "true"})
        device.push("tns1:Device/Trigger/DigitalInput", {"LogicalState": "true"})  # not ours: ignored
        await until(lambda: len(watcher.events) >= len(TOPICS), "all mapped topics", timeout=30)
        await asyncio.sleep(0.3)
        assert [(topic_path(e.topic), e.kind, e.active) for e in watcher.events] == [
            (path, kind, True) for path, (kind, _names) in TOPICS.items()
        ]


async def test_initialized_is_the_current_state_not_a_new_event() -> None:
    device = OnvifDevice()
    device.set_state(MOTION, {"IsMotion": "true"})
    await device.start()
    try:
        async with watching(device) as watcher:
            await until(lambda: watcher.events, "initial state", timeout=30)
            initial = watcher.events[0]
            assert (initial.kind, initial.active, initial.initial) == ("motion", True, True)
            assert initial.data["operation"] == "Initialized"
            device.push(MOTION, {"IsMotion": "false"})
            await until(lambda: len(watcher.events) >= 2, "the change", timeout=30)
            assert watcher.changes() == [("motion", False)]
            assert watcher.events[1].initial is False
    finally:
        await device.stop()


async def test_wrong_password_is_auth_failed_without_a_retry_storm(device: OnvifDevice) -> None:
    async with watching(device, password="wrong", retry_initial=0.01, retry_max=300.0) as watcher:
        await until(lambda: watcher.client.status.state == "auth_failed", "auth_failed", timeout=30)
        reason = watcher.client.status.reason
        assert "refused user admin" in reason and "not Authorized" in reason
        calls = sum(device.calls.values())
        failures = device.auth_failures
        await asyncio.sleep(1.5)  # a tight loop would make hundreds of calls here
        assert sum(device.calls.values()) == calls and device.auth_failures == failures >= 1
        assert device.calls["CreatePullPointSubscription"] == 0
        assert watcher.states() == ["connecting", "auth_failed"]


async def test_camera_clock_ten_minutes_off_still_authenticates() -> None:
    device = OnvifDevice(clock_offset=timedelta(minutes=10))
    await device.start()
    try:
        # The device really checks Created: a client that ignores its clock is refused.
        from integrations.rtsp_camera.onvif_events import import_onvif

        plain = import_onvif()("127.0.0.1", device.port, "admin", "secret", adjust_time=False, no_cache=True)
        try:
            management = await plain.create_devicemgmt_service()
            with pytest.raises(zeep.exceptions.Fault, match="Created is too far"):
                await management.GetDeviceInformation()
        finally:
            await plain.close()
        async with watching(device) as watcher:
            await watcher.subscribed()
            device.push(MOTION, {"IsMotion": "true"})
            await until(lambda: watcher.changes() == [("motion", True)], "motion from a skewed camera", timeout=30)
    finally:
        await device.stop()


async def test_camera_vanishes_then_comes_back(device: OnvifDevice) -> None:
    async with watching(device) as watcher:
        await watcher.subscribed()
        device.push(MOTION, {"IsMotion": "true"})
        await until(lambda: watcher.changes() == [("motion", True)], "first event", timeout=30)
        await device.vanish()
        await until(lambda: watcher.client.status.state == "failed", "failed", timeout=30)
        assert watcher.client.status.reason.startswith("unreachable")
        await device.come_back()
        # Queued after the camera came back, before the client resubscribed: none may be lost.
        device.push(MOTION, {"IsMotion": "false"})
        device.push(FACE, {"State": "true"})
        await until(lambda: len(watcher.changes()) >= 3, "events after the return", timeout=30)
        assert watcher.changes() == [("motion", True), ("motion", False), ("face", True)]
        assert device.calls["CreatePullPointSubscription"] == 2
        assert watcher.states()[-2:] == ["failed", "subscribed"]


async def test_short_subscriptions_are_renewed_then_resubscribed_after_expiry() -> None:
    device = OnvifDevice(max_termination=6.0)
    await device.start()
    try:
        async with watching(device) as watcher:
            await watcher.subscribed()
            await until(lambda: device.calls["Renew"] >= 2, "renewals", timeout=30)
            assert device.calls["CreatePullPointSubscription"] == 1
            device.push(MOTION, {"IsMotion": "true"})
            await until(lambda: watcher.changes() == [("motion", True)], "event on the renewed subscription")
            device.expire_subscriptions()
            await until(lambda: device.calls["CreatePullPointSubscription"] == 2, "resubscribed", timeout=30)
            device.push(MOTION, {"IsMotion": "false"})
            await until(lambda: ("motion", False) in watcher.changes(), "event after resubscribing", timeout=30)
            assert watcher.changes() == [("motion", True), ("motion", False)]
            assert "failed" not in watcher.states()
    finally:
        await device.stop()


async def test_camera_without_event_service_is_unsupported() -> None:
    device = OnvifDevice(events=False)
    await device.start()
    try:
        statuses: list[OnvifStatus] = []
        client = OnvifEvents(
            "127.0.0.1", device.port, "admin", "secret",
            on_event=lambda event: None, on_status=statuses.append, clock_time=lambda: HUB_TIME, pull_timeout=1.0,
        )
        await asyncio.wait_for(client.run(), timeout=60)  # returns by itself: nothing to retry
        assert [s.state for s in statuses] == ["connecting", "unsupported"]
        assert "no ONVIF PullPoint event service" in statuses[-1].reason
        assert device.calls["CreatePullPointSubscription"] == 0 and device.calls["GetCapabilities"] >= 1
        await client.stop()
    finally:
        await device.stop()


async def test_garbage_is_skipped_and_the_loop_continues(device: OnvifDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="integrations.rtsp_camera.onvif_events")
    async with watching(device) as watcher:
        await watcher.subscribed()
        device.garbage_replies(1)
        await until(lambda: device.garbage_pending == 0, "garbage sent", timeout=30)
        bad_state = (
            "<wsnt:NotificationMessage><wsnt:Topic Dialect=\"x\">tns1:RuleEngine/CellMotionDetector/Motion"
            "</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"2026-01-15T12:00:00Z\" PropertyOperation=\"Changed\">"
            "<tt:Source/><tt:Data><tt:SimpleItem Name=\"IsMotion\" Value=\"maybe\"/></tt:Data></tt:Message>"
            "</wsnt:Message></wsnt:NotificationMessage>"
        )
        no_message = "<wsnt:NotificationMessage><wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic>" \
            "</wsnt:NotificationMessage>"
        device.push_raw(bad_state)
        device.push_raw(no_message)
        device.push_raw(bad_state)
        device.push(FACE, {"State": "true"})
        await until(lambda: watcher.changes() == [("face", True)], "the good event after the bad ones", timeout=30)
        assert watcher.states() == ["connecting", "subscribed"]
        assert device.calls["CreatePullPointSubscription"] == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("unreadable PullMessages reply" in w for w in warnings) == 1
        assert sum("'maybe' is not a boolean" in w for w in warnings) == 1  # logged once, then quiet
        assert sum("no topic or message" in w for w in warnings) == 1


async def test_stop_unsubscribes_and_leaves_no_task(device: OnvifDevice) -> None:
    async with watching(device) as watcher:
        await watcher.subscribed()
        assert device.subscriptions == ["1"]
    assert watcher.task.done()
    assert device.unsubscribed == ["1"] and device.subscriptions == []


async def test_stop_is_bounded_when_the_camera_is_gone(device: OnvifDevice) -> None:
    async with watching(device, stop_timeout=2.0) as watcher:
        await watcher.subscribed()
        await device.vanish()
        await asyncio.wait_for(watcher.client.stop(), timeout=30)
        assert watcher.task.done() and device.unsubscribed == []
