"""Dc09Link against our scripted receiver on loopback: ACK, NAK resync, DUH, garbage, silence, refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from cc_helpers import ACCOUNT, CLOSE, DUH, GARBAGE, KEY, SILENCE, STALE, ScriptedReceiver, until

from hub.clock import ManualClock
from hub.errors import PermanentError, TransientError
from integrations.command_center.dc09 import make_key
from integrations.command_center.link import (
    AckTimeout,
    BadAnswer,
    ClockTimeout,
    Dc09Link,
    ReceiverRefused,
    ReceiverRejected,
    ReceiverUnreachable,
)


def make_link(clock: ManualClock, port: int, protocol: str = "tcp", *, key: str | None = None) -> Dc09Link:
    return Dc09Link("127.0.0.1", port, protocol, key=make_key(key) if key else None, account=ACCOUNT, line="0",
                    receiver="0", ack_timeout=5.0, clock=clock, name="primary")  # fmt: skip


@pytest.fixture(params=["tcp", "udp"])
async def peer(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[ScriptedReceiver]:
    receiver = ScriptedReceiver(request.param, now=clock.now)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def tcp_peer(clock: ManualClock) -> AsyncIterator[ScriptedReceiver]:
    receiver = ScriptedReceiver("tcp", now=clock.now)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_ack_is_matched_by_sequence_and_account(clock: ManualClock, peer: ScriptedReceiver) -> None:
    link = make_link(clock, peer.port, peer.protocol)
    try:
        for sequence in (1, 2, 9999):
            response = await link.send(link.message("ADM-CID", sequence, f"#{ACCOUNT}|1151 01 010"))
            assert (response.kind, response.sequence, response.account) == ("ACK", sequence, ACCOUNT)
    finally:
        await link.close()
    assert [r.message.sequence for r in peer.received] == [1, 2, 9999]
    assert all(r.message.timestamp == clock.now().replace(microsecond=0) for r in peer.received)


async def test_tcp_keeps_one_connection_open_between_messages(clock: ManualClock, tcp_peer: ScriptedReceiver) -> None:
    link = make_link(clock, tcp_peer.port)
    try:
        for sequence in range(1, 6):
            await link.send(link.message("NULL", sequence))
    finally:
        await link.close()
    assert tcp_peer.connections == 1
    assert len(tcp_peer.nulls()) == 5


async def test_encrypted_messages_get_decrypted_acks(clock: ManualClock, clock_peer_key: ScriptedReceiver) -> None:
    link = make_link(clock, clock_peer_key.port, key=KEY)
    try:
        response = await link.send(link.message("ADM-CID", 7, f"#{ACCOUNT}|1151 01 010"))
    finally:
        await link.close()
    assert response.kind == "ACK" and response.message.encrypted
    [received] = clock_peer_key.received
    assert received.message.encrypted and received.frame.startswith(b"\n") and b'"*ADM-CID"0007' in received.frame


@pytest.fixture
async def clock_peer_key(clock: ManualClock) -> AsyncIterator[ScriptedReceiver]:
    receiver = ScriptedReceiver("tcp", now=clock.now, key=KEY)
    await receiver.start()
    yield receiver
    await receiver.stop()


async def test_nak_resyncs_the_clock_and_resends_with_the_same_sequence(clock: ManualClock, peer: ScriptedReceiver) -> None:
    peer.skew = 120.0  # the receiver's clock is two minutes ahead: our first timestamp is outside its window
    link = make_link(clock, peer.port, peer.protocol)
    try:
        response = await link.send(link.message("ADM-CID", 42, f"#{ACCOUNT}|1151 01 010"))
        assert response.kind == "ACK"
        assert link.clock_offset == pytest.approx(120.0, abs=1.0)
        first, second = peer.received
        assert (first.action, second.action) == ("nak", "ack")
        assert first.message.sequence == second.message.sequence == 42
        assert first.message.timestamp is not None and second.message.timestamp is not None
        assert second.message.timestamp - first.message.timestamp == timedelta(seconds=120)
        # The offset sticks: the next message is right the first time.
        await link.send(link.message("NULL", 43))
        assert peer.received[-1].action == "ack" and len(peer.received) == 3
    finally:
        await link.close()


async def test_nak_twice_is_transient(clock: ManualClock, tcp_peer: ScriptedReceiver) -> None:
    tcp_peer.script.extend(["nak", "nak"])
    link = make_link(clock, tcp_peer.port)
    try:
        with pytest.raises(ReceiverRejected) as caught:
            await link.send(link.message("NULL", 1))
    finally:
        await link.close()
    assert isinstance(caught.value, TransientError)
    assert str(caught.value).startswith(f"primary 127.0.0.1:{tcp_peer.port}: NAK after resyncing")
    assert [r.message.sequence for r in tcp_peer.received] == [1, 1]


async def test_duh_is_permanent_and_names_the_code(clock: ManualClock, peer: ScriptedReceiver) -> None:
    peer.script.append(DUH)
    link = make_link(clock, peer.port, peer.protocol)
    try:
        with pytest.raises(ReceiverRefused) as caught:
            await link.send(link.message("ADM-CID", 3, f"#{ACCOUNT}|1154 01 011"))
        assert isinstance(caught.value, PermanentError)
        assert str(caught.value) == f"primary 127.0.0.1:{peer.port}: receiver does not accept ADM-CID 1154 01 011"
        # The next message goes on normally.
        assert (await link.send(link.message("ADM-CID", 4, f"#{ACCOUNT}|1151 01 010"))).kind == "ACK"
    finally:
        await link.close()


async def test_garbage_is_transient_and_names_the_receiver(clock: ManualClock, peer: ScriptedReceiver) -> None:
    peer.script.append(GARBAGE)
    link = make_link(clock, peer.port, peer.protocol)
    try:
        with pytest.raises(BadAnswer) as caught:
            await link.send(link.message("NULL", 1))
        assert isinstance(caught.value, TransientError)
        assert str(caught.value).startswith(f"primary 127.0.0.1:{peer.port}: unreadable answer")
        assert (await link.send(link.message("NULL", 2))).kind == "ACK"
    finally:
        await link.close()


async def test_silence_times_out_on_the_hub_clock(clock: ManualClock, peer: ScriptedReceiver) -> None:
    peer.script.append(SILENCE)
    link = make_link(clock, peer.port, peer.protocol)
    try:
        sending = asyncio.create_task(link.send(link.message("NULL", 1)))
        await until(lambda: peer.received, what="the message at the receiver")
        await asyncio.sleep(0.05)
        assert not sending.done()  # real time passes, hub time does not: still waiting
        await clock.advance(4.9)
        assert not sending.done()
        await clock.advance(0.2)
        with pytest.raises(AckTimeout, match=r"no answer within 5 s"):
            await sending
    finally:
        await link.close()


async def test_refused_connection_is_transient(clock: ManualClock, tcp_peer: ScriptedReceiver) -> None:
    port = tcp_peer.port
    await tcp_peer.stop()
    link = make_link(clock, port)
    with pytest.raises(ReceiverUnreachable) as caught:
        await link.send(link.message("NULL", 1))
    assert str(caught.value) == f"primary 127.0.0.1:{port}: connection refused"
    assert caught.value.reason == "connection refused"


async def test_udp_refusal_is_reported_too(clock: ManualClock, peer: ScriptedReceiver) -> None:
    port = peer.port
    await peer.stop()
    link = make_link(clock, port, peer.protocol)
    sending = asyncio.create_task(link.send(link.message("NULL", 1)))
    await asyncio.sleep(0.1)
    if not sending.done():  # UDP may hear nothing (no ICMP): then the ACK timeout decides
        await clock.advance(5.0)
    with pytest.raises((ReceiverUnreachable, AckTimeout)):
        await sending


async def test_a_closed_connection_is_reopened_for_the_next_message(clock: ManualClock, tcp_peer: ScriptedReceiver) -> None:
    link = make_link(clock, tcp_peer.port)
    try:
        await link.send(link.message("NULL", 1))
        # The receiver restarts: the kept connection dies with it.
        await tcp_peer.stop()
        await tcp_peer.start()
        assert (await link.send(link.message("NULL", 2))).kind == "ACK"
        assert tcp_peer.connections == 2
        # A kept connection the receiver drops (idle timeout) costs one reconnect, not a failure.
        tcp_peer.script.append(CLOSE)
        assert (await link.send(link.message("NULL", 3))).kind == "ACK"
        assert [r.message.sequence for r in tcp_peer.received[-2:]] == [3, 3] and tcp_peer.connections == 3
        # A fresh connection dropped too: transient, and the next message reconnects.
        tcp_peer.script.extend([CLOSE, CLOSE])
        with pytest.raises(ReceiverUnreachable, match="closed by the receiver"):
            await link.send(link.message("NULL", 4))
        assert (await link.send(link.message("NULL", 5))).kind == "ACK"
    finally:
        await link.close()


async def test_an_answer_for_another_sequence_is_not_taken_as_the_ack(clock: ManualClock, peer: ScriptedReceiver) -> None:
    peer.script.append(STALE)
    link = make_link(clock, peer.port, peer.protocol)
    try:
        response = await link.send(link.message("NULL", 5))
    finally:
        await link.close()
    assert response.sequence == 5


async def test_clock_timeout_leaves_outer_cancellation_alone(clock: ManualClock) -> None:
    async def waits() -> None:
        async with ClockTimeout(clock, 10.0):
            await asyncio.sleep(3600)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    timed = asyncio.create_task(waits())
    await asyncio.sleep(0)
    await clock.advance(10.0)
    with pytest.raises(TimeoutError):
        await timed
    assert clock.pending == 0
