"""A small RTSP 1.0 server on asyncio that serves one H.264 stream over TCP-interleaved RTP.

It exists for `hub demo` (hub/demo_camera.py): a camera that needs no GStreamer and no camera,
reached by the hub's own RTSP probe and by FFmpeg (PyAV) exactly as a real one (PROTOCOLS.md 9.1).
It speaks OPTIONS, DESCRIBE (SDP), SETUP with `RTP/AVP/TCP;unicast;interleaved=...` only (461 for
UDP, after which FFmpeg retries over TCP), PLAY, GET_PARAMETER, TEARDOWN, with Digest
authentication (RFC 2617, MD5, no qop, as cameras do). The stream is encoded once and fanned out:
`publish()` hands each access unit to every playing client's bounded queue, and a client whose
queue is full loses what it has and waits for the next keyframe (RFC 6184 packetisation: single
NAL unit packets and FU-A). Requests are parsed with hard caps, so a hostile peer costs little.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

_LOGGER = logging.getLogger("hub.demo")

SERVER = "MaderasHub-demo-camera/1.0"
MAX_HEAD = 8 * 1024  # request line and headers
MAX_BODY = 4 * 1024  # GET_PARAMETER / SET_PARAMETER bodies; nothing else has one
MAX_CLIENTS = 16
SEND_BUFFER = 64 * 1024  # bytes the kernel may hold per connection (it doubles this for bookkeeping)
QUEUE_FRAMES = 10  # access units a client may have waiting (1 s at 10 fps) before it drops to a keyframe
RTP_PAYLOAD = 1400  # bytes of H.264 per RTP packet: FU-A above this
SESSION_TIMEOUT_S = 60
IDLE_LIMIT_S = 2 * SESSION_TIMEOUT_S  # a connection silent this long (no request, no RTCP) is closed
STALL_LIMIT_S = 30.0  # a playing client that takes no data this long is closed
PAYLOAD_TYPE = 96
TRACK = "trackID=1"
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    413: "Request Entity Too Large", 454: "Session Not Found", 455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport", 503: "Service Unavailable",
    505: "RTSP Version Not Supported",
}  # fmt: skip
_REQUEST_LINE = re.compile(r"([A-Z_]{1,32}) (\S{1,2048}) RTSP/(\d)\.(\d)")
_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


class BadRequest(Exception):
    """The peer sent something that is not an RTSP 1.0 request; the connection answers and closes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Request:
    """One RTSP request: method, URI, headers in order, body."""

    method: str
    uri: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        lower = name.lower()
        return next((value for key, value in self.headers if key.lower() == lower), None)


class RequestParser:
    """Sans-IO request reader: feed bytes, take whole requests; interleaved frames are skipped as they pass.

    The buffer never holds more than one head and one body within the caps: anything longer is a
    BadRequest, and RTCP frames from the client ($, channel, length, data) are counted down, not kept.
    """

    def __init__(self, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> None:
        self._buffer = bytearray()
        self._skip = 0  # bytes of an interleaved frame still to discard
        self._max_head, self._max_body = max_head, max_body

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a request."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Request]:
        """Add received bytes; return the requests they complete (BadRequest on a broken one)."""
        self._buffer += data
        requests: list[Request] = []
        while True:
            if self._skip:
                dropped = min(self._skip, len(self._buffer))
                del self._buffer[:dropped]
                self._skip -= dropped
                if self._skip:
                    return requests
            while self._buffer[:2] in (b"\r\n", b"\n\n") or self._buffer[:1] == b"\n":
                del self._buffer[: 2 if self._buffer[:2] == b"\r\n" else 1]  # stray line ends between requests
            if self._buffer[:1] == b"$":
                if len(self._buffer) < 4:
                    return requests
                self._skip = 4 + int.from_bytes(self._buffer[2:4], "big")
                continue
            request = self._next()
            if request is None:
                return requests
            requests.append(request)

    def _next(self) -> Request | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or end > self._max_head:
            if len(self._buffer) > self._max_head:
                raise BadRequest(400, f"a request head longer than {self._max_head} bytes")
            return None
        method, uri, headers = parse_head(bytes(self._buffer[:end]))
        length_text = next((v for k, v in headers if k.lower() == "content-length"), "0")
        if not length_text.isdigit():
            raise BadRequest(400, "a Content-Length that is not a number")
        length = int(length_text)
        if length > self._max_body:
            raise BadRequest(413, f"a {length}-byte body (limit {self._max_body})")
        total = end + 4 + length
        if len(self._buffer) < total:
            return None
        body = bytes(self._buffer[end + 4 : total])
        del self._buffer[:total]
        return Request(method, uri, headers, body)


def parse_head(head: bytes) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Method, URI and headers of a request head; BadRequest when it is not RTSP 1.0."""
    lines = head.decode("latin-1").split("\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise BadRequest(400, f"not an RTSP request line: {lines[0][:60]!r}")
    if (match.group(3), match.group(4)) != ("1", "0"):
        raise BadRequest(505, f"RTSP/{match.group(3)}.{match.group(4)} (this server speaks RTSP/1.0)")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or " " in key.strip():
            raise BadRequest(400, f"a malformed header line: {line[:60]!r}")
        headers.append((key.strip(), value.strip()))
    return match.group(1), match.group(2), tuple(headers)


# --------------------------------------------------------------------------- authentication


def _md5(text: str) -> str:
    # RFC 2617 Digest is MD5 by definition; it checks a camera login, it protects no data.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_params(header: str) -> dict[str, str] | None:
    """The parameters of a `Digest ...` Authorization value (names lower-cased), or None for another scheme."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(rest[:2048]):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return params


def digest_valid(params: dict[str, str], *, username: str, password: str, realm: str, nonce: str,
                 method: str, uri: str) -> bool:  # fmt: skip
    """Whether an Authorization's Digest answers this server's challenge for this request (RFC 2617, MD5)."""
    if params.get("username") != username or params.get("realm") != realm or params.get("nonce") != nonce:
        return False
    if params.get("algorithm", "MD5").upper() != "MD5" or params.get("uri") != uri:
        return False
    ha1, ha2 = _md5(f"{username}:{realm}:{password}"), _md5(f"{method}:{uri}")
    qop = params.get("qop")
    if qop:  # not offered, but a client may still answer with qop=auth (RFC 2617 3.2.2.1)
        if qop != "auth":
            return False
        expected = _md5(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:{qop}:{ha2}")
    else:
        expected = _md5(f"{ha1}:{nonce}:{ha2}")
    return hmac.compare_digest(expected, params.get("response", ""))


# --------------------------------------------------------------------------- H.264 and RTP


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture: its NAL units (no start codes), whether it is a keyframe, when it was captured."""

    nals: tuple[bytes, ...]
    keyframe: bool
    captured: float  # time.monotonic() of the picture
    size: int = 0  # bytes of NAL data, for the clients' accounting

    @classmethod
    def from_annexb(cls, data: bytes, keyframe: bool, captured: float) -> AccessUnit:
        # An access unit delimiter (type 9) carries nothing RTP needs (RFC 6184 leaves it optional).
        nals = tuple(n for n in split_annexb(data) if n[0] & 0x1F != 9)
        return cls(nals, keyframe, captured, sum(len(n) for n in nals))


def split_annexb(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes), without the start codes."""
    starts: list[tuple[int, int]] = []  # (start code position, payload position)
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        code = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        starts.append((code, pos + 3))
        pos = data.find(b"\x00\x00\x01", pos + 3)
    for index, (_, begin) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(data)
        if end > begin:
            yield data[begin:end]


def rtp_payloads(nal: bytes, limit: int = RTP_PAYLOAD) -> list[bytes]:
    """RFC 6184 payloads for one NAL unit: itself when it fits, else FU-A fragments (5.8)."""
    if len(nal) <= limit:
        return [nal]
    indicator = (nal[0] & 0xE0) | 28
    kind = nal[0] & 0x1F
    chunks = [nal[i : i + limit - 2] for i in range(1, len(nal), limit - 2)]
    payloads = []
    for index, chunk in enumerate(chunks):
        header = kind | (0x80 if index == 0 else 0) | (0x40 if index == len(chunks) - 1 else 0)
        payloads.append(bytes((indicator, header)) + chunk)
    return payloads


def rtp_packet(payload: bytes, *, seq: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """An RTP packet (RFC 3550): version 2, no padding, extension or CSRC, payload type 96."""
    header = bytes((0x80, (0x80 if marker else 0) | PAYLOAD_TYPE))
    return header + (seq & 0xFFFF).to_bytes(2, "big") + (timestamp & 0xFFFFFFFF).to_bytes(4, "big") + \
        ssrc.to_bytes(4, "big") + payload  # fmt: skip


def interleaved(channel: int, packet: bytes) -> bytes:
    """One RTP packet framed for the RTSP connection (RFC 2326 10.12): $, channel, length."""
    return b"$" + bytes((channel,)) + len(packet).to_bytes(2, "big") + packet


@dataclass(frozen=True)
class StreamInfo:
    """What DESCRIBE tells about the stream."""

    sps: bytes
    pps: bytes
    width: int
    height: int
    fps: float


def sdp(info: StreamInfo, host: str, session_id: int) -> str:
    """The stream's SDP (RFC 4566, RFC 6184 8.1): one H.264 video, aggregate control."""
    sprop = f"{base64.b64encode(info.sps).decode()},{base64.b64encode(info.pps).decode()}"
    profile = info.sps[1:4].hex().upper()
    lines = [
        "v=0", f"o=- {session_id} 1 IN IP4 {host}", "s=Maderas demo camera", f"c=IN IP4 {host}", "t=0 0",
        "a=range:npt=0-", "a=control:*",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}", f"a=rtpmap:{PAYLOAD_TYPE} H264/90000",
        f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={sprop}",
        f"a=framesize:{PAYLOAD_TYPE} {info.width}-{info.height}", f"a=framerate:{info.fps:g}", f"a=control:{TRACK}",
    ]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class ClientStats:
    """One playing client as the server sees it (tests and the log read these)."""

    peer: str
    queued: int  # access units waiting for this client
    queue_bound: int
    write_buffer: int  # bytes asyncio holds for the socket
    sent: int  # access units written
    dropped: int  # access units this client lost to its own slowness


class _Client:
    """One RTSP connection: its session, and while it plays, a bounded queue and the task that writes it."""

    def __init__(self, writer: asyncio.StreamWriter, bound: int) -> None:
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self.nonce = secrets.token_hex(16)
        self.session: str | None = None
        self.channel = 0
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.queue: deque[AccessUnit] = deque()
        self.bound = bound
        self.wants_keyframe = True  # nothing is sent before a keyframe: a decoder could not use it
        self.ready = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        self.sent = self.dropped = 0

    def offer(self, unit: AccessUnit) -> None:
        """Queue one access unit; a full queue is emptied and the client waits for the next keyframe."""
        if len(self.queue) >= self.bound:
            self.dropped += len(self.queue)
            self.queue.clear()
            self.wants_keyframe = True
        if self.wants_keyframe and not unit.keyframe:
            self.dropped += 1
            return
        self.wants_keyframe = False
        self.queue.append(unit)
        self.ready.set()

    def stats(self) -> ClientStats:
        transport = self.writer.transport
        buffered = 0 if transport.is_closing() else transport.get_write_buffer_size()
        return ClientStats(self.peer, len(self.queue), self.bound, buffered, self.sent, self.dropped)


class RtspServer:
    """Serves one H.264 stream at `rtsp://host:port/<path>` to Digest-authenticated clients over TCP.

    `publish(unit)` (on the loop) fans an access unit out to every playing client. `on_viewers(n)`
    is called when the number of playing clients changes (the encoder rests with none), and
    `on_keyframe()` when a new client starts playing (it would otherwise wait up to a GOP).
    """

    def __init__(self, info: StreamInfo, *, path: str, username: str, password: str,
                 realm: str = "Maderas demo camera", host: str = "127.0.0.1", port: int = 0,
                 queue_frames: int = QUEUE_FRAMES, max_clients: int = MAX_CLIENTS,
                 on_viewers: Callable[[int], None] | None = None,
                 on_keyframe: Callable[[], None] | None = None) -> None:  # fmt: skip
        self.info = info
        self.path = "/" + path.strip("/")
        self.username, self.password, self.realm = username, password, realm
        self.host, self.port = host, port
        self.queue_frames = queue_frames
        self.max_clients = max_clients
        self._on_viewers = on_viewers
        self._on_keyframe = on_keyframe
        self._session_id = secrets.randbits(31)
        self._rtp_base = secrets.randbits(32)
        self._server: asyncio.Server | None = None
        self._clients: dict[asyncio.Task[None], _Client] = {}
        self._viewers = 0
        self.bad_requests = 0

    @property
    def url(self) -> str:
        """The stream's URL, without credentials."""
        return f"rtsp://{self.host}:{self.port}{self.path}"

    def rtp_time(self, monotonic: float) -> int:
        """The 90 kHz RTP clock at a time.monotonic() instant."""
        return (self._rtp_base + int(monotonic * 90000)) & 0xFFFFFFFF

    def clients(self) -> list[ClientStats]:
        """The connections that are playing, with their queues."""
        return [c.stats() for c in self._clients.values() if c.sender is not None]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the port and every connection, and wait for their tasks."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client in list(self._clients.values()):
            # Abort (a frozen viewer's unsent data would hold close() open) and the handler reads EOF
            # and ends. Cancelling it instead makes asyncio log the CancelledError (Python 3.11).
            client.writer.transport.abort()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def publish(self, unit: AccessUnit) -> None:
        """Hand one encoded picture to every playing client."""
        for client in self._clients.values():
            if client.sender is not None:
                client.offer(unit)

    # ------------------------------------------------------------------ connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name("demo-camera:rtsp-connection")
        client = _Client(writer, self.queue_frames)
        if len(self._clients) >= self.max_clients:
            writer.write(self._response(503, None, {}))
            writer.close()
            return
        self._clients[task] = client
        sock = writer.get_extra_info("socket")
        if sock is not None:  # a camera-sized send buffer: a stalled viewer shows within a second or two
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        parser = RequestParser()
        try:
            while True:
                async with asyncio.timeout(IDLE_LIMIT_S):
                    data = await reader.read(4096)
                if not data:
                    break
                try:
                    requests = parser.feed(data)
                except BadRequest as err:
                    self.bad_requests += 1
                    _LOGGER.debug("demo camera: %s from %s: %s", err.status, client.peer, err)
                    writer.write(self._response(err.status, None, {}))
                    await writer.drain()
                    break  # the framing is lost: nothing after this can be trusted
                ended = False
                for request in requests:
                    status, headers, body = self._answer(client, request)
                    writer.write(self._response(status, request.header("CSeq"), headers, body))
                    if request.method == "TEARDOWN" and status == 200:
                        ended = True
                        break
                await writer.drain()
                if ended:
                    break
        except (ConnectionError, TimeoutError):
            pass
        finally:
            await self._close(task, client)

    async def _close(self, task: asyncio.Task[None], client: _Client) -> None:
        self._clients.pop(task, None)
        if client.sender is not None:
            client.sender.cancel()
            await asyncio.gather(client.sender, return_exceptions=True)
            self._viewers_changed()
        client.writer.close()

    def _viewers_changed(self) -> None:
        viewers = sum(1 for c in self._clients.values() if c.sender is not None and not c.sender.done())
        if viewers != self._viewers:
            self._viewers = viewers
            if self._on_viewers is not None:
                self._on_viewers(viewers)

    def _response(self, status: int, cseq: str | None, headers: dict[str, str], body: bytes = b"") -> bytes:
        lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}"]
        if cseq is not None and cseq.strip().isdigit():
            lines.append(f"CSeq: {cseq.strip()}")
        lines.append(f"Server: {SERVER}")
        lines += [f"{key}: {value}" for key, value in headers.items()]
        if body or status >= 400:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body

    # ------------------------------------------------------------------ requests

    def _answer(self, client: _Client, request: Request) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        if request.header("CSeq") is None:
            return 400, {}, b""
        method = request.method
        if method == "OPTIONS":
            return 200, {"Public": PUBLIC}, b""
        if method not in PUBLIC.split(", "):
            return 405, {"Allow": PUBLIC}, b""
        path = urlsplit(request.uri).path.rstrip("/") if request.uri != "*" else ""
        if path not in (self.path, f"{self.path}/{TRACK}"):
            return 404, {}, b""
        if not self._authorised(client, request):
            return 401, {"WWW-Authenticate": f'Digest realm="{self.realm}", nonce="{client.nonce}"'}, b""
        if method == "DESCRIBE":
            body = sdp(self.info, self.host, self._session_id).encode("ascii")
            headers = {"Content-Base": f"{self.url}/", "Content-Type": "application/sdp"}
            return 200, headers, body
        if method == "SETUP":
            return self._setup(client, request, path)
        if client.session is None or (request.header("Session") or "").split(";")[0].strip() != client.session:
            return 454, {}, b""
        session = {"Session": f"{client.session};timeout={SESSION_TIMEOUT_S}"}
        if method == "PLAY":
            return self._play(client, session)
        return 200, session, b""  # GET_PARAMETER (keep-alive) and TEARDOWN

    def _authorised(self, client: _Client, request: Request) -> bool:
        header = request.header("Authorization")
        params = digest_params(header) if header else None
        if params is None:
            return False
        return digest_valid(params, username=self.username, password=self.password, realm=self.realm,
                            nonce=client.nonce, method=request.method, uri=request.uri)  # fmt: skip

    def _setup(self, client: _Client, request: Request, path: str) -> tuple[int, dict[str, str], bytes]:
        if path != f"{self.path}/{TRACK}":
            return 459, {}, b""  # one track: SETUP names it
        if client.sender is not None:
            return 455, {}, b""
        transports = [t.strip() for t in (request.header("Transport") or "").split(",")]
        chosen = next((t for t in transports if t.upper().startswith("RTP/AVP/TCP")), None)
        if chosen is None:
            return 461, {}, b""  # UDP: FFmpeg then asks again over TCP
        match = re.search(r"interleaved=(\d{1,3})(?:-(\d{1,3}))?", chosen)
        client.channel = int(match.group(1)) if match else 0
        if client.channel > 254:
            return 400, {}, b""
        client.session = client.session or secrets.token_hex(8)
        transport = (f"RTP/AVP/TCP;unicast;interleaved={client.channel}-{client.channel + 1};"
                     f"ssrc={client.ssrc:08X};mode=play")  # fmt: skip
        return 200, {"Transport": transport, "Session": f"{client.session};timeout={SESSION_TIMEOUT_S}"}, b""

    def _play(self, client: _Client, session: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if client.sender is None:
            client.sender = asyncio.create_task(self._send(client), name="demo-camera:rtp-sender")
            if self._on_keyframe is not None:
                self._on_keyframe()  # before waking a resting encoder: its first picture is then a keyframe
            self._viewers_changed()
        info = f"url={self.url}/{TRACK};seq={client.seq};rtptime={self.rtp_time(time.monotonic())}"
        return 200, {**session, "Range": "npt=0.000-", "RTP-Info": info}, b""

    async def _send(self, client: _Client) -> None:
        """Write the client's queued access units as interleaved RTP, one at a time, waiting for the socket."""
        writer = client.writer
        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.queue:
                    unit = client.queue.popleft()
                    timestamp = self.rtp_time(unit.captured)
                    payloads = [p for nal in unit.nals for p in rtp_payloads(nal)]
                    frames = []
                    for index, payload in enumerate(payloads):
                        packet = rtp_packet(payload, seq=client.seq, timestamp=timestamp, ssrc=client.ssrc,
                                            marker=index == len(payloads) - 1)  # fmt: skip
                        client.seq = (client.seq + 1) & 0xFFFF
                        frames.append(interleaved(client.channel, packet))
                    writer.write(b"".join(frames))
                    client.sent += 1
                    # A slow reader holds this task here while its queue stays bounded; one that
                    # reads nothing for STALL_LIMIT_S is cut off, as a camera would.
                    async with asyncio.timeout(STALL_LIMIT_S):
                        await writer.drain()
        except TimeoutError:
            _LOGGER.info("demo camera: %s read nothing for %.0f s; closing its connection", client.peer, STALL_LIMIT_S)
            writer.transport.abort()
        except ConnectionError:
            pass
