"""Modbus RTU slave: CRC, framer timing and FC03/06/16 against the PROTOCOLS.md 7.1 vectors."""

from __future__ import annotations

from typing import Any

import pytest
from tank_fakes import crc16_bitwise, hexbytes

from firmware.tank_sensor.modbus_slave import (
    ModbusSlave,
    RtuFramer,
    crc16,
    crc_ok,
    exception_reply,
    with_crc,
)
from firmware.tank_sensor.registers import STATUS_VALID, MemoryStore, RegisterMap

CHAR_9600 = 1146  # 11 bits at 9600 baud, 1145.8 us rounded up
T15_9600 = 1719
T35_9600 = 4011


def bank(version: int = 0x000A, status: int = STATUS_VALID) -> RegisterMap:
    """The state the PROTOCOLS.md reply vector describes: registers 0..1 = 0x000A, 0x0001."""
    regs = RegisterMap(MemoryStore(), firmware_version=version)
    regs.status = status
    return regs


# --- CRC ---------------------------------------------------------------------------------------


def test_crc_check_value_and_worked_examples(vectors: dict[str, Any]) -> None:
    for case in vectors["crc16_modbus"]:
        data = case["ascii"].encode() if "ascii" in case else hexbytes(case["hex"])
        assert crc16(data) == int(case["crc"], 16), case["source"]
        assert crc16_bitwise(data) == int(case["crc"], 16)


def test_every_vector_frame_has_a_good_crc(vectors: dict[str, Any]) -> None:
    frames = [hexbytes(f["hex"]) for f in vectors["frames"]]
    for exchange in vectors["exchanges"]:
        frames.append(hexbytes(exchange["request"]))
        if exchange["reply"]:
            frames.append(hexbytes(exchange["reply"]))
    for frame in frames:
        assert crc_ok(frame), frame.hex(" ")
        assert crc16_bitwise(frame[:-2]) == frame[-2] | frame[-1] << 8


def test_with_crc_sends_low_byte_first() -> None:
    assert with_crc(hexbytes("01 03 00 00 00 01")) == hexbytes("01 03 00 00 00 01 84 0A")
    assert exception_reply(1, 0x03, 0x02) == hexbytes("01 83 02 C0 F1")


def test_crc_ok_rejects_short_and_corrupt_frames() -> None:
    assert not crc_ok(b"\x01\x03\x84")
    assert not crc_ok(hexbytes("01 03 00 00 00 01 84 0B"))


# --- request handling --------------------------------------------------------------------------


def test_reply_vector_from_the_matching_state() -> None:
    slave = ModbusSlave(bank())
    reply = slave.handle_frame(hexbytes("01 03 00 00 00 02 C4 0B"))
    assert reply == hexbytes("01 03 04 00 0A 00 01 1B F1")


def test_exchanges_from_the_shared_vectors(vectors: dict[str, Any]) -> None:
    for exchange in vectors["exchanges"]:
        slave = ModbusSlave(bank())
        reply = slave.handle_frame(hexbytes(exchange["request"]))
        expected = hexbytes(exchange["reply"]) if exchange["reply"] else None
        assert reply == expected, exchange["name"]


def test_illegal_address_reply_vector() -> None:
    slave = ModbusSlave(bank())
    assert slave.handle_frame(with_crc(hexbytes("01 03 00 32 00 01"))) == hexbytes("01 83 02 C0 F1")
    # Reaching past 0x0031 from inside the map is illegal too; ending on it is fine.
    assert slave.handle_frame(with_crc(hexbytes("01 03 00 30 00 03"))) == hexbytes("01 83 02 C0 F1")
    reply = slave.handle_frame(with_crc(hexbytes("01 03 00 00 00 21")))
    assert reply is not None and reply[:3] == hexbytes("01 03 42")
    assert reply[-4:-2] == hexbytes("4D 54")  # 0x0020 model id "MT"
    reply = slave.handle_frame(with_crc(hexbytes("01 03 00 00 00 32")))
    assert reply is not None and reply[:3] == hexbytes("01 03 64")


def test_protocol_write_vectors_hit_read_only_registers_in_our_map() -> None:
    regs = bank()
    slave = ModbusSlave(regs)
    assert slave.handle_frame(hexbytes("01 06 00 01 00 03 98 0B")) == exception_reply(1, 6, 2)
    fc16 = hexbytes("01 10 00 01 00 02 04 00 0A 01 02 92 30")
    assert slave.handle_frame(fc16) == exception_reply(1, 0x10, 2)
    assert regs.status == STATUS_VALID


def test_write_single_echoes_the_request() -> None:
    regs = bank()
    request = with_crc(hexbytes("01 06 00 12 05 DC"))
    assert ModbusSlave(regs).handle_frame(request) == request
    assert regs.mount_mm == 1500


def test_write_multiple_replies_start_and_quantity() -> None:
    regs = bank()
    request = with_crc(hexbytes("01 10 00 12 00 02 04 05 DC 00 01"))
    reply = ModbusSlave(regs).handle_frame(request)
    assert reply == with_crc(hexbytes("01 10 00 12 00 02"))
    assert (regs.mount_mm, regs.mode) == (1500, 1)


@pytest.mark.parametrize(
    ("request_hex", "code"),
    [
        ("01 04 00 00 00 01", 0x01),  # input registers: not implemented
        ("01 2B 0E 01 00", 0x01),  # device identification: not implemented
        ("01 03 00 00 00 00", 0x03),  # quantity 0
        ("01 03 00 00 00 7E", 0x03),  # quantity 126
        ("01 03 00 00 00", 0x03),  # truncated PDU
        ("01 06 00 10 00 00", 0x03),  # unit id 0
        ("01 06 00 10 00 F8", 0x03),  # unit id 248
        ("01 06 00 11 00 08", 0x03),  # baud code 8
        ("01 06 00 13 00 02", 0x03),  # mode 2
        ("01 06 00 12 00 00", 0x03),  # mount height 0
        ("01 06 00 00 01 00", 0x02),  # firmware version is read-only
        ("01 06 00 17 00 01", 0x02),  # gap: not writable
        ("01 06 00 14 00 02", 0x03),  # commodity 2
        ("01 10 00 12 00 02 03 05 DC 00", 0x03),  # byte count disagrees with quantity
        ("01 10 00 12 00 00 00", 0x03),  # quantity 0
        ("01 10 00 16 00 02 04 00 01 00 01", 0x02),  # runs past the settings into 0x0017
    ],
)
def test_exception_replies(request_hex: str, code: int) -> None:
    request = with_crc(hexbytes(request_hex))
    assert ModbusSlave(bank()).handle_frame(request) == exception_reply(1, request[1], code)


def test_write_multiple_is_all_or_nothing() -> None:
    regs = bank()
    request = with_crc(hexbytes("01 10 00 12 00 02 04 05 DC 00 07"))  # mode 7 is invalid
    assert ModbusSlave(regs).handle_frame(request) == exception_reply(1, 0x10, 3)
    assert (regs.mount_mm, regs.mode) == (2000, 0)


def test_other_units_are_ignored_silently() -> None:
    regs = bank()
    slave = ModbusSlave(regs)
    assert slave.handle_frame(with_crc(hexbytes("02 03 00 00 00 01"))) is None
    assert slave.handle_frame(with_crc(hexbytes("02 06 00 12 05 DC"))) is None
    assert regs.mount_mm == 2000
    assert slave.ignored == 2


def test_broadcast_writes_without_reply_and_never_answers_reads() -> None:
    regs = bank()
    slave = ModbusSlave(regs)
    assert slave.handle_frame(with_crc(hexbytes("00 06 00 12 05 DC"))) is None
    assert regs.mount_mm == 1500
    assert slave.handle_frame(with_crc(hexbytes("00 06 00 01 00 01"))) is None  # even an error
    assert slave.handle_frame(with_crc(hexbytes("00 03 00 00 00 01"))) is None


def test_bad_crc_is_counted_in_register_6_and_not_answered() -> None:
    regs = bank()
    slave = ModbusSlave(regs)
    assert slave.handle_frame(hexbytes("01 03 00 00 00 01 84 0B")) is None
    assert slave.handle_frame(hexbytes("07 03 00 00 00 01 00 00")) is None  # any unit counts
    assert slave.handle_frame(b"\x00\xff") is None  # line noise is not a CRC error
    reply = slave.handle_frame(with_crc(hexbytes("01 03 00 06 00 01")))
    assert reply == with_crc(hexbytes("01 03 02 00 02"))


# --- framer ------------------------------------------------------------------------------------

FRAME = hexbytes("01 03 00 00 00 01 84 0A")


def feed_bytewise(framer: RtuFramer, data: bytes, start_us: int) -> tuple[list[bytes], int]:
    frames: list[bytes] = []
    now = start_us
    for byte in data:
        now += CHAR_9600
        frames += framer.feed(bytes([byte]), now)
    return frames, now


def test_framer_timing_constants() -> None:
    assert (RtuFramer(9600).char_us(), RtuFramer(9600).t35_us()) == (CHAR_9600, T35_9600)
    assert RtuFramer(19200).t35_us() == 2006  # 2.005 ms, rounded up
    assert RtuFramer(38400).t35_us() == 1750  # fixed above 19200
    assert RtuFramer(115200).t35_us() == 1750


def test_framer_whole_frame_ends_after_t35() -> None:
    framer = RtuFramer(9600)
    assert framer.feed(FRAME, 10_000) == []
    assert framer.poll(10_000 + T35_9600 - 2) is None
    assert not framer.idle(10_000 + T35_9600 - 2)
    assert framer.poll(10_000 + T35_9600) == FRAME
    assert framer.idle(10_000 + T35_9600)
    assert framer.poll(50_000) is None


def test_framer_byte_by_byte() -> None:
    framer = RtuFramer(9600)
    frames, last = feed_bytewise(framer, FRAME, 0)
    assert frames == []
    assert framer.feed(b"", last + T35_9600) == [FRAME]


def test_framer_five_frames_back_to_back(vectors: dict[str, Any]) -> None:
    requests = [hexbytes(e["request"]) for e in vectors["exchanges"]][:5]
    framer = RtuFramer(9600)
    got: list[bytes] = []
    now = 0
    for request in requests:
        # The chunk's timestamp is its last byte; its first byte starts t3.5 after the previous.
        now += T35_9600 + len(request) * CHAR_9600
        got += framer.feed(request, now)
    got += framer.feed(b"", now + T35_9600)
    assert got == requests


def test_framer_five_frames_byte_by_byte() -> None:
    framer = RtuFramer(9600)
    got: list[bytes] = []
    now = 0
    for _ in range(5):
        frames, now = feed_bytewise(framer, FRAME, now)
        got += frames
        now += T35_9600
    got += framer.feed(b"", now)
    assert got == [FRAME] * 5


def test_framer_discards_a_frame_with_a_gap_over_t15_inside() -> None:
    framer = RtuFramer(9600)
    assert framer.feed(FRAME[:4], 4 * CHAR_9600) == []
    # Second half starts t1.5 + 10 us after the first half ended: spoiled, not split.
    now = 4 * CHAR_9600 + T15_9600 + 10 + 4 * CHAR_9600
    assert framer.feed(FRAME[4:], now) == []
    assert framer.poll(now + T35_9600) is None
    assert framer.discarded == 1
    # The next frame after the silence is fine.
    now += T35_9600 + len(FRAME) * CHAR_9600
    framer.feed(FRAME, now)
    assert framer.poll(now + T35_9600) == FRAME


def test_framer_keeps_a_frame_with_a_gap_up_to_t15() -> None:
    framer = RtuFramer(9600)
    framer.feed(FRAME[:4], 4 * CHAR_9600)
    now = 4 * CHAR_9600 + T15_9600 - 2 + 4 * CHAR_9600
    framer.feed(FRAME[4:], now)
    assert framer.poll(now + T35_9600) == FRAME


def test_framer_splits_garbage_from_the_next_frame() -> None:
    regs = bank()
    slave = ModbusSlave(regs)
    framer = RtuFramer(9600)
    garbage = bytes([0xFF, 0x13, 0x00, 0x9A, 0x42, 0x07])
    now = len(garbage) * CHAR_9600
    frames = framer.feed(garbage, now)
    now += T35_9600 + len(FRAME) * CHAR_9600
    frames += framer.feed(FRAME, now)
    frames += framer.feed(b"", now + T35_9600)
    assert frames == [garbage, FRAME]
    replies = [slave.handle_frame(frame) for frame in frames]
    assert replies == [None, with_crc(hexbytes("01 03 02 00 0A"))]
    assert regs.crc_errors == 1


def test_framer_drops_an_oversized_frame() -> None:
    framer = RtuFramer(115200)
    framer.feed(bytes(300), 10_000)
    assert framer.poll(20_000) is None
    assert framer.discarded == 1


def test_framer_at_high_baud_uses_fixed_timing() -> None:
    framer = RtuFramer(115200)
    char = 96  # 11 bits at 115200: 95.5 us
    framer.feed(FRAME[:4], 1_000)
    # An 800 us pause is more than the fixed 750 us t1.5: the frame is spoiled.
    framer.feed(FRAME[4:], 1_000 + 800 + 4 * char)
    assert framer.poll(10_000) is None
    framer.feed(FRAME, 20_000)
    assert framer.poll(20_000 + 1749) is None
    assert framer.poll(20_000 + 1750) == FRAME
