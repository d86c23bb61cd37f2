"""The hub's BLE proxy endpoint: a TCP server speaking firmware/ble_proxy/protocol.py.

The protocol module is the one implementation the firmware, the simulator and the hub share, so
this file only adds the server's side: a fresh nonce per connection, the proof checked against the
configured token (constant time, and the same work for an unknown id), refusals with the
protocol's ERROR frame, keepalive, and each record turned into an `Advertisement` dated on the hub's
clock as (batch arrival - record age). Socket timeouts run on the event loop's time: they guard a
real socket, not the hub's schedule. Tokens of paired proxies (config entries) come and go while it
runs (`add_token` / `remove_token`); a removed proxy's live link is closed with E_UNKNOWN_PROXY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from firmware.ble_proxy import ad, protocol
from integrations.ble_climate.models import Advertisement

if TYPE_CHECKING:
    from hub.clock import Clock

_LOGGER = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
PING_INTERVAL_S = 15.0
IDLE_TIMEOUT_S = 45.0
MAX_CONNECTIONS = 32  # live and handshaking together; more are closed at once
NAMES_KEPT = 512  # local names from scan responses, per connection
_READ = 8192
# A proxy advertising a name it does not have: the proof check still runs, against this.
_DUMMY_TOKEN = b"\x00" * 32


def source_of(proxy_id: str) -> str:
    """The `Advertisement.source` of a proxy's records."""
    return f"proxy:{proxy_id}"


@dataclass(frozen=True, kw_only=True)
class ProxyStatus:
    """What a proxy's connectivity sensor shows."""

    proxy_id: str
    connected: bool = False
    peer: str | None = None
    firmware: str | None = None
    connected_since: float | None = None
    last_batch: float | None = None
    records: int = 0
    dropped: int = 0  # records the proxy lost to buffer overflow, as it reports them
    bad_records: int = 0  # records whose AD data did not parse
    last_error: str | None = None
    # Why a proxy that was just given a token has not connected yet; cleared when it gets in.
    waiting: str | None = None


class _Refused(Exception):
    """Close this connection with an ERROR frame."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Closed(Exception):
    """The peer went away or said goodbye."""


class _Session:
    """One authenticated connection; replaced when the same proxy connects again."""

    def __init__(self, proxy_id: str, writer: asyncio.StreamWriter, task: asyncio.Task[Any] | None) -> None:
        self.proxy_id = proxy_id
        self.writer = writer
        self.task = task
        self.names: OrderedDict[str, str] = OrderedDict()


class ProxyServer:
    """Accepts the configured proxies and hands their advertisements to `on_advertisement`."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, str],
        clock: Clock,
        on_advertisement: Callable[[Advertisement], None],
        on_status: Callable[[ProxyStatus], None] | None = None,
        host: str = "0.0.0.0",  # proxies on the LAN must reach it
        port: int = protocol.DEFAULT_PORT,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_S,
        ping_interval: float = PING_INTERVAL_S,
        idle_timeout: float = IDLE_TIMEOUT_S,
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._tokens = {proxy_id: token.encode() for proxy_id, token in tokens.items()}
        self._clock = clock
        self._on_advertisement = on_advertisement
        self._on_status = on_status
        self.host = host
        self.port = port
        self._handshake_timeout = handshake_timeout
        self._ping_interval = ping_interval
        self._idle_timeout = idle_timeout
        self._nonce = nonce
        self._status = {proxy_id: ProxyStatus(proxy_id=proxy_id) for proxy_id in tokens}
        self._sessions: dict[str, _Session] = {}
        self._connections: set[asyncio.Task[Any]] = set()
        self._warned: set[tuple[str, str]] = set()
        self._server: asyncio.Server | None = None

    def status(self, proxy_id: str) -> ProxyStatus:
        """The proxy's current status; KeyError for an id not configured."""
        return self._status[proxy_id]

    @property
    def proxy_ids(self) -> list[str]:
        """The configured proxies."""
        return list(self._status)

    @property
    def listening(self) -> bool:
        """True between start() and stop()."""
        return self._server is not None

    def add_token(self, proxy_id: str, token: str, *, waiting: str | None = None) -> ProxyStatus:
        """Accept `proxy_id` with `token` from now on (a paired proxy); its fresh status shows `waiting`."""
        if proxy_id in self._tokens:
            raise ValueError(f"BLE proxy {proxy_id!r} already has a token")
        self._tokens[proxy_id] = token.encode()
        self._forget_warnings(proxy_id)  # a proxy that was refused before its pairing is news again
        status = self._status[proxy_id] = ProxyStatus(proxy_id=proxy_id, waiting=waiting)
        return status

    async def remove_token(self, proxy_id: str) -> None:
        """Refuse `proxy_id` from now on and close its link if it has one."""
        self._tokens.pop(proxy_id, None)
        self._status.pop(proxy_id, None)
        session = self._sessions.pop(proxy_id, None)
        if session is None:
            return
        _LOGGER.info("BLE proxy %r removed: closing its connection", proxy_id)
        # Unregistered first, so the cancelled link's end does not write a status for a removed proxy.
        if session.task is not None:
            session.task.cancel()
        await self._close(session.writer, protocol.E_UNKNOWN_PROXY, "this proxy was removed from the hub")

    async def start(self) -> None:
        """Listen; OSError (address in use, no permission) propagates: the hub retries the setup."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("BLE proxy endpoint listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    # ---- one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peername = writer.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) else str(peername)
        if len(self._connections) >= MAX_CONNECTIONS:
            self._warn(peer, "too many connections", "BLE proxy connection from %s closed: too many connections", peer)
            await self._close(writer, protocol.E_INTERNAL, "too many connections")
            return
        if task is not None:
            self._connections.add(task)
        session: _Session | None = None
        error: str | None = None  # why an authenticated link ended, for its status
        decoder = protocol.FrameDecoder()
        try:
            try:
                session = await asyncio.wait_for(self._handshake(reader, writer, decoder, peer, task),
                                                 self._handshake_timeout)  # fmt: skip
            except TimeoutError:
                raise _Refused(protocol.E_TIMEOUT, "handshake not finished in time") from None
            await self._stream(session, reader, decoder)
        except _Refused as refusal:
            error = await self._refuse(writer, session, peer, refusal)
        except protocol.ProtocolError as exc:
            error = await self._refuse(writer, session, peer, _Refused(exc.code, str(exc)))
        except (_Closed, EOFError, ConnectionError) as exc:
            error = str(exc) or type(exc).__name__
        except asyncio.CancelledError:
            # Only stop() and a newer link of the same proxy cancel this task. It is the stream server's
            # connection callback, which nothing awaits but stop(): ending it normally keeps asyncio from
            # logging the cancellation as an error on Python 3.11 (seen when a proxy was connected at stop).
            if self._server is None:  # shutting down (a replaced session is told by its successor)
                await self._close(writer, protocol.E_INTERNAL, "hub shutting down")
            error = "hub shutting down" if self._server is None else "replaced by a newer connection"
        finally:
            if task is not None:
                self._connections.discard(task)
            if session is not None and self._sessions.get(session.proxy_id) is session:
                del self._sessions[session.proxy_id]
                self._update(session.proxy_id, connected=False, **({"last_error": error} if error else {}))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: protocol.FrameDecoder,
        peer: str,
        task: asyncio.Task[Any] | None,
    ) -> _Session:
        nonce = self._nonce(protocol.NONCE_LEN)
        writer.write(protocol.encode_challenge(nonce))
        await writer.drain()
        frames: list[tuple[int, bytes]] = []
        while not frames:
            data = await reader.read(_READ)
            if not data:
                raise _Closed("closed before hello")
            frames = decoder.feed(data)
        hello = protocol.decode_body(*frames[0])
        if not isinstance(hello, protocol.Hello):
            raise _Refused(protocol.E_MALFORMED, f"expected hello, got frame type 0x{frames[0][0]:02x}")
        token = self._tokens.get(hello.proxy_id)
        # The same HMAC for a known and an unknown id: the time taken does not tell which ids exist.
        good = protocol.verify_proof(token if token is not None else _DUMMY_TOKEN, nonce, hello)
        if token is None:
            self._warn(
                hello.proxy_id, "unknown", "refused BLE proxy %r from %s: unknown proxy id", hello.proxy_id, peer
            )
            raise _Refused(protocol.E_UNKNOWN_PROXY, f"unknown proxy id {hello.proxy_id!r}")
        if not good:
            self._warn(hello.proxy_id, "auth", "refused BLE proxy %r from %s: bad token (proof does not match)",
                       hello.proxy_id, peer)  # fmt: skip
            self._update(hello.proxy_id, last_error=f"refused from {peer}: bad token")
            raise _Refused(protocol.E_AUTH, "bad proof")
        old = self._sessions.get(hello.proxy_id)
        session = self._sessions[hello.proxy_id] = _Session(hello.proxy_id, writer, task)
        if old is not None:
            # The old link is dead or a stale twin; it is no longer registered, so its end leaves the
            # status to this one.
            if old.task is not None:
                old.task.cancel()
            await self._close(old.writer, protocol.E_REPLACED, "replaced by a new connection")
        writer.write(protocol.encode_welcome())
        await writer.drain()
        self._forget_warnings(hello.proxy_id)
        _LOGGER.info("BLE proxy %r connected from %s (%s)", hello.proxy_id, peer, hello.firmware)
        self._update(hello.proxy_id, connected=True, peer=peer, firmware=hello.firmware,
                     connected_since=self._clock.time(), last_error=None, waiting=None)  # fmt: skip
        for frame_type, body in frames[1:]:  # a proxy may send its first frames right behind the hello
            self._handle(session, protocol.decode_body(frame_type, body))
        return session

    async def _stream(self, session: _Session, reader: asyncio.StreamReader, decoder: protocol.FrameDecoder) -> None:
        loop = asyncio.get_running_loop()
        last_rx = loop.time()
        ping_seq = 0
        pinged = False
        while True:
            try:
                data = await asyncio.wait_for(reader.read(_READ), self._ping_interval)
            except TimeoutError:
                if loop.time() - last_rx >= self._idle_timeout:
                    raise _Refused(protocol.E_TIMEOUT, f"silent for {self._idle_timeout:g} s") from None
                if not pinged:
                    ping_seq += 1
                    session.writer.write(protocol.encode_ping(ping_seq))
                    pinged = True
                continue
            if not data:
                raise _Closed("proxy closed the connection")
            last_rx = loop.time()
            pinged = False
            for frame_type, body in decoder.feed(data):
                self._handle(session, protocol.decode_body(frame_type, body))

    def _handle(self, session: _Session, message: object) -> None:
        if isinstance(message, protocol.Batch):
            self._batch(session, message)
        elif isinstance(message, protocol.Pong):
            pass
        elif isinstance(message, protocol.Ping):
            session.writer.write(protocol.encode_pong(message.seq))
        elif isinstance(message, protocol.Error):
            raise _Closed(f"proxy error {message.code}: {message.reason}")
        else:
            raise _Refused(protocol.E_MALFORMED, f"unexpected {type(message).__name__} after welcome")

    def _batch(self, session: _Session, batch: protocol.Batch) -> None:
        arrival = self._clock.time()
        source = source_of(session.proxy_id)
        bad = 0
        for record in batch.records:
            address = protocol.format_address(record.address)
            try:
                fields = ad.parse(record.data)
            except ad.AdError:
                bad += 1
                continue
            if fields.name is not None:
                session.names[address] = fields.name
                session.names.move_to_end(address)
                if len(session.names) > NAMES_KEPT:
                    session.names.popitem(last=False)
            if record.adv_type == protocol.SCAN_RSP and not fields.service_data and not fields.manufacturer_data:
                continue  # a scan response carrying only a name: remembered above
            age_ms = (batch.sent_ms - record.time_ms) & protocol.U32
            if age_ms > 0x7FFFFFFF:
                age_ms = 0  # dated after its batch: a proxy clock glitch, not a record from the future
            adv = Advertisement(
                address=address, name=fields.name or session.names.get(address), rssi=record.rssi,
                service_data=fields.service_data, manufacturer_data=fields.manufacturer_data,
                service_uuids=tuple(fields.service_uuids), time=arrival - age_ms / 1000.0, source=source,
            )  # fmt: skip
            try:
                self._on_advertisement(adv)
            except Exception:  # one bad record must not close a proxy's link
                _LOGGER.exception("BLE proxy %r: advertisement from %s could not be handled", session.proxy_id, address)
        old = self._status.get(session.proxy_id)
        if old is None:  # removed while this batch was being read
            return
        self._status[session.proxy_id] = _replace(
            old, last_batch=arrival, records=old.records + len(batch.records) - bad,
            dropped=batch.dropped, bad_records=old.bad_records + bad,
        )  # fmt: skip

    # ---- refusals and status

    async def _refuse(
        self, writer: asyncio.StreamWriter, session: _Session | None, peer: str, refusal: _Refused
    ) -> str:
        """Log, send the ERROR frame and close; returns the reason for the proxy's status."""
        if session is not None:
            _LOGGER.warning("BLE proxy %r from %s: closing: %s", session.proxy_id, peer, refusal.reason)
        elif refusal.code not in (protocol.E_AUTH, protocol.E_UNKNOWN_PROXY):  # those were logged with their id
            self._warn(peer, refusal.reason, "BLE proxy connection from %s refused: %s", peer, refusal.reason)
        await self._close(writer, refusal.code, refusal.reason)
        return refusal.reason

    async def _close(self, writer: asyncio.StreamWriter, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            writer.write(protocol.encode_error(code, reason))
            await asyncio.wait_for(writer.drain(), 1.0)
        writer.close()

    def _warn(self, who: str, what: str, message: str, *args: Any) -> None:
        """Warn once per (who, what) until that proxy gets in: a proxy retrying every few seconds is one line."""
        key = (who, what)
        if key in self._warned:
            _LOGGER.debug(message, *args)
            return
        if len(self._warned) > 1024:
            self._warned.clear()
        self._warned.add(key)
        _LOGGER.warning(message, *args)

    def _forget_warnings(self, proxy_id: str) -> None:
        self._warned = {key for key in self._warned if key[0] != proxy_id}

    def _update(self, proxy_id: str, **changes: Any) -> None:
        old = self._status.get(proxy_id)
        if old is None:
            return
        new = _replace(old, **changes)
        self._status[proxy_id] = new
        if self._on_status is not None and new != old:
            self._on_status(new)


def _replace(status: ProxyStatus, **changes: Any) -> ProxyStatus:
    return replace(status, **changes)


__all__ = ["ProxyServer", "ProxyStatus", "source_of"]
