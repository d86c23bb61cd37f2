"""`hub demo` has an alarm panel and a command centre: the demo's `alarm_panel:` and `command_center:`
blocks, and the local SIA DC-09 receiver that stands in for the monitoring centre (hub.demo_receiver.DemoReceiver).

Frames are made with the command_center codec (checked against pysiaalarm in that integration's tests);
the receiver is a stand-in built on the same codec, so here it is judged by what it answers and logs.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from waiting import until

from hub.check import check_configuration
from hub.clock import ManualClock
from hub.config import CONFIG_FILE, SECRETS_FILE, load_configuration
from hub.demo import (
    ALARM_ACCOUNT,
    DC09_KEY_SECRET,
    FRONT_DOOR,
    KITCHEN_GAS,
    LAUNDRY_LEAK,
    write_demo_config,
)
from hub.demo_receiver import DemoReceiver
from hub.outbox import MessageState
from hub.runtime import Hub
from integrations.command_center.dc09 import Dc09Message, encode, make_key, parse_response

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
LINK = "binary_sensor.command_center_link"
GAS_LINE = "Command centre (demo receiver) got ADM-CID 1151 01 010 from account 1234: gas, zone 10 (seq 0007)"


class _SecretNames(yaml.SafeLoader):
    """Reads `!secret NAME` as the text "!secret NAME"."""


_SecretNames.add_constructor("!secret", lambda _loader, node: f"!secret {node.value}")


def _raw(config_dir: Path) -> dict[str, Any]:
    return yaml.load((config_dir / CONFIG_FILE).read_text(encoding="utf-8"), Loader=_SecretNames)


def _key(config_dir: Path) -> bytes:
    return make_key(yaml.safe_load((config_dir / SECRETS_FILE).read_text(encoding="utf-8"))[DC09_KEY_SECRET])


def _without_key(config_dir: Path) -> None:
    """The demo's command_center block in clear text (no `key:`)."""
    path = config_dir / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    assert f"  key: !secret {DC09_KEY_SECRET}\n" in text
    path.write_text(text.replace(f"  key: !secret {DC09_KEY_SECRET}\n", ""), encoding="utf-8")


def _alarm(sequence: int = 7, *, data: str = "#1234|1151 01 010", account: str = ALARM_ACCOUNT, token: str = "ADM-CID",
           msg_id: str | None = "01abc:raised", at: datetime = NOW, encrypted: bool = True) -> Dc09Message:  # fmt: skip
    return Dc09Message(token=token, sequence=sequence, account=account, receiver="0", line="0", data=data,
                       extended=(f"I{msg_id}",) if msg_id else (), timestamp=at, encrypted=encrypted)  # fmt: skip




class _Sender:
    """One TCP connection to the demo receiver, as the hub's link has."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def to(cls, receiver: DemoReceiver) -> _Sender:
        assert receiver.address is not None
        return cls(*await asyncio.open_connection(*receiver.address))

    async def exchange(self, *chunks: bytes) -> bytes:
        """Send the chunks one by one and read the one answer (up to its CR)."""
        for chunk in chunks:
            self.writer.write(chunk)
            await self.writer.drain()
            await asyncio.sleep(0.01)
        return await asyncio.wait_for(self.reader.readuntil(b"\r"), 5.0)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


# -- the configuration ---------------------------------------------------------------------------------------


def test_demo_config_has_the_alarm_panel_and_its_command_centre(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True, alarms=True)
    assert check_configuration(tmp_path) == []
    raw = _raw(tmp_path)
    panel = raw["alarm_panel"]
    assert (panel["name"], panel["exit_delay"], panel["entry_delay"], panel["trigger_time"]) == ("Casa", 20, 15, 60)
    assert [(z["id"], z["number"], z["type"], z["entities"]) for z in panel["zones"]] == [
        ("front_door", 1, "entry_exit", [FRONT_DOOR]),
        ("kitchen_gas", 10, "gas", [KITCHEN_GAS]),
        ("laundry_leak", 11, "water_leak", [LAUNDRY_LEAK]),
    ]
    center = raw["command_center"]
    assert (center["account"], center["format"], center["key"]) == ("1234", "ADM-CID", f"!secret {DC09_KEY_SECRET}")
    assert center["supervision_interval"] == 60
    [primary] = center["receivers"]  # no backup
    assert (primary["name"], primary["host"], primary["protocol"]) == ("primary", "127.0.0.1", "tcp")
    # Its port is picked with the suppliers' ports: never one of theirs.
    supplier_ports = {int(s["url"].rsplit(":", 1)[1].split("/")[0]) for s in raw["resupply"]["suppliers"]}
    assert 0 < primary["port"] and primary["port"] not in supplier_ports and len(supplier_ports) == 2
    # The AES-128 key: 16 ASCII characters in the private secrets.yaml only, and it resolves.
    assert stat.S_IMODE((tmp_path / SECRETS_FILE).stat().st_mode) == 0o600
    key = yaml.safe_load((tmp_path / SECRETS_FILE).read_text(encoding="utf-8"))[DC09_KEY_SECRET]
    assert len(key) == 16 and key.isalnum() and key not in (tmp_path / CONFIG_FILE).read_text(encoding="utf-8")
    assert str(load_configuration(tmp_path)["command_center"]["key"]) == key


def test_the_key_is_made_per_directory_and_alarms_are_asked_for(tmp_path: Path) -> None:
    write_demo_config(tmp_path / "a", server_port=0, resupply=False, alarms=True)
    write_demo_config(tmp_path / "b", server_port=0, resupply=False, alarms=True)
    assert _key(tmp_path / "a") != _key(tmp_path / "b")
    write_demo_config(tmp_path / "c", server_port=0, resupply=False)  # the default: none
    assert check_configuration(tmp_path / "c") == []
    assert not {"alarm_panel", "command_center"} & set(yaml.safe_load((tmp_path / "c" / CONFIG_FILE).read_text()))
    assert DC09_KEY_SECRET not in (tmp_path / "c" / SECRETS_FILE).read_text(encoding="utf-8")


# -- the receiver ------------------------------------------------------------------------------------------


async def test_receiver_acks_aes_alarms_logs_them_and_naks_what_it_cannot_take(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.demo")
    write_demo_config(tmp_path, server_port=0, resupply=False, alarms=True)
    key = _key(tmp_path)
    async with DemoReceiver(tmp_path, now=lambda: NOW) as receiver:
        assert receiver.address is not None and receiver.address[1] == _raw(tmp_path)["command_center"]["receivers"][0]["port"]
        sender = await _Sender.to(receiver)
        try:
            # An AES alarm, in two pieces as TCP may deliver it: an encrypted ACK with its sequence.
            frame = encode(_alarm(), key=key)
            ack = parse_response(await sender.exchange(frame[:20], frame[20:]), key=key)
            assert (ack.kind, ack.sequence, ack.account, ack.message.encrypted) == ("ACK", 7, "1234", True)
            [got] = receiver.received
            assert got.line() == GAS_LINE
            assert (got.message_id, got.encrypted, got.description) == ("01abc:raised", True, "gas, zone 10")
            assert GAS_LINE in [r.getMessage() for r in caplog.records]
            # A resend of the same message id (new sequence) is ACKed and not logged as a new alarm.
            ack = parse_response(await sender.exchange(encode(_alarm(8), key=key)), key=key)
            assert (ack.kind, ack.sequence, receiver.repeats, len(receiver.received)) == ("ACK", 8, 1, 1)
            # The restore, and a supervision NULL.
            ack = parse_response(await sender.exchange(encode(_alarm(9, data="#1234|3151 01 010",
                                                                         msg_id="01abc:restored"), key=key)), key=key)  # fmt: skip
            assert ack.kind == "ACK" and receiver.received[-1].description == "gas restored, zone 10"
            null = Dc09Message(token="NULL", sequence=10, account="1234", receiver="0", timestamp=NOW, encrypted=True)
            assert parse_response(await sender.exchange(encode(null, key=key)), key=key).kind == "ACK"
            assert receiver.nulls == 1 and len(receiver.received) == 2
            # What it refuses gets a NAK with its clock, and the connection goes on.
            good = encode(_alarm(12), key=key)
            refused = {
                "garbage": b"\nNOT A DC-09 FRAME\r",
                "clear text": encode(_alarm(11, encrypted=False)),
                "crc": good[:1] + b"0000" + good[5:],
                "account": encode(_alarm(13, account="9999", data="#9999|1151 01 010"), key=key),
                "stale": encode(_alarm(14, at=NOW - timedelta(minutes=2)), key=key),
                "wrong key": encode(_alarm(15), key=b"0123456789ABCDEF"),
                "data": encode(_alarm(16, data="#1234|nonsense"), key=key),
            }
            for what, bad in refused.items():
                nak = parse_response(await sender.exchange(bad))
                assert (nak.kind, nak.timestamp) == ("NAK", NOW), what
            assert len(receiver.naks) == len(refused) and len(receiver.received) == 2
            ack = parse_response(await sender.exchange(encode(_alarm(17, msg_id="02def:raised"), key=key)), key=key)
            assert ack.kind == "ACK" and len(receiver.received) == 3
        finally:
            await sender.close()
        address = receiver.address
    # Stopped: nothing listens any more.
    assert receiver.address is None
    with pytest.raises(OSError):
        await asyncio.open_connection(*address)


async def test_receiver_of_a_clear_account_acks_clear_text_and_naks_aes(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=False, alarms=True)
    key = _key(tmp_path)
    _without_key(tmp_path)
    assert check_configuration(tmp_path) == []
    async with DemoReceiver(tmp_path, now=lambda: NOW) as receiver:
        sender = await _Sender.to(receiver)
        try:
            ack = parse_response(await sender.exchange(encode(_alarm(3, encrypted=False))))
            assert (ack.kind, ack.sequence, ack.message.encrypted) == ("ACK", 3, False)
            assert receiver.received[-1].encrypted is False
            # A clear message may come without a timestamp (only an encrypted one needs it).
            untimed = replace(_alarm(4, encrypted=False, data="#1234|1154 01 011", msg_id=None), timestamp=None)
            assert parse_response(await sender.exchange(encode(untimed))).kind == "ACK"
            assert receiver.received[-1].line().endswith("1154 01 011 from account 1234: water leak, zone 11 (seq 0004)")
            # AES for an account without a key cannot be read.
            assert parse_response(await sender.exchange(encode(_alarm(5), key=key))).kind == "NAK"
            assert "no key" in receiver.naks[-1]
        finally:
            await sender.close()
    assert [r.sequence for r in receiver.received] == [3, 4]


async def test_receiver_without_a_block_or_a_port_serves_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_demo_config(tmp_path / "none", server_port=0, resupply=False, alarms=False)
    async with DemoReceiver(tmp_path / "none") as receiver:
        assert receiver.address is None
    write_demo_config(tmp_path / "busy", server_port=0, resupply=False, alarms=True)
    port = _raw(tmp_path / "busy")["command_center"]["receivers"][0]["port"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        async with DemoReceiver(tmp_path / "busy") as receiver:
            assert receiver.address is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and r.name == "hub.demo"]
    assert len(errors) == 1 and f"cannot listen on 127.0.0.1:{port}" in errors[0] and "outbox" in errors[0]


async def test_receiver_stop_closes_open_connections(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=False, alarms=True)
    receiver = DemoReceiver(tmp_path, now=lambda: NOW)
    await receiver.start()
    sender = await _Sender.to(receiver)
    try:
        await until(lambda: receiver._connections, what="the connection's handler")
        await receiver.stop()
        assert await asyncio.wait_for(sender.reader.read(), 5.0) == b""  # the receiver hung up
        assert receiver._connections == {}
    finally:
        await sender.close()


# -- end to end: hub, alarm panel, command centre, demo receiver ------------------------------------------


async def test_tripped_gas_reaches_the_demo_receiver_and_the_outbox_marks_it_delivered(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture, quiet_pymodbus: None
) -> None:
    """The tank bus has no simulator here (tests/test_demo_tanks.py runs it): it stays unavailable."""
    caplog.set_level(logging.INFO, logger="hub.demo")
    write_demo_config(tmp_path, server_port=0, resupply=False, alarms=True)
    async with DemoReceiver(tmp_path, now=clock.now) as receiver:
        hub = Hub(tmp_path, clock=clock)
        await hub.start()
        try:
            assert hub.config_errors == []
            panel = hub.states.get("alarm_control_panel.casa")
            assert panel is not None and panel.state == "disarmed"
            assert hub.services.resident_allowed("demo", "trip")
            gas = hub.states.get(KITCHEN_GAS)
            assert gas is not None and gas.state == "off" and gas.attributes["device_class"] == "gas"

            await hub.services.call("demo", "trip", {"entity_id": KITCHEN_GAS, "on": True})
            assert hub.states.get(KITCHEN_GAS).state == "on"  # type: ignore[union-attr]
            [raised] = await until(lambda: list(receiver.received), what="the alarm at the receiver")
            assert (raised.token, raised.event, raised.description) == ("ADM-CID", "1151 01 010", "gas, zone 10")
            assert raised.encrypted and raised.message_id is not None and raised.message_id.endswith(":raised")
            assert any(r.getMessage().startswith("Command centre (demo receiver) got ADM-CID 1151 01 010 from account "
                                                 "1234: gas, zone 10 (seq ") for r in caplog.records)  # fmt: skip

            async def delivered() -> list[Any]:
                messages = await hub.outbox.list(channel="command_center.dc09")
                return [m for m in messages if m.state is MessageState.DELIVERED]

            [message] = await until(delivered, what="the outbox's delivered row")
            assert message.id == raised.message_id
            await until(lambda: hub.states.get(LINK).state == "on", what="link up")  # type: ignore[union-attr]

            # Cleared: the restore follows (Contact ID qualifier 3); a supervision NULL after a quiet minute.
            await hub.services.call("demo", "trip", {"entity_id": KITCHEN_GAS, "on": False})
            await until(lambda: len(receiver.received) == 2, what="the restore at the receiver")
            assert receiver.received[-1].event == "3151 01 010"
            await clock.advance(61)
            await until(lambda: receiver.nulls == 1, what="the supervision NULL")
            assert list(receiver.naks) == []
        finally:
            await hub.stop()
