"""Modbus RTU codec, framers and timing: golden vectors first (vectors/rtu_vectors.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.modbus_tank import rtu
from integrations.modbus_tank.rtu import (
    CrcError,
    ExceptionResponse,
    FrameError,
    FrameProblem,
    ModbusExceptionError,
    ReadResponse,
    Request,
    RequestFramer,
    ResponseFramer,
    WriteMultipleResponse,
    WriteSingleResponse,
    WrongUnit,
)

VECTORS = json.loads((Path(rtu.__file__).parent / "vectors" / "rtu_vectors.json").read_text(encoding="utf-8"))
RESPONSE_TYPES: dict[str, Any] = {
    "ReadResponse": ReadResponse,
    "WriteSingleResponse": WriteSingleResponse,
    "WriteMultipleResponse": WriteMultipleResponse,
    "ExceptionResponse": ExceptionResponse,
}


def request_of(data: dict[str, Any]) -> Request:
    return Request(**{**data, "values": tuple(data.get("values", ()))})


def response_of(data: dict[str, Any]) -> rtu.Response:
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k != "type"}
    return RESPONSE_TYPES[data["type"]](**fields)


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v.get("hex") or v.get("ascii") or "?" for v in vectors]


def bitwise_crc(data: bytes) -> int:
    """Independent reference: the textbook shift-register loop, no table."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def every_vector_has_a_source() -> None:
    for group in ("crc", "requests", "responses", "readings", "int16"):
        for vector in VECTORS[group]:
            assert vector["source"], vector


def test_every_vector_names_its_source() -> None:
    every_vector_has_a_source()


# -- CRC and codecs --------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["crc"], ids=ids(VECTORS["crc"]))
def test_crc_vectors(vector: dict[str, Any]) -> None:
    data = vector["ascii"].encode() if "ascii" in vector else bytes.fromhex(vector["hex"])
    assert rtu.crc16(data) == int(vector["crc"], 16) == bitwise_crc(data)


def test_crc_of_every_vector_frame_matches_the_bitwise_reference() -> None:
    for vector in VECTORS["requests"] + VECTORS["responses"]:
        frame = bytes.fromhex(vector["hex"])
        assert rtu.crc_ok(frame)
        assert frame[-2:] == bitwise_crc(frame[:-2]).to_bytes(2, "little")


@pytest.mark.parametrize("vector", VECTORS["requests"], ids=ids(VECTORS["requests"]))
def test_encode_request_vectors(vector: dict[str, Any]) -> None:
    assert rtu.encode_request(request_of(vector["request"])) == bytes.fromhex(vector["hex"])


def test_request_builders() -> None:
    assert rtu.read_holding(1, 0, 2) == Request(unit=1, function=3, address=0, count=2)
    assert rtu.read_input(1, 0, 2) == Request(unit=1, function=4, address=0, count=2)
    assert rtu.write_single(1, 1, 3) == Request(unit=1, function=6, address=1, count=1, values=(3,))
    assert rtu.write_multiple(1, 1, [10, 258]) == Request(unit=1, function=16, address=1, count=2, values=(10, 258))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (rtu.read_holding(1, 0, 0), "count 0 out of range 1..125"),
        (rtu.read_input(1, 0, 126), "count 126 out of range 1..125"),
        (rtu.write_multiple(1, 0, [0] * 124), "count 124 out of range 1..123"),
        (rtu.read_holding(0, 0, 1), "unit 0 out of range 1..247"),
        (rtu.write_single(248, 0, 1), "unit 248 out of range 0..247"),
        (rtu.write_single(1, 0, 0x10000), "register value 65536 out of range 0..65535"),
        (rtu.read_holding(1, 0xFFFF, 2), "registers 65535+2 run past 65535"),
        (Request(unit=1, function=5, address=0), "function 0x05 is not supported (03, 04, 06, 16)"),
        (Request(unit=1, function=16, address=0, count=2, values=(1,)), "function 0x10 with count 2 takes 2 values"),
    ],
)
def test_encode_request_rejects(request_: Request, message: str) -> None:
    with pytest.raises(ValueError) as info:
        rtu.encode_request(request_)
    assert str(info.value) == message


def test_broadcast_write_encodes() -> None:
    assert rtu.encode_request(rtu.write_single(0, 1, 3)) == rtu.with_crc(bytes.fromhex("00 06 00 01 00 03"))


@pytest.mark.parametrize("vector", VECTORS["responses"], ids=ids(VECTORS["responses"]))
def test_decode_and_encode_response_vectors(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["hex"])
    expected = response_of(vector["expected"])
    assert rtu.decode_response(request_of(vector["request"]), frame) == expected
    assert rtu.encode_response(expected) == frame


def test_exception_reply_maps_to_a_permanent_error() -> None:
    reply = rtu.decode_response(rtu.read_holding(1, 0, 1), bytes.fromhex("01 83 02 C0 F1"))
    assert isinstance(reply, ExceptionResponse)
    assert reply.error() == ModbusExceptionError(2, "illegal data address")
    assert str(reply.error()) == "Modbus exception 0x02: illegal data address"
    assert reply.error().transient is False
    assert ModbusExceptionError(6, "server busy").transient is True
    assert rtu.exception_meaning(0x42) == "unknown exception code 0x42"


READ2 = rtu.read_holding(1, 0, 2)
REPLY2 = bytes.fromhex("01 03 04 00 0A 00 01 1B F1")
RESULT2 = ReadResponse(1, 3, (10, 1))


@pytest.mark.parametrize(
    ("request_", "frame", "error"),
    [
        (READ2, REPLY2[:2], FrameError(FrameProblem.TRUNCATED, "2 bytes")),
        (READ2, REPLY2[:5], FrameError(FrameProblem.TRUNCATED, "5 of 9 bytes")),
        (READ2, REPLY2[:-1] + b"\xf2", CrcError(REPLY2[:-1] + b"\xf2")),
        (READ2, rtu.with_crc(bytes.fromhex("02 03 04 00 0A 00 01")), WrongUnit(1, 2)),
        (
            READ2,
            rtu.with_crc(bytes.fromhex("01 04 04 00 0A 00 01")),
            FrameError(FrameProblem.UNEXPECTED_FUNCTION, "expected 0x03, got 0x04"),
        ),
        (
            READ2,
            rtu.with_crc(bytes.fromhex("01 03 04 00 0A 00 01 00")),
            FrameError(FrameProblem.BAD_LENGTH, "10 bytes, expected 9"),
        ),
        (
            rtu.read_holding(1, 0, 3),
            rtu.with_crc(bytes.fromhex("01 03 04 00 0A 00 01 00 00")),
            FrameError(FrameProblem.BAD_LENGTH, "byte count 4, expected 6"),
        ),
        (
            READ2,
            rtu.with_crc(bytes.fromhex("01 83 02 00")),
            FrameError(FrameProblem.BAD_LENGTH, "6 bytes, expected 5"),
        ),
        (
            rtu.write_single(1, 1, 3),
            rtu.with_crc(bytes.fromhex("01 06 00 01 00 04")),
            FrameError(FrameProblem.ECHO_MISMATCH, "register 1 value 4"),
        ),
        (
            rtu.write_multiple(1, 1, [10, 258]),
            rtu.with_crc(bytes.fromhex("01 10 00 01 00 03")),
            FrameError(FrameProblem.ECHO_MISMATCH, "start 1 count 3"),
        ),
    ],
    ids=[
        "short",
        "truncated",
        "crc",
        "wrong-unit",
        "function",
        "long",
        "byte-count",
        "long-exception",
        "echo",
        "echo16",
    ],
)
def test_decode_response_errors(request_: Request, frame: bytes, error: rtu.ModbusError) -> None:
    with pytest.raises(rtu.ModbusError) as info:
        rtu.decode_response(request_, frame)
    assert info.value == error
    assert info.value.transient is True


def test_error_messages() -> None:
    assert (
        str(CrcError(REPLY2[:-1] + b"\xf2"))
        == "CRC mismatch in 01 03 04 00 0a 00 01 1b f2: got 0xF21B, expected 0xF11B"
    )
    assert str(WrongUnit(1, 2)) == "expected a reply from unit 1, got unit 2"
    assert str(FrameError(FrameProblem.TRUNCATED, "5 of 9 bytes")) == "truncated: 5 of 9 bytes"
    assert repr(WrongUnit(1, 2)) == "WrongUnit(1, 2)"


# -- ResponseFramer ------------------------------------------------------------------------------


def feed_bytewise(framer: rtu.ResponseFramer | rtu.RequestFramer, data: bytes) -> list[Any]:
    out: list[Any] = []
    for i in range(len(data)):
        out += framer.feed(data[i : i + 1])
    return out


@pytest.mark.parametrize("vector", VECTORS["responses"], ids=ids(VECTORS["responses"]))
def test_response_framer_whole_bytewise_and_concatenated(vector: dict[str, Any]) -> None:
    request = request_of(vector["request"])
    frame = bytes.fromhex(vector["hex"])
    expected = response_of(vector["expected"])
    assert ResponseFramer(request).feed(frame) == [expected]
    assert feed_bytewise(ResponseFramer(request), frame) == [expected]
    assert ResponseFramer(request).feed(frame * 5) == [expected] * 5
    assert feed_bytewise(ResponseFramer(request), frame * 5) == [expected] * 5


def test_response_framer_skips_leading_garbage() -> None:
    framer = ResponseFramer(READ2)
    assert framer.feed(b"\x00\xff\x13\x01" + REPLY2) == [RESULT2]
    assert framer.discarded == 4


def test_response_framer_resyncs_past_a_false_start_fed_bytewise() -> None:
    # The garbage looks like the start of the expected reply (unit 1, FC03, byte count 4).
    framer = ResponseFramer(READ2)
    assert feed_bytewise(framer, bytes.fromhex("01 03 04 00") + REPLY2) == [RESULT2]
    assert framer.discarded == 4


def test_response_framer_skips_the_adapters_echo_of_the_request() -> None:
    framer = ResponseFramer(READ2)
    assert framer.feed(rtu.encode_request(READ2) + REPLY2) == [RESULT2]


def test_response_framer_reports_a_corrupted_crc_and_carries_on() -> None:
    bad = REPLY2[:-1] + b"\xf2"
    assert ResponseFramer(READ2).feed(bad) == [CrcError(bad)]
    assert feed_bytewise(ResponseFramer(READ2), bad + REPLY2) == [CrcError(bad), RESULT2]
    assert ResponseFramer(READ2).feed(REPLY2 + bad + REPLY2) == [RESULT2, CrcError(bad), RESULT2]


def test_response_framer_reports_a_foreign_echo_without_raising() -> None:
    framer = ResponseFramer(rtu.write_single(1, 1, 3))
    wrong = rtu.with_crc(bytes.fromhex("01 06 00 02 00 03"))
    right = bytes.fromhex("01 06 00 01 00 03 98 0B")
    assert framer.feed(wrong + right) == [
        FrameError(FrameProblem.ECHO_MISMATCH, "register 2 value 3"),
        WriteSingleResponse(1, 1, 3),
    ]


def test_response_framer_waits_for_the_rest() -> None:
    framer = ResponseFramer(READ2)
    assert framer.feed(REPLY2[:4]) == []
    assert framer.feed(REPLY2[4:]) == [RESULT2]


def test_response_framer_reset_and_expect() -> None:
    framer = ResponseFramer(READ2)
    assert framer.feed(REPLY2[:4]) == []
    framer.reset()
    assert framer.feed(REPLY2) == [RESULT2]
    framer.expect(rtu.write_single(1, 1, 3))
    assert framer.feed(REPLY2[:4]) == []
    assert framer.feed(bytes.fromhex("01 06 00 01 00 03 98 0B")) == [WriteSingleResponse(1, 1, 3)]


def test_response_framer_without_a_request_discards_everything() -> None:
    framer = ResponseFramer()
    assert framer.feed(REPLY2) == []
    assert framer.discarded == len(REPLY2)


def timed_feed(framer: ResponseFramer, data: bytes, start: float, baud: int, gap_after: int, gap: float) -> list[Any]:
    """Feed byte by byte at line speed, with `gap` seconds of silence after byte `gap_after`."""
    out: list[Any] = []
    now = start
    for i in range(len(data)):
        now += rtu.char_time(baud) + (gap if i == gap_after else 0.0)
        out += framer.feed(data[i : i + 1], now)
    return out


@pytest.mark.parametrize(
    ("baud", "gap", "kept"),
    [
        (9600, 0.0, True),
        (9600, 0.0015, True),  # t1.5 at 9600 is 1.719 ms
        (9600, 0.0020, False),
        (38400, 0.0007, True),  # fixed 750 us above 19200
        (38400, 0.0008, False),
    ],
)
def test_response_framer_inter_character_gap(baud: int, gap: float, kept: bool) -> None:
    framer = ResponseFramer(READ2, baud=baud)
    # The silence falls inside the frame, before its 5th byte.
    assert timed_feed(framer, REPLY2, 100.0, baud, 4, gap) == ([RESULT2] if kept else [])
    # Whatever the outcome, the next frame after a t3.5 silence decodes.
    assert timed_feed(framer, REPLY2, 101.0, baud, -1, 0.0) == [RESULT2]


def test_gap_ignored_without_timestamps_or_baud() -> None:
    framer = ResponseFramer(READ2)
    assert framer.feed(REPLY2[:4], 1.0) + framer.feed(REPLY2[4:], 9.0) == [RESULT2]
    framer = ResponseFramer(READ2, baud=9600)
    assert framer.feed(REPLY2[:4]) + framer.feed(REPLY2[4:]) == [RESULT2]


def test_empty_feed_after_silence_flushes_a_partial_frame() -> None:
    framer = ResponseFramer(READ2, baud=9600)
    assert framer.feed(REPLY2[:4], 1.0) == []
    assert framer.feed(b"", 1.1) == []
    assert framer.discarded == 4
    assert framer.feed(REPLY2, 1.2) == [RESULT2]


def test_gap_flush_reports_a_complete_frame_with_a_bad_crc() -> None:
    # Unit 1 FC03 count 4 inside the corrupted frame keeps the framer waiting; silence settles it.
    bad = bytes.fromhex("01 03 04 01 03 04 00 AA BB")
    framer = ResponseFramer(READ2, baud=9600)
    assert framer.feed(bad, 1.0) == []
    assert framer.feed(REPLY2, 2.0) == [CrcError(bad), RESULT2]


# -- RequestFramer -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["requests"], ids=ids(VECTORS["requests"]))
def test_request_framer_vectors(vector: dict[str, Any]) -> None:
    frame = bytes.fromhex(vector["hex"])
    expected = request_of(vector["request"])
    assert RequestFramer().feed(frame) == [expected]
    assert feed_bytewise(RequestFramer(expected.unit), frame) == [expected]
    assert RequestFramer(expected.unit).feed(frame * 5) == [expected] * 5
    assert feed_bytewise(RequestFramer(), b"\xff\xfe" + frame * 5) == [expected] * 5


def test_request_framer_filters_units_and_accepts_broadcast() -> None:
    other = rtu.encode_request(rtu.read_holding(2, 0, 1))
    mine = rtu.encode_request(rtu.read_holding(1, 0, 1))
    broadcast = rtu.encode_request(rtu.write_single(0, 0x10, 5))
    # Another slave's reply on the shared bus is skipped too.
    assert RequestFramer(1).feed(other + REPLY2.replace(b"\x01", b"\x02", 1) + mine + broadcast) == [
        rtu.read_holding(1, 0, 1),
        rtu.write_single(0, 0x10, 5),
    ]


def test_request_framer_crc_error_and_unknown_function() -> None:
    frame = bytes.fromhex("01 03 00 00 00 01 84 0B")
    assert RequestFramer(1).feed(frame) == [CrcError(frame)]
    unknown = rtu.with_crc(bytes.fromhex("01 2B 0E 01 00"))
    framer = RequestFramer(1)
    assert framer.feed(unknown + bytes.fromhex("01 03 00 00 00 01 84 0A")) == [rtu.read_holding(1, 0, 1)]
    assert framer.discarded == len(unknown)


def test_request_framer_hands_invalid_requests_to_the_slave() -> None:
    frame = rtu.with_crc(bytes.fromhex("01 03 00 00 00 00"))
    (request,) = RequestFramer(1).feed(frame)
    assert isinstance(request, Request)
    assert request == Request(unit=1, function=3, address=0, count=0)
    with pytest.raises(ValueError, match=r"^count 0 out of range 1\.\.125$"):
        rtu.validate_request(request)


# -- timing ------------------------------------------------------------------------------------


def test_character_times() -> None:
    assert rtu.char_time(9600) * 1000 == pytest.approx(1.146, abs=5e-4)
    assert rtu.t15(9600) * 1000 == pytest.approx(1.719, abs=5e-4)
    assert rtu.t35(9600) * 1000 == pytest.approx(4.010, abs=5e-4)
    assert rtu.char_time(19200) * 1000 == pytest.approx(0.573, abs=5e-4)
    assert rtu.t35(19200) * 1000 == pytest.approx(2.005, abs=5e-4)
    assert (rtu.t15(38400), rtu.t35(38400)) == (0.00075, 0.00175)
    assert (rtu.t15(115200), rtu.t35(115200)) == (0.00075, 0.00175)


@pytest.mark.parametrize(
    ("baud", "request_len", "response_len", "bits", "latency", "ms", "per_second"),
    [
        (9600, 8, 9, 11, 0.0, 27.5, 36.4),
        (9600, 8, 9, 10, 0.0, 25.0, 40.0),
        (19200, 8, 9, 11, 0.0, 13.75, 72.7),
        (9600, 8, 7, 11, 0.0, 25.2, 39.7),
        (19200, 8, 7, 11, 0.0, 12.6, 79.3),
        (9600, 8, 9, 11, 0.020, 47.5, 21.1),
        (19200, 8, 9, 11, 0.020, 33.75, 29.6),
    ],
)
def test_exchange_time_matches_protocols_7_2(
    baud: int, request_len: int, response_len: int, bits: int, latency: float, ms: float, per_second: float
) -> None:
    seconds = rtu.exchange_time(baud, request_len, response_len, bits, latency=latency)
    assert seconds * 1000 == pytest.approx(ms, abs=0.05)  # PROTOCOLS rounds to 0.1 ms or 0.01 ms
    assert round(1 / seconds, 1) == per_second


def test_headline_exchange_times_are_exact() -> None:
    assert rtu.exchange_time(9600, 8, 9) == pytest.approx(0.0275, abs=1e-12)
    assert rtu.exchange_time(19200, 8, 9) == pytest.approx(0.01375, abs=1e-12)
    assert rtu.exchange_time(9600, 8, 9, bits=10) == pytest.approx(0.025, abs=1e-12)


def test_exchange_time_from_request() -> None:
    request = rtu.read_holding(1, 0, 2)
    frame_len = len(rtu.encode_request(request))
    assert (frame_len, rtu.expected_response_length(request)) == (8, 9)


def test_classify_reply_explains_what_pymodbus_calls_a_timeout() -> None:
    from integrations.modbus_tank.transport import CrcOrFrameError, SlaveTimeout, WrongUnit, classify_reply

    good = bytes.fromhex("01 03 04 00 0A 00 01 1B F1")  # PROTOCOLS.md 7.1 [V]
    assert classify_reply(b"", 1) == SlaveTimeout("no reply")
    assert classify_reply(good, 2) == WrongUnit("unit 1 answered a request for unit 2")
    damaged = good[:-1] + bytes([good[-1] ^ 0x01])
    assert classify_reply(damaged, 1) == CrcOrFrameError("CRC error in a 9-byte reply")
    assert classify_reply(good[:3], 1) == CrcOrFrameError("incomplete reply (3 bytes)")
