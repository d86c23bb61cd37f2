"""The proxy wire protocol: byte vectors built here with struct, round trips, stream decoding, limits, HMAC."""

from __future__ import annotations

import hashlib
import hmac
import random
import struct

import pytest

from firmware.ble_proxy import protocol as p

NONCE = bytes(range(16))
ADDR = bytes.fromhex("A4C138000001")


def frame(ftype: int, body: bytes) -> bytes:
    """The documented frame layout, written independently of the module."""
    return struct.pack(">HB", 1 + len(body), ftype) + body


def record_bytes(addr: bytes, addr_type: int, adv_type: int, rssi: int, time_ms: int, data: bytes) -> bytes:
    return addr + struct.pack(">BBbIB", addr_type, adv_type, rssi, time_ms, len(data)) + data


def sample_records() -> list[p.Record]:
    return [
        p.Record(ADDR, 0, 3, -60, 1234, bytes.fromhex("0201060A16D2FC4002C40903BF13")),
        p.Record(bytes.fromhex("C0FFEE000042"), 1, 4, 5, 0xFFFFFFFF, b""),
        p.Record(bytes(6), 3, 0, -128, 0, bytes(31)),
    ]


# ---- HMAC-SHA256


@pytest.mark.parametrize("key_len", [0, 1, 16, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("msg_len", [0, 1, 55, 56, 64, 1000])
def test_hmac_matches_cpython(key_len: int, msg_len: int) -> None:
    rng = random.Random(key_len * 1000 + msg_len)
    key = rng.randbytes(key_len)
    msg = rng.randbytes(msg_len)
    assert p.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def test_hmac_rfc4231_case_2() -> None:
    digest = p.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert digest.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_compare_digest() -> None:
    assert p.compare_digest(b"abc", b"abc")
    assert not p.compare_digest(b"abc", b"abd")
    assert not p.compare_digest(b"abc", b"ab")
    assert p.compare_digest(b"", b"")


def test_proof_is_hmac_over_magic_version_nonce_and_id() -> None:
    expected = hmac.new(b"s3cret", b"MDRP\x01" + NONCE + b"roof-1", hashlib.sha256).digest()
    assert p.proof("s3cret", NONCE, "roof-1") == expected
    hello = p.decode(p.encode_hello("roof-1", "1.0", expected))
    assert p.verify_proof("s3cret", NONCE, hello)
    assert not p.verify_proof("s3creT", NONCE, hello)
    assert not p.verify_proof("s3cret", bytes(16), hello)  # a replayed proof fails a new nonce
    # the proof is bound to the id: the same proof under another id fails
    assert not p.verify_proof("s3cret", NONCE, p.Hello("roof-2", "1.0", expected))


# ---- vectors


def test_control_frame_vectors() -> None:
    assert p.encode_challenge(NONCE) == frame(0x01, b"MDRP\x01" + NONCE)
    assert p.encode_welcome() == b"\x00\x01\x03"
    assert p.encode_ping(7) == b"\x00\x05\x20\x00\x00\x00\x07"
    assert p.encode_pong(0xDEADBEEF) == b"\x00\x05\x21\xde\xad\xbe\xef"
    assert p.encode_error(1, "bad token") == frame(0x7F, b"\x01bad token")
    proof = bytes(range(32))
    assert p.encode_hello("roof-1", "ble_proxy 1.0", proof) == frame(
        0x02, b"MDRP\x01" + b"\x06roof-1" + b"\x0dble_proxy 1.0" + proof
    )


def test_challenge_vector_hex() -> None:
    # 2-byte length 22, type 1, "MDRP", version 1, the nonce
    assert p.encode_challenge(NONCE).hex() == "001601" + "4d445250" + "01" + NONCE.hex()


def test_batch_vector() -> None:
    records = sample_records()
    body = struct.pack(">IIB", 5000, 3, len(records)) + b"".join(
        record_bytes(r.address, r.address_type, r.adv_type, r.rssi, r.time_ms, r.data) for r in records
    )
    assert p.encode_batch(records, 5000, 3) == frame(0x10, body)
    assert p.decode(frame(0x10, body)) == p.Batch(records, 5000, 3)


def test_timestamps_and_drop_counter_wrap_modulo_2_32() -> None:
    batch = p.decode(p.encode_batch([p.Record(ADDR, 0, 3, -1, 2**32 + 5, b"")], 2**32 + 9, 2**32 + 1))
    assert (batch.sent_ms, batch.dropped, batch.records[0].time_ms) == (9, 1, 5)
    assert (batch.sent_ms - batch.records[0].time_ms) % 2**32 == 4  # the age survives the wrap


def test_the_largest_batch_fits_a_frame() -> None:
    records = [p.Record(ADDR, 1, 4, -100, n, bytes([n]) * 31) for n in range(p.MAX_BATCH)]
    data = p.encode_batch(records, 1, 0)
    assert len(data) <= p.MAX_FRAME + 2
    assert p.decode(data).records == records


def test_address_text() -> None:
    assert p.format_address(ADDR) == "A4:C1:38:00:00:01"
    assert p.parse_address("a4:c1:38:00:00:01") == ADDR
    for bad in ("A4:C1:38:00:00", "A4:C1:38:00:00:0G", "A4C138000001", "A4:C1:38:00:00:001"):
        with pytest.raises(p.MalformedFrame, match="not a MAC address"):
            p.parse_address(bad)


# ---- round trips and streaming


def all_messages() -> list[object]:
    return [
        p.Challenge(NONCE),
        p.Hello("proxy.garage_2", "", bytes(32)),
        p.Hello("x" * 32, "~" * 32, bytes(range(32))),
        p.Welcome(),
        p.Batch(sample_records(), 123, 0),
        p.Ping(0),
        p.Pong(0xFFFFFFFF),
        p.Error(2, "unknown proxy 'garage'"),
        p.Error(255, ""),
    ]


@pytest.mark.parametrize("message", all_messages(), ids=repr)
def test_round_trip(message: object) -> None:
    assert p.decode(p.encode(message)) == message


def test_ping_and_pong_are_different_messages() -> None:
    assert p.decode(p.encode_pong(3)) != p.Ping(3)
    assert type(p.decode(p.encode_pong(3))) is p.Pong


def decoded_stream(chunks: list[bytes]) -> list[object]:
    decoder = p.FrameDecoder()
    out: list[object] = []
    for chunk in chunks:
        out.extend(p.decode_body(t, b) for t, b in decoder.feed(chunk))
    assert decoder.pending() == 0
    return out


def test_stream_whole_byte_by_byte_concatenated_and_random_chunks() -> None:
    messages = all_messages()
    frames = [p.encode(m) for m in messages]
    stream = b"".join(frames)
    assert decoded_stream(frames) == messages
    assert decoded_stream([stream]) == messages
    assert decoded_stream([stream[i : i + 1] for i in range(len(stream))]) == messages
    rng = random.Random(4)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(stream)), 12))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        assert decoded_stream(chunks) == messages


def test_a_partial_frame_waits_for_the_rest() -> None:
    decoder = p.FrameDecoder()
    data = p.encode_ping(1)
    assert decoder.feed(data[:4]) == []
    assert decoder.pending() == 4
    assert decoder.feed(data[4:] + data[:1]) == [(p.T_PING, b"\x00\x00\x00\x01")]
    assert decoder.pending() == 1


# ---- garbage and limits


def test_oversize_frame_fails_at_its_header() -> None:
    decoder = p.FrameDecoder()
    with pytest.raises(p.FrameTooLarge, match="frame of 4097 bytes, the limit is 4096"):
        decoder.feed(b"\x10\x01")
    # broken for good: the connection must close
    with pytest.raises(p.FrameTooLarge):
        decoder.feed(p.encode_ping(1))


def test_an_http_request_is_refused_at_once() -> None:
    with pytest.raises(p.FrameTooLarge, match="frame of 18245 bytes"):
        p.FrameDecoder().feed(b"GET / HTTP/1.1\r\n")


def test_zero_length_and_unknown_type() -> None:
    with pytest.raises(p.MalformedFrame, match="frame of length 0"):
        p.FrameDecoder().feed(b"\x00\x00\x01")
    with pytest.raises(p.UnknownFrameType, match="frame type 0x42"):
        p.FrameDecoder().feed(b"\x00\x01\x42")
    with pytest.raises(p.UnknownFrameType, match="frame type 0x42"):
        p.decode_body(0x42, b"")


def test_error_codes_to_answer_with() -> None:
    assert p.FrameTooLarge("x").code == p.BatchTooLarge("x").code == p.E_TOO_LARGE
    assert p.MalformedFrame("x").code == p.UnknownFrameType("x").code == p.E_MALFORMED
    assert p.UnsupportedVersion("x").code == p.E_VERSION
    assert issubclass(p.ProtocolError, ValueError)


@pytest.mark.parametrize(
    ("ftype", "body", "error", "match"),
    [
        (p.T_CHALLENGE, b"HTTP\x01" + NONCE, p.MalformedFrame, "without the MDRP magic"),
        (p.T_CHALLENGE, b"MDRP\x02" + NONCE, p.UnsupportedVersion, "protocol version 2, this side speaks 1"),
        (p.T_CHALLENGE, b"MDRP\x01" + NONCE[:15], p.MalformedFrame, "challenge body has 21 bytes, got 20"),
        (p.T_HELLO, b"MDRP\x01", p.MalformedFrame, "ends before the proxy id"),
        (p.T_HELLO, b"MDRP\x01\x09roof", p.MalformedFrame, "ends inside the proxy id"),
        (p.T_HELLO, b"MDRP\x01\x04roof\x00" + bytes(31), p.MalformedFrame, "hello body has 43 bytes, got 42"),
        (p.T_HELLO, b"MDRP\x01\x04ro f\x00" + bytes(32), p.MalformedFrame, "proxy id must be"),
        (p.T_HELLO, b"MDRP\x01\x00\x00" + bytes(32), p.MalformedFrame, "proxy id must be"),
        (p.T_HELLO, b"MDRP\x01\x02\xc3\x28\x00" + bytes(32), p.MalformedFrame, "proxy id is not UTF-8"),
        (p.T_HELLO, b"MDRP\x01\x01a\x01\x07" + bytes(32), p.MalformedFrame, "firmware version must be"),
        (p.T_WELCOME, b"\x00", p.MalformedFrame, "welcome body has 0 bytes, got 1"),
        (p.T_PING, b"\x00\x00\x01", p.MalformedFrame, "ping body has 4 bytes, got 3"),
        (p.T_PONG, b"", p.MalformedFrame, "pong body has 4 bytes, got 0"),
        (p.T_ERROR, b"", p.MalformedFrame, "error body has no code"),
        (p.T_ERROR, b"\x01" + b"x" * 201, p.MalformedFrame, "error reason over 200 bytes"),
        (p.T_BATCH, bytes(8), p.MalformedFrame, "batch body has at least 9 bytes, got 8"),
        (p.T_BATCH, bytes(9), p.MalformedFrame, "a batch has at least one record"),
        (p.T_BATCH, bytes(8) + b"\x41", p.BatchTooLarge, "batch of 65 records, the limit is 64"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(13), p.MalformedFrame, "batch ends inside record 0"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(13) + b"\x01", p.MalformedFrame, "batch ends inside record 0"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(13) + b"\x20" + bytes(32), p.MalformedFrame, "AD data of 32 bytes"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(6) + b"\x04" + bytes(7), p.MalformedFrame, "address type 4"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(7) + b"\x05" + bytes(6), p.MalformedFrame, "advertising type 5"),
        (p.T_BATCH, bytes(8) + b"\x01" + bytes(14) + b"\xff", p.MalformedFrame, "1 bytes after the last record"),
        (p.T_BATCH, bytes(8) + b"\x02" + bytes(14), p.MalformedFrame, "batch ends inside record 1"),
    ],
)
def test_bad_bodies(ftype: int, body: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        p.decode_body(ftype, body)
    assert type(info.value) is error


def test_every_truncation_of_every_frame_is_a_protocol_error() -> None:
    for message in all_messages():
        data = p.encode(message)
        for cut in range(3, len(data)):
            body = data[3:cut]
            try:
                result = p.decode_body(data[2], body)
            except p.ProtocolError:
                continue
            # only an ERROR with a shortened reason may still decode
            assert isinstance(result, p.Error), (message, cut)


def test_random_garbage_only_raises_protocol_errors() -> None:
    rng = random.Random(7)
    decoded = 0
    for _ in range(3000):
        garbage = rng.randbytes(rng.randrange(1, 80))
        try:
            p.decode_body(rng.choice(p.FRAME_TYPES), garbage)
            decoded += 1
        except p.ProtocolError:
            pass
        try:
            for t, b in p.FrameDecoder().feed(garbage):
                p.decode_body(t, b)
        except p.ProtocolError:
            pass
    assert decoded < 3000  # most garbage is refused; what is not is a valid ping, pong or error


def test_encoder_limits() -> None:
    record = sample_records()[0]
    with pytest.raises(p.BatchTooLarge, match="batch of 65 records, the limit is 64"):
        p.encode_batch([record] * 65, 0)
    with pytest.raises(p.MalformedFrame, match="at least one record"):
        p.encode_batch([], 0)
    with pytest.raises(p.MalformedFrame, match="AD data has at most 31 bytes, got 32"):
        p.encode_batch([p.Record(ADDR, 0, 0, 0, 0, bytes(32))], 0)
    with pytest.raises(p.MalformedFrame, match="RSSI must be -128..127, got 128"):
        p.encode_record(p.Record(ADDR, 0, 0, 128, 0, b""))
    with pytest.raises(p.MalformedFrame, match="an address has 6 bytes, got 5"):
        p.encode_record(p.Record(ADDR[:5], 0, 0, 0, 0, b""))
    with pytest.raises(p.FrameTooLarge, match="frame of 4097 bytes"):
        p.frame(p.T_ERROR, bytes(4096))
    with pytest.raises(p.MalformedFrame, match="nonce has 16 bytes, got 15"):
        p.encode_challenge(NONCE[:15])
    with pytest.raises(p.MalformedFrame, match="proof has 32 bytes, got 31"):
        p.encode_hello("a", "", bytes(31))
    with pytest.raises(p.MalformedFrame, match="proxy id must be"):
        p.encode_hello("a" * 33, "", bytes(32))
    with pytest.raises(TypeError, match="not a protocol message"):
        p.encode(object())


def test_a_long_error_reason_is_cut_on_a_character_boundary() -> None:
    reason = "x" + "é" * 150  # 301 bytes of UTF-8; byte 200 is inside a character
    error = p.decode(p.encode_error(4, reason))
    assert error.code == 4
    assert error.reason == "x" + "é" * 99
    assert p.decode(p.frame(p.T_ERROR, b"\x04bad \xff")).reason == "bad \ufffd"
