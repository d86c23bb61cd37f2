"""CRC-16/ARC: the check value, the golden vectors, and agreement with a plain bit-by-bit reference."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from integrations.command_center.dc09.crc import crc16_arc

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)


def bitwise_reference(data: bytes) -> int:
    """PROTOCOLS.md 1.2's procedure, written out bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D


def test_empty_input_is_the_initial_value() -> None:
    assert crc16_arc(b"") == 0


@pytest.mark.parametrize("vector", VECTORS["crc16_arc"], ids=lambda v: v["input"][:12])
def test_golden_vectors(vector: dict[str, str]) -> None:
    assert crc16_arc(vector["input"].encode("ascii")) == int(vector["crc"], 16)


def test_every_golden_frame_carries_the_crc_of_its_body() -> None:
    frames = (
        VECTORS["frames"] + VECTORS["wrong_length_frames"] + VECTORS["encrypted"] + VECTORS["encrypted_unknown_key"]
    )
    assert len(frames) >= 15
    for vector in frames:
        inner = vector["frame"][1:-1]
        assert crc16_arc(inner[8:].encode("ascii")) == int(inner[:4], 16), vector["source"]


def test_agrees_with_the_bitwise_reference() -> None:
    rng = random.Random(9)
    for size in [1, 2, 15, 16, 17, 255, 1000]:
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc16_arc(data) == bitwise_reference(data)


def test_is_not_modbus_or_ccitt() -> None:
    # CRC-16/MODBUS (init 0xFFFF) gives 0x4B37 and CCITT-FALSE 0x29B1 for the check string.
    assert crc16_arc(b"123456789") not in (0x4B37, 0x29B1)
