"""The websocket protocol of docs/http.md, a stalled client that must not hurt others, revocation."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from bench.rawws import RawWebSocket
from hub import __version__
from hub.http import HttpServer
from hub.http.websocket import CLIENTS_KEY
from hub.runtime import Hub
from hub.services import ServiceCall

PASSWORD = "correct horse battery"  # the users fixture's password


async def connect(client: TestClient[Any, Any], token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/api/websocket")
    assert await ws.receive_json(timeout=5) == {"type": "auth_required", "version": __version__}
    await ws.send_json({"type": "auth", "access_token": token})
    reply = await ws.receive_json(timeout=5)
    assert reply["type"] == "auth_ok", reply
    return ws


async def command(ws: aiohttp.ClientWebSocketResponse, **message: Any) -> dict[str, Any]:
    """Send a command and return its result message."""
    await ws.send_json(message)
    reply = await ws.receive_json(timeout=5)
    assert reply["id"] == message["id"] and reply["type"] == "result", reply
    return reply  # type: ignore[no-any-return]


async def nothing_pending(ws: aiohttp.ClientWebSocketResponse, msg_id: int) -> None:
    """Messages arrive in order: a pong right away means nothing was queued before it."""
    await ws.send_json({"id": msg_id, "type": "ping"})
    assert await ws.receive_json(timeout=5) == {"id": msg_id, "type": "pong"}


async def test_handshake_and_ping(api: Any) -> None:
    ws = await api.client.ws_connect("/api/websocket")
    assert (await ws.receive_json())["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": api.resident})
    reply = await ws.receive_json()
    assert reply == {"type": "auth_ok", "user": {"id": reply["user"]["id"], "name": "Rita Mendoza", "role": "resident"}}
    await nothing_pending(ws, 1)
    await ws.send_json({"id": 2, "type": "fly"})
    error = await ws.receive_json()
    assert error == {"id": 2, "type": "result", "success": False,
                     "error": {"code": "bad_request", "message": "unknown message type 'fly'"}}  # fmt: skip
    await ws.send_str("not json")
    assert (await ws.receive_json())["error"]["message"] == "message is not JSON"
    await ws.close()


@pytest.mark.parametrize("first", [{"type": "auth", "access_token": "v1.bad.token"}, {"type": "ping", "id": 1}, "xx"])
async def test_a_bad_first_message_is_refused_and_closed(api: Any, first: Any) -> None:
    ws = await api.client.ws_connect("/api/websocket")
    await ws.receive_json()
    await (ws.send_json(first) if isinstance(first, dict) else ws.send_str(first))
    assert await ws.receive_json() == {"type": "auth_invalid", "message": "invalid or expired access token"}
    msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == 1008


async def test_authentication_times_out(hub: Hub, serve: Any) -> None:
    async with serve(hub, ws_auth_timeout=0.2) as client:
        ws = await client.ws_connect("/api/websocket")
        await ws.receive_json()
        assert await ws.receive_json(timeout=5) == {"type": "auth_invalid", "message": "authentication timed out"}
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.CLOSE and msg.data == 1008 and msg.extra == "authentication timed out"


async def test_subscribe_to_all_states(api: Any) -> None:
    hub = api.hub
    listeners = hub.bus.listener_count().get("state_changed", 0)
    hub.states.set("sensor.a", "1")
    ws = await connect(api.client, api.resident)
    reply = await command(ws, id=1, type="subscribe_states")
    assert reply["success"] and reply["result"]["states"] == [orjson.loads(hub.states.get("sensor.a").as_json())]
    hub.states.set("sensor.b", "2", {"unit": "m"})
    hub.states.set("sensor.a", "3")
    hub.states.remove("sensor.b")
    got = [await ws.receive_json(timeout=5) for _ in range(3)]
    assert [(m["id"], m["type"], m["entity_id"]) for m in got] == [(1, "state", "sensor.b"), (1, "state", "sensor.a"),
                                                                  (1, "state", "sensor.b")]  # fmt: skip
    assert got[0]["state"]["attributes"] == {"unit": "m"} and got[1]["state"]["state"] == "3"
    assert got[2]["state"] is None
    assert hub.bus.listener_count()["state_changed"] == listeners + 1
    await ws.close()
    for _ in range(50):  # the handler's cleanup runs after the close handshake
        if hub.bus.listener_count().get("state_changed", 0) == listeners:
            break
        await asyncio.sleep(0.01)
    assert hub.bus.listener_count().get("state_changed", 0) == listeners
    assert not api.client.server.app[CLIENTS_KEY]


async def test_subscribe_to_some_states_and_unsubscribe(api: Any) -> None:
    hub = api.hub
    hub.states.set("sensor.a", "1")
    hub.states.set("sensor.b", "1")
    ws = await connect(api.client, api.resident)
    reply = await command(ws, id=1, type="subscribe_states", entity_ids=["sensor.a", "sensor.missing"])
    assert [s["entity_id"] for s in reply["result"]["states"]] == ["sensor.a"]
    hub.states.set("sensor.b", "2")
    hub.states.set("sensor.missing", "here")
    hub.states.set("sensor.a", "2")
    assert (await ws.receive_json(timeout=5))["entity_id"] == "sensor.missing"
    assert (await ws.receive_json(timeout=5))["entity_id"] == "sensor.a"
    await nothing_pending(ws, 2)
    assert (await command(ws, id=3, type="unsubscribe", subscription=1))["success"]
    hub.states.set("sensor.a", "3")
    await nothing_pending(ws, 4)
    reply = await command(ws, id=5, type="unsubscribe", subscription=1)
    assert reply["error"]["code"] == "not_found"
    reply = await command(ws, id=6, type="subscribe_states", entity_ids=["Not An Id"])
    assert reply["error"] == {"code": "bad_request", "message": "entity_ids: invalid entity id 'Not An Id'"}
    await command(ws, id=7, type="subscribe_states", entity_ids=["sensor.a"])
    reply = await command(ws, id=7, type="subscribe_states")
    assert reply["error"]["code"] == "conflict"
    await ws.close()


async def test_event_subscriptions_and_resident_limits(api: Any) -> None:
    admin = await connect(api.client, api.admin)
    resident = await connect(api.client, api.resident)
    assert (await command(admin, id=1, type="subscribe_events", event_type="test_event"))["success"]
    assert (await command(admin, id=2, type="subscribe_events"))["success"]  # everything
    reply = await command(resident, id=1, type="subscribe_events", event_type="test_event")
    assert reply["error"]["code"] == "forbidden" and "alarm_raised" in reply["error"]["message"]
    assert (await command(resident, id=2, type="subscribe_events"))["error"]["code"] == "forbidden"
    assert (await command(resident, id=3, type="subscribe_events", event_type="alarm_raised"))["success"]
    api.hub.bus.fire("test_event", {"n": 1})
    api.hub.bus.fire("alarm_raised", {"zone": "door"})
    got = [await admin.receive_json(timeout=5) for _ in range(3)]
    assert [(m["id"], m["event"]["event_type"]) for m in got] == [(1, "test_event"), (2, "test_event"),
                                                                 (2, "alarm_raised")]  # fmt: skip
    assert got[0]["event"]["data"] == {"n": 1} and "time_fired" in got[0]["event"] and got[0]["event"]["context"]
    event = await resident.receive_json(timeout=5)
    assert event["id"] == 3 and event["event"]["data"] == {"zone": "door"}
    assert (await command(admin, id=3, type="unsubscribe", subscription=1))["success"]
    api.hub.bus.fire("test_event", {"n": 2})
    assert (await admin.receive_json(timeout=5))["id"] == 2
    await nothing_pending(admin, 4)
    await admin.close()
    await resident.close()


async def test_call_service(api: Any) -> None:
    calls: list[ServiceCall] = []
    api.hub.services.register("alarm", "arm", calls.append, resident=True)
    api.hub.services.register("tank", "fill", calls.append)
    ws = await connect(api.client, api.resident)
    reply = await command(ws, id=1, type="call_service", domain="alarm", service="arm", service_data={})
    assert reply["success"] and reply["result"]["context"]["user_id"] == calls[0].context.user_id
    reply = await command(ws, id=2, type="call_service", domain="tank", service="fill")
    assert reply["error"] == {"code": "forbidden", "message": "residents may not call tank.fill"}
    reply = await command(ws, id=3, type="call_service", domain="tank", service="nope")
    assert reply["error"]["code"] == "not_found"
    reply = await command(ws, id=4, type="call_service", domain="alarm", service="arm", service_data=[1])
    assert reply["error"]["code"] == "bad_request"
    assert len(calls) == 1
    await ws.close()


async def test_a_stalled_client_is_cut_off_while_a_healthy_one_gets_every_state_in_order(
    hub: Hub, users: tuple[str, str], serve: Any
) -> None:
    async with serve(hub, ws_queue_size=8) as client:
        healthy = await connect(client, users[1])
        assert (await command(healthy, id=1, type="subscribe_states"))["success"]
        stalled = await RawWebSocket.open(client.host, client.port)
        try:
            assert (await stalled.frame())[0] == 1  # auth_required
            stalled.send({"type": "auth", "access_token": users[1]})
            assert orjson.loads((await stalled.frame())[1])["type"] == "auth_ok"
            stalled.send({"id": 1, "type": "subscribe_states"})
            assert orjson.loads((await stalled.frame())[1])["success"]
            # From here on the stalled client reads nothing: its socket and then its queue fill up.
            clients = client.server.app[CLIENTS_KEY]
            pad = "x" * 4000
            sent = 0
            while not any(c.close_reason for c in clients):
                assert sent < 20_000, "the stalled client was never cut off"
                hub.states.set("sensor.flow", str(sent), {"pad": pad})
                message = await healthy.receive_json(timeout=5)
                assert message["state"]["state"] == str(sent)  # every state, in order, without delay
                sent += 1
            [cut] = [c for c in clients if c.close_reason]
            assert cut.close_reason == "client too slow: 8 messages queued"
            for n in range(sent, sent + 20):  # the healthy client goes on as before
                hub.states.set("sensor.flow", str(n), {"pad": pad})
                assert (await healthy.receive_json(timeout=5))["state"]["state"] == str(n)
            # The stalled client reads again: what was sent before the cut, then the close frame.
            while True:
                opcode, payload = await asyncio.wait_for(stalled.frame(), 5)
                if opcode == 8:
                    break
            assert struct.unpack("!H", payload[:2])[0] == 1008
            assert payload[2:].decode() == "client too slow: 8 messages queued"
            await healthy.close()
        finally:
            await stalled.close()


async def test_revoking_a_token_closes_its_websockets(api: Any) -> None:
    session = await api.hub.auth.login("rita", PASSWORD, address="127.0.0.1")
    ws = await connect(api.client, session.access_token)
    other = await connect(api.client, api.resident)
    await api.hub.auth.revoke(session.token_id)
    msg = await ws.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1008 and msg.extra == "token revoked"
    await nothing_pending(other, 1)  # another session of the same user stays open
    await other.close()


async def test_stopping_the_server_closes_websockets_with_1001(hub: Hub, users: tuple[str, str]) -> None:
    server = HttpServer(hub, host="127.0.0.1", port=0)
    await server.start()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{server.url}/api/websocket")
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": users[0]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        stopping = asyncio.create_task(server.stop())
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.CLOSE and msg.data == 1001 and msg.extra == "hub stopping"
        await asyncio.wait_for(stopping, 5)
        await ws.close()


async def test_a_client_that_never_reads_again_is_aborted_after_the_close_timeout(
    hub: Hub, users: tuple[str, str], serve: Any
) -> None:
    async with serve(hub, ws_queue_size=4, ws_close_timeout=0.2) as client:
        stalled = await RawWebSocket.open(client.host, client.port)
        try:
            await stalled.frame()
            stalled.send({"type": "auth", "access_token": users[0]})
            await stalled.frame()
            stalled.send({"id": 1, "type": "subscribe_states"})
            await stalled.frame()
            clients = client.server.app[CLIENTS_KEY]
            [server_side] = clients
            sent = 0
            while not server_side.close_reason:
                assert sent < 20_000, "the stalled client was never cut off"
                hub.states.set("sensor.flow", str(sent), {"pad": "x" * 4000})
                await asyncio.sleep(0)
                sent += 1
            # Nobody reads the close frame: the connection is aborted and the handler finishes.
            await asyncio.wait_for(server_side.done.wait(), 5)
            assert not clients
            assert hub.bus.listener_count().get("state_changed", 0) == 0
        finally:
            await stalled.close()
