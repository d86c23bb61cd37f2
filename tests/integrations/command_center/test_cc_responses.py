"""Receiver answers: golden ACK/NAK frames, encrypted ACKs, DUH, RSP, the NAK clock, and what is not an answer."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.command_center.dc09.crc import crc16_arc
from integrations.command_center.dc09.crypto import make_key
from integrations.command_center.dc09.errors import CrcError, DataError, DecryptError, FramingError
from integrations.command_center.dc09.frame import Dc09Message, decode, encode
from integrations.command_center.dc09.responses import (
    Response,
    build_ack,
    build_duh,
    build_nak,
    nak_clock_offset,
    parse_response,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)
FRAMES = {vector["name"]: vector["frame"].encode("ascii") for vector in VECTORS["frames"]}
KEY = make_key("0123456789ABCDEF")
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def frame_of(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode() + raw + b"\r"


def test_golden_ack() -> None:
    response = parse_response(FRAMES["ack"])
    assert response == Response(kind="ACK", sequence=1, account="1234", timestamp=None, message=decode(FRAMES["ack"]))


@pytest.mark.parametrize("name", ["nak_fioletoven", "nak_iobroker"])
def test_golden_naks(name: str) -> None:
    response = parse_response(FRAMES[name])
    assert (response.kind, response.sequence, response.account) == ("NAK", 0, "A0")
    assert response.timestamp is not None and response.timestamp.tzinfo is UTC


def test_build_ack_answers_the_golden_request_with_the_golden_ack() -> None:
    request = decode(FRAMES["sia_dcs_burglary"])
    assert build_ack(request) == FRAMES["ack"]


def test_build_nak_is_the_golden_nak() -> None:
    assert build_nak(datetime(2025, 9, 24, 16, 20, 1, 500000, tzinfo=UTC)) == FRAMES["nak_fioletoven"]


def test_build_duh_echoes_the_request() -> None:
    request = Dc09Message(token="ADM-CID", sequence=77, account="ABC", receiver="5", line="3", data="#ABC|1999 01 001")
    duh = parse_response(build_duh(request))
    assert (duh.kind, duh.sequence, duh.account) == ("DUH", 77, "ABC")
    assert (duh.message.receiver, duh.message.line, duh.message.data) == ("5", "3", "")
    # A DUH is never encrypted, even for an encrypted request.
    assert b'"DUH"' in build_duh(replace(request, encrypted=True))


def test_encrypted_ack_round_trip() -> None:
    request = Dc09Message(
        token="SIA-DCS", sequence=12, account="1234", receiver="0", data="#1234|NBA001", timestamp=NOW, encrypted=True
    )
    frame = build_ack(request, key=KEY, now=NOW + timedelta(microseconds=900))
    assert frame.startswith(b"\n") and b'"*ACK"0012R0L0#1234[' in frame
    response = parse_response(frame, key=KEY)
    assert (response.kind, response.sequence, response.account, response.timestamp) == ("ACK", 12, "1234", NOW)
    assert response.message.encrypted
    with pytest.raises(DecryptError, match="1234"):
        parse_response(frame)
    with pytest.raises(DataError, match="give the key"):
        build_ack(request)


def test_rsp_is_an_answer() -> None:
    frame = encode(Dc09Message(token="RSP", sequence=3, account="1234", extended=("K0011",)))
    response = parse_response(frame)
    assert (response.kind, response.message.extended) == ("RSP", ("K0011",))


def test_pysiaalarm_bare_tokens() -> None:
    for raw, kind in [(b'"NAK"', "NAK"), (b'"DUH"', "DUH"), (b'\n"NAK"\r', "NAK")]:
        response = parse_response(raw)
        assert (response.kind, response.sequence, response.account, response.timestamp) == (kind, 0, "", None)


def test_nak_clock_offset() -> None:
    nak = parse_response(build_nak(NOW + timedelta(seconds=75)))
    assert nak_clock_offset(nak, NOW) == 75.0
    assert nak_clock_offset(nak, NOW + timedelta(seconds=100)) == -25.0
    # A NAK without a time gives nothing to correct.
    assert nak_clock_offset(parse_response(b'"NAK"'), NOW) == 0.0
    with pytest.raises(DataError, match="only a NAK"):
        nak_clock_offset(parse_response(FRAMES["ack"]), NOW)
    with pytest.raises(DataError, match="aware"):
        nak_clock_offset(nak, datetime(2026, 1, 15))


@pytest.mark.parametrize("name", ["sia_dcs_burglary", "adm_cid_burglary", "null_worked_example"])
def test_a_request_is_not_an_answer(name: str) -> None:
    with pytest.raises(DataError, match="expected a receiver answer"):
        parse_response(FRAMES[name])


def test_garbage_is_not_an_answer() -> None:
    with pytest.raises(FramingError):
        parse_response(b"\n\r")  # pysiaalarm's reply to a bad CRC
    with pytest.raises(FramingError):
        parse_response(b'"ACK"')  # a bare ACK names no sequence: never taken as accepted
    corrupted = bytearray(FRAMES["ack"])
    corrupted[-3] ^= 0x02
    with pytest.raises(CrcError):
        parse_response(bytes(corrupted))


def test_tolerant_of_pysiaalarm_field_quirks() -> None:
    # No R in our frame -> "None" in its reply; NAK with L before R.
    ack = parse_response(frame_of('"ACK"0009NoneL0#1234[]'))
    assert (ack.kind, ack.sequence, ack.message.receiver) == ("ACK", 9, None)
    nak = parse_response(frame_of('"NAK"0000L0R0A0[]_12:00:30,01-15-2026'))
    assert nak_clock_offset(nak, NOW) == 30.0
