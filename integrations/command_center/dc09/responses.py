"""The receiver's answers (ACK, NAK, DUH, RSP): parse them, read the NAK clock, build them for test peers.

ACK accepts; NAK rejects and carries the receiver's UTC time (resend with the clock corrected and
the same sequence number); DUH means the message arrived intact but is not acceptable (do not resend
the same content); RSP is an ACK that carries data. A NAK is never encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from integrations.command_center.dc09.errors import DataError
from integrations.command_center.dc09.frame import NAK_ACCOUNT, Dc09Message, decode, encode

RESPONSE_KINDS = ("ACK", "NAK", "DUH", "RSP")
# pysiaalarm answers a clear-text message for an unknown account with these bare tokens, unframed.
_BARE = {b'"NAK"': "NAK", b'"DUH"': "DUH"}


@dataclass(frozen=True)
class Response:
    """A parsed answer: what kind, to which sequence and account, at what receiver time."""

    kind: str
    sequence: int
    account: str
    timestamp: datetime | None
    message: Dc09Message


def parse_response(frame: bytes, *, key: bytes | None = None) -> Response:
    """The answer in `frame` (ACK, *ACK, NAK, DUH, RSP); any other message is a DataError."""
    bare = _BARE.get(frame.strip(b"\r\n"))
    if bare is not None:
        message = Dc09Message(token=bare, sequence=0, account="", line="")
    else:
        message = decode(frame, key=key)
    if message.token not in RESPONSE_KINDS:
        raise DataError(f"expected a receiver answer ({', '.join(RESPONSE_KINDS)}), got {message.token}")
    return Response(
        kind=message.token,
        sequence=message.sequence,
        account=message.account,
        timestamp=message.timestamp,
        message=message,
    )


def nak_clock_offset(nak: Response, now: datetime) -> float:
    """Receiver time minus our time in seconds, from a NAK's timestamp (0.0 when it carries none)."""
    if nak.kind != "NAK":
        raise DataError(f"only a NAK carries the receiver's clock, got {nak.kind}")
    if now.tzinfo is None:
        raise DataError("now must be an aware datetime")
    if nak.timestamp is None:
        return 0.0
    return (nak.timestamp - now).total_seconds()


def build_ack(request: Dc09Message, *, key: bytes | None = None, now: datetime | None = None) -> bytes:
    """The ACK a receiver sends for `request`; encrypted (with a timestamp) when the request was."""
    if request.encrypted:
        if key is None:
            raise DataError("an encrypted request needs an encrypted ACK: give the key")
        stamp = now if now is not None else datetime.now(UTC)
        ack = _echo(request, "ACK", timestamp=stamp.replace(microsecond=0), encrypted=True)
        return encode(ack, key=key)
    return encode(_echo(request, "ACK", timestamp=None, encrypted=False))


def build_nak(now: datetime) -> bytes:
    """A receiver's NAK: `"NAK"0000R0L0A0[]_<receiver UTC time>`."""
    nak = Dc09Message(
        token="NAK", sequence=0, account=NAK_ACCOUNT, line="0", receiver="0", timestamp=now.replace(microsecond=0)
    )
    return encode(nak)


def build_duh(request: Dc09Message) -> bytes:
    """A receiver's DUH for `request` (echoes sequence, receiver, line and account; never encrypted)."""
    return encode(_echo(request, "DUH", timestamp=None, encrypted=False))


def _echo(request: Dc09Message, token: str, *, timestamp: datetime | None, encrypted: bool) -> Dc09Message:
    return Dc09Message(
        token=token,
        sequence=request.sequence,
        account=request.account,
        line=request.line,
        receiver=request.receiver,
        timestamp=timestamp,
        encrypted=encrypted,
    )


__all__ = ["RESPONSE_KINDS", "Response", "build_ack", "build_duh", "build_nak", "nak_clock_offset", "parse_response"]
