"""The hub's proxy endpoint against the proxy simulator on loopback, and against raw bytes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from ble_helpers import PROXY_ID, PROXY_TOKEN, ROOF_ADDR, BleSetup, beacon, free_port
from waiting import until

from firmware.ble_proxy import protocol
from firmware.sim.proxy_sim import SimulatedProxy
from hub.clock import ManualClock
from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.proxy import ProxyServer, ProxyStatus

PROXY_ENTITY = f"binary_sensor.ble_proxy_{PROXY_ID.replace('-', '_')}"
LOG = "integrations.ble_climate.proxy"


async def start_hub_side(ble: BleSetup) -> int:
    port = free_port()
    await ble.start(proxies=[{"id": PROXY_ID, "token": PROXY_TOKEN}], proxy_port=port, proxy_host="127.0.0.1")
    return port


def simulated(
    sims: list[SimulatedProxy], port: int, proxy_id: str = PROXY_ID, token: str = PROXY_TOKEN
) -> SimulatedProxy:
    sim = SimulatedProxy("127.0.0.1", port, proxy_id=proxy_id, token=token, batch_interval=0.02)
    sims.append(sim)
    sim.start()
    return sim


async def test_right_token_turns_a_simulated_roof_beacon_into_states(ble: BleSetup, sims: list[SimulatedProxy]) -> None:
    port = await start_hub_side(ble)
    assert ble.state(PROXY_ENTITY) == "off"
    sim = simulated(sims, port)
    await until(lambda: ble.state(PROXY_ENTITY) == "on", "the proxy to connect")
    attrs = ble.attrs(PROXY_ENTITY)
    assert attrs["firmware"] == "proxy_sim 1.0" and attrs["peer"] == "127.0.0.1" and attrs["last_error"] is None
    assert attrs["device_class"] == "connectivity"

    roof = beacon(ROOF_ADDR, clock=ble.clock)
    temperature_cc, humidity_ch, _ = roof.reading_at(ble.clock.now())
    sim.feed_beacon(roof, ble.clock.now(), rssi=-77)
    await until(lambda: ble.state("sensor.roof_temperature") != "unavailable", "the roof reading via the proxy")
    assert float(ble.state("sensor.roof_temperature")) == pytest.approx(temperature_cc / 100, abs=0.05)
    assert float(ble.state("sensor.roof_humidity")) == pytest.approx(humidity_ch / 100, abs=0.05)
    assert ble.state("sensor.roof_signal_strength") == "-77"
    assert ble.attrs("sensor.roof_signal_strength")["source"] == f"proxy:{PROXY_ID}"

    await ble.clock.advance(10)  # the batch statistics are refreshed on the availability timer
    assert ble.attrs(PROXY_ENTITY)["records"] == 1
    assert ble.attrs(PROXY_ENTITY)["last_batch"] is not None

    await sim.stop()
    await until(lambda: ble.state(PROXY_ENTITY) == "off", "the proxy to show disconnected")
    assert ble.attrs(PROXY_ENTITY)["last_error"] == "proxy closed the connection"


@pytest.mark.parametrize(
    ("proxy_id", "token", "code", "reason"),
    [
        (PROXY_ID, "wrong-token-but-long-enough", protocol.E_AUTH, "bad token"),
        ("stranger", PROXY_TOKEN, protocol.E_UNKNOWN_PROXY, "unknown proxy id"),
    ],
)
async def test_bad_token_and_unknown_id_are_refused_with_the_error_frame(
    ble: BleSetup, sims: list[SimulatedProxy], caplog: pytest.LogCaptureFixture,
    proxy_id: str, token: str, code: int, reason: str,
) -> None:  # fmt: skip
    port = await start_hub_side(ble)
    with caplog.at_level(logging.WARNING, logger=LOG):
        sim = simulated(sims, port, proxy_id, token)
        await until(lambda: sim.refusals, "a refusal")
        await sim.stop()
    assert sim.refusals[0].code == code
    assert sim.sessions == 0
    [line] = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert line.startswith(f"refused BLE proxy {proxy_id!r} from 127.0.0.1: {reason}")
    assert token not in caplog.text
    assert ble.state(PROXY_ENTITY) == "off"
    if code == protocol.E_AUTH:
        assert ble.attrs(PROXY_ENTITY)["last_error"] == "refused from 127.0.0.1: bad token"


async def raw_session(port: int, data: bytes) -> tuple[protocol.Challenge, list[object]]:
    """Connect, read the challenge, send `data`; returns the challenge and every frame until the hub closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        decoder = protocol.FrameDecoder()
        frames: list[object] = []
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), 5)
            if not chunk:
                break
            frames.extend(protocol.decode_body(t, b) for t, b in decoder.feed(chunk))
            if len(frames) == 1 and data:
                writer.write(data)
                data = b""
        challenge = frames.pop(0)
        assert isinstance(challenge, protocol.Challenge)
        return challenge, frames
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x05\x99garbage", protocol.E_MALFORMED),  # unknown frame type
        (b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n", protocol.E_TOO_LARGE),  # "GE" read as a 18245-byte frame
        (protocol.encode_ping(1), protocol.E_MALFORMED),  # a valid frame, but not a hello
        (protocol.frame(protocol.T_HELLO, b"MDRP\x09"), protocol.E_VERSION),
    ],
)
async def test_garbage_gets_the_error_frame_and_the_endpoint_lives_on(
    ble: BleSetup, sims: list[SimulatedProxy], data: bytes, code: int
) -> None:
    port = await start_hub_side(ble)
    _, frames = await raw_session(port, data)
    assert len(frames) == 1 and isinstance(frames[0], protocol.Error) and frames[0].code == code
    simulated(sims, port)  # still serving
    await until(lambda: ble.state(PROXY_ENTITY) == "on", "a good proxy after the garbage")


async def collecting_server(
    clock: ManualClock, *, ping_interval: float = 15.0, idle_timeout: float = 45.0
) -> tuple[ProxyServer, list[Advertisement], list[ProxyStatus]]:
    """A ProxyServer on a free loopback port that collects what it hands on."""
    advs: list[Advertisement] = []
    statuses: list[ProxyStatus] = []
    server = ProxyServer(
        tokens={PROXY_ID: PROXY_TOKEN},
        clock=clock,
        on_advertisement=advs.append,
        on_status=statuses.append,
        host="127.0.0.1",
        port=0,
        ping_interval=ping_interval,
        idle_timeout=idle_timeout,
    )
    await server.start()
    return server, advs, statuses


async def authenticated(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = protocol.FrameDecoder()
    [(ftype, body)] = decoder.feed(await reader.read(4096))
    challenge = protocol.decode_body(ftype, body)
    writer.write(protocol.encode_hello(PROXY_ID, "raw 1", protocol.proof(PROXY_TOKEN, challenge.nonce, PROXY_ID)))
    assert isinstance(protocol.decode(await reader.read(4096)), protocol.Welcome)
    return reader, writer


async def test_records_are_dated_by_their_age_on_the_hub_clock(clock: ManualClock) -> None:
    server, advs, statuses = await collecting_server(clock)
    try:
        _, writer = await authenticated(server.port)
        address = protocol.parse_address(ROOF_ADDR)
        roof = beacon(ROOF_ADDR, clock=clock)
        _, payload, service_data = roof.advertise(clock.now())
        records = [
            protocol.Record(address, 0, protocol.ADV_NONCONN_IND, -70, 7_500, payload),
            protocol.Record(address, 0, protocol.ADV_NONCONN_IND, -71, protocol.U32 - 999, payload),  # before wrap
            protocol.Record(address, 0, protocol.ADV_NONCONN_IND, -72, 0, b"\x05\xff\x01"),  # truncated AD data
        ]
        writer.write(protocol.encode_batch(records[:1], sent_ms=10_000, dropped=3))
        writer.write(protocol.encode_batch(records[1:], sent_ms=1_000, dropped=4))
        await until(lambda: server.status(PROXY_ID).records == 2, "both batches")
        now = clock.time()
        assert [(a.time, a.rssi) for a in advs] == [(now - 2.5, -70), (now - 2.0, -71)]
        assert advs[0].address == ROOF_ADDR and advs[0].service_data == service_data
        assert advs[0].name == "MDR-climate" and advs[0].source == f"proxy:{PROXY_ID}"
        status = server.status(PROXY_ID)
        assert status.connected and status.dropped == 4 and status.bad_records == 1
        writer.close()
        await writer.wait_closed()
        await until(lambda: not server.status(PROXY_ID).connected, "the disconnect")
        assert [s.connected for s in statuses] == [True, False]
    finally:
        await server.stop()


async def test_a_reconnecting_proxy_replaces_its_old_link(clock: ManualClock) -> None:
    server, _, _ = await collecting_server(clock)
    try:
        old_reader, old_writer = await authenticated(server.port)
        _, new_writer = await authenticated(server.port)
        error = protocol.decode(await asyncio.wait_for(old_reader.read(4096), 5))
        assert isinstance(error, protocol.Error) and error.code == protocol.E_REPLACED
        await asyncio.sleep(0.05)
        assert server.status(PROXY_ID).connected  # the new link holds the status
        for writer in (old_writer, new_writer):
            writer.close()
            await writer.wait_closed()
    finally:
        await server.stop()


async def test_a_silent_proxy_is_pinged_then_dropped(clock: ManualClock) -> None:
    server, _, _ = await collecting_server(clock, ping_interval=0.05, idle_timeout=0.12)
    try:
        reader, writer = await authenticated(server.port)
        decoder = protocol.FrameDecoder()
        frames: list[object] = []
        while chunk := await asyncio.wait_for(reader.read(4096), 5):
            frames.extend(protocol.decode_body(t, b) for t, b in decoder.feed(chunk))
        assert isinstance(frames[0], protocol.Ping)
        assert isinstance(frames[-1], protocol.Error) and frames[-1].code == protocol.E_TIMEOUT
        assert server.status(PROXY_ID).last_error == "silent for 0.12 s"
        writer.close()
        await writer.wait_closed()
    finally:
        await server.stop()


async def test_stopping_with_a_proxy_connected_tells_it_and_logs_no_error(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    server, _, _ = await collecting_server(clock)
    reader, writer = await authenticated(server.port)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await server.stop()
        error = protocol.decode(await asyncio.wait_for(reader.read(4096), 5))
        await asyncio.sleep(0.05)  # asyncio reports a failed connection callback on a later loop turn
    assert isinstance(error, protocol.Error) and error.code == protocol.E_INTERNAL
    assert "shutting down" in error.reason
    assert not server.status(PROXY_ID).connected
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    writer.close()
    await writer.wait_closed()
