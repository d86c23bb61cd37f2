"""DC-09 AES: the worked example byte for byte, key handling, AES-192/256, both empty-data pad forms, wrong keys.

pycryptodome (pysiaalarm's AES) is the independent implementation the ciphertext is checked against.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from Crypto.Cipher import AES

from integrations.command_center.dc09.crc import crc16_arc
from integrations.command_center.dc09.crypto import PAD_ALPHABET, decrypt_block, encrypt_block, make_key, random_pad
from integrations.command_center.dc09.errors import DecryptError
from integrations.command_center.dc09.frame import Dc09Message, decode, encode

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)
WORKED: dict[str, Any] = VECTORS["encrypted"][0]
KEY = make_key(WORKED["key"])
TS = datetime(2025, 9, 25, 14, 12, 4, tzinfo=UTC)


def pad_of(text: str) -> Any:
    def pad(count: int) -> str:
        assert count == len(text)
        return text

    return pad


def reference_decrypt(hex_text: str, key: bytes) -> str:
    return AES.new(key, AES.MODE_CBC, bytes(16)).decrypt(bytes.fromhex(hex_text)).decode("ascii")


def reference_encrypt(plaintext: str, key: bytes) -> str:
    return AES.new(key, AES.MODE_CBC, bytes(16)).encrypt(plaintext.encode("ascii")).hex().upper()


def frame_of(body: str) -> bytes:
    raw = body.encode("ascii")
    return b"\n" + f"{crc16_arc(raw):04X}{len(raw):04X}".encode() + raw + b"\r"


def test_worked_example_block() -> None:
    hex_text = WORKED["frame"][WORKED["frame"].index("[") + 1 : -1]
    plaintext = WORKED["plaintext"].split("|", 1)[1]
    assert encrypt_block(plaintext, KEY, pad_of(WORKED["pad"])) == hex_text
    assert reference_decrypt(hex_text, KEY) == WORKED["plaintext"]
    assert decrypt_block(hex_text, KEY) == "#1234|Nri1/BA001]_14:12:04,09-25-2025"


def test_worked_example_frame_both_ways() -> None:
    message = Dc09Message(
        token="SIA-DCS", sequence=1, account="1234", data="#1234|Nri1/BA001", timestamp=TS, encrypted=True
    )
    frame = WORKED["frame"].encode("ascii")
    assert encode(message, key=KEY, pad=pad_of(WORKED["pad"])) == frame
    assert decode(frame, key=KEY, strict_length=True) == message
    # `encrypted` is how the message travelled: a clear message encrypts the same way with a key.
    assert encode(replace(message, encrypted=False), key=KEY, pad=pad_of(WORKED["pad"])) == frame


@pytest.mark.parametrize("key_text", ["0123456789ABCDEF01234567", "0123456789ABCDEF0123456789ABCDEF"])
def test_aes_192_and_256_round_trip(key_text: str) -> None:
    key = make_key(key_text)
    assert len(key) == len(key_text)
    message = Dc09Message(
        token="ADM-CID",
        sequence=17,
        account="ABC123",
        receiver="1",
        line="2",
        data="#ABC123|1151 01 010",
        extended=("Vhttp://hub/snap.jpg",),
        timestamp=TS,
        encrypted=True,
    )
    frame = encode(message, key=key)
    hex_text = frame.decode("ascii")[frame.decode("ascii").index("[") + 1 : -1]
    assert hex_text == hex_text.upper() and len(hex_text) % 32 == 0
    plain = reference_decrypt(hex_text, key)
    assert plain.endswith("|#ABC123|1151 01 010][Vhttp://hub/snap.jpg]_14:12:04,09-25-2025")
    assert not set(plain.split("|", 1)[0]) & set("|[]")
    assert decode(frame, key=key, strict_length=True) == message
    with pytest.raises(DecryptError, match="ABC123"):
        decode(frame, key=make_key("0123456789ABCDEF"))


@pytest.mark.parametrize("plaintext", ["ABCDEFGHIJ|]_14:12:04,09-25-2025", "0000000000000]_14:12:04,09-25-2025"])
def test_both_empty_data_forms_decrypt(plaintext: str) -> None:
    # ioBroker/dc09_spt write `pad|]_ts`; pysiaalarm and fioletoven write `pad]_ts`.
    padded = plaintext.rjust(-(-len(plaintext) // 16) * 16, "Q")
    hex_text = reference_encrypt(padded, KEY)
    assert decrypt_block(hex_text, KEY) == "]_14:12:04,09-25-2025"
    message = decode(frame_of(f'"*NULL"0005R0L0#1234[{hex_text}'), key=KEY)
    assert message == Dc09Message(
        token="NULL", sequence=5, account="1234", receiver="0", data="", timestamp=TS, encrypted=True
    )


def test_encrypted_null_writes_pad_bar_bracket() -> None:
    frame = encode(Dc09Message(token="NULL", sequence=3, account="1234", timestamp=TS), key=KEY)
    hex_text = frame.decode("ascii").split("[", 1)[1][:-1]
    assert reference_decrypt(hex_text, KEY).endswith("|]_14:12:04,09-25-2025")


@pytest.mark.parametrize("length", range(40))
def test_pad_fills_whole_blocks_with_at_least_one_character(length: int) -> None:
    asked: list[int] = []

    def pad(count: int) -> str:
        asked.append(count)
        return "Z" * count

    plaintext = "x" * length + "]"
    hex_text = encrypt_block(plaintext, KEY, pad)
    assert len(hex_text) % 32 == 0
    assert 1 <= asked[0] <= 16
    assert (asked[0] + 1 + len(plaintext)) % 16 == 0
    assert decrypt_block(hex_text, KEY) == plaintext


def test_default_pad_is_random_and_clean() -> None:
    pads = {random_pad(16) for _ in range(50)}
    assert len(pads) == 50
    assert all(len(p) == 16 and not set(p) & set("|[]") and p.isprintable() for p in pads)
    assert not set(PAD_ALPHABET) & set("|[] \r\n")
    # Two encryptions of the same message differ because of the pad.
    assert encrypt_block("#1234|NRP]_14:12:04,09-25-2025", KEY) != encrypt_block("#1234|NRP]_14:12:04,09-25-2025", KEY)


@pytest.mark.parametrize(
    ("pad", "match"),
    [(lambda n: "x" * (n + 1), "characters"), (lambda n: "|" * n, "without"), (lambda n: "\x01" * n, "printable")],
)
def test_bad_pad_functions_are_refused(pad: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encrypt_block("#1234|NRP]", KEY, pad)


def test_make_key() -> None:
    assert make_key("0123456789ABCDEF") == b"0123456789ABCDEF"
    assert make_key("00" * 16, "hex") == bytes(16)
    assert make_key("ab" * 24, "hex") == b"\xab" * 24
    assert make_key("AB" * 32, "hex") == b"\xab" * 32
    for text, key_format, match in [
        ("short", "ascii", "16, 24 or 32 characters"),
        ("0123456789ABCDEF" * 3, "ascii", "got 48"),
        ("ñ" * 16, "ascii", "ASCII"),
        ("0123456789ABCDEF", "hex", "32, 48 or 64 hex digits"),
        ("zz" * 16, "hex", "not a hex digit"),
        ("0123456789ABCDEF", "base64", "key_format"),
    ]:
        with pytest.raises(ValueError, match=match):
            make_key(text, key_format)


@pytest.mark.parametrize(
    ("hex_text", "match"),
    [("XYZ", "not hex"), ("", "whole number"), ("00" * 15, "whole number"), ("ABC", "not hex")],
)
def test_broken_ciphertext(hex_text: str, match: str) -> None:
    with pytest.raises(DecryptError, match=match):
        decrypt_block(hex_text, KEY)


def test_wrong_key_is_detected() -> None:
    hex_text = WORKED["frame"][WORKED["frame"].index("[") + 1 : -1]
    for wrong in ("0123456789ABCDEE", "FEDCBA9876543210", "0123456789ABCDEF01234567"):
        with pytest.raises(DecryptError, match="wrong key"):
            decrypt_block(hex_text, make_key(wrong))


def test_key_length_is_checked_at_use() -> None:
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        encrypt_block("x]", b"short")
