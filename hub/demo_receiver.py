"""`hub demo`'s command centre: a SIA DC-09 receiver over TCP on loopback, in the hub's process.

A stand-in for the municipal monitoring centre (DESIGN.md, "Embedded default"): it ACKs what the
hub's command_center sends, NAKs what it cannot accept, and logs each alarm in one line. It is
built on command_center's own codec (loaded by name: hub/ never imports an integration); the
independent peer in the tests is pysiaalarm.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import ConfigErrors, load_configuration
from .demo_peer import DemoPeer

_LOGGER = logging.getLogger("hub.demo")

RECEIVER_HOST = "127.0.0.1"

CODEC_MODULE = "integrations.command_center.dc09"
RECEIVER_KEEP = 50  # alarms kept in memory
SEEN_IDS = 1000  # message ids remembered to spot a resend
WINDOW_S = (40.0, 20.0)  # seconds a timestamp may lag / lead the receiver's clock (DC-09 2013, 5.5.1.7)
_BY = "Command centre (demo receiver)"
# What an operator's screen says for a Contact ID event code (SIA DC-05).
CID_EVENTS = {
    100: "medical", 110: "fire", 111: "smoke", 120: "panic", 121: "duress", 130: "burglary",
    131: "perimeter burglary", 132: "interior burglary", 134: "entry/exit burglary", 140: "general alarm",
    144: "tamper", 151: "gas", 154: "water leak", 162: "carbon monoxide", 301: "AC loss", 381: "sensor offline",
    384: "low battery", 601: "manual test", 602: "periodic test",
}  # fmt: skip
SIA_EVENTS = {
    "BA": "burglary", "BH": "burglary restored", "BV": "burglary verified", "GA": "gas", "GH": "gas restored",
    "WA": "water leak", "WH": "water leak restored", "FA": "fire", "FH": "fire restored", "PA": "panic",
    "PH": "panic restored", "HA": "duress", "TA": "tamper", "TR": "tamper restored", "YC": "sensor offline",
    "YK": "sensor back", "OP": "opening (disarmed)", "CL": "closing (armed)", "UA": "alarm", "UH": "alarm restored",
}  # fmt: skip


@dataclass(frozen=True)
class ReceivedAlarm:
    """One alarm message the demo receiver accepted, as a monitoring operator would read it."""

    token: str  # ADM-CID or SIA-DCS
    account: str
    sequence: int
    event: str  # the data block after the account: "1151 01 010", "Nri1/GA010"
    description: str  # "gas, zone 10"
    message_id: str | None  # the hub's de-duplication key (xdata [I...])
    encrypted: bool
    received_at: datetime

    def line(self) -> str:
        return (f"{_BY} got {self.token} {self.event} from account {self.account}: {self.description} "
                f"(seq {self.sequence:04d})")  # fmt: skip


class _Refused(Exception):
    """A readable frame this receiver does not take: it answers NAK."""


def _load_codec() -> Any:
    """command_center's sans-IO DC-09 codec, by name: the hub package never imports an integration,
    and the demo reaches it the way the hub loads integrations."""
    return importlib.import_module(CODEC_MODULE)


def _demo_receiver_configured(config_dir: Path) -> dict[str, Any] | None:
    """The `command_center:` block's account, key and primary receiver, secrets resolved (blocking file I/O)."""
    try:
        config = load_configuration(config_dir)
    except ConfigErrors:
        return None  # the hub reports them with file and line
    block = config.get("command_center")
    receivers = block.get("receivers") if isinstance(block, dict) else None
    primary = receivers[0] if isinstance(receivers, list) and receivers else None
    if not isinstance(block, dict) or not isinstance(primary, dict):
        return None
    key = block.get("key")
    return {
        "account": str(block.get("account", "")).strip().upper(),
        "key": None if key is None else str(key),  # str(): a !secret value is a SecretStr
        "key_format": str(block.get("key_format", "ascii")).lower(),
        "host": str(primary.get("host", "")),
        "port": primary.get("port"),
        "protocol": str(primary.get("protocol", "tcp")).lower(),
    }


def _describe_cid(event: Any) -> str:
    if event.code == 401:  # open/close: the zone field is the user
        return f"{'closing (armed)' if event.qualifier == 3 else 'opening (disarmed)'} by user {event.zone}"
    what = CID_EVENTS.get(event.code, f"event {event.code:03d}") + {3: " restored", 6: " (status)"}.get(event.qualifier, "")
    return f"{what}, zone {event.zone}" if event.zone else what


def _describe_sia(event: Any) -> str:
    what = SIA_EVENTS.get(event.code, event.code)
    return f"{what}, zone {event.zone}" if event.zone else what


class DemoReceiver(DemoPeer):
    """The demo's command centre: a SIA DC-09 receiver over TCP on loopback, in the hub's event loop.

    `start()` reads the `command_center:` block (account, AES key, the primary receiver's loopback
    port) and listens there. Each valid message gets an ACK (encrypted when it came encrypted);
    anything else a NAK with the receiver's time: a frame the codec refuses, another account, a
    clear message for a keyed account, a timestamp outside -40/+20 s. Each alarm is logged in one
    line and the last `keep` are in `received`; a resend of a message id it has is ACKed and only
    counted. `stop()` closes the port and every connection. It is a stand-in built on the hub's own
    codec; the command_center tests check that codec against pysiaalarm.
    """

    def __init__(self, config_dir: Path, *, now: Callable[[], datetime] | None = None,
                 keep: int = RECEIVER_KEEP) -> None:  # fmt: skip
        self.config_dir = config_dir
        self.now = now or (lambda: datetime.now(UTC))  # the receiver's clock, against which timestamps are checked
        self.received: deque[ReceivedAlarm] = deque(maxlen=keep)
        self.naks: deque[str] = deque(maxlen=keep)  # why each NAK was sent
        self.nulls = 0  # supervision messages ACKed
        self.repeats = 0  # resends of a message id already received
        self.address: tuple[str, int] | None = None  # (host, port) while listening
        self.account = ""
        self._key: bytes | None = None
        self._codec: Any = None
        self._seen: dict[str, None] = {}  # insertion-ordered: the oldest id is dropped first
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        conf = await asyncio.to_thread(_demo_receiver_configured, self.config_dir)
        if conf is None:
            _LOGGER.info("No command_center block with a receiver: the demo runs no receiver")
            return
        host, port = conf["host"], conf["port"]
        if conf["protocol"] != "tcp" or host not in (RECEIVER_HOST, "localhost") or not isinstance(port, int):
            _LOGGER.error("%s serves TCP on %s only; the primary receiver is %s:%s/%s", _BY, RECEIVER_HOST, host, port,
                          conf["protocol"])  # fmt: skip
            return
        codec = _load_codec()
        try:
            key = codec.make_key(conf["key"], conf["key_format"]) if conf["key"] else None
        except ValueError as err:  # its message gives the key's length, never the key
            _LOGGER.error("%s cannot use the command_center key: %s", _BY, err)
            return
        try:
            server = await asyncio.start_server(self._serve, host, port)
        except OSError as err:
            _LOGGER.error("%s cannot listen on %s:%d (%s); alarms wait in the outbox", _BY, host, port,
                          err.strerror or err)  # fmt: skip
            return
        self._codec, self._key, self.account, self._server = codec, key, conf["account"], server
        self.address = (host, port)
        _LOGGER.info("%s: SIA DC-09 over TCP on %s:%d, account %s%s", _BY, host, port, self.account,
                     ", AES" if key else ", clear text")  # fmt: skip

    async def stop(self) -> None:
        """Close the port, then every connection, and wait for their handlers."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._connections.values()):
            writer.close()  # the handler reads EOF and ends
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        self.address = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name("demo-receiver:connection")
        self._connections[task] = writer
        splitter = self._codec.FrameSplitter()
        try:
            while data := await reader.read(4096):
                try:
                    answers = [self.answer(frame) for frame in splitter.feed(data)]
                except self._codec.Dc09Error as err:  # no CR within a frame's size: the buffer was dropped
                    answers = [self._nak(str(err))]
                writer.write(b"".join(answers))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()

    def answer(self, frame: bytes) -> bytes:
        """The bytes to send back for one frame (LF ... CR): its ACK, or a NAK."""
        codec, now = self._codec, self.now()
        try:
            message = codec.decode(frame, key=self._key)
            described = self._check(message, now)
        except (codec.Dc09Error, _Refused) as err:
            return self._nak(str(err))
        if message.token == "NULL":
            self.nulls += 1
            # The first proves the link in the log; the rest (one a minute) would drown it.
            _LOGGER.log(logging.INFO if self.nulls == 1 else logging.DEBUG,
                        "%s got a supervision NULL from account %s (seq %04d), ACK", _BY, message.account,
                        message.sequence)  # fmt: skip
        else:
            self._record(message, described, now)
        return bytes(codec.build_ack(message, key=self._key if message.encrypted else None, now=now))

    def _check(self, message: Any, now: datetime) -> str:
        """What the message reports, or _Refused: the rules a monitoring centre's receiver applies."""
        if message.token not in ("ADM-CID", "SIA-DCS", "NULL"):
            raise _Refused(f"{message.token} is not a message a receiver takes")
        if message.account != self.account:
            raise _Refused(f"unknown account {message.account or '(none)'}")
        if self._key is not None and not message.encrypted:
            raise _Refused(f"account {self.account} sends AES-encrypted messages; this one is clear")
        if message.timestamp is None:
            if message.encrypted:
                raise _Refused("an encrypted message without a timestamp")
        else:
            offset = (message.timestamp - now).total_seconds()
            if not -WINDOW_S[0] <= offset <= WINDOW_S[1]:
                raise _Refused(f"timestamp {offset:+.0f} s from the receiver's clock")
        if message.token == "NULL":
            return "supervision"
        codec = self._codec
        parse, describe = (codec.parse_cid_data, _describe_cid) if message.token == "ADM-CID" else (
            codec.parse_sia_data, _describe_sia)  # fmt: skip
        account, event = parse(message.data)
        if account.upper() != self.account:
            raise _Refused(f"the data names account {account}, the frame {message.account}")
        return str(describe(event))

    def _record(self, message: Any, description: str, now: datetime) -> None:
        message_id = next((block[1:] for block in message.extended if block.startswith("I")), None)
        alarm = ReceivedAlarm(token=message.token, account=message.account, sequence=message.sequence,
                              event=message.data.partition("|")[2], description=description, message_id=message_id,
                              encrypted=message.encrypted, received_at=now)  # fmt: skip
        if message_id is not None and message_id in self._seen:
            self.repeats += 1
            _LOGGER.info("%s got %s %s again (seq %04d): a resend of %s, ACK", _BY, alarm.token, alarm.event,
                         alarm.sequence, message_id)  # fmt: skip
            return
        if message_id is not None:
            self._seen[message_id] = None
            if len(self._seen) > SEEN_IDS:
                del self._seen[next(iter(self._seen))]
        self.received.append(alarm)
        _LOGGER.info("%s", alarm.line())

    def _nak(self, reason: str) -> bytes:
        self.naks.append(reason)
        _LOGGER.warning("%s NAK: %s", _BY, reason)
        return bytes(self._codec.build_nak(self.now()))
