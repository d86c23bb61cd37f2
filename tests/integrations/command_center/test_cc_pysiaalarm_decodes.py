"""The peer checks us: pysiaalarm (Home Assistant's DC-09 receiver) decodes what encode() writes.

Each frame goes through the receiver's own data handler (`parse_and_check_event`, what its TCP and UDP
servers call for every read) with a `SIAAccount(account, key)`: CRC, length, timestamp window and
decryption are pysiaalarm's. Its answers (`create_response`) must parse with our parse_response.
pysiaalarm checks timestamps against the real clock, so these frames are stamped with datetime.now(UTC).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pysiaalarm import SIAAccount, SIAEvent
from pysiaalarm.aio.server import SIAServerTCP
from pysiaalarm.utils import Counter, ResponseType

from integrations.command_center.dc09.contact_id import ContactId, cid_data
from integrations.command_center.dc09.crypto import make_key
from integrations.command_center.dc09.frame import Dc09Message, encode
from integrations.command_center.dc09.responses import nak_clock_offset, parse_response
from integrations.command_center.dc09.sia_dcs import SiaEvent, sia_data

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)
ACCOUNT = "AB12"
KEYS = [None, "0123456789ABCDEF", "0123456789ABCDEF01234567", "0123456789ABCDEF0123456789ABCDEF"]
SNAPSHOT = "Vhttp://hub.local/api/camera_proxy/camera.gate"


async def _ignore(event: SIAEvent) -> None:
    """The receiver's user callback; these tests read the parsed event directly."""


def receiver(key: str | None, **account: Any) -> Callable[[bytes], Any]:
    """pysiaalarm's per-read handler for one account, as its TCP server builds it."""
    server = SIAServerTCP({ACCOUNT: SIAAccount(ACCOUNT, key, **account)}, _ignore, Counter())
    handle: Callable[[bytes], Any] = server.parse_and_check_event
    return handle


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def frame_for(
    token: str,
    data: str,
    *,
    key: str | None,
    sequence: int,
    stamped: bool,
    receiver_id: str | None = "0",
    extended: tuple[str, ...] = (),
    when: datetime | None = None,
) -> bytes:
    message = Dc09Message(
        token=token,
        sequence=sequence,
        account=ACCOUNT,
        receiver=receiver_id,
        line="0",
        data=data,
        extended=extended,
        timestamp=(when or now()) if stamped else None,
    )
    return encode(message, key=None if key is None else make_key(key))


CASES = [
    pytest.param(key, stamped, id=f"{'clear' if key is None else f'aes{len(key) * 8}'}-{'ts' if stamped else 'no-ts'}")
    for key in KEYS
    for stamped in (True, False)
    if key is None or stamped  # an encrypted message always carries its timestamp
]


def length_ok(event: Any) -> bool:
    """pysiaalarm never checks the length (its `valid_length` compares decimal to hex): check it on its parse."""
    return int(event.length, 16) == len(event.full_message)


def check_accepted(event: Any, sequence: int, key: str | None) -> None:
    assert isinstance(event, SIAEvent)
    assert event.valid_message, "pysiaalarm's CRC check failed"
    assert length_ok(event), "the length field does not match the body pysiaalarm read"
    assert event.valid_timestamp
    assert event.response == ResponseType.ACK
    assert event.encrypted is (key is not None)
    assert event.account == ACCOUNT
    assert event.sequence == f"{sequence:04d}"
    answer = parse_response(event.create_response(), key=None if key is None else make_key(key))
    assert (answer.kind, answer.sequence, answer.account) == ("ACK", sequence, ACCOUNT)
    assert answer.message.encrypted is (key is not None)
    if key is not None:
        assert answer.timestamp is not None and abs((answer.timestamp - now()).total_seconds()) < 5


@pytest.mark.parametrize(("key", "stamped"), CASES)
def test_contact_id_is_accepted(key: str | None, stamped: bool) -> None:
    data = cid_data(ACCOUNT, ContactId(1, 151, 1, 10))
    event = receiver(key)(frame_for("ADM-CID", data, key=key, sequence=42, stamped=stamped))
    check_accepted(event, 42, key)
    assert (event.event_qualifier, event.event_type, event.partition, event.ri) == ("1", "151", "01", "010")
    assert event.code == "GA"  # pysiaalarm's own Contact ID -> SIA map
    assert (event.timestamp is not None) is stamped


@pytest.mark.parametrize(("key", "stamped"), CASES)
def test_sia_dcs_is_accepted(key: str | None, stamped: bool) -> None:
    data = sia_data(ACCOUNT, SiaEvent("BA", zone=3, partition=1))
    event = receiver(key)(frame_for("SIA-DCS", data, key=key, sequence=9999, stamped=stamped))
    check_accepted(event, 9999, key)
    # SIA DC-03: `ri` is the area, the zone follows the code (pysiaalarm calls it the message).
    assert (event.code, event.ri, event.message) == ("BA", "1", "003")


@pytest.mark.parametrize("key", KEYS)
def test_restore_user_and_snapshot_xdata(key: str | None) -> None:
    data = sia_data(ACCOUNT, SiaEvent("PA", zone=0, partition=1, user=4))
    frame = frame_for("SIA-DCS", data, key=key, sequence=7, stamped=True, extended=(SNAPSHOT,))
    event = receiver(key)(frame)
    check_accepted(event, 7, key)
    assert (event.code, event.id, event.ri) == ("PA", "4", "1")
    assert [(x.identifier, x.value) for x in event.extended_data or []] == [("V", SNAPSHOT[1:])]
    restore = cid_data(ACCOUNT, ContactId(3, 134, 1, 1))
    event = receiver(key)(frame_for("ADM-CID", restore, key=key, sequence=8, stamped=True))
    check_accepted(event, 8, key)
    assert (event.event_qualifier, event.event_type, event.code) == ("3", "134", "BH")


@pytest.mark.parametrize("key", KEYS)
def test_supervision_null_is_accepted(key: str | None) -> None:
    event = receiver(key)(frame_for("NULL", "", key=key, sequence=1, stamped=True))
    check_accepted(event, 1, key)
    assert event.code == "RP"  # pysiaalarm reports a link test as an automatic test


def test_frame_without_receiver_field() -> None:
    # pysiaalarm then writes "None" where the R field goes in its ACK; the CRC still covers it.
    data = cid_data(ACCOUNT, ContactId(1, 130, 1, 2))
    event = receiver(None)(frame_for("ADM-CID", data, key=None, sequence=3, stamped=True, receiver_id=None))
    raw = event.create_response()
    assert b"None" in raw
    answer = parse_response(raw)
    assert (answer.kind, answer.sequence, answer.message.receiver) == ("ACK", 3, None)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("skew", [-120, 60])
def test_a_stale_or_future_timestamp_gets_a_nak_with_the_receiver_clock(key: str | None, skew: int) -> None:
    ours = now() + timedelta(seconds=skew)
    data = cid_data(ACCOUNT, ContactId(1, 130, 1, 2))
    event = receiver(key)(frame_for("ADM-CID", data, key=key, sequence=5, stamped=True, when=ours))
    assert event.valid_message and not event.valid_timestamp
    assert event.response == ResponseType.NAK
    nak = parse_response(event.create_response())
    assert (nak.kind, nak.sequence, nak.account) == ("NAK", 0, "A0")
    assert not nak.message.encrypted
    assert abs(nak_clock_offset(nak, ours) + skew) <= 2


@pytest.mark.parametrize("key", KEYS)
def test_an_unknown_code_gets_a_duh(key: str | None) -> None:
    data = sia_data(ACCOUNT, SiaEvent("QQ", zone=1))
    event = receiver(key)(frame_for("SIA-DCS", data, key=key, sequence=11, stamped=True))
    assert event.response == ResponseType.DUH
    duh = parse_response(event.create_response())
    assert (duh.kind, duh.sequence, duh.account) == ("DUH", 11, ACCOUNT)


def test_an_unknown_account_gets_a_nak() -> None:
    other = SIAServerTCP({"FFFF": SIAAccount("FFFF", None)}, _ignore, Counter())
    data = cid_data(ACCOUNT, ContactId(1, 130, 1, 2))
    bare = other.parse_and_check_event(frame_for("ADM-CID", data, key=None, sequence=2, stamped=True))
    assert parse_response(bare.create_response()).kind == "NAK"
    # Encrypted for an account it has no key for: a framed NAK with L before R.
    framed = other.parse_and_check_event(frame_for("ADM-CID", data, key=KEYS[1], sequence=2, stamped=True))
    raw = framed.create_response()
    assert b'"NAK"0000L0R0A0[]_' in raw
    nak = parse_response(raw)
    assert nak.kind == "NAK" and nak.timestamp is not None


@pytest.mark.parametrize(("name", "code"), [("sia_dcs_burglary", "BA"), ("adm_cid_burglary", "BA")])
def test_golden_frames_pass_pysiaalarm(name: str, code: str) -> None:
    # Old timestamps: the time window is switched off for this account, CRC and length are not.
    handle = SIAServerTCP(
        {"1234": SIAAccount("1234", None, allowed_timeband=None)}, _ignore, Counter()
    ).parse_and_check_event
    vector = next(v for v in VECTORS["frames"] if v["name"] == name)
    event = handle(vector["frame"].encode("ascii"))
    assert event.valid_message and length_ok(event) and event.response == ResponseType.ACK
    assert event.code == code


def test_pysiaalarm_decrypts_the_worked_example() -> None:
    worked = VECTORS["encrypted"][0]
    handle = SIAServerTCP(
        {"1234": SIAAccount("1234", worked["key"], allowed_timeband=None)}, _ignore, Counter()
    ).parse_and_check_event
    event = handle(worked["frame"].encode("ascii"))
    assert event.valid_message and length_ok(event)
    assert event.content == worked["plaintext"]
    assert (event.code, event.ri, event.message) == ("BA", "1", "001")


def test_the_handler_is_the_one_the_tcp_server_uses() -> None:
    # Guards against testing a helper pysiaalarm's server does not call.
    server = SIAServerTCP({}, _ignore, Counter())
    handler: Callable[..., Awaitable[None]] = server.handle_line
    assert "parse_and_check_event" in handler.__code__.co_names
