"""The camera health probe: an RTSP 1.0 OPTIONS/DESCRIBE client that says, in words, what is wrong.

The message parser, the authentication and the SDP reading are pure functions over bytes and
strings (tested on their own); `probe` drives them over an asyncio stream. The probe never sets up
media, so it costs the camera one short connection (PROTOCOLS.md 9.1).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

Status = Literal["ok", "unreachable", "auth_failed", "no_video", "error"]
AuthScheme = Literal["none", "basic", "digest"]

MAX_HEAD = 16 * 1024  # status line and headers
MAX_BODY = 64 * 1024  # an SDP is a few hundred bytes; anything near this is hostile or broken
USER_AGENT = "MaderasHub-probe/1.0"
# RTP static payload types a camera might use for video (RFC 3551).
STATIC_VIDEO = {26: "JPEG", 31: "H261", 32: "MPV", 34: "H263"}


class RtspProtocolError(Exception):
    """The peer sent something that is not a well-formed RTSP 1.0 response, or too much of it."""


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Response:
    """One RTSP response: status line, headers in order, body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        """Every value of a header, in order (WWW-Authenticate may repeat)."""
        lower = name.lower()
        return [value for key, value in self.headers if key.lower() == lower]

    @property
    def cseq(self) -> int | None:
        """The echoed CSeq, or None when missing or not a number."""
        value = self.header("CSeq")
        return int(value) if value is not None and value.strip().isdigit() else None


class ResponseParser:
    """Sans-IO RTSP response reader: feed bytes, take whole responses; memory stays bounded."""

    def __init__(self, max_head: int = MAX_HEAD, max_body: int = MAX_BODY) -> None:
        self._buffer = bytearray()
        self._max_head = max_head
        self._max_body = max_body

    def feed(self, data: bytes) -> None:
        """Add received bytes; raise RtspProtocolError as soon as the buffer could only grow past the caps."""
        self._buffer += data
        if len(self._buffer) > self._max_head + self._max_body:
            raise RtspProtocolError(f"the camera sent more than {self._max_head + self._max_body} bytes in one answer")

    def next_response(self) -> Response | None:
        """The next complete response, or None until more bytes arrive."""
        self._skip_interleaved()
        end, sep_len = _head_end(self._buffer)
        if end < 0:
            if len(self._buffer) > self._max_head:
                raise RtspProtocolError(f"the answer's headers are longer than {self._max_head} bytes")
            return None
        if end > self._max_head:
            raise RtspProtocolError(f"the answer's headers are longer than {self._max_head} bytes")
        status, reason, headers = parse_head(bytes(self._buffer[:end]))
        length = _content_length(headers)
        if length > self._max_body:
            raise RtspProtocolError(f"the answer announces a {length}-byte body (limit {self._max_body})")
        total = end + sep_len + length
        if len(self._buffer) < total:
            return None
        body = bytes(self._buffer[end + sep_len : total])
        del self._buffer[:total]
        return Response(status, reason, headers, body)

    def _skip_interleaved(self) -> None:
        """Drop RTP/RTCP frames interleaved on the connection ($, channel, 16-bit length, data)."""
        while self._buffer[:1] == b"$" and len(self._buffer) >= 4:
            size = 4 + int.from_bytes(self._buffer[2:4], "big")
            if len(self._buffer) < size:
                return
            del self._buffer[:size]


def _head_end(buffer: bytearray) -> tuple[int, int]:
    """Where the head ends and the separator's length; tolerates bare-LF cameras."""
    crlf, lf = buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    return (lf, 2) if lf >= 0 else (-1, 0)


def parse_head(head: bytes) -> tuple[int, str, tuple[tuple[str, str], ...]]:
    """Status code, reason phrase and headers of a response head (without the blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    match = re.fullmatch(r"RTSP/(\d)\.(\d) (\d{3})(?: (.*))?", lines[0].strip())
    if match is None:
        raise RtspProtocolError(f"not an RTSP answer: {lines[0][:60]!r}")
    if match.group(1) != "1":
        raise RtspProtocolError(f"the camera speaks RTSP/{match.group(1)}.{match.group(2)}, not RTSP/1.0")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            # An obsolete folded continuation line belongs to the previous header.
            key, value = headers[-1]
            headers[-1] = (key, f"{value} {line.strip()}")
            continue
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or " " in key.strip():
            raise RtspProtocolError(f"malformed header line: {line[:60]!r}")
        headers.append((key.strip(), value.strip()))
    return int(match.group(3)), (match.group(4) or "").strip(), tuple(headers)


def _content_length(headers: tuple[tuple[str, str], ...]) -> int:
    """The Content-Length (0 when absent); a non-number is a protocol error."""
    for key, value in headers:
        if key.lower() == "content-length":
            if not value.isdigit():
                raise RtspProtocolError(f"bad Content-Length: {value[:20]!r}")
            return int(value)
    return 0


def build_request(method: str, uri: str, cseq: int, headers: dict[str, str] | None = None) -> bytes:
    """One RTSP 1.0 request without a body."""
    lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {cseq}", f"User-Agent: {USER_AGENT}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


# --------------------------------------------------------------------------- authentication


@dataclass(frozen=True)
class Challenge:
    """One scheme offered in WWW-Authenticate, with its parameters (names lower-cased)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


_TOKEN = re.compile(r"\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the WWW-Authenticate values; one header may carry several, comma-separated."""
    challenges: list[Challenge] = []
    for value in values:
        pos, current = 0, None
        while pos < len(value):
            if value[pos] in ", \t":
                pos += 1
                continue
            token = _TOKEN.match(value, pos)
            if token is None:
                break  # garbage: keep what was understood
            pos = token.end()
            if pos < len(value) and value[pos] == "=" and current is not None:
                pos += 1
                quoted = _QUOTED.match(value, pos)
                if quoted is not None:
                    param = re.sub(r"\\(.)", r"\1", quoted.group(1))
                    pos = quoted.end()
                else:
                    raw = re.match(r"[^,\s]*", value[pos:])
                    param = raw.group(0) if raw else ""
                    pos += len(param)
                current.params[token.group(1).lower()] = param
            else:
                current = Challenge(token.group(1).lower(), {})
                challenges.append(current)
    return challenges


def _md5(text: str) -> str:
    # RFC 2617 mandates MD5; it authenticates a camera login, it protects nothing here.
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    *,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
    algorithm: str = "MD5",
) -> str:
    """The RFC 2617 `response` value: MD5 or MD5-sess, with qop=auth or without qop."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    if algorithm.upper() == "MD5-SESS":
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def digest_authorization(
    challenge: Challenge,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce_factory: Callable[[], str] = lambda: secrets.token_hex(8),
) -> str:
    """The Authorization header value answering a Digest challenge (qop=auth when offered)."""
    params = challenge.params
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    algorithm = params.get("algorithm", "MD5")
    offered = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else None
    cnonce = cnonce_factory() if qop or algorithm.upper() == "MD5-SESS" else ""
    count = f"{nc:08x}"
    response = digest_response(
        username, password, realm, nonce, method, uri, qop=qop, nc=count, cnonce=cnonce, algorithm=algorithm
    )

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    parts = [
        f"username={quote(username)}",
        f"realm={quote(realm)}",
        f"nonce={quote(nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
    ]
    if "algorithm" in params:
        parts.append(f"algorithm={algorithm}")
    if "opaque" in params:
        parts.append(f"opaque={quote(params['opaque'])}")
    if qop:
        parts += [f"qop={qop}", f"nc={count}", f"cnonce={quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def basic_authorization(username: str, password: str) -> str:
    """The Authorization header value for Basic (UTF-8 user:password in base64)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _digest_supported(challenge: Challenge) -> bool:
    return challenge.params.get("algorithm", "MD5").upper() in ("MD5", "MD5-SESS") and "nonce" in challenge.params


def choose_scheme(challenges: list[Challenge], configured: str) -> tuple[AuthScheme, Challenge | None] | str:
    """The scheme to answer with, or a sentence saying why none fits.

    Digest wins when offered; Basic only when the camera offers it, or when configured and the camera
    names no scheme at all. Basic is never sent to a camera that offered only Digest.
    """
    digest = next((c for c in challenges if c.scheme == "digest" and _digest_supported(c)), None)
    basic = next((c for c in challenges if c.scheme == "basic"), None)
    if configured == "basic" and basic is not None:
        return "basic", basic
    if digest is not None:
        return "digest", digest
    if configured == "digest":
        offered = ", ".join(sorted({c.scheme.capitalize() for c in challenges})) or "no scheme"
        return f"the camera offers {offered}, but Digest is configured"
    if basic is not None or (configured == "basic" and not challenges):
        return "basic", basic
    if challenges:
        names = ", ".join(sorted({c.scheme.capitalize() for c in challenges}))
        return f"the camera asks for {names} authentication, which the hub does not support"
    return "the camera asked for credentials without naming an authentication scheme"


# --------------------------------------------------------------------------- SDP


@dataclass(frozen=True)
class SdpSummary:
    """What the probe reads from an SDP: the media kinds and the first video stream's codec and size."""

    media: tuple[str, ...]
    codec: str | None = None
    width: int | None = None
    height: int | None = None


def parse_sdp(text: str) -> SdpSummary:
    """Media kinds, and the first video's codec and picture size when the SDP says (best effort)."""
    media: list[str] = []
    video_pts: list[str] | None = None
    attrs: list[str] = []
    in_first_video = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            fields = line[2:].split()
            kind = fields[0].lower() if fields else "unknown"
            media.append(kind)
            in_first_video = kind == "video" and video_pts is None
            if in_first_video:
                video_pts = fields[3:]
        elif line.startswith("a=") and in_first_video:
            attrs.append(line[2:])
    if video_pts is None:
        return SdpSummary(tuple(media))
    codec = width = height = None
    pt = video_pts[0] if video_pts else ""
    if pt.isdigit() and int(pt) in STATIC_VIDEO:
        codec = STATIC_VIDEO[int(pt)]
    for attr in attrs:
        name, _, value = attr.partition(":")
        name = name.lower()
        if name == "rtpmap" and value.split(" ", 1)[0] == pt:
            codec = value.split(" ", 1)[1].split("/")[0].upper() if " " in value else codec
        elif name in ("framesize", "x-dimensions"):
            pattern = rf"{re.escape(pt)}\s+(\d+)-(\d+)" if name == "framesize" else r"\s*(\d+)\s*,\s*(\d+)"
            if m := re.match(pattern, value):
                width, height = int(m.group(1)), int(m.group(2))
        elif name == "fmtp" and width is None and (m := re.search(r"sprop-parameter-sets=([^;,\s]+)", value)):
            size = h264_sps_size(m.group(1))
            if size is not None:
                width, height = size
    return SdpSummary(tuple(media), codec, width, height)


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes, for H.264 parameter sets."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def bit(self) -> int:
        if self._pos >= len(self._data) * 8:
            raise ValueError("SPS ends early")
        value = (self._data[self._pos // 8] >> (7 - self._pos % 8)) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = value << 1 | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value % 2 else -(value // 2)


def h264_sps_size(sprop: str) -> tuple[int, int] | None:
    """Width and height from the SPS in an H.264 sprop-parameter-sets value, or None when unreadable."""
    try:
        nal = base64.b64decode(sprop.split(",")[0] + "==")
        if not nal or nal[0] & 0x1F != 7:
            return None
        return _sps_size(_Bits(nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")))
    except (ValueError, IndexError):
        return None


def _sps_size(r: _Bits) -> tuple[int, int]:
    """Walk an H.264 SPS (ITU-T H.264 7.3.2.1.1) up to the frame cropping fields."""
    profile = r.bits(8)
    r.bits(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    chroma = 1
    separate_planes = 0
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = r.ue()
        if chroma == 3:
            separate_planes = r.bit()
        r.ue(), r.ue(), r.bit()  # bit depths, qpprime_y_zero_transform_bypass
        if r.bit():  # seq_scaling_matrix_present
            for index in range(8 if chroma != 3 else 12):
                if r.bit():
                    last = following = 8
                    for _ in range(16 if index < 6 else 64):
                        if following:
                            following = (last + r.se() + 256) % 256
                        last = following or last
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.bit(), r.se(), r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue(), r.bit()  # max_num_ref_frames, gaps_in_frame_num_allowed
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()
    r.bit()  # direct_8x8_inference
    left = right = top = bottom = 0
    if r.bit():
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
    array_type = 0 if separate_planes else chroma
    unit_x = 1 if array_type in (0, 3) else 2
    unit_y = (2 - frame_mbs_only) * (2 if array_type == 1 else 1)
    width = width_mbs * 16 - (left + right) * unit_x
    height = (2 - frame_mbs_only) * height_units * 16 - (top + bottom) * unit_y
    if width <= 0 or height <= 0:
        raise ValueError("cropping larger than the picture")
    return width, height


# --------------------------------------------------------------------------- the probe


@dataclass(frozen=True)
class ProbeResult:
    """The probe's verdict: a status, a sentence a resident can read, and what was learnt on the way."""

    status: Status
    reason: str
    auth: AuthScheme = "none"
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    elapsed_ms: float = 0.0
    media: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the camera serves video to these credentials."""
        return self.status == "ok"


class _Verdict(Exception):
    """Ends the probe early with a result (status, reason)."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class _Target:
    """Where to connect and what to put in the request line (never the credentials)."""

    host: str
    port: int
    uri: str
    path: str

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _target(url: str) -> tuple[_Target, str | None, str | None]:
    """The connection target and any inline credentials of an rtsp:// URL."""
    try:
        parts = urlsplit(url)
        port = parts.port or 554
    except ValueError as err:
        raise _Verdict("error", f"not a valid camera URL ({err})") from None
    if parts.scheme.lower() != "rtsp":
        raise _Verdict("error", f"the probe speaks rtsp://, not {parts.scheme or 'a URL without scheme'}")
    if not parts.hostname:
        raise _Verdict("error", "the camera URL has no host")
    host = parts.hostname
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return _Target(host, port, f"rtsp://{netloc}{path}{query}", f"{path}{query}"), user, password


class _HungUp(Exception):
    """The camera closed the connection before a whole answer."""


class _Connection:
    """One TCP connection to the camera with bounded reads; reopened once if the camera hangs up between requests."""

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.cseq = 0
        self.scheme: AuthScheme = "none"  # the scheme last answered with, for the verdict
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = ResponseParser()
        self._answers = 0  # answers on the current connection

    async def open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(self.target.host, self.target.port)
        except ConnectionRefusedError:
            raise _Verdict("unreachable", f"connection refused by {self.target.where}") from None
        except socket.gaierror as err:
            raise _Verdict("unreachable", f"cannot resolve {self.target.host} ({err.strerror})") from None
        except OSError as err:
            raise _Verdict("unreachable", f"cannot connect to {self.target.where} ({err.strerror or err})") from None
        self._parser = ResponseParser()
        self._answers = 0

    async def request(self, method: str, headers: dict[str, str]) -> Response:
        """Send one request and read its answer; CSeq must match."""
        for _attempt in range(2):
            if self._writer is None:
                await self.open()
            assert self._writer is not None
            self.cseq += 1
            try:
                self._writer.write(build_request(method, self.target.uri, self.cseq, headers))
                await self._writer.drain()
                response = await self._read()
            except (_HungUp, OSError) as err:
                # Some cameras close the connection after every 401: that is no verdict, ask again once.
                if self._answers == 0:
                    detail = f" ({err.strerror})" if isinstance(err, OSError) and err.strerror else ""
                    reason = f"{self.target.where} closed the connection without answering{detail}"
                    raise _Verdict("unreachable", reason) from None
                await self.close()
                continue
            self._answers += 1
            if response.cseq is not None and response.cseq != self.cseq:
                raise _Verdict("error", f"the camera answered CSeq {response.cseq} to request {self.cseq}")
            return response
        raise _Verdict("unreachable", f"{self.target.where} closed the connection again without answering")

    async def _read(self) -> Response:
        assert self._reader is not None
        while True:
            try:
                response = self._parser.next_response()
            except RtspProtocolError as err:
                raise _Verdict("error", f"{self.target.where} is not answering like an RTSP camera: {err}") from None
            if response is not None:
                return response
            data = await self._reader.read(4096)
            if not data:
                raise _HungUp()
            try:
                self._parser.feed(data)
            except RtspProtocolError as err:
                raise _Verdict("error", f"{self.target.where} is not answering like an RTSP camera: {err}") from None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass  # the peer may already have reset it
        self._reader = self._writer = None


async def _session(conn: _Connection, username: str | None, password: str | None, auth: str) -> Response:
    """OPTIONS then DESCRIBE, answering a 401 once (twice if the camera says the nonce is stale)."""
    challenge: Challenge | None = None
    nc = 0

    def authorization(method: str) -> dict[str, str]:
        nonlocal nc
        if conn.scheme == "digest" and challenge is not None:
            nc += 1
            assert username is not None
            header = digest_authorization(challenge, username, password or "", method, conn.target.uri, nc)
            return {"Authorization": header}
        if conn.scheme == "basic":
            return {"Authorization": basic_authorization(username or "", password or "")}
        return {}

    async def send(method: str, extra: dict[str, str]) -> Response:
        nonlocal challenge, nc
        response = await conn.request(method, {**extra, **authorization(method)})
        for _ in range(2):
            if response.status != 401:
                return response
            challenges = parse_challenges(response.header_all("WWW-Authenticate"))
            stale = any(c.params.get("stale", "").lower() == "true" for c in challenges)
            if conn.scheme != "none" and not stale:
                raise _Verdict("auth_failed", _refused(username, conn.scheme))
            if not username:
                raise _Verdict("auth_failed", "the camera needs a user name and password")
            choice = choose_scheme(challenges, auth)
            if isinstance(choice, str):
                raise _Verdict("auth_failed", choice)
            conn.scheme, challenge = choice
            nc = 0
            response = await conn.request(method, {**extra, **authorization(method)})
        return response

    options = await send("OPTIONS", {})
    if options.status == 401:
        raise _Verdict("auth_failed", _refused(username, conn.scheme))
    # A camera that rejects OPTIONS may still DESCRIBE; DESCRIBE gives the verdict.
    describe = await send("DESCRIBE", {"Accept": "application/sdp"})
    if describe.status == 401:
        raise _Verdict("auth_failed", _refused(username, conn.scheme))
    return describe


def _refused(username: str | None, scheme: AuthScheme) -> str:
    """The auth_failed sentence."""
    return f"the camera refused user {username or '(empty)'} ({scheme.capitalize()})"


async def probe(
    url: str,
    username: str | None = None,
    password: str | None = None,
    *,
    timeout: float = 5.0,
    auth: str = "auto",
) -> ProbeResult:
    """Ask the camera for its stream description and say whether it would stream, and if not why.

    Credentials in the URL are used when `username` is not given. `auth` is "auto" (what the camera
    offers, Digest first), "basic" or "digest". Never raises for anything the camera does.
    """
    started = time.monotonic()

    def result(status: Status, reason: str, auth: AuthScheme = "none", sdp: SdpSummary | None = None) -> ProbeResult:
        elapsed = round((time.monotonic() - started) * 1000, 1)
        sdp = sdp or SdpSummary(())
        return ProbeResult(status, reason, auth, sdp.codec, sdp.width, sdp.height, elapsed, sdp.media)

    try:
        target, url_user, url_password = _target(url)
    except _Verdict as verdict:
        return result(verdict.status, verdict.reason)
    if username is None:
        username, password = url_user, url_password
    conn = _Connection(target)
    try:
        async with asyncio.timeout(timeout):
            describe = await _session(conn, username, password, auth)
    except _Verdict as verdict:
        return result(verdict.status, verdict.reason, conn.scheme)
    except TimeoutError:
        if conn.cseq == 0:
            return result("unreachable", f"no connection to {target.where} within {timeout:g} s")
        return result("unreachable", f"{target.where} accepted the connection but did not answer within {timeout:g} s")
    finally:
        await conn.close()
    if describe.status != 200:
        return result("error", f"camera answered {describe.status} {describe.reason} for {target.path}", conn.scheme)
    sdp = parse_sdp(describe.body.decode("utf-8", errors="replace"))
    if "video" not in sdp.media:
        only = " and ".join(sorted(set(sdp.media)))
        reason = f"the stream has no video, only {only}" if only else "the stream describes no media at all"
        return result("no_video", reason, conn.scheme, sdp)
    size = f" {sdp.width}x{sdp.height}" if sdp.width else ""
    return result("ok", f"the camera streams {sdp.codec or 'video'}{size}", conn.scheme, sdp)
