"""The receiver group on the hub's manual clock: failover and return, supervision, link state, sequence numbers."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from cc_helpers import SILENCE, CcSetup, ScriptedReceiver, alarm, tcp, udp, until

from hub.bus import Event
from hub.runtime import Hub
from integrations.command_center.sequence import SequenceStore, wire_number

LINK = "binary_sensor.command_center_link"


def local_hhmm(hub: Hub) -> str:
    return datetime.fromtimestamp(hub.clock.time(), hub.time_zone).strftime("%H:%M")


async def closed_port(hub: Hub) -> int:
    """A loopback port nobody listens on (a receiver that is down)."""
    receiver = ScriptedReceiver("tcp", now=hub.clock.now)
    await receiver.start()
    await receiver.stop()
    return receiver.port


async def test_failover_after_three_failures_and_return_after_return_after(cc: CcSetup, hub: Hub) -> None:
    primary = ScriptedReceiver("tcp", now=hub.clock.now)
    backup = ScriptedReceiver("udp", now=hub.clock.now)
    await primary.start()
    await backup.start()
    port = primary.port
    await primary.stop()  # the primary is down from the start
    events: list[dict[str, Any]] = []
    hub.bus.listen("command_center_link", lambda e: events.append(dict(e.data)))
    try:
        await cc.start([tcp(port), udp(backup.port)], attempts_before_failover=3, return_after={"minutes": 5},
                       supervision_interval=0)  # fmt: skip
        cc.raise_alarm(alarm("a1"))
        await cc.drive(lambda: cc.delivered(1), step=0.5, limit=60, what="delivery through the backup")
        [message] = await cc.messages()
        assert message.attempts == 3  # two failed on the primary; the third failed there, then went to the backup
        assert [r.msg_id for r in backup.accepted()] == ["a1:raised"]
        state = hub.states.get(LINK)
        assert state is not None and state.state == "on"
        assert state.attributes["receiver"] == "backup" and state.attributes["down_since"] is None
        assert [(e["connected"], e["receiver"]) for e in events] == [(False, "primary"), (False, "backup"),
                                                                     (True, "backup")]  # fmt: skip

        # The primary comes back: taken back at the next return check (every 5 min), not before.
        await primary.start()
        await cc.clock.advance(299)
        await asyncio.sleep(0.05)
        assert cc.forwarder.group.active.name == "backup" and not primary.received
        await cc.clock.advance(1)
        await until(lambda: cc.forwarder.group.active.name == "primary", what="return to the primary")
        assert [r.message.token for r in primary.received] == ["NULL"]
        cc.raise_alarm(alarm("a2"))
        await until(lambda: cc.delivered(2), what="a2 delivered")
        assert [r.msg_id for r in primary.accepted()] == ["a2:raised"]
        assert hub.states.get(LINK).attributes["receiver"] == "primary"  # type: ignore[union-attr]
    finally:
        await cc.stop()
        await primary.stop()
        await backup.stop()


async def test_the_primary_is_kept_while_the_probe_fails(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    port = await closed_port(hub)
    await cc.start([tcp(port), tcp(scripted.port)], attempts_before_failover=1, return_after=60,
                   supervision_interval=0)  # fmt: skip
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered through the backup")
    for _ in range(5):
        await cc.clock.advance(60)
        await until(lambda: cc.forwarder.group._probing is None or cc.forwarder.group._probing.done())
    assert cc.forwarder.group.active.name == "backup"
    assert hub.states.get(LINK).state == "on"  # type: ignore[union-attr]


async def test_supervision_null_every_interval_restarted_by_any_message(
    cc: CcSetup, hub: Hub, scripted: ScriptedReceiver
) -> None:
    await cc.start([tcp(scripted.port)], supervision_interval=90)
    await cc.clock.advance(60)
    cc.raise_alarm(alarm("a1"))
    await until(lambda: cc.delivered(1), what="delivered")
    await cc.clock.advance(89)
    await asyncio.sleep(0.05)
    assert scripted.nulls() == []  # the alarm restarted the 90 s
    await cc.clock.advance(1)
    await until(lambda: len(scripted.nulls()) == 1, what="the first NULL")
    acked_at = hub.clock.time()
    await until(lambda: hub.states.get(LINK).attributes["last_ack"] is not None)  # type: ignore[union-attr]
    state = hub.states.get(LINK)
    assert state is not None and state.state == "on"
    assert datetime.fromisoformat(state.attributes["last_ack"]).timestamp() == int(acked_at)
    await cc.clock.advance(90)
    await until(lambda: len(scripted.nulls()) == 2, what="the second NULL")
    assert all(r.action == "ack" for r in scripted.nulls())


async def test_no_supervision_when_the_interval_is_zero(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    await cc.clock.advance(3600)
    await asyncio.sleep(0.05)
    assert scripted.received == []


async def test_link_down_since_the_first_failure_and_up_at_the_next_ack(
    cc: CcSetup, hub: Hub, scripted: ScriptedReceiver
) -> None:
    events: list[Event] = []
    hub.bus.listen("command_center_link", events.append)
    await cc.start([tcp(scripted.port)], supervision_interval=90)
    await scripted.stop()
    await cc.clock.advance(30)
    since = local_hhmm(hub)
    down_at = hub.clock.time()
    cc.raise_alarm(alarm("a1"))
    await until(lambda: hub.states.get(LINK).state == "off", what="link down")  # type: ignore[union-attr]
    state = hub.states.get(LINK)
    assert state is not None
    assert state.attributes["device_class"] == "connectivity"
    assert datetime.fromisoformat(state.attributes["down_since"]).timestamp() == down_at
    expected = f"command centre link down since {since} (primary 127.0.0.1:{scripted.port}: connection refused)"
    assert state.attributes["message"] == expected
    assert state.attributes["last_error"] == f"primary 127.0.0.1:{scripted.port}: connection refused"
    # Further failures (retries, supervision NULLs) keep the first time.
    for _ in range(10):
        await cc.clock.advance(30)
        await asyncio.sleep(0.01)
    assert (await cc.messages())[0].attempts > 3
    assert hub.states.get(LINK).attributes["message"] == expected  # type: ignore[union-attr]

    await scripted.start()
    await cc.drive(lambda: cc.delivered(1), step=10, limit=600, what="delivery after the receiver is back")
    state = hub.states.get(LINK)
    assert state is not None and state.state == "on"
    assert state.attributes["down_since"] is None and state.attributes["message"] is None
    assert [e.data["connected"] for e in events] == [False, True]
    assert events[0].data["message"] == expected


async def test_a_retried_message_keeps_its_sequence_number(cc: CcSetup, scripted: ScriptedReceiver) -> None:
    scripted.script.append(SILENCE)
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    cc.raise_alarm(alarm("a1"))
    await until(lambda: scripted.received, what="the first try")
    await cc.drive(lambda: cc.delivered(1), step=1, limit=60, what="delivered on a retry")
    first, second = scripted.alarms()
    assert first.action == "silence" and second.action == "ack"
    assert first.message.sequence == second.message.sequence
    cc.raise_alarm(alarm("a2"))
    await until(lambda: cc.delivered(2), what="a2")
    assert scripted.alarms()[-1].message.sequence == first.message.sequence + 1


async def test_sequence_numbers_are_not_reused_after_a_restart(cc: CcSetup, hub: Hub, scripted: ScriptedReceiver) -> None:
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    for index in range(3):
        cc.raise_alarm(alarm(f"a{index}"))
    await until(lambda: cc.delivered(3), what="three delivered")
    await cc.stop()
    await cc.start([tcp(scripted.port)], supervision_interval=0)
    cc.raise_alarm(alarm("after"))
    await until(lambda: cc.delivered(4), what="the fourth")
    sequences = [r.message.sequence for r in scripted.alarms()]
    assert sequences[:3] == [1, 2, 3]
    assert sequences[3] > 3 and len(set(sequences)) == 4


def test_wire_numbers_wrap_from_9999_to_1() -> None:
    assert [wire_number(n) for n in (1, 2, 9998, 9999, 10000, 10001, 19998, 19999)] == [1, 2, 9998, 9999, 1, 2, 9999, 1]


async def test_the_store_wraps_and_continues_after_its_reserved_block(hub: Hub) -> None:
    store = SequenceStore(hub.db, "g", block=3)
    await store.start()
    await hub.db.run(lambda db: db.execute("UPDATE command_center_sequences SET reserved = 9997 WHERE receiver_group = 'g'"))
    again = SequenceStore(hub.db, "g", block=3)
    await again.start()
    assert [await again.next() for _ in range(4)] == [9998, 9999, 1, 2]
    third = SequenceStore(hub.db, "g", block=3)
    await third.start()  # 2 came from a block reserved up to 4: a restart skips 3 and 4, never repeats 1 or 2
    assert await third.next() == 5
