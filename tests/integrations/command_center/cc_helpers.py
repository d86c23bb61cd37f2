"""Peers and a set-up command_center for the integration's tests.

* `PysiaReceiver`: pysiaalarm's real receiver (its asyncio SIAClient) on loopback TCP or UDP.
  pysiaalarm's UDP server asserts that its transport is an `asyncio.DatagramTransport`, which
  Python 3.11's selector transport is not (TESTING.md); the UDP peer swaps in a subclass without
  that assertion and otherwise runs pysiaalarm's own code.
* `ScriptedReceiver`: a DC-09 receiver of our own, built on the codec's decode / build_ack /
  build_nak / build_duh, for the cases pysiaalarm cannot play: a skewed clock (NAK), DUH, garbage,
  silence, a closed port; it records every message it decoded.
* `WebhookReceiver`: an aiohttp receiver that checks the signature, parses the CAP XML with
  defusedxml and de-duplicates by Idempotency-Key; its answers can be scripted (500 then 200).
* `CcSetup`: command_center set up on the `hub` fixture (manual clock) against those peers.

Sockets are real, so conditions are awaited in real time with `until`; time itself (backoff,
ACK timeouts, supervision, failover, return) only moves with `clock.advance`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from defusedxml import ElementTree as SafeET  # type: ignore[import-untyped]
from pysiaalarm import SIAAccount, SIAEvent
from pysiaalarm.aio import SIAClient
from pysiaalarm.aio.server import SIAServerUDP
from pysiaalarm.utils import CommunicationsProtocol
from waiting import until

from hub.outbox import OutboxMessage
from hub.runtime import Hub
from integrations import command_center
from integrations.command_center.dc09 import (
    Dc09Error,
    Dc09Message,
    FrameSplitter,
    build_ack,
    build_duh,
    build_nak,
    decode,
    make_key,
)
from integrations.command_center.forwarder import CHANNEL_DC09

ACCOUNT = "1234"
KEY = "0123456789ABCDEF"  # pysiaalarm's convention: the ASCII characters are the AES-128 key
WEBHOOK_SECRET = "c5-webhook-secret-0042"
CAP_NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
WINDOW = (40.0, 20.0)  # seconds behind / ahead a receiver accepts (PROTOCOLS 1.5)




def alarm(alarm_id: str, *, category: str = "gas", zone: int = 10, name: str = "Cocina gas", **extra: Any) -> dict[str, Any]:
    """An alarm record as alarm_panel fires it (docs/alarms.md, the event contract)."""
    record = {
        "id": alarm_id, "category": category, "kind": "alarm",
        "zone": {"id": f"zone_{zone}", "number": zone, "name": name},
        "entity_id": "binary_sensor.kitchen_gas", "time": 1768478400.0, "context_id": None, "snapshot": None,
        "status": "active", "message": f"Alarma: {name}", "mode": "armed_away", "user": None,
    }  # fmt: skip
    record.update(extra)
    return record


def xdata_id(extended: Any) -> str | None:
    """The message id the hub puts in its `[I...]` xdata block (the receiver's de-duplication key)."""
    for block in extended or ():
        if block.startswith("I"):
            return str(block[1:])
    return None


# -- pysiaalarm ------------------------------------------------------------------------------------------


class _Py311UdpServer(SIAServerUDP):
    """pysiaalarm's UDP server with 3.11's transport accepted (its isinstance assertion fails there)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]


@dataclass
class PysiaReceiver:
    """pysiaalarm's SIAClient on 127.0.0.1; `events` are the SIAEvents it accepted (and ACKed)."""

    protocol: str
    key: str | None = None
    events: list[SIAEvent] = field(default_factory=list)
    port: int = 0
    client: Any = None

    async def _on_event(self, event: SIAEvent) -> None:
        self.events.append(event)

    async def start(self) -> None:
        account = SIAAccount(ACCOUNT, self.key)
        proto = CommunicationsProtocol.TCP if self.protocol == "tcp" else CommunicationsProtocol.UDP
        # SIAClient() builds its TCP or UDP subclass from `protocol`.
        self.client = SIAClient("127.0.0.1", 0, [account], self._on_event, protocol=proto)  # type: ignore[abstract]
        if self.protocol == "tcp":
            await self.client.async_start()
            self.port = self.client.server.sockets[0].getsockname()[1]
        else:
            self.client.sia_server = _Py311UdpServer(self.client._accounts, self.client._func, self.client._counts)
            await self.client.async_start()
            self.port = self.client.transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        await self.client.async_stop()
        # The TCP handler of a connection ends when the hub closes it; give it that moment.
        handlers = [t for t in asyncio.all_tasks() if "handle_line" in repr(t.get_coro())]
        if handlers:
            _, pending = await asyncio.wait(handlers, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        # pysiaalarm's UDP server runs the user function in tasks it does not keep.
        await asyncio.sleep(0.01)

    def alarms(self) -> list[SIAEvent]:
        return [e for e in self.events if getattr(e.message_type, "value", e.message_type) != "NULL"]


# -- our scripted receiver -------------------------------------------------------------------------------

ACK, NAK, DUH, GARBAGE, SILENCE, CLOSE, STALE = "ack", "nak", "duh", "garbage", "silence", "close", "stale"


@dataclass
class Received:
    """One message the scripted receiver decoded, and what it did with it."""

    message: Dc09Message
    action: str
    frame: bytes
    at: float  # the receiver's clock (hub clock + skew), epoch seconds

    @property
    def msg_id(self) -> str | None:
        return xdata_id(self.message.extended)


class ScriptedReceiver:
    """A DC-09 receiver over TCP or UDP that answers from a script; it checks timestamps against `now()`.

    `script` is consumed one action per message (then `default`): ack, nak (with the receiver's
    time), duh, garbage, silence (no answer), close (drop the TCP connection) or stale (an ACK
    for another sequence number first, then the right one). A message whose
    timestamp is outside the -40/+20 s window of the receiver's clock is NAKed regardless, as a
    real receiver does; `skew` shifts the receiver's clock from the hub's.
    """

    def __init__(self, protocol: str = "tcp", *, now: Callable[[], datetime], key: str | None = None,
                 skew: float = 0.0, delay: Callable[[], float] | None = None) -> None:  # fmt: skip
        self.protocol = protocol
        self.key = make_key(key) if key else None
        self.now = now
        self.skew = skew
        self.delay = delay  # real seconds to wait before answering (crash test)
        self.script: deque[str] = deque()
        self.default = ACK
        self.received: list[Received] = []
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (again) on 127.0.0.1, on the same port as before if there was one."""
        loop = asyncio.get_running_loop()
        if self.protocol == "tcp":
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpAnswer(self), local_addr=("127.0.0.1", self.port), reuse_port=False
            )
            self._udp = transport
            self.port = transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        """Close the port and every connection (a receiver that went away)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        for writer in list(self._writers):
            writer.close()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    # -- answering --------------------------------------------------------------------------------------

    def receiver_time(self) -> datetime:
        return self.now() + timedelta(seconds=self.skew)

    def answer(self, frame: bytes) -> tuple[str, bytes | None]:
        """The action for one frame and the bytes to send back (None: nothing)."""
        try:
            message = decode(frame, key=self.key)
        except Dc09Error:
            return GARBAGE, b"\n\r"  # what pysiaalarm answers a frame it cannot read
        action = self.script.popleft() if self.script else self.default
        if action in (ACK, STALE) and message.timestamp is not None:
            offset = (message.timestamp - self.receiver_time()).total_seconds()
            if not -WINDOW[0] <= offset <= WINDOW[1]:
                action = NAK
        self.received.append(Received(message, action, frame, self.receiver_time().timestamp()))
        if action == ACK:
            return action, build_ack(message, key=self.key, now=self.receiver_time())
        if action == NAK:
            return action, build_nak(self.receiver_time())
        if action == DUH:
            return action, build_duh(message)
        if action == GARBAGE:
            return action, b"\x00\xffNOT A DC-09 ANSWER\xfe"
        if action == STALE:
            other = replace(message, sequence=message.sequence % 9999 + 1)
            return action, build_ack(other, key=self.key, now=self.receiver_time()) + build_ack(
                message, key=self.key, now=self.receiver_time())
        return action, None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        splitter = FrameSplitter()
        try:
            while data := await reader.read(4096):
                for frame in splitter.feed(data):
                    action, reply = self.answer(frame)
                    if self.delay is not None:
                        await asyncio.sleep(self.delay())
                    if action == CLOSE:
                        return
                    if reply is not None:
                        writer.write(reply)
                        await writer.drain()
        except (ConnectionError, Dc09Error):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
            self._handlers.discard(task)

    # -- what it saw ------------------------------------------------------------------------------------

    def alarms(self) -> list[Received]:
        """Received alarm messages (not NULL), in order of arrival."""
        return [r for r in self.received if r.message.token != "NULL"]

    def accepted(self) -> list[Received]:
        return [r for r in self.alarms() if r.action in (ACK, STALE)]

    def nulls(self) -> list[Received]:
        return [r for r in self.received if r.message.token == "NULL"]


class _UdpAnswer(asyncio.DatagramProtocol):
    def __init__(self, receiver: ScriptedReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        _, reply = self.receiver.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


# -- webhook receiver ------------------------------------------------------------------------------------


@dataclass
class WebhookReceiver:
    """An HTTPS-webhook receiver (plain HTTP on loopback): verifies, parses, stores each id once."""

    secret: str = WEBHOOK_SECRET
    statuses: deque[int] = field(default_factory=deque)  # answers to give first, then 200
    posts: list[dict[str, Any]] = field(default_factory=list)  # every verified post
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    refused: list[str] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            self.refused.append("bad signature")
            return web.Response(status=401, text="bad signature")
        data = json.loads(body)
        post = {"data": data, "headers": dict(request.headers), "cap": None}
        if "cap_xml" in data:
            post["cap"] = SafeET.fromstring(data["cap_xml"].encode("utf-8"))
        self.posts.append(post)
        if self.statuses:
            status = self.statuses.popleft()
            if status >= 300:
                return web.Response(status=status, text="receiver trouble")
        key = request.headers["Idempotency-Key"]
        self.stored.setdefault(key, post)  # a repeat is answered 2xx without acting again
        return web.json_response({"stored": key})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/alarms", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/alarms"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


# -- the integration on the hub fixture ------------------------------------------------------------------


@dataclass
class CcSetup:
    """command_center set up on a hub with a manual clock, and helpers to drive it."""

    hub: Hub
    scoped: Any = None
    forwarder: Any = None
    config: dict[str, Any] = field(default_factory=dict)

    async def start(self, receivers: list[dict[str, Any]], **overrides: Any) -> Any:
        block = {"account": ACCOUNT, "receiver": "R0", "line": "L0", "receivers": receivers, "ack_timeout": 5,
                 "supervision_interval": 90, **overrides}  # fmt: skip
        self.config = command_center.CONFIG_SCHEMA(block)
        self.scoped = self.hub.scoped("command_center")
        await command_center.async_setup(self.scoped, self.config)
        self.forwarder = command_center.get_forwarder(self.scoped)
        return self.forwarder

    async def stop(self) -> None:
        if self.scoped is not None:
            await self.scoped.scope.close()
            self.scoped = None

    @property
    def clock(self) -> Any:
        return self.hub.clock

    def raise_alarm(self, record: dict[str, Any]) -> None:
        self.hub.bus.fire("alarm_raised", record)

    def restore_alarm(self, record: dict[str, Any]) -> None:
        self.hub.bus.fire("alarm_restored", {**record, "status": "restored"})

    async def messages(self, channel: str = CHANNEL_DC09) -> list[OutboxMessage]:
        result: list[OutboxMessage] = await self.hub.outbox.list(channel=channel, limit=10000)
        return result

    async def states(self, channel: str = CHANNEL_DC09) -> dict[str, str]:
        return {m.id: m.state.value for m in await self.messages(channel)}

    async def delivered(self, count: int, channel: str = CHANNEL_DC09) -> bool:
        states = await self.states(channel)
        return len(states) >= count and all(s == "delivered" for s in states.values())

    async def drive(self, predicate: Callable[[], Any], *, step: float = 5.0, limit: float = 7200.0,
                    what: str = "condition") -> float:  # fmt: skip
        """Advance the clock in steps, letting real I/O run between them, until `predicate()` holds."""
        spent = 0.0
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return spent
            if spent >= limit:
                raise AssertionError(f"{what} not reached within {limit:g} s of hub time")
            await self.clock.advance(step)
            spent += step
            await asyncio.sleep(0.02)

    def link_state(self) -> Any:
        return self.hub.states.get("binary_sensor.command_center_link")


@pytest.fixture
async def cc(hub: Hub) -> AsyncIterator[CcSetup]:
    setup = CcSetup(hub)
    yield setup
    await setup.stop()


@pytest.fixture
async def scripted(hub: Hub) -> AsyncIterator[ScriptedReceiver]:
    receiver = ScriptedReceiver("tcp", now=hub.clock.now)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


def tcp(port: int, name: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"host": "127.0.0.1", "port": port, "protocol": "tcp"}
    if name:
        entry["name"] = name
    return entry


def udp(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "protocol": "udp"}


def cap_text(root: Any, path: str) -> str | None:
    """Text of a CAP element by a slash path under <alert> (namespace added)."""
    node = root.find("/".join(f"{CAP_NS}{part}" for part in path.split("/")))
    return None if node is None else node.text


__all__ = [
    "ACCOUNT", "ACK", "CAP_NS", "CLOSE", "DUH", "GARBAGE", "KEY", "NAK", "SILENCE", "STALE", "WEBHOOK_SECRET", "CcSetup",
    "PysiaReceiver", "Received", "ScriptedReceiver", "WebhookReceiver", "alarm", "cap_text", "cc", "scripted",
    "tcp", "udp", "until", "webhook_receiver", "xdata_id",
]  # fmt: skip
