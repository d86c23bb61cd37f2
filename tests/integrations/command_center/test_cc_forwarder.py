"""The forwarder: alarm events become one outbox message per destination, coded as the receiver expects."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp.test_utils import make_mocked_request
from cc_helpers import ACCOUNT, DUH, CcSetup, ScriptedReceiver, WebhookReceiver, alarm, tcp, until

from hub.runtime import Hub
from integrations.command_center.dc09 import parse_cid_data, parse_sia_data
from integrations.command_center.forwarder import CHANNEL_DC09, webhook_channel
from integrations.command_center.views import routes

QUEUED = "sensor.command_center_queued"


async def test_an_alarm_reaches_the_receiver_and_is_marked_delivered(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)])
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered")
    [got] = scripted.alarms()
    assert got.message.token == "ADM-CID" and got.message.sequence == 1
    assert (got.message.account, got.message.line, got.message.receiver) == (ACCOUNT, "0", "0")
    account, event = parse_cid_data(got.message.data)
    assert (account, event.qualifier, event.code, event.partition, event.zone) == (ACCOUNT, 1, 151, 1, 10)
    assert got.msg_id == "a1:raised"
    [message] = await cc.messages()
    assert message.id == "a1:raised" and message.payload["alarm"]["id"] == "a1"


async def test_the_alarm_is_queued_at_once(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)])
    began = time.perf_counter()
    cc.raise_alarm(alarm("a1"))
    await until(lambda: scripted.accepted(), what="the ACK")
    elapsed = time.perf_counter() - began
    assert elapsed < 1.0, f"sensor event to receiver ACK took {elapsed * 1000:.0f} ms"
    print(f"\nevent -> ACK: {elapsed * 1000:.1f} ms")


async def test_a_repeated_event_is_one_message(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)])
    record = alarm("a1")
    cc.raise_alarm(record)
    cc.raise_alarm(record)
    await until(lambda: cc.delivered(1), what="delivered")
    await asyncio.sleep(0.05)
    cc.raise_alarm(record)  # even long after the first was delivered
    await asyncio.sleep(0.05)
    assert [m.id for m in await cc.messages()] == ["a1:raised"]
    assert len(scripted.alarms()) == 1


async def test_raise_and_restore_go_in_order_with_qualifiers_1_and_3(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)])
    record = alarm("a1", category="intrusion", zone=2, name="Patio")
    record["zone"]["type"] = "perimeter"
    cc.raise_alarm(record)
    cc.restore_alarm(record)
    await until(lambda: cc.delivered(2), what="both delivered")
    raised, restored = (parse_cid_data(r.message.data)[1] for r in scripted.alarms())
    assert (raised.qualifier, raised.code, raised.zone) == (1, 131, 2)  # perimeter intrusion
    assert (restored.qualifier, restored.code, restored.zone) == (3, 131, 2)
    assert [r.msg_id for r in scripted.alarms()] == ["a1:raised", "a1:restored"]


async def test_open_close_is_reported_only_when_configured(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)])
    hub.bus.fire("alarm_panel_armed", {"mode": "armed_away", "user_id": "u1", "user_number": 3, "time": 1.0})
    await asyncio.sleep(0.05)
    assert await cc.messages() == []
    await cc.stop()
    await cc.start([tcp(scripted.port)], report_open_close=True)
    hub.bus.fire("alarm_panel_armed", {"mode": "armed_away", "user_id": "u1", "user_number": 3, "time": 1.0})
    hub.bus.fire("alarm_panel_disarmed", {"mode": "disarmed", "user_id": "u1", "user_number": 3, "time": 2.0})
    await until(lambda: cc.delivered(2), what="open/close delivered")
    closing, opening = (parse_cid_data(r.message.data)[1] for r in scripted.alarms())
    assert (closing.qualifier, closing.code, closing.zone) == (3, 401, 3)  # arm = closing, by user 3
    assert (opening.qualifier, opening.code, opening.zone) == (1, 401, 3)
    assert [m.id.rpartition(":")[2] for m in await cc.messages()] == ["armed", "disarmed"]


async def test_sia_dcs_format(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)], format="SIA-DCS")
    record = alarm("a1", category="water_leak", zone=11)
    cc.raise_alarm(record)
    cc.restore_alarm(record)
    await until(lambda: cc.delivered(2), what="delivered")
    raised, restored = scripted.alarms()
    assert raised.message.token == "SIA-DCS"
    assert raised.message.data == f"#{ACCOUNT}|Nri1/WA011"
    assert parse_sia_data(restored.message.data)[1].code == "WH"


async def test_code_overrides_and_unknown_categories(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)], codes={"gas": 157})
    cc.raise_alarm(alarm("a1"))
    cc.raise_alarm(alarm("a2", category="flood_of_unknown_kind", zone=5))
    await until(lambda: cc.delivered(2), what="delivered")
    codes = [parse_cid_data(r.message.data)[1] for r in scripted.alarms()]
    assert (codes[0].code, codes[1].code, codes[1].zone) == (157, 140, 5)  # unknown: general alarm, never dropped


async def test_one_message_per_destination(
    cc: CcSetup, hub: Hub, scripted: ScriptedReceiver, webhook_receiver: WebhookReceiver
) -> None:
    await cc.start([tcp(scripted.port)], webhooks=[{"url": webhook_receiver.url, "secret": webhook_receiver.secret,
                                                    "name": "c5"}], report_open_close=True)  # fmt: skip
    cc.raise_alarm(alarm("a1"))
    hub.bus.fire("alarm_panel_armed", {"mode": "armed_away", "user_id": "u1", "user_number": 3, "time": 1.0})
    await until(lambda: cc.delivered(2), what="DC-09 delivered")
    await until(lambda: cc.delivered(1, webhook_channel("c5")), what="webhook delivered")
    assert [m.id for m in await cc.messages(webhook_channel("c5"))] == ["a1:raised@c5"]  # no CAP for open/close
    assert list(webhook_receiver.stored) == ["a1:raised@c5"]


async def test_queued_sensor_counts_pending_and_failed(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    port = scripted.port
    await scripted.stop()
    await cc.start([tcp(port)], supervision_interval=0)
    for index in range(3):
        cc.raise_alarm(alarm(f"a{index}"))
    await until(lambda: hub.states.get(QUEUED).state == "3", what="three queued")  # type: ignore[union-attr]
    scripted.script.append(DUH)
    await scripted.start()
    await cc.drive(lambda: cc.forwarder._pending == 0, step=5, limit=300, what="queue drained")
    state = hub.states.get(QUEUED)
    assert state is not None and state.state == "0" and state.attributes["failed"] == 1
    await cc.forwarder.resync()  # the count from the outbox agrees
    assert hub.states.get(QUEUED).state == "0"  # type: ignore[union-attr]
    assert hub.states.get(QUEUED).attributes["failed"] == 1  # type: ignore[union-attr]


async def test_status_route(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    forwarder = await cc.start([tcp(scripted.port)])
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered")
    [route] = routes(forwarder, hub.time_zone)
    assert (route.method, route.path) == ("GET", "/api/command_center/status")
    response = await route.handler(make_mocked_request("GET", route.path))
    body = orjson.loads(response.body)  # type: ignore[attr-defined]
    assert body["link"]["connected"] is True and body["link"]["receiver"] == "primary"
    assert body["link"]["address"] == f"127.0.0.1:{scripted.port}/tcp"
    assert body["channels"][CHANNEL_DC09]["delivered"] == 1


async def test_unload_leaves_nothing_behind(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    before = dict(hub.bus.listener_count())
    await cc.start([tcp(scripted.port)], supervision_interval=90, report_open_close=True)
    scope = cc.scoped.scope
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered")
    assert hub.states.get("binary_sensor.command_center_link") is not None
    assert hub.views.match("GET", "/api/command_center/status")[0] is not None
    await cc.stop()
    assert scope.resource_count() == 0
    assert dict(hub.bus.listener_count()) == before
    assert hub.states.get("binary_sensor.command_center_link") is None
    assert hub.views.match("GET", "/api/command_center/status")[0] is None
    cc.raise_alarm(alarm("a2"))  # nobody listens any more: nothing is queued
    await cc.clock.advance(600)  # no supervision timer either
    await asyncio.sleep(0.05)
    assert [m.id for m in await cc.messages()] == ["a1:raised"]
    assert [r.message.token for r in scripted.received] == ["ADM-CID"]
