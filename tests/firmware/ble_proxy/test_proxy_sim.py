"""The simulated proxy against a tiny hub written here with the same protocol module."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from firmware.ble_proxy import ad, protocol
from firmware.sim.climate_sim import ROOF, SimulatedClimateBeacon, service_data_of
from firmware.sim.proxy_sim import SimulatedProxy

TOKEN = "roof-token-0123456789"
BEACON_MAC = "A4:C1:38:00:00:01"
START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class TinyHub:
    """The hub side of the handshake: CHALLENGE, check HELLO, WELCOME or ERROR; collects batches."""

    def __init__(
        self,
        tokens: dict[str, str],
        close_after_batches: int | None = None,
        garbage: bool = False,
        ping: bool = False,
    ) -> None:
        self.tokens = tokens
        self.close_after_batches = close_after_batches
        self.garbage = garbage
        self.ping = ping
        self.pongs: list[int] = []
        self.pings: list[int] = []
        self.errors: list[protocol.Error] = []
        self.hellos: list[protocol.Hello] = []
        self.batches: list[protocol.Batch] = []
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        try:
            await self._session(reader, writer)
        except (protocol.ProtocolError, OSError, EOFError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)

    async def _next(self, reader: asyncio.StreamReader, decoder: protocol.FrameDecoder) -> list[object]:
        data = await reader.read(4096)
        if not data:
            raise EOFError
        return [protocol.decode_body(t, b) for t, b in decoder.feed(data)]

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonce = os.urandom(protocol.NONCE_LEN)
        writer.write(protocol.encode_challenge(nonce))
        decoder = protocol.FrameDecoder()
        (hello,) = await self._next(reader, decoder)
        assert isinstance(hello, protocol.Hello)
        self.hellos.append(hello)
        token = self.tokens.get(hello.proxy_id)
        if token is None:
            writer.write(protocol.encode_error(protocol.E_UNKNOWN_PROXY, f"unknown proxy {hello.proxy_id!r}"))
            return
        if not protocol.verify_proof(token, nonce, hello):
            writer.write(protocol.encode_error(protocol.E_AUTH, "bad token"))
            return
        writer.write(protocol.encode_welcome())
        if self.ping:
            writer.write(protocol.encode_ping(99))
        batches = 0
        while True:
            for message in await self._next(reader, decoder):
                if isinstance(message, protocol.Batch):
                    self.batches.append(message)
                    batches += 1
                    if self.garbage:
                        writer.write(b"\xff\xff\xff")
                elif isinstance(message, protocol.Pong):
                    self.pongs.append(message.seq)
                elif isinstance(message, protocol.Ping):
                    self.pings.append(message.seq)
                    writer.write(protocol.encode_pong(message.seq))
                elif isinstance(message, protocol.Error):
                    self.errors.append(message)
            if self.close_after_batches is not None and batches >= self.close_after_batches:
                return

    def records(self) -> list[protocol.Record]:
        return [r for b in self.batches for r in b.records]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


HubFactory = Callable[..., Awaitable[TinyHub]]


@pytest.fixture
async def hub_factory() -> AsyncIterator[HubFactory]:
    hubs: list[TinyHub] = []

    async def make(**kwargs: bool | int) -> TinyHub:
        hub = TinyHub({"roof-1": TOKEN}, **kwargs)  # type: ignore[arg-type]
        await hub.start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


async def test_right_token_accepted_and_beacon_forwarded(hub_factory: HubFactory) -> None:
    hub = await hub_factory(ping=True)
    proxy = SimulatedProxy("127.0.0.1", hub.port, proxy_id="roof-1", token=TOKEN, batch_interval=0.02)
    beacon = SimulatedClimateBeacon(BEACON_MAC, ROOF, start=START)
    proxy.start()
    try:
        await asyncio.wait_for(proxy.streaming.wait(), 5)
        payloads = [proxy.feed_beacon(beacon, START + timedelta(minutes=m), rssi=-71) for m in range(3)]
        await until(lambda: len(hub.records()) == 3)
    finally:
        await proxy.stop()
    assert hub.hellos[0].proxy_id == "roof-1" and hub.hellos[0].firmware == "proxy_sim 1.0"
    records = hub.records()
    assert [r.data for r in records] == payloads
    assert {protocol.format_address(r.address) for r in records} == {BEACON_MAC}
    assert {r.rssi for r in records} == {-71}
    # what the hub will do with it: the same service data bleak would report for the local adapter
    for record in records:
        assert ad.parse(record.data).service_data == service_data_of(record.data)
    assert all(0 <= (b.sent_ms - r.time_ms) % 2**32 < 5000 for b in hub.batches for r in b.records)
    assert proxy.sessions == 1 and proxy.refusals == []
    assert hub.pongs == [99]


async def test_a_quiet_hub_is_pinged(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    proxy = SimulatedProxy(
        "127.0.0.1", hub.port, proxy_id="roof-1", token=TOKEN, batch_interval=0.01, ping_interval=0.05
    )
    proxy.start()
    try:
        await until(lambda: len(hub.pings) >= 2)  # the pong resets the silence, so it pings again
    finally:
        await proxy.stop()
    assert hub.pings[:2] == [1, 2] and proxy.sessions == 1


async def test_wrong_token_refused_with_the_error_frame(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    proxy = SimulatedProxy("127.0.0.1", hub.port, proxy_id="roof-1", token="guess", backoff_min=0.01)
    proxy.feed(BEACON_MAC, b"\x02\x01\x06")
    proxy.start()
    try:
        await until(lambda: len(proxy.refusals) >= 2)  # refused, and it keeps trying with backoff
    finally:
        await proxy.stop()
    assert proxy.refusals[0] == protocol.Error(protocol.E_AUTH, "bad token")
    assert proxy.last_error == "hub refused (code 1): bad token"
    assert proxy.sessions == 0 and not proxy.streaming.is_set()
    assert hub.batches == []
    assert len(hub.hellos) >= 2


async def test_unknown_proxy_refused(hub_factory: HubFactory) -> None:
    hub = await hub_factory()
    proxy = SimulatedProxy("127.0.0.1", hub.port, proxy_id="cellar", token=TOKEN)
    proxy.start()
    try:
        await until(lambda: bool(proxy.refusals))
    finally:
        await proxy.stop()
    assert proxy.refusals[0] == protocol.Error(protocol.E_UNKNOWN_PROXY, "unknown proxy 'cellar'")


async def test_reconnects_after_the_server_closes(hub_factory: HubFactory) -> None:
    hub = await hub_factory(close_after_batches=1)
    proxy = SimulatedProxy("127.0.0.1", hub.port, proxy_id="roof-1", token=TOKEN, batch_interval=0.02, backoff_min=0.01)
    proxy.start()
    try:
        await asyncio.wait_for(proxy.streaming.wait(), 5)
        proxy.feed(BEACON_MAC, b"\x02\x01\x06", rssi=-50)
        await until(lambda: proxy.sessions == 2 and proxy.streaming.is_set())
        proxy.feed(BEACON_MAC, b"\x02\x01\x05", rssi=-51)
        await until(lambda: len(hub.records()) == 2)
    finally:
        await proxy.stop()
    assert [r.rssi for r in hub.records()] == [-50, -51]
    assert hub.connections == 2
    assert proxy.last_error is not None and "closed" in proxy.last_error


async def test_garbage_from_the_hub_drops_the_link_and_it_comes_back(hub_factory: HubFactory) -> None:
    hub = await hub_factory(garbage=True)
    proxy = SimulatedProxy("127.0.0.1", hub.port, proxy_id="roof-1", token=TOKEN, batch_interval=0.02, backoff_min=0.01)
    proxy.start()
    try:
        await asyncio.wait_for(proxy.streaming.wait(), 5)
        proxy.feed(BEACON_MAC, b"\x02\x01\x06")
        await until(lambda: proxy.sessions >= 2)
    finally:
        await proxy.stop()
    assert proxy.last_error == "FrameTooLarge: frame of 65535 bytes, the limit is 4096"
    assert hub.errors[0] == protocol.Error(protocol.E_TOO_LARGE, "frame of 65535 bytes, the limit is 4096")


async def test_reconnects_when_the_hub_is_not_there_yet() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    proxy = SimulatedProxy("127.0.0.1", port, proxy_id="roof-1", token=TOKEN, backoff_min=0.01)
    proxy.start()
    hub = TinyHub({"roof-1": TOKEN})
    try:
        await until(lambda: proxy.last_error is not None)
        assert "ConnectionRefusedError" in (proxy.last_error or "")
        hub.server = await asyncio.start_server(hub._handle, "127.0.0.1", port)
        await asyncio.wait_for(proxy.streaming.wait(), 5)
    finally:
        await proxy.stop()
        if hub.server is not None:
            await hub.close()
    assert proxy.sessions == 1


def test_feed_refuses_what_the_protocol_cannot_carry() -> None:
    proxy = SimulatedProxy("127.0.0.1", 1, proxy_id="roof-1", token=TOKEN, buffer_size=2)
    with pytest.raises(protocol.MalformedFrame, match="AD data has at most 31 bytes"):
        proxy.feed(BEACON_MAC, bytes(32))
    with pytest.raises(protocol.MalformedFrame, match="not a MAC address"):
        proxy.feed("nope", b"")
    for n in range(3):
        proxy.feed(BEACON_MAC, bytes([n]))
    assert [fed[5] for fed in proxy.queue] == [b"\x01", b"\x02"] and proxy.dropped == 1
