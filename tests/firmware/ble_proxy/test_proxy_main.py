"""The proxy firmware loop with fake `network`, `bluetooth`, `time` and hub link, one step at a time."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest

from firmware.ble_proxy import config, protocol
from firmware.ble_proxy.main import (
    OFFLINE,
    STREAMING,
    WAIT_CHALLENGE,
    WAIT_WELCOME,
    Backoff,
    Clock,
    HubRefused,
    ScanBuffer,
    run,
)

TOKEN = "0123456789abcdef"
NONCE = bytes(range(100, 116))
BEACON = bytes.fromhex("A4C138000001")
PAYLOAD = bytes.fromhex("020106 0A16D2FC4002C40903BF13")


class FakeTime:
    """MicroPython's time: ticks_ms wraps at 2**30 like the ESP32 port; sleep_ms moves time on."""

    PERIOD = 1 << 30

    def __init__(self, start: int = 0) -> None:
        self.now = start

    def ticks_ms(self) -> int:
        return self.now % self.PERIOD

    def ticks_diff(self, a: int, b: int) -> int:
        return (a - b + self.PERIOD // 2) % self.PERIOD - self.PERIOD // 2

    def sleep_ms(self, ms: int) -> None:
        self.now += ms


class FakeWLAN:
    def __init__(self, connect_after: int = 1) -> None:
        self.connect_after = connect_after  # isconnected() calls after connect() until it is up
        self.calls: list[tuple[Any, ...]] = []
        self.up = False
        self.countdown = -1

    def active(self, on: bool) -> None:
        self.calls.append(("active", on))

    def connect(self, ssid: str, password: str) -> None:
        self.calls.append(("connect", ssid, password))
        self.countdown = self.connect_after

    def disconnect(self) -> None:
        self.calls.append(("disconnect",))
        self.countdown = -1

    def isconnected(self) -> bool:
        if not self.up and self.countdown > 0:
            self.countdown -= 1
            self.up = self.countdown == 0
        return self.up


class FakeNetwork:
    STA_IF = 0

    def __init__(self, wlan: FakeWLAN) -> None:
        self.wlan = wlan

    def WLAN(self, interface: int) -> FakeWLAN:
        assert interface == self.STA_IF
        return self.wlan


class FakeBLE:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.handler: Any = None

    def active(self, on: bool) -> None:
        self.calls.append(("active", on))

    def irq(self, handler: Any) -> None:
        self.handler = handler

    def gap_scan(self, duration_ms: int, interval_us: int, window_us: int, active: bool) -> None:
        self.calls.append(("gap_scan", duration_ms, interval_us, window_us, active))

    def hear(self, addr: bytes, rssi: int, data: bytes, adv_type: int = 3, addr_type: int = 0) -> None:
        """A scan result, passed as the stack does: memoryviews that are reused after the IRQ."""
        self.handler(5, (addr_type, memoryview(bytearray(addr)), adv_type, rssi, memoryview(bytearray(data))))


class FakeBluetooth:
    def __init__(self) -> None:
        self.radio = FakeBLE()

    def BLE(self) -> FakeBLE:
        return self.radio


class FakeLink:
    """The hub end of one TCP connection, scripted by the test with the protocol module."""

    def __init__(self) -> None:
        self.inbox = b""
        self.sent = b""
        self.closed = False
        self.peer_closed = False
        self.decoder = protocol.FrameDecoder()

    def send(self, data: bytes) -> None:
        if self.peer_closed or self.closed:
            raise OSError("broken pipe")
        self.sent += data

    def recv(self) -> bytes:
        if self.peer_closed:
            raise OSError("hub closed the connection")
        data, self.inbox = self.inbox, b""
        return data

    def close(self) -> None:
        self.closed = True

    def push(self, data: bytes) -> None:
        self.inbox += data

    def received(self) -> list[Any]:
        """Messages the proxy sent since the last call."""
        data, self.sent = self.sent, b""
        return [protocol.decode_body(t, b) for t, b in self.decoder.feed(data)]


class Opener:
    def __init__(self, fail_first: int = 0) -> None:
        self.links: list[FakeLink] = []
        self.attempts: list[tuple[str, int, int]] = []
        self.fail_first = fail_first

    def __call__(self, host: str, port: int, timeout_ms: int) -> FakeLink:
        self.attempts.append((host, port, timeout_ms))
        if len(self.attempts) <= self.fail_first:
            raise OSError("ECONNREFUSED")
        link = FakeLink()
        self.links.append(link)
        return link


def make_cfg(**overrides: Any) -> SimpleNamespace:
    values = {k: getattr(config, k) for k in dir(config) if k.isupper()}
    values.update(TOKEN=TOKEN, PROXY_ID="roof-1", HUB_HOST="hub.local", HUB_PORT=7700)
    values.update(overrides)
    return SimpleNamespace(**values)


class Rig:
    """A proxy on fakes; `tick(ms)` advances time by ms and runs one step."""

    def __init__(self, fail_first: int = 0, **cfg: Any) -> None:
        self.cfg = make_cfg(**cfg)
        self.time = FakeTime(start=(1 << 30) - 200)  # ticks_ms wraps 200 ms in: mid-session
        self.wlan = FakeWLAN()
        self.bt = FakeBluetooth()
        self.opener = Opener(fail_first)
        self.proxy = run(self.cfg, FakeNetwork(self.wlan), self.bt, self.time, self.opener, steps=0)
        self.proxy.log = lambda *args: None

    def tick(self, ms: int = 10) -> None:
        self.time.now += ms
        self.proxy.step()

    @property
    def link(self) -> FakeLink:
        return self.opener.links[-1]

    def handshake(self) -> FakeLink:
        """Run steps until the proxy is streaming on a new link, playing the hub's part."""
        for _ in range(100):
            if self.opener.links and self.proxy.state == WAIT_CHALLENGE and self.proxy.link is self.link:
                break
            self.tick(100)
        link = self.link
        link.push(protocol.encode_challenge(NONCE))
        self.tick()
        (hello,) = link.received()
        assert isinstance(hello, protocol.Hello)
        assert protocol.verify_proof(TOKEN, NONCE, hello)
        assert (hello.proxy_id, hello.firmware) == ("roof-1", "ble_proxy 1.0")
        assert self.proxy.state == WAIT_WELCOME
        link.push(protocol.encode_welcome())
        self.tick()
        assert self.proxy.state == STREAMING
        return link


def test_one_connect_auth_send_batch_cycle() -> None:
    rig = Rig()
    assert rig.bt.radio.calls == [("active", True), ("gap_scan", 0, 320000, 120000, False)]
    rig.tick()
    assert ("connect", rig.cfg.WIFI_SSID, rig.cfg.WIFI_PASSWORD) in rig.wlan.calls
    link = rig.handshake()
    assert rig.opener.attempts == [("hub.local", 7700, rig.cfg.CONNECT_TIMEOUT_MS)]
    rig.bt.radio.hear(BEACON, -67, PAYLOAD)
    rig.time.now += 30
    rig.bt.radio.hear(BEACON, -70, b"\x02\x01\x06", adv_type=4, addr_type=1)
    rig.tick(20)  # 50 ms since the last batch: not yet
    assert link.received() == []
    rig.tick(60)
    (batch,) = link.received()
    assert isinstance(batch, protocol.Batch)
    assert batch.dropped == 0
    first, second = batch.records
    assert (first.address, first.address_type, first.adv_type, first.rssi, first.data) == (BEACON, 0, 3, -67, PAYLOAD)
    assert (second.adv_type, second.address_type, second.rssi) == (4, 1, -70)
    # dated on the proxy's clock across the ticks_ms wrap: heard 110 and 80 ms before sending
    assert first.time_ms < 200 < batch.sent_ms
    assert (batch.sent_ms - first.time_ms) % 2**32 == 110
    assert (batch.sent_ms - second.time_ms) % 2**32 == 80
    rig.tick(200)
    assert link.received() == []  # nothing heard, nothing sent


def test_pings_are_answered_and_a_quiet_hub_is_pinged_then_dropped() -> None:
    rig = Rig()
    link = rig.handshake()
    link.push(protocol.encode_ping(41))
    rig.tick()
    assert link.received() == [protocol.Pong(41)]
    rig.tick(rig.cfg.PING_MS)
    assert link.received() == [protocol.Ping(1)]
    rig.tick(rig.cfg.IDLE_TIMEOUT_MS - rig.cfg.PING_MS)
    assert link.closed and rig.proxy.state == OFFLINE
    assert str(rig.proxy.last_error) == "hub silent"


def test_reconnects_after_a_drop_with_backoff() -> None:
    rig = Rig()
    first = rig.handshake()
    first.peer_closed = True
    rig.tick()
    assert first.closed and rig.proxy.state == OFFLINE
    assert len(rig.opener.attempts) == 1
    rig.tick(rig.cfg.BACKOFF_MIN_MS - 20)
    assert len(rig.opener.attempts) == 1  # still backing off
    rig.bt.radio.hear(BEACON, -60, PAYLOAD)  # heard while away: kept for the next session
    second = rig.handshake()
    assert second is not first and len(rig.opener.attempts) == 2
    rig.tick(rig.cfg.BATCH_MS)
    (batch,) = second.received()
    assert [r.data for r in batch.records] == [PAYLOAD]
    assert rig.proxy.sessions == 2


def test_connect_failures_back_off_doubling() -> None:
    rig = Rig(fail_first=3)
    times = []
    for _ in range(800):
        before = len(rig.opener.attempts)
        rig.tick(10)
        if len(rig.opener.attempts) > before:
            times.append(rig.time.now)
    assert len(rig.opener.attempts) == 4
    gaps = [b - a for a, b in pairwise(times)]
    assert gaps == [1000, 2000, 4000]
    assert rig.proxy.state == WAIT_CHALLENGE


def test_a_refused_proxy_shows_the_reason_and_retries_later() -> None:
    rig = Rig()
    rig.tick()
    while not rig.opener.links:
        rig.tick(100)
    link = rig.link
    link.push(protocol.encode_challenge(NONCE))
    rig.tick()
    link.received()
    link.push(protocol.encode_error(protocol.E_AUTH, "bad token for roof-1"))
    rig.tick()
    assert isinstance(rig.proxy.last_error, HubRefused)
    assert (rig.proxy.last_error.code, rig.proxy.last_error.reason) == (1, "bad token for roof-1")
    assert link.closed and link.received() == []  # no error frame echoed back


def test_garbage_from_the_hub_is_answered_with_an_error_and_closed() -> None:
    rig = Rig()
    link = rig.handshake()
    link.push(b"HTTP/1.1 400 Bad Request\r\n")
    rig.tick()
    (error,) = link.received()
    assert error == protocol.Error(protocol.E_TOO_LARGE, "frame of 18516 bytes, the limit is 4096")
    assert link.closed


def test_handshake_timeout() -> None:
    rig = Rig()
    while not rig.opener.links:
        rig.tick(100)
    rig.tick(rig.cfg.HANDSHAKE_TIMEOUT_MS)
    assert rig.link.closed
    assert str(rig.proxy.last_error) == "hub did not finish the handshake"


def test_wifi_timeout_disconnects_and_backs_off() -> None:
    rig = Rig()
    rig.wlan.connect_after = 10**9
    rig.tick()
    rig.tick(rig.cfg.WIFI_TIMEOUT_MS)
    assert rig.wlan.calls[-1] == ("disconnect",)
    connects = sum(1 for c in rig.wlan.calls if c[0] == "connect")
    rig.tick(rig.cfg.BACKOFF_MIN_MS - 20)
    assert sum(1 for c in rig.wlan.calls if c[0] == "connect") == connects
    rig.tick(20)
    assert sum(1 for c in rig.wlan.calls if c[0] == "connect") == connects + 1
    assert rig.opener.attempts == []


def test_ring_buffer_overflow_is_counted_and_sent() -> None:
    rig = Rig(BUFFER_SIZE=4)
    link = rig.handshake()
    for n in range(7):
        rig.bt.radio.hear(BEACON, -50 - n, PAYLOAD)
    assert len(rig.proxy.buffer) == 4 and rig.proxy.buffer.dropped == 3
    rig.tick(rig.cfg.BATCH_MS)
    (batch,) = link.received()
    assert batch.dropped == 3
    assert [r.rssi for r in batch.records] == [-53, -54, -55, -56]  # the newest four


def test_more_than_a_batch_is_split_and_extended_data_is_dropped() -> None:
    rig = Rig()
    link = rig.handshake()
    for n in range(protocol.MAX_BATCH + 6):
        rig.bt.radio.hear(BEACON, -60, bytes([n]))
    rig.bt.radio.hear(BEACON, -60, bytes(40))  # longer than a legacy advertisement
    rig.tick(rig.cfg.BATCH_MS)
    batches = link.received()
    assert [len(b.records) for b in batches] == [protocol.MAX_BATCH, 6]
    assert batches[-1].dropped == 1


def test_scan_restarted_when_the_stack_stops_it() -> None:
    rig = Rig()
    rig.bt.radio.handler(6, None)
    rig.tick()
    assert [c for c in rig.bt.radio.calls if c[0] == "gap_scan"] == [("gap_scan", 0, 320000, 120000, False)] * 2


def test_scan_buffer_swap_loses_nothing() -> None:
    buffer = ScanBuffer(3)
    buffer.put(1)
    buffer.put(2)
    taken = buffer.drain()
    buffer.put(3)
    assert taken == [1, 2] and buffer.drain() == [3] and buffer.drain() == []
    for n in range(5):
        buffer.put(n)
    assert buffer.drain() == [2, 3, 4] and buffer.dropped == 2


def test_backoff_and_clock() -> None:
    backoff = Backoff(1000, 5000)
    assert [backoff.next() for _ in range(5)] == [1000, 2000, 4000, 5000, 5000]
    backoff.reset()
    assert backoff.next() == 1000
    fake = FakeTime(start=(1 << 30) - 3)
    clock = Clock(fake)
    fake.now += 10
    assert clock.ms() == 10  # across the ticks_ms wrap
    fake.now += 5
    assert clock.ms() == 15


@pytest.mark.parametrize("steps", [3])
def test_run_sleeps_a_tick_per_step(steps: int) -> None:
    time = FakeTime()
    run(make_cfg(), FakeNetwork(FakeWLAN()), FakeBluetooth(), time, Opener(), steps=steps)
    assert time.now == steps * config.TICK_MS
