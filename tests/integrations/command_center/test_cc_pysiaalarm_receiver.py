"""pysiaalarm (Home Assistant's DC-09 receiver) receives what the hub sends, over TCP and UDP, clear and AES.

The receiver is pysiaalarm's asyncio SIAClient on loopback: it checks CRC, decrypts, checks the
timestamp window against the real clock and ACKs; the hub's outbox marks a message delivered only
after that ACK. The hub's manual clock therefore starts at the real time here, except in the NAK
test, where it is ten minutes off on purpose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cc_helpers import ACCOUNT, KEY, CcSetup, PysiaReceiver, alarm, tcp, udp, until

from hub.clock import ManualClock
from hub.outbox import MessageState
from hub.runtime import Hub

LINK = "binary_sensor.command_center_link"


@pytest.fixture
def clock() -> ManualClock:
    """pysiaalarm checks timestamps against the real clock: the hub's manual clock starts at real now."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture(params=["tcp", "udp"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[PysiaReceiver]:
    receiver = PysiaReceiver(request.param, None)
    yield receiver
    if receiver.client is not None:
        await receiver.stop()


def entry(peer: PysiaReceiver) -> dict[str, object]:
    return tcp(peer.port) if peer.protocol == "tcp" else udp(peer.port)


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "aes128"])
async def test_raise_and_restore_arrive_as_contact_id(cc: CcSetup, peer: PysiaReceiver, key: str | None) -> None:
    peer.key = key
    await peer.start()
    try:
        await cc.start([entry(peer)], **({"key": key} if key else {}))
        record = alarm("01a2b3", category="gas", zone=10)
        cc.raise_alarm(record)
        cc.restore_alarm(record)
        await until(lambda: cc.delivered(2), what="both delivered after pysiaalarm's ACK")
        await until(lambda: len(peer.alarms()) == 2, what="both at the receiver")
        raised, restored = peer.alarms()
        assert (raised.account, raised.code, raised.ri, raised.event_type) == (ACCOUNT, "GA", "010", "151")
        assert (restored.code, restored.event_qualifier) == ("GH", "3")
        assert raised.encrypted is (key is not None)
        assert [x.value for x in raised.extended_data or ()] == ["01a2b3:raised"]  # the de-duplication key
        assert [x.value for x in restored.extended_data or ()] == ["01a2b3:restored"]
        assert int(raised.sequence or 0) + 1 == int(restored.sequence or 0)
        assert raised.valid_timestamp and raised.valid_message
    finally:
        await cc.stop()


async def test_sia_dcs_arrives_with_its_code(cc: CcSetup, peer: PysiaReceiver) -> None:
    await peer.start()
    try:
        await cc.start([entry(peer)], format="SIA-DCS")
        cc.raise_alarm(alarm("b1", category="intrusion", zone=3))
        await until(lambda: cc.delivered(1), what="delivered")
        await until(lambda: peer.alarms(), what="at the receiver")
        [event] = peer.alarms()
        assert (event.account, event.code, event.ri) == (ACCOUNT, "BA", "1")
        assert event.sia_code is not None and event.sia_code.type == "Burglary Alarm"
    finally:
        await cc.stop()


@pytest.mark.parametrize("key", [None, KEY], ids=["clear", "aes128"])
async def test_supervision_nulls_are_acked(cc: CcSetup, hub: Hub, peer: PysiaReceiver, key: str | None) -> None:
    peer.key = key
    await peer.start()
    try:
        await cc.start([entry(peer)], supervision_interval=90, **({"key": key} if key else {}))
        await cc.clock.advance(90)
        await until(lambda: peer.events, what="the NULL at the receiver")
        [event] = peer.events
        assert getattr(event.message_type, "value", None) == "NULL"
        assert event.code == "RP"  # pysiaalarm reports a link test as "automatic test"
        await until(lambda: hub.states.get(LINK).state == "on", what="link up")  # type: ignore[union-attr]
        assert hub.states.get(LINK).attributes["last_ack"] is not None  # type: ignore[union-attr]
    finally:
        await cc.stop()


async def test_a_wrong_account_is_nakked_and_stays_queued(cc: CcSetup, peer: PysiaReceiver) -> None:
    await peer.start()
    try:
        await cc.start([entry(peer)], account="ABCD", supervision_interval=0)
        cc.raise_alarm(alarm("c1"))
        await until(lambda: _attempted(cc), what="the attempt")
        [message] = await cc.messages()
        assert message.state is MessageState.PENDING
        assert "NAK after resyncing the clock (check the account and key)" in (message.last_error or "")
        assert peer.events == []
    finally:
        await cc.stop()


async def _attempted(cc: CcSetup) -> bool:
    messages = await cc.messages()
    return bool(messages) and messages[0].attempts > 0


async def test_a_hub_clock_ten_minutes_off_is_corrected_by_the_nak(tmp_path: Path) -> None:
    skewed = ManualClock(datetime.now(UTC) - timedelta(minutes=10))
    hub = Hub(tmp_path, clock=skewed)
    await hub.start()
    peer = PysiaReceiver("tcp", None)
    await peer.start()
    cc = CcSetup(hub)
    try:
        forwarder = await cc.start([tcp(peer.port)], supervision_interval=0)
        cc.raise_alarm(alarm("d1"))
        await until(lambda: cc.delivered(1), what="delivered after the resync")
        [event] = peer.alarms()
        assert isinstance(event.timestamp, datetime)
        assert abs((event.timestamp - datetime.now(UTC)).total_seconds()) < 30  # stamped with the receiver's time
        link = forwarder.group.active
        assert link.clock_offset == pytest.approx(600, abs=30)
        [message] = await cc.messages()
        assert message.attempts == 1  # the NAK and the resend were one attempt
    finally:
        await cc.stop()
        await peer.stop()
        await hub.stop()
