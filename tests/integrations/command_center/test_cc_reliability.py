"""Never losing an alarm: an hour of outage, garbage, silence, a skewed receiver clock, DUH, a restart.

The receiver is our scripted one on loopback; hub time (backoff, ACK timeout, supervision) moves
only with the manual clock, so an hour of outage takes a second or two.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from functools import partial

from cc_helpers import DUH, GARBAGE, SILENCE, CcSetup, ScriptedReceiver, alarm, tcp, until

from hub.outbox import MessageState
from hub.runtime import Hub
from integrations.command_center.dc09 import parse_cid_data

LINK = "binary_sensor.command_center_link"


async def run_for(cc: CcSetup, seconds: float, step: float = 30.0) -> None:
    """Let hub time pass in steps, with a moment of real time for sockets and the database between them."""
    while seconds > 0:
        await cc.clock.advance(min(step, seconds))
        seconds -= step
        await asyncio.sleep(0.005)


async def test_an_hour_down_then_every_alarm_once_and_in_order(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    await scripted.stop()  # the receiver's port is closed: connection refused
    await cc.start([tcp(scripted.port)])
    began = hub.clock.time()
    ids = [f"{index:02d}ab" for index in range(20)]
    for count, alarm_id in enumerate(ids, 1):
        cc.raise_alarm(alarm(alarm_id, zone=index_zone(alarm_id)))
        await until(partial(_count, cc, count), what=f"{alarm_id} queued")
        if count == 1:
            await until(lambda: hub.states.get(LINK).state == "off", what="the first failure")  # type: ignore[union-attr]
        await run_for(cc, 180)
    state = hub.states.get(LINK)
    assert state is not None and state.state == "off"
    assert datetime.fromisoformat(state.attributes["down_since"]).timestamp() == began
    assert hub.states.get("sensor.command_center_queued").state == "20"  # type: ignore[union-attr]
    messages = await cc.messages()
    assert len(messages) == 20 and all(m.state is MessageState.PENDING for m in messages)

    await scripted.start()
    spent = await cc.drive(lambda: scripted.accepted(), step=5, limit=600, what="the first delivery")
    # The next retry (backoff capped at 60 s, +20 % jitter) or supervision NULL finds the receiver
    # back, not the outbox's default cap of 300 s ...
    assert spent <= 100, f"took {spent} s of hub time after the receiver came back"
    # ... and the rest follows at once, without waiting for more hub time.
    await until(lambda: cc.delivered(20), what="the queue flushed")
    received = scripted.alarms()
    assert [r.msg_id for r in received] == [f"{i}:raised" for i in ids]  # in order, each once
    sequences = [r.message.sequence for r in received]
    assert sequences == sorted(sequences) and len(set(sequences)) == 20
    zones = [parse_cid_data(r.message.data)[1].zone for r in received]
    assert zones == [index_zone(i) for i in ids]
    assert hub.states.get(LINK).state == "on"  # type: ignore[union-attr]
    assert hub.states.get("sensor.command_center_queued").state == "0"  # type: ignore[union-attr]


def index_zone(alarm_id: str) -> int:
    return int(alarm_id[:2]) + 1


async def test_garbage_and_silence_are_retried_with_backoff(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    scripted.script.extend([GARBAGE, SILENCE, GARBAGE])
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    cc.raise_alarm(alarm("a1"))
    await until(lambda: hub.states.get(LINK) and hub.states.get(LINK).state == "off", what="link down")  # type: ignore[union-attr]
    state = hub.states.get(LINK)
    assert state is not None
    since = datetime.fromtimestamp(hub.clock.time(), hub.time_zone).strftime("%H:%M")
    assert state.attributes["message"].startswith(
        f"command centre link down since {since} (primary 127.0.0.1:{scripted.port}: unreadable answer"
    )
    await cc.drive(lambda: cc.delivered(1), step=0.5, limit=120, what="delivered on the fourth try")
    tries = scripted.alarms()
    assert [t.action for t in tries] == [GARBAGE, SILENCE, GARBAGE, "ack"]
    assert len({t.message.sequence for t in tries}) == 1  # one message, one sequence number
    gaps = [b.at - a.at for a, b in itertools.pairwise(tries)]
    # Backoff 1, 2, 4 s (x0.8-1.2); the silent try also waited out its 5 s ACK timeout. The lower
    # bounds are exact; the upper ones allow for hub time that passed while sockets and the
    # database worked in real time.
    assert 0.8 <= gaps[0] <= 3.0 and 5 + 1.6 <= gaps[1] <= 12 and 3.2 <= gaps[2] <= 10, gaps
    [message] = await cc.messages()
    assert message.attempts == 4
    state = hub.states.get(LINK)
    assert state is not None and state.state == "on" and state.attributes["down_since"] is None


async def test_a_receiver_two_minutes_ahead_naks_then_acks_the_resend(
    cc: CcSetup, hub: Hub, scripted: ScriptedReceiver
) -> None:
    scripted.skew = 120.0
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered")
    nak, ack = scripted.alarms()
    assert (nak.action, ack.action) == ("nak", "ack")
    assert nak.message.sequence == ack.message.sequence
    assert nak.message.timestamp == hub.clock.now().replace(microsecond=0)
    assert ack.message.timestamp == nak.message.timestamp + timedelta(seconds=120)
    [message] = await cc.messages()
    assert message.attempts == 1 and message.state is MessageState.DELIVERED


async def test_duh_fails_that_message_and_the_next_goes(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    scripted.script.append(DUH)
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    cc.raise_alarm(alarm("leak", category="water_leak", zone=11))
    cc.raise_alarm(alarm("gas", category="gas", zone=10))
    await until(lambda: _states(cc, {"leak:raised": "failed", "gas:raised": "delivered"}), what="failed and delivered")
    failed = next(m for m in await cc.messages() if m.id == "leak:raised")
    assert failed.last_error == (
        f"ReceiverRefused: primary 127.0.0.1:{scripted.port}: receiver does not accept ADM-CID 1154 01 011"
    )
    assert failed.attempts == 1  # never resent
    assert hub.states.get(LINK).state == "on"  # type: ignore[union-attr]  # the receiver answered
    assert hub.states.get("sensor.command_center_queued").attributes["failed"] == 1  # type: ignore[union-attr]


async def _states(cc: CcSetup, expected: dict[str, str]) -> bool:
    return await cc.states() == expected


async def test_pending_alarms_survive_a_reload_and_go_in_order(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await scripted.stop()
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    for index in range(5):
        cc.raise_alarm(alarm(f"r{index}"))
    await until(lambda: _count(cc, 5), what="five queued")
    await run_for(cc, 30, step=5)
    await cc.stop()  # the integration unloads (or the hub restarts) with everything pending
    await scripted.start()
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    await cc.drive(lambda: cc.delivered(5), step=5, limit=120, what="delivered after the reload")
    assert [r.msg_id for r in scripted.alarms()] == [f"r{i}:raised" for i in range(5)]


async def _count(cc: CcSetup, count: int) -> bool:
    return len(await cc.messages()) == count
