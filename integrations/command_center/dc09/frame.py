"""DC-09 frames: `LF CRC 0LLL "ID" seq [Rrcvr] Lpref #acct [data] [xdata]... [_timestamp] CR`.

The CRC (CRC-16/ARC, 4 uppercase hex) and the length (`0` + 3 hex digits) cover the body, from the
opening quote of the ID token to the last character before CR. Encrypted frames carry `*` inside the
quotes and, after the `[` that opens the data, the hex of `pad|data]xdata..._timestamp`.

Decoding is tolerant where real senders differ and the CRC still vouches for the bytes: a wrong
length (unless `strict_length`), R and L in either order, pysiaalarm's `None` in place of a missing
receiver, NAK's `A0` in place of `#acct`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from integrations.command_center.dc09.crc import crc16_arc
from integrations.command_center.dc09.crypto import decrypt_block, encrypt_block
from integrations.command_center.dc09.errors import (
    CrcError,
    DataError,
    DecryptError,
    FramingError,
    LengthError,
)

LF = b"\n"
CR = b"\r"
TOKENS = ("SIA-DCS", "ADM-CID", "NULL", "ACK", "NAK", "DUH", "RSP")
MAX_SEQUENCE = 9999
MAX_BODY = 0xFFF  # the length field is `0` plus three hex digits
NAK_ACCOUNT = "A0"  # a NAK names no account: `R0L0A0`
_TIMESTAMP_FORMAT = "_%H:%M:%S,%m-%d-%Y"

_HEADER = re.compile(r'"(?P<star>\*?)(?P<token>[A-Z][A-Z-]*)"(?P<seq>[0-9]{4})')
_RECEIVER_FIRST = r"(?:R(?P<r1>[0-9A-Fa-f]{1,6})|(?P<none>None))?"
_RECEIVER_LAST = r"(?:R(?P<r2>[0-9A-Fa-f]{1,6}))?"
_ROUTING = re.compile(
    _RECEIVER_FIRST + r"L(?P<line>[0-9A-Fa-f]{0,6})" + _RECEIVER_LAST + r"(?:#(?P<acct>[0-9A-Fa-f]{1,16}))?"
)
# `A0` is hex too: without the lazy line, `L0A0` would read as line `0A0` and no account.
_NAK_ROUTING = re.compile(
    _RECEIVER_FIRST + r"L(?P<line>[0-9A-Fa-f]{0,6}?)" + _RECEIVER_LAST + r"(?P<acct>A[0-9A-Fa-f]?)"
)
_TIMESTAMP = re.compile(r"_(\d{2}):(\d{2}):(\d{2}),(\d{2})-(\d{2})-(\d{4})")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_ACCOUNT = re.compile(r"[0-9A-F]{3,16}")
_ROUTE_VALUE = re.compile(r"[0-9A-Fa-f]{0,6}")


@dataclass(frozen=True, kw_only=True)
class Dc09Message:
    """One DC-09 message, independent of its encryption; `encrypted` says how it travelled."""

    token: str
    sequence: int
    account: str
    line: str = "0"
    receiver: str | None = None
    data: str = ""
    extended: tuple[str, ...] = ()
    timestamp: datetime | None = None
    encrypted: bool = False


def format_timestamp(dt: datetime) -> str:
    """`_HH:MM:SS,MM-DD-YYYY` in UTC, the DC-09 timestamp field."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise DataError("a DC-09 timestamp needs an aware datetime (it is sent in UTC)")
    return dt.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a `_HH:MM:SS,MM-DD-YYYY` field."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        raise DataError(f"malformed DC-09 timestamp {text!r}: expected _HH:MM:SS,MM-DD-YYYY")
    hour, minute, second, month, day, year = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise DataError(f"impossible DC-09 timestamp {text!r}: {exc}") from None


def _check_block(name: str, text: str) -> None:
    """Data and xdata travel between brackets in an ASCII line: no brackets, no control characters."""
    if not text.isascii() or not text.isprintable():
        raise DataError(f"the {name} block must be printable ASCII, got {text!r}")
    if "[" in text or "]" in text:
        raise DataError(f"the {name} block cannot contain '[' or ']', got {text!r}")


def _account_field(message: Dc09Message) -> str:
    if message.account == "":
        return ""
    if message.token == "NAK" and message.account == NAK_ACCOUNT:
        return NAK_ACCOUNT
    if not _ACCOUNT.fullmatch(message.account):
        raise DataError(
            f"account {message.account!r} must be 3-16 upper-case hex digits "
            "(receivers such as pysiaalarm refuse lower case)"
        )
    return f"#{message.account}"


def _header(message: Dc09Message, encrypted: bool) -> str:
    if message.token not in TOKENS:
        raise DataError(f"unknown DC-09 token {message.token!r}; expected one of {', '.join(TOKENS)}")
    if not 0 <= message.sequence <= MAX_SEQUENCE:
        raise DataError(f"sequence must be 0..{MAX_SEQUENCE}, got {message.sequence}")
    if message.receiver is not None and not (message.receiver and _ROUTE_VALUE.fullmatch(message.receiver)):
        raise DataError(f"receiver must be 1-6 hex digits, got {message.receiver!r}")
    if not _ROUTE_VALUE.fullmatch(message.line):
        raise DataError(f"line must be 0-6 hex digits, got {message.line!r}")
    star = "*" if encrypted else ""
    receiver = "" if message.receiver is None else f"R{message.receiver}"
    return f'"{star}{message.token}"{message.sequence:04d}{receiver}L{message.line}{_account_field(message)}['


def encode(message: Dc09Message, *, key: bytes | None = None, pad: Callable[[int], str] | None = None) -> bytes:
    """The frame bytes (LF ... CR) of `message`; with `key` it is encrypted and needs a timestamp."""
    if message.encrypted and key is None:
        raise DataError("the message is marked encrypted but no key was given")
    encrypted = key is not None
    if encrypted and message.token == "NAK":
        raise DataError("a NAK is never encrypted")
    if encrypted and message.timestamp is None:
        raise DataError("an encrypted DC-09 message needs a timestamp (it is the replay protection)")
    _check_block("data", message.data)
    for block in message.extended:
        _check_block("xdata", block)
        if not block:
            raise DataError("an xdata block cannot be empty: its first character is its type")
    tail = f"{message.data}]" + "".join(f"[{block}]" for block in message.extended)
    if message.timestamp is not None:
        tail += format_timestamp(message.timestamp)
    header = _header(message, encrypted)
    body = header + (encrypt_block(tail, key, pad) if key is not None else tail)
    if len(body) > MAX_BODY:
        raise DataError(f"the frame body is {len(body)} bytes; the length field holds at most {MAX_BODY}")
    raw = body.encode("ascii")
    return LF + f"{crc16_arc(raw):04X}{len(raw):04X}".encode("ascii") + raw + CR


def _split_content(content: str) -> tuple[str, tuple[str, ...], datetime | None]:
    """(data, xdata blocks, timestamp) of `data][xdata]..._timestamp` (the text after the first '[')."""
    end = content.find("]")
    if end < 0:
        raise FramingError("the data block has no closing ']'")
    data = content[:end]
    if "[" in data:
        raise FramingError(f"the data block {data!r} contains '['")
    rest = content[end + 1 :]
    extended: list[str] = []
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise FramingError("an xdata block has no closing ']'")
        block = rest[1:end]
        if "[" in block:
            raise FramingError(f"the xdata block {block!r} contains '['")
        extended.append(block)
        rest = rest[end + 1 :]
    timestamp = parse_timestamp(rest) if rest else None
    return data, tuple(extended), timestamp


def decode(frame: bytes, *, key: bytes | None = None, strict_length: bool = False) -> Dc09Message:
    """The message in one frame (LF ... CR); the CRC is always checked, the length only when strict."""
    if not (frame.startswith(LF) and frame.endswith(CR)) or len(frame) < 2:
        raise FramingError(f"a DC-09 frame runs from LF to CR, got {frame[:40]!r}")
    try:
        inner = frame[1:-1].decode("ascii")
    except UnicodeDecodeError:
        raise FramingError("a DC-09 frame is ASCII text") from None
    if len(inner) < 8 or not _HEX.fullmatch(inner[:8]):
        raise FramingError(f"a DC-09 frame starts with 4 hex digits of CRC and 4 of length, got {inner[:8]!r}")
    body = inner[8:]
    crc, length = int(inner[:4], 16), int(inner[4:8], 16)
    actual_crc = crc16_arc(body.encode("ascii"))
    if crc != actual_crc:
        raise CrcError(f"CRC mismatch: the frame says {crc:04X}, the body gives {actual_crc:04X}")
    if strict_length and length != len(body):
        raise LengthError(f"length mismatch: the frame says {length:#05x}, the body has {len(body):#05x} bytes")

    header = _HEADER.match(body)
    if not header:
        raise FramingError(f'the body does not start with "ID" and a 4-digit sequence: {body[:24]!r}')
    token, encrypted = header["token"], bool(header["star"])
    if token not in TOKENS:
        raise FramingError(f"unsupported DC-09 token {token!r}")
    bracket = body.find("[", header.end())
    if bracket < 0:
        raise FramingError("the frame has no data block '['")
    routing_text = body[header.end() : bracket]
    routing = (token == "NAK" and _NAK_ROUTING.fullmatch(routing_text)) or _ROUTING.fullmatch(routing_text)
    if not routing:
        raise FramingError(f"malformed receiver/line/account fields {routing_text!r}")
    account = routing["acct"] or ""

    content = body[bracket + 1 :]
    if encrypted:
        if key is None:
            raise DecryptError(f"encrypted message for account {account or '?'} and no key for it")
        try:
            content = decrypt_block(content, key)
        except DecryptError as exc:
            raise DecryptError(f"account {account or '?'}: {exc}") from None
    data, extended, timestamp = _split_content(content)
    return Dc09Message(
        token=token,
        sequence=int(header["seq"]),
        account=account,
        line=routing["line"],
        receiver=routing["r1"] if routing["r1"] is not None else routing["r2"],
        data=data,
        extended=extended,
        timestamp=timestamp,
        encrypted=encrypted,
    )


class FrameSplitter:
    """Cuts a TCP byte stream into whole frames (LF ... CR), skipping whatever lies between them."""

    def __init__(self, max_frame: int = 4096) -> None:
        self._max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by `data`; FramingError (buffer dropped) when one outgrows `max_frame`."""
        self._buffer += data
        frames: list[bytes] = []
        while True:
            start = self._buffer.find(LF)
            if start < 0:
                self._buffer.clear()  # no frame has started: it is all garbage
                break
            del self._buffer[:start]
            end = self._buffer.find(CR)
            if end < 0:
                break
            # A frame never contains LF: a later LF means the earlier start was garbage.
            candidate = self._buffer[: end + 1]
            frames.append(bytes(candidate[candidate.rfind(LF) :]))
            del self._buffer[: end + 1]
        if len(self._buffer) > self._max_frame:
            size = len(self._buffer)
            self._buffer.clear()
            raise FramingError(f"no CR within {size} bytes of a frame start (limit {self._max_frame}); dropped")
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame waiting for its CR."""
        return len(self._buffer)


__all__ = [
    "MAX_SEQUENCE",
    "NAK_ACCOUNT",
    "TOKENS",
    "Dc09Message",
    "FrameSplitter",
    "decode",
    "encode",
    "format_timestamp",
    "parse_timestamp",
]
