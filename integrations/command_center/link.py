"""`Dc09Link`: one DC-09 receiver over TCP or UDP: send a message, wait for its ACK, resync on NAK.

TCP keeps its connection open between messages (the 2013 edition allows it, and it saves a
handshake on the alarm path) and reconnects after any error; UDP sends one datagram per message.
One message is in flight at a time (receivers such as pysiaalarm read one frame per read). The
answer is matched by sequence and account; a NAK carries the receiver's clock, so the link keeps
the offset, rebuilds the frame with the corrected timestamp and the same sequence number and sends
it once more at once. A DUH is permanent for that message. Every wait runs on the hub's clock.

Error tree (hub.errors)::

    TransientError
      LinkError                    the receiver did not take the message; retried with backoff
        ReceiverUnreachable        connection refused / reset / closed, no route
        AckTimeout                 no answer within ack_timeout
        BadAnswer                  an answer we cannot read, or one for another message only
        ReceiverRejected           NAK again after the clock resync (account, key or clock)
    PermanentError
      ReceiverRefused              DUH: the receiver does not accept this code; do not resend it
      Unsendable                   a field the codec cannot frame (never reaches the wire)
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from hub.clock import Clock, Timer
from hub.errors import PermanentError, TransientError

from .dc09 import Dc09Error, Dc09Message, FrameSplitter, Response, encode, nak_clock_offset, parse_response

_LOGGER = logging.getLogger(__name__)

PROTOCOLS = ("tcp", "udp")
_READ_SIZE = 4096
_BARE_ANSWERS = (b'"NAK"', b'"DUH"', b'"ACK"')  # pysiaalarm's unframed answers


class LinkError(TransientError):
    """The receiver did not take the message this time; `reason` is the short text for the dashboard."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}")
        self.label = label
        self.reason = reason


class ReceiverUnreachable(LinkError):
    """No connection: refused, reset, closed by the receiver, no route."""


class AckTimeout(LinkError):
    """The receiver did not answer within ack_timeout."""


class BadAnswer(LinkError):
    """The answer could not be read (CRC, framing, decryption) or did not fit the message."""


class ReceiverRejected(LinkError):
    """NAK again after resyncing the clock: the receiver refuses our account, key or time."""


class ReceiverRefused(PermanentError):
    """DUH: the receiver got the message intact and does not accept it; resending cannot help."""

    def __init__(self, label: str, what: str) -> None:
        super().__init__(f"{label}: receiver does not accept {what}")
        self.label = label
        self.reason = f"receiver does not accept {what}"


class Unsendable(PermanentError):
    """The message cannot be put in a frame at all (a field the codec refuses); resending cannot help."""


class ClockTimeout:
    """`async with ClockTimeout(clock, seconds):` raises TimeoutError when the hub clock passes the deadline."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._timer: Timer | None = None
        self._cancelling = 0
        self.expired = False

    async def __aenter__(self) -> Self:
        self._task = asyncio.current_task()
        if self._task is not None:
            self._cancelling = self._task.cancelling()
        self._timer = self._clock.call_later(self._seconds, self._expire)
        return self

    def _expire(self) -> None:
        if self._task is not None and not self._task.done():
            self.expired = True
            self._task.cancel()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        # Our own cancel, not the caller's, becomes a timeout (as asyncio.timeout does).
        expired = self.expired and exc_type is asyncio.CancelledError and self._task is not None
        if expired and self._task is not None and self._task.uncancel() <= self._cancelling:
            raise TimeoutError


def describe(message: Dc09Message) -> str:
    """What a DUH refused, for people: the token and the data block (which carries the code)."""
    data = message.data.partition("|")[2] or message.data
    return f"{message.token} {data}".strip()


def _reason(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, ConnectionResetError):
        return "connection reset by the receiver"
    if isinstance(err, OSError) and err.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to the receiver"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror.lower()
    return str(err) or type(err).__name__


class _Datagrams(asyncio.DatagramProtocol):
    """Collects the answers of one UDP exchange; an ICMP refusal becomes an error."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


class Dc09Link:
    """One receiver: `await send(message)` returns its ACK (or RSP) or raises a LinkError / ReceiverRefused."""

    def __init__(
        self,
        host: str,
        port: int,
        protocol: str,
        *,
        key: bytes | None,
        account: str,
        line: str,
        receiver: str | None,
        ack_timeout: float,
        clock: Clock,
        name: str = "receiver",
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.host, self.port, self.protocol = host, port, protocol
        self.key = key
        self.account, self.line, self.receiver = account, line, receiver
        self.ack_timeout = ack_timeout
        self.name = name
        self.label = f"{name} {host}:{port}"
        self.clock_offset = 0.0  # receiver time minus hub time, learnt from the last NAK
        self._clock = clock
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._splitter = FrameSplitter()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}/{self.protocol}"

    def message(self, token: str, sequence: int, data: str = "", extended: tuple[str, ...] = ()) -> Dc09Message:
        """A message from this link's account, line and receiver (timestamped when sent)."""
        return Dc09Message(token=token, sequence=sequence, account=self.account, line=self.line,
                           receiver=self.receiver, data=data, extended=extended,
                           encrypted=self.key is not None)  # fmt: skip

    def now(self) -> datetime:
        """The time to stamp on a frame: the hub's clock corrected by the receiver's offset."""
        return (self._clock.now() + timedelta(seconds=self.clock_offset)).replace(microsecond=0)

    async def send(self, message: Dc09Message) -> Response:
        """Send `message` (timestamped now) and return the receiver's ACK; one message at a time."""
        async with self._lock:
            response = await self._attempt(message)
            if response.kind == "NAK":
                if response.timestamp is not None:  # a bare NAK says nothing about the clock
                    self.clock_offset = nak_clock_offset(response, self._clock.now())
                _LOGGER.info("%s: NAK; receiver clock is %+.0f s from ours, resending %04d with its time",
                             self.label, self.clock_offset, message.sequence)  # fmt: skip
                response = await self._attempt(message)
                if response.kind == "NAK":
                    raise ReceiverRejected(self.label, "NAK after resyncing the clock (check the account and key)")
            if response.kind == "DUH":
                raise ReceiverRefused(self.label, describe(message))
            return response

    async def close(self) -> None:
        """Close the TCP connection, if any (the next send reconnects)."""
        writer, self._reader, self._writer = self._writer, None, None
        self._splitter = FrameSplitter()
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass

    # -- one exchange --------------------------------------------------------------------------------

    async def _attempt(self, message: Dc09Message) -> Response:
        stamped = replace(message, timestamp=self.now())
        try:
            frame = encode(stamped, key=self.key)
        except Dc09Error as err:
            raise Unsendable(f"{self.label}: {describe(message)} cannot be framed: {err}") from None
        if self.protocol == "udp":
            return await self._guarded(self._exchange_udp(frame, stamped))
        reused = self._writer is not None
        try:
            return await self._guarded(self._exchange_tcp(frame, stamped))
        except ReceiverUnreachable:
            if not reused:
                raise
            # The receiver may have closed an idle connection: one fresh connection before giving up.
            _LOGGER.debug("%s: kept connection failed; reconnecting once", self.label)
            return await self._guarded(self._exchange_tcp(frame, stamped))

    async def _guarded(self, exchange: Coroutine[Any, Any, Response]) -> Response:
        """Bound the exchange by ack_timeout on the hub clock and turn failures into LinkErrors."""
        try:
            async with ClockTimeout(self._clock, self.ack_timeout):
                return await exchange
        except LinkError:
            await self.close()
            raise
        except TimeoutError:
            await self.close()
            raise AckTimeout(self.label, f"no answer within {self.ack_timeout:g} s") from None
        except Dc09Error as err:
            await self.close()
            raise BadAnswer(self.label, f"unreadable answer: {err}") from None
        except OSError as err:
            await self.close()
            raise ReceiverUnreachable(self.label, _reason(err)) from None
        except BaseException:
            await self.close()  # cancelled mid-exchange: the stream state is unknown
            raise

    async def _exchange_tcp(self, frame: bytes, message: Dc09Message) -> Response:
        if self._writer is None or self._reader is None or self._reader.at_eof():
            await self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None and self._writer is not None
        self._writer.write(frame)
        await self._writer.drain()
        while True:
            data = await self._reader.read(_READ_SIZE)
            if not data:
                raise ReceiverUnreachable(self.label, "connection closed by the receiver")
            response = self._answer(data, message)
            if response is not None:
                return response

    async def _exchange_udp(self, frame: bytes, message: Dc09Message) -> Response:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(_Datagrams, remote_addr=(self.host, self.port))
        try:
            transport.sendto(frame)
            while True:
                item = await protocol.queue.get()
                if isinstance(item, Exception):
                    raise item
                self._splitter = FrameSplitter()  # each datagram stands alone
                response = self._answer(item, message)
                if response is not None:
                    return response
        finally:
            transport.close()

    def _answer(self, data: bytes, message: Dc09Message) -> Response | None:
        """The answer to `message` among the frames in `data`; None while it has not come."""
        if data.strip(b"\r\n") in _BARE_ANSWERS and self._splitter.pending == 0:
            return self._match(parse_response(data, key=self.key), message)
        frames = self._splitter.feed(data)
        if not frames and self._splitter.pending == 0:
            raise BadAnswer(self.label, f"unreadable answer {data[:40]!r}")
        for frame in frames:
            response = self._match(parse_response(frame, key=self.key), message)
            if response is not None:
                return response
        return None

    def _match(self, response: Response, message: Dc09Message) -> Response | None:
        if response.kind == "NAK":
            return response  # a NAK carries sequence 0000 and no account: it answers what is in flight
        if response.sequence != message.sequence or (response.account and response.account != message.account):
            # A late answer to an earlier message (after a timeout): not ours, keep waiting.
            _LOGGER.debug("%s: ignoring %s %04d #%s while waiting for %04d", self.label, response.kind,
                          response.sequence, response.account, message.sequence)  # fmt: skip
            return None
        return response


__all__ = [
    "AckTimeout",
    "BadAnswer",
    "ClockTimeout",
    "Dc09Link",
    "LinkError",
    "ReceiverRefused",
    "ReceiverRejected",
    "ReceiverUnreachable",
    "Unsendable",
    "describe",
]
