"""DC-09 frames: every golden frame byte for byte, then round trips, tolerance, refusals and the stream splitter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from integrations.command_center.dc09.crc import crc16_arc
from integrations.command_center.dc09.errors import (
    CrcError,
    DataError,
    Dc09Error,
    DecryptError,
    FramingError,
    LengthError,
)
from integrations.command_center.dc09.frame import (
    Dc09Message,
    FrameSplitter,
    decode,
    encode,
    format_timestamp,
    parse_timestamp,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)
TS = datetime(2025, 9, 25, 14, 12, 4, tzinfo=UTC)


def message_of(expected: dict[str, Any]) -> Dc09Message:
    timestamp = expected["timestamp"]
    return Dc09Message(
        token=expected["token"],
        sequence=expected["sequence"],
        account=expected["account"],
        line=expected["line"],
        receiver=expected["receiver"],
        data=expected["data"],
        extended=tuple(expected["extended"]),
        timestamp=None if timestamp is None else datetime.fromisoformat(timestamp),
        encrypted=expected["encrypted"],
    )


def frame_of(body: str) -> bytes:
    """A frame with a correct CRC and length around a hand-written body."""
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode() + raw + b"\r"


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_golden_frame_decodes_to_the_whole_message(vector: dict[str, Any]) -> None:
    frame = vector["frame"].encode("ascii")
    assert len(frame) - 10 == vector["body_length"]
    assert decode(frame, strict_length=True) == message_of(vector["message"])


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_golden_frame_is_what_encode_writes(vector: dict[str, Any]) -> None:
    assert encode(message_of(vector["message"])) == vector["frame"].encode("ascii")


@pytest.mark.parametrize("vector", VECTORS["wrong_length_frames"], ids=lambda v: v["frame"][1:5])
def test_wrong_length_is_tolerated_unless_strict(vector: dict[str, Any]) -> None:
    frame = vector["frame"].encode("ascii")
    assert int(vector["frame"][5:9], 16) == vector["declared_length"] != vector["body_length"] == len(frame) - 10
    assert decode(frame) == message_of(vector["message"])
    with pytest.raises(LengthError, match="length mismatch"):
        decode(frame, strict_length=True)


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_a_flipped_byte_fails_the_crc(vector: dict[str, Any]) -> None:
    frame = bytearray(vector["frame"].encode("ascii"))
    for position in (9, len(frame) // 2, len(frame) - 2):
        corrupted = bytearray(frame)
        corrupted[position] ^= 0x01
        with pytest.raises(CrcError, match="CRC mismatch"):
            decode(bytes(corrupted))


def test_encrypted_frame_without_key_names_the_account() -> None:
    vector = VECTORS["encrypted_unknown_key"][0]
    frame = vector["frame"].encode("ascii")
    with pytest.raises(DecryptError, match="account 123F"):
        decode(frame, strict_length=True)
    # Any key but the right one: the plaintext is garbage, said as such.
    with pytest.raises(DecryptError, match="123F"):
        decode(frame, key=b"0123456789ABCDEF")


@pytest.mark.parametrize(
    "message",
    [
        Dc09Message(token="NULL", sequence=1, account="1234"),
        Dc09Message(token="NULL", sequence=9999, account="1234", receiver="ABCDEF", line="123456", timestamp=TS),
        Dc09Message(token="SIA-DCS", sequence=42, account="0123456789ABCDEF", data="#0123456789ABCDEF|Nri1/FA010"),
        Dc09Message(
            token="ADM-CID",
            sequence=7,
            account="ABC",
            line="",
            receiver="0",
            data="#ABC|1151 01 010",
            extended=("Vhttp://hub.local/snap.jpg?ts=1", "Ilinea 2"),
            timestamp=TS,
        ),
        Dc09Message(token="DUH", sequence=5, account="1234", data="", extended=("Kxyz",)),
        Dc09Message(token="RSP", sequence=5, account="1234", data="x"),
        Dc09Message(token="NAK", sequence=0, account="A0", receiver="0", timestamp=TS),
        Dc09Message(token="NAK", sequence=0, account="", timestamp=TS),
    ],
    ids=lambda m: f"{m.token}-{m.sequence}",
)
def test_decode_inverts_encode(message: Dc09Message) -> None:
    frame = encode(message)
    assert frame.startswith(b"\n") and frame.endswith(b"\r")
    assert int(frame[5:9], 16) == len(frame) - 10
    assert decode(frame, strict_length=True) == message


def test_receiver_and_line_in_either_order_and_pysiaalarm_none() -> None:
    swapped = decode(frame_of('"NAK"0000L0R0A0[]_15:39:35,05-07-2019'))
    assert (swapped.receiver, swapped.line, swapped.account) == ("0", "0", "A0")
    # pysiaalarm writes "None" where a frame had no R field.
    none = decode(frame_of('"ACK"0001NoneL0#1234[]'))
    assert (none.receiver, none.line, none.account, none.sequence) == (None, "0", "1234", 1)


def test_lower_case_hex_fields_decode() -> None:
    message = decode(frame_of('"ACK"0001Rf3L0#abc[]'))
    assert (message.receiver, message.account) == ("f3", "abc")


@pytest.mark.parametrize(
    ("frame", "error", "match"),
    [
        (b'69F2003A"SIA-DCS"0001L0#1234[]\r', FramingError, "LF to CR"),
        (b'\n69F2003A"SIA-DCS"0001L0#1234[]', FramingError, "LF to CR"),
        (b"\n\r", FramingError, "4 hex digits"),
        (b'\nZZZZ0012"ACK"0001L0#1234[]\r', FramingError, "4 hex digits"),
        (b'\n1BC10012"ACK"0001L0#1234[]\xe9\r', FramingError, "ASCII"),
        (frame_of('"FOO"0001L0#1234[]'), FramingError, "unsupported DC-09 token"),
        (frame_of('"ACK"01L0#1234[]'), FramingError, "4-digit sequence"),
        (frame_of('"ACK"0001L0#1234'), FramingError, "no data block"),
        (frame_of('"ACK"0001#1234[]'), FramingError, "receiver/line/account"),
        (frame_of('"ACK"0001L0#12G4[]'), FramingError, "receiver/line/account"),
        (frame_of('"ACK"0001L0#1234[abc'), FramingError, "closing"),
        (frame_of('"ACK"0001L0#1234[a[b]'), FramingError, "contains"),
        (frame_of('"ACK"0001L0#1234[][Vx'), FramingError, "xdata block has no closing"),
        (frame_of('"ACK"0001L0#1234[]junk'), DataError, "timestamp"),
        (frame_of('"ACK"0001L0#1234[]_25:12:04,09-25-2025'), DataError, "impossible"),
        (frame_of('"*ACK"0001L0#1234[XYZ'), DecryptError, "account 1234"),
    ],
)
def test_malformed_frames_are_refused(frame: bytes, error: type[Dc09Error], match: str) -> None:
    with pytest.raises(error, match=match):
        decode(frame, key=b"0123456789ABCDEF" if b'"*' in frame else None)


def test_errors_are_value_errors() -> None:
    for error in (FramingError, CrcError, LengthError, DecryptError, DataError):
        assert issubclass(error, Dc09Error) and issubclass(error, ValueError)


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (Dc09Message(token="HELLO", sequence=1, account="1234"), "unknown DC-09 token"),
        (Dc09Message(token="NULL", sequence=10000, account="1234"), "sequence"),
        (Dc09Message(token="NULL", sequence=-1, account="1234"), "sequence"),
        (Dc09Message(token="NULL", sequence=1, account="12"), "3-16 upper-case hex"),
        (Dc09Message(token="NULL", sequence=1, account="abcd"), "upper-case"),
        (Dc09Message(token="NULL", sequence=1, account="A0"), "3-16"),
        (Dc09Message(token="NULL", sequence=1, account="1234", receiver=""), "receiver"),
        (Dc09Message(token="NULL", sequence=1, account="1234", line="L0"), "line"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", data="a]b"), "cannot contain"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", data="Baño"), "printable ASCII"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", data="a\rb"), "printable ASCII"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", extended=("",)), "cannot be empty"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", extended=("V[x",)), "cannot contain"),
        (Dc09Message(token="NULL", sequence=1, account="1234", timestamp=datetime(2025, 1, 1)), "aware"),
        (Dc09Message(token="NULL", sequence=1, account="1234", encrypted=True), "no key"),
        (Dc09Message(token="SIA-DCS", sequence=1, account="1234", data="x" * 4100), "at most"),
    ],
)
def test_encode_refuses_what_cannot_travel(message: Dc09Message, match: str) -> None:
    with pytest.raises(DataError, match=match):
        encode(message)


def test_encrypted_encode_needs_a_timestamp_and_never_encrypts_a_nak() -> None:
    key = b"0123456789ABCDEF"
    with pytest.raises(DataError, match="needs a timestamp"):
        encode(Dc09Message(token="NULL", sequence=1, account="1234"), key=key)
    with pytest.raises(DataError, match="never encrypted"):
        encode(Dc09Message(token="NAK", sequence=0, account="A0", timestamp=TS), key=key)


def test_timestamps_are_utc() -> None:
    assert format_timestamp(TS) == "_14:12:04,09-25-2025"
    mexico = timezone(timedelta(hours=-6))
    assert format_timestamp(datetime(2025, 9, 25, 8, 12, 4, tzinfo=mexico)) == "_14:12:04,09-25-2025"
    assert parse_timestamp("_14:12:04,09-25-2025") == TS
    with pytest.raises(DataError, match="aware"):
        format_timestamp(datetime(2025, 9, 25))
    with pytest.raises(DataError, match="malformed"):
        parse_timestamp("14:12:04,09-25-2025")
    with pytest.raises(DataError, match="impossible"):
        parse_timestamp("_14:12:04,02-30-2025")


# --- the stream splitter ---------------------------------------------------------------------

GOLDEN = [vector["frame"].encode("ascii") for vector in VECTORS["frames"]]


def test_splitter_whole_frame() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(GOLDEN[0]) == [GOLDEN[0]]
    assert splitter.pending == 0


def test_splitter_byte_by_byte() -> None:
    splitter = FrameSplitter()
    out: list[bytes] = []
    for i in range(len(GOLDEN[1])):
        got = splitter.feed(GOLDEN[1][i : i + 1])
        if i < len(GOLDEN[1]) - 1:
            assert got == []
        out += got
    assert out == [GOLDEN[1]]
    assert decode(out[0]).token == "SIA-DCS"


def test_splitter_five_frames_back_to_back_with_garbage_between() -> None:
    five = GOLDEN[:5]
    stream = (
        b"noise\r" + five[0] + five[1] + b"\x00\xffjunk\r\r" + five[2] + b"\n\nhalf a frame" + five[3] + b"xx" + five[4]
    )
    splitter = FrameSplitter()
    assert splitter.feed(stream) == five
    # The same stream in awkward chunks gives the same frames.
    splitter = FrameSplitter()
    got: list[bytes] = []
    for start in range(0, len(stream), 7):
        got += splitter.feed(stream[start : start + 7])
    assert got == five
    assert [decode(frame) for frame in got] == [decode(frame) for frame in five]


def test_splitter_overflow_is_an_error_and_then_recovers() -> None:
    splitter = FrameSplitter(max_frame=64)
    with pytest.raises(FramingError, match="no CR within"):
        splitter.feed(b"\n" + b"A" * 100)
    assert splitter.pending == 0
    assert splitter.feed(GOLDEN[2]) == [GOLDEN[2]]


def test_splitter_keeps_an_unfinished_frame() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"garbage" + GOLDEN[0][:10]) == []
    assert splitter.pending == 10
    assert splitter.feed(GOLDEN[0][10:]) == [GOLDEN[0]]
