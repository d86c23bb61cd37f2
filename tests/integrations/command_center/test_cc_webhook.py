"""Webhooks against an aiohttp receiver that checks the HMAC signature and parses the CAP XML (defusedxml)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from cc_helpers import CAP_NS, CcSetup, ScriptedReceiver, WebhookReceiver, alarm, cap_text, tcp, until

from hub.errors import PermanentError, TransientError
from hub.outbox import MessageState, OutboxMessage
from hub.runtime import Hub
from integrations.command_center.webhook import (
    WebhookRejected,
    WebhookSender,
    WebhookUnavailable,
    signature,
    snapshot_url,
)

CHANNEL = "command_center.webhook.c5"
SNAPSHOT = "/api/camera_proxy/camera.gate?ts=1768478400"


def hook(receiver: WebhookReceiver, **extra: Any) -> dict[str, Any]:
    return {"name": "c5", "url": receiver.url, "secret": receiver.secret, **extra}


async def test_signed_json_with_cap_and_snapshot_link(
    cc: CcSetup, hub: Hub, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    await cc.start([tcp(scripted.port)], webhooks=[hook(webhook_receiver, cap=True)], external_url="https://casa.example",
                   site={"name": "Ciudad Maderas, casa 42", "latitude": 20.6597, "longitude": -100.3531})  # fmt: skip
    cc.raise_alarm(alarm("a1", category="unknown_face", zone=20, name="Cámara portón", snapshot=SNAPSHOT))
    await until(lambda: cc.delivered(1, CHANNEL), what="webhook delivered")
    [post] = webhook_receiver.posts
    assert webhook_receiver.refused == []
    headers, data = post["headers"], post["data"]
    assert headers["Idempotency-Key"] == "a1:raised@c5"
    assert headers["X-Hub-Timestamp"] == str(int(hub.clock.time()))
    assert headers["Content-Type"] == "application/json"
    assert (data["id"], data["event"], data["alarm"]["id"]) == ("a1:raised@c5", "raised", "a1")
    assert data["hub"] == {"name": hub.name, "account": "1234"}
    link = f"https://casa.example{SNAPSHOT}"
    assert data["snapshot"] == {"url": link}
    cap = post["cap"]
    assert cap.tag == f"{CAP_NS}alert"
    assert cap_text(cap, "identifier") == "a1-raised"
    assert cap_text(cap, "sender") == "maderas-hub-1234"
    assert cap_text(cap, "msgType") == "Alert"
    assert cap_text(cap, "info/language") == "es-MX"
    assert cap_text(cap, "info/event") == "Rostro desconocido"
    assert cap_text(cap, "info/resource/uri") == link
    assert cap_text(cap, "info/area/areaDesc") == "Ciudad Maderas, casa 42"
    assert cap_text(cap, "info/area/circle") == "20.659700,-100.353100 0.05"
    assert cap_text(cap, "sent") == "2026-01-15T06:00:00-06:00"  # the alarm's time, so every resend is identical


async def test_500_then_200_is_delivered_once(
    cc: CcSetup, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses.extend([500])
    await cc.start([tcp(scripted.port)], webhooks=[hook(webhook_receiver, cap=True)])
    cc.raise_alarm(alarm("a1"))
    await until(lambda: len(webhook_receiver.posts) == 1, what="first post")
    [message] = await cc.messages(CHANNEL)
    assert message.state is MessageState.PENDING and "500 receiver trouble" in (message.last_error or "")
    await cc.drive(lambda: cc.delivered(1, CHANNEL), step=1, limit=60, what="delivered on the retry")
    first, second = webhook_receiver.posts
    assert first["data"] == second["data"]  # the same body, and the same key: one stored alarm
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    assert list(webhook_receiver.stored) == ["a1:raised@c5"]


async def test_restore_is_a_cap_update_referencing_the_alert(
    cc: CcSetup, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    await cc.start([tcp(scripted.port)], webhooks=[hook(webhook_receiver, cap=True)])
    record = alarm("a1")
    cc.raise_alarm(record)
    cc.restore_alarm({**record, "restored_at": record["time"] + 600})
    await until(lambda: cc.delivered(2, CHANNEL), what="both delivered")
    raised, restored = (p["cap"] for p in webhook_receiver.posts)
    assert cap_text(restored, "msgType") == "Update"
    assert cap_text(restored, "references") == (
        f"{cap_text(raised, 'sender')},{cap_text(raised, 'identifier')},{cap_text(raised, 'sent')}"
    )
    assert cap_text(restored, "info/urgency") == "Past"


async def test_4xx_fails_permanently_and_the_next_goes_on(
    cc: CcSetup, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses.extend([422])
    await cc.start([tcp(scripted.port)], webhooks=[hook(webhook_receiver)])
    cc.raise_alarm(alarm("a1"))
    cc.raise_alarm(alarm("a2"))
    await until(lambda: len(webhook_receiver.stored) == 1, what="the second stored")
    states = await cc.states(CHANNEL)
    assert states == {"a1:raised@c5": "failed", "a2:raised@c5": "delivered"}
    [failed] = [m for m in await cc.messages(CHANNEL) if m.state is MessageState.FAILED]
    port = urlsplit(webhook_receiver.url).port
    assert failed.last_error == f"WebhookRejected: webhook c5 (127.0.0.1:{port}) refused the alarm: 422 receiver trouble"


async def test_a_wrong_secret_is_refused_by_the_receiver(
    cc: CcSetup, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    await cc.start([tcp(scripted.port)], webhooks=[{**hook(webhook_receiver), "secret": "not-the-receivers-secret"}])
    cc.raise_alarm(alarm("a1"))
    await until(lambda: webhook_receiver.refused, what="the refusal")
    await until(lambda: _state_is(cc, "failed"), what="failed (401 is permanent)")
    assert webhook_receiver.stored == {}


async def _state_is(cc: CcSetup, state: str) -> bool:
    return list((await cc.states(CHANNEL)).values()) == [state]


def message(payload: dict[str, Any], msg_id: str = "a1:raised@c5") -> OutboxMessage:
    return OutboxMessage(msg_id, CHANNEL, 1, payload, 0, MessageState.PENDING, None, 1768478400.0, None, None,
                         1768478400.0)  # fmt: skip


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_attached_snapshot_and_transient_answers(
    session: aiohttp.ClientSession, webhook_receiver: WebhookReceiver
) -> None:
    async def read(url: str) -> tuple[bytes, str]:
        assert url == f"https://casa.example{SNAPSHOT}"
        return b"\xff\xd8jpeg", "image/jpeg"

    sender = WebhookSender(name="c5", url=webhook_receiver.url, secret=webhook_receiver.secret, session=session,
                           clock=lambda: 1768478400.0, hub_info={"name": "Casa"}, attach_snapshot=True,
                           base_url="https://casa.example/", read_snapshot=read)  # fmt: skip
    await sender.send(message({"event": "raised", "alarm": alarm("a1", snapshot=SNAPSHOT)}))
    [post] = webhook_receiver.posts
    snapshot = post["data"]["snapshot"]
    assert base64.b64decode(snapshot["base64"]) == b"\xff\xd8jpeg" and snapshot["content_type"] == "image/jpeg"
    assert "cap_xml" not in post["data"]
    for status, kind in ((429, WebhookUnavailable), (408, WebhookUnavailable), (503, WebhookUnavailable),
                         (404, WebhookRejected)):  # fmt: skip
        webhook_receiver.statuses.append(status)
        with pytest.raises(kind) as caught:
            await sender.send(message({"event": "raised", "alarm": alarm("a1")}))
        assert isinstance(caught.value, TransientError if kind is WebhookUnavailable else PermanentError)
        assert str(status) in str(caught.value)


async def test_an_unreachable_webhook_is_transient(session: aiohttp.ClientSession) -> None:
    sender = WebhookSender(name="c5", url="http://127.0.0.1:9/alarms", secret="s" * 16, session=session,
                           clock=lambda: 0.0, hub_info={})  # fmt: skip
    with pytest.raises(WebhookUnavailable, match=r"^webhook c5 \(127\.0\.0\.1:9\): "):
        await sender.send(message({"event": "raised", "alarm": alarm("a1")}))


def test_signature_and_snapshot_urls() -> None:
    body = b'{"id":"x"}'
    assert signature("secret", body) == "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert snapshot_url(None, "https://h") is None
    assert snapshot_url("https://cam/1.jpg", "https://h") == "https://cam/1.jpg"
    assert snapshot_url("/api/x?ts=1", "https://h/base/") == "https://h/base/api/x?ts=1"
    assert snapshot_url("/api/x", None) == "/api/x"
