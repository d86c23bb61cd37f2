"""The RTSP health probe: Digest vectors, the bounded message parser, SDP reading, and live verdicts.

Live verdicts come from GStreamer's RTSP server (Basic and Digest); the misbehaving peers (silent,
endless headers, huge bodies, wrong CSeq) are small asyncio servers in this file, since no real
server misbehaves on demand.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from cam_helpers import RtspServer, require_gstreamer

from integrations.rtsp_camera.rtsp import (
    Challenge,
    ResponseParser,
    RtspProtocolError,
    basic_authorization,
    build_request,
    choose_scheme,
    digest_authorization,
    digest_response,
    h264_sps_size,
    parse_challenges,
    parse_sdp,
    probe,
)

StartServer = Callable[..., RtspServer]

# ----------------------------------------------------------------------------- authentication vectors


def test_rfc2617_digest_vector_with_qop_auth() -> None:
    response = digest_response(
        "Mufasa",
        "Circle Of Life",
        "testrealm@host.com",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "GET",
        "/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc2617_authorization_header_byte_for_byte() -> None:
    challenge = parse_challenges(
        [
            (
                'Digest realm="testrealm@host.com", qop="auth,auth-int", '
                'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
            )
        ]
    )[0]
    header = digest_authorization(
        challenge, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", cnonce_factory=lambda: "0a4f113b"
    )
    assert header == (
        'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
        'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001, cnonce="0a4f113b"'
    )


def test_camera_style_digest_vector_byte_for_byte() -> None:
    uri = "rtsp://192.168.1.64:554/Streaming/Channels/101"
    assert (
        digest_response("admin", "12345", "IP Camera(12345)", "4f6e2d9b1c0a", "DESCRIBE", uri)
        == "b6858a1c93f7ec3f1e7e42762d6a7efb"
    )
    challenge = parse_challenges(['Digest realm="IP Camera(12345)", nonce="4f6e2d9b1c0a", stale="FALSE"'])[0]
    assert digest_authorization(challenge, "admin", "12345", "DESCRIBE", uri) == (
        'Digest username="admin", realm="IP Camera(12345)", nonce="4f6e2d9b1c0a", '
        f'uri="{uri}", response="b6858a1c93f7ec3f1e7e42762d6a7efb"'
    )


def test_digest_nonce_count_and_md5_sess() -> None:
    challenge = Challenge("digest", {"realm": "r", "nonce": "n", "qop": "auth", "algorithm": "MD5-sess"})
    header = digest_authorization(challenge, "u", "p", "DESCRIBE", "rtsp://h/x", nc=2, cnonce_factory=lambda: "c")
    expected = digest_response(
        "u", "p", "r", "n", "DESCRIBE", "rtsp://h/x", qop="auth", nc="00000002", cnonce="c", algorithm="MD5-sess"
    )
    assert f'response="{expected}"' in header and "nc=00000002" in header and "algorithm=MD5-sess" in header
    assert expected != digest_response(
        "u", "p", "r", "n", "DESCRIBE", "rtsp://h/x", qop="auth", nc="00000002", cnonce="c"
    )


def test_basic_rfc7617_vector() -> None:
    assert basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_challenges_several_per_header_quoted_escapes_and_garbage() -> None:
    parsed = parse_challenges(
        ['Digest realm="a \\"q\\", b", nonce=abc, Basic realm="x"', "Newauth foo=bar", "=== {garbage"]
    )
    assert parsed == [
        Challenge("digest", {"realm": 'a "q", b', "nonce": "abc"}),
        Challenge("basic", {"realm": "x"}),
        Challenge("newauth", {"foo": "bar"}),
    ]


DIGEST = Challenge("digest", {"realm": "r", "nonce": "n"})
BASIC = Challenge("basic", {"realm": "r"})
SHA = Challenge("digest", {"realm": "r", "nonce": "n", "algorithm": "SHA-256"})


@pytest.mark.parametrize(
    ("offered", "configured", "expected"),
    [
        ([DIGEST, BASIC], "auto", "digest"),
        ([BASIC], "auto", "basic"),
        ([DIGEST], "basic", "digest"),  # never Basic over a Digest-only challenge
        ([DIGEST, BASIC], "basic", "basic"),
        ([], "basic", "basic"),  # configured, and the camera names no scheme
        ([BASIC], "digest", "the camera offers Basic, but Digest is configured"),
        ([], "auto", "the camera asked for credentials without naming an authentication scheme"),
        ([SHA], "auto", "the camera asks for Digest authentication, which the hub does not support"),
    ],
)
def test_choose_scheme(offered: list[Challenge], configured: str, expected: str) -> None:
    choice = choose_scheme(offered, configured)
    assert (choice if isinstance(choice, str) else choice[0]) == expected


# ----------------------------------------------------------------------------- the message parser

OK_SDP = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=x\r\n!"


def test_parser_byte_by_byte_and_leftover() -> None:
    parser = ResponseParser()
    responses = []
    for byte in OK_SDP:
        parser.feed(bytes([byte]))
        if (response := parser.next_response()) is not None:
            responses.append(response)
    assert len(responses) == 1
    assert (responses[0].status, responses[0].reason, responses[0].cseq) == (200, "OK", 2)
    assert responses[0].body == b"v=0\r\ns=x\r\n"
    assert responses[0].header("content-type") == "application/sdp"
    assert parser.next_response() is None  # the "!" waits for more


def test_parser_two_answers_bare_lf_folding_and_interleaved_data() -> None:
    parser = ResponseParser()
    parser.feed(b"$\x00\x00\x03abc")  # an RTP packet on channel 0 before the answer
    parser.feed(b'RTSP/1.0 401 Unauthorized\nCSeq: 1\nWWW-Authenticate: Digest realm="r",\n nonce="n"\n\n')
    parser.feed(b"RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
    first, second = parser.next_response(), parser.next_response()
    assert first is not None and second is not None
    assert first.status == 401 and first.header_all("www-authenticate") == ['Digest realm="r", nonce="n"']
    assert (second.status, second.cseq, second.body) == (200, 2, b"")
    assert parser.next_response() is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 200 OK\r\n\r\n", "not an RTSP answer"),
        (b"\x00\xff\x13garbage\r\n\r\n", "not an RTSP answer"),
        (b"RTSP/2.0 200 OK\r\n\r\n", "RTSP/2.0"),
        (b"RTSP/1.0 2000 OK\r\n\r\n", "not an RTSP answer"),
        (b"RTSP/1.0 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n", "bad Content-Length"),
        (b"RTSP/1.0 200 OK\r\nContent-Length: 99999999999999\r\n\r\n", "announces a 99999999999999-byte body"),
    ],
)
def test_parser_refuses_garbage(data: bytes, message: str) -> None:
    parser = ResponseParser()
    parser.feed(data)
    with pytest.raises(RtspProtocolError, match=message):
        parser.next_response()


def test_parser_endless_header_is_cut_off_at_the_cap() -> None:
    parser = ResponseParser(max_head=16 * 1024)
    parser.feed(b"RTSP/1.0 200 OK\r\n")
    fed = 0
    with pytest.raises(RtspProtocolError, match="longer than 16384 bytes"):
        while fed < 10_000_000:
            parser.feed(b"X-Junk: " + b"a" * 1000 + b"\r\n")
            fed += 1010
            parser.next_response()
    assert fed < 20 * 1024


def test_parser_caps_its_buffer_even_without_being_asked() -> None:
    parser = ResponseParser(max_head=1024, max_body=1024)
    with pytest.raises(RtspProtocolError, match="more than 2048 bytes"):
        for _ in range(100):
            parser.feed(b"z" * 100)


def test_build_request() -> None:
    assert build_request("DESCRIBE", "rtsp://h:554/x", 3, {"Accept": "application/sdp"}) == (
        b"DESCRIBE rtsp://h:554/x RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: MaderasHub-probe/1.0\r\n"
        b"Accept: application/sdp\r\n\r\n"
    )


# ----------------------------------------------------------------------------- SDP


def test_sdp_video_with_rtpmap_and_framesize() -> None:
    sdp = parse_sdp(
        "v=0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=framesize:96 1920-1080\r\n"
        "m=video 0 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=framesize:97 640-360\r\n"
    )
    assert (sdp.media, sdp.codec, sdp.width, sdp.height) == (("audio", "video", "video"), "H265", 1920, 1080)


def test_sdp_static_jpeg_and_x_dimensions() -> None:
    sdp = parse_sdp("m=video 0 RTP/AVP 26\na=x-dimensions:704,576\n")
    assert (sdp.codec, sdp.width, sdp.height) == ("JPEG", 704, 576)


def test_sdp_audio_only_and_garbage() -> None:
    assert parse_sdp("v=0\nm=audio 0 RTP/AVP 0\n").media == ("audio",)
    garbage = parse_sdp("\x00\x01\nm= \nm=video\na=fmtp:96 sprop-parameter-sets=!!!,\na=rtpmap:\n")
    assert (garbage.media, garbage.codec, garbage.width) == (("unknown", "video"), None, None)


def test_sps_garbage_is_none() -> None:
    assert h264_sps_size("aGVsbG8=") is None  # not an SPS NAL
    assert h264_sps_size("Z0I=") is None  # an SPS cut short
    assert h264_sps_size("!!!") is None


# ----------------------------------------------------------------------------- live: GStreamer


async def test_digest_camera_ok_with_codec_and_size(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="digest")
    result = await probe(server.url("/test"), "admin", "secret", timeout=20)
    assert (result.status, result.auth, result.codec, result.width, result.height) == ("ok", "digest", "H264", 320, 240)
    assert result.reason == "the camera streams H264 320x240"
    assert result.elapsed_ms > 0
    print(f"probe ok in {result.elapsed_ms} ms")


async def test_basic_camera_ok_and_credentials_from_the_url(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="basic", password="p@ss:w/rd %")
    result = await probe(server.url("/test", "admin", "p@ss:w/rd %"), timeout=20)
    assert (result.status, result.auth) == ("ok", "basic"), result.reason


async def test_configured_basic_still_answers_a_digest_only_camera_with_digest(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="digest")
    result = await probe(server.url("/test"), "admin", "secret", auth="basic", timeout=20)
    assert (result.status, result.auth) == ("ok", "digest")


async def test_configured_digest_refuses_a_basic_only_camera(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="basic")
    result = await probe(server.url("/test"), "admin", "secret", auth="digest", timeout=20)
    assert (result.status, result.reason) == ("auth_failed", "the camera offers Basic, but Digest is configured")


@pytest.mark.parametrize("scheme", ["digest", "basic"])
async def test_wrong_password_is_auth_failed(rtsp_server: StartServer, scheme: str) -> None:
    server = rtsp_server(auth=scheme)
    result = await probe(server.url("/test"), "admin", "wrong", timeout=20)
    assert result.status == "auth_failed"
    assert result.reason == f"the camera refused user admin ({scheme.capitalize()})"


async def test_missing_credentials_are_auth_failed(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="digest")
    result = await probe(server.url("/test"), timeout=20)
    assert (result.status, result.reason) == ("auth_failed", "the camera needs a user name and password")


async def test_audio_only_is_no_video(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="digest")
    result = await probe(server.url("/audio"), "admin", "secret", timeout=20)
    assert (result.status, result.reason, result.media) == (
        "no_video",
        "the stream has no video, only audio",
        ("audio",),
    )


async def test_unknown_path_says_what_the_camera_answered(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="none")
    result = await probe(server.url("/nope"), timeout=20)
    assert (result.status, result.reason) == ("error", "camera answered 404 Not Found for /nope")


async def test_size_with_sps_cropping(rtsp_server: StartServer) -> None:
    # 200x150 is not a whole number of 16x16 macroblocks: the SPS carries frame cropping.
    server = rtsp_server(auth="none", width=200, height=150)
    result = await probe(server.url("/test"), timeout=20)
    assert (result.status, result.width, result.height) == ("ok", 200, 150)


async def test_killed_camera_is_unreachable_and_back_after_restart(rtsp_server: StartServer) -> None:
    server = rtsp_server(auth="digest")
    assert (await probe(server.url("/test"), "admin", "secret", timeout=20)).ok
    server.kill()
    down = await probe(server.url("/test"), "admin", "secret", timeout=20)
    assert (down.status, down.reason) == ("unreachable", f"connection refused by 127.0.0.1:{server.port}")
    server.start()
    assert (await probe(server.url("/test"), "admin", "secret", timeout=20)).ok


# ----------------------------------------------------------------------------- live: misbehaving peers


@asynccontextmanager
async def fake_camera(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """An asyncio TCP server running `handler` per connection; yields its port."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await probe(f"rtsp://127.0.0.1:{port}/live", "admin", "x")
    assert (result.status, result.reason) == ("unreachable", f"connection refused by 127.0.0.1:{port}")


async def test_silent_camera_is_unreachable_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the probe gives up and closes

    async with fake_camera(silent) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", "admin", "x", timeout=1.0)
    assert result.status == "unreachable"
    assert result.reason == f"127.0.0.1:{port} accepted the connection but did not answer within 1 s"


async def test_endless_header_is_cut_off() -> None:
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n")
        while sent < 50_000_000:
            writer.write(b"X-Junk: " + b"a" * 4000 + b"\r\n")
            sent += 4010
            await writer.drain()

    async with fake_camera(endless) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", timeout=20)
    assert result.status == "error"
    assert "headers are longer than 16384 bytes" in result.reason or "more than" in result.reason
    assert sent < 50_000_000


async def test_huge_content_length_is_refused_without_reading_it() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4000000000\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with fake_camera(huge) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", timeout=20)
    assert result.status == "error"
    assert result.reason.endswith("the answer announces a 4000000000-byte body (limit 65536)")


async def test_wrong_cseq_is_an_error() -> None:
    async def confused(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with fake_camera(confused) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", timeout=20)
    assert (result.status, result.reason) == ("error", "the camera answered CSeq 7 to request 1")


async def test_http_server_is_not_a_camera() -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with fake_camera(http) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", timeout=20)
    assert result.status == "error"
    assert (
        result.reason
        == f"127.0.0.1:{port} is not answering like an RTSP camera: not an RTSP answer: 'HTTP/1.1 400 Bad Request'"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cam/x", "the probe speaks rtsp://, not http"),
        ("rtsp:///x", "the camera URL has no host"),
        ("rtsp://cam:99999/x", "not a valid camera URL"),
    ],
)
async def test_bad_urls_are_errors_not_exceptions(url: str, reason: str) -> None:
    result = await probe(url)
    assert result.status == "error" and result.reason.startswith(reason)


async def test_camera_that_hangs_up_after_each_401_is_asked_again() -> None:
    connections = 0
    sdp = b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"

    async def strict(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while head := (await reader.readuntil(b"\r\n\r\n")).decode():
            method, uri = head.split(" ")[:2]
            cseq = re.search(r"CSeq: (\d+)", head)
            assert cseq is not None
            fields = dict(re.findall(r'(\w+)="([^"]*)"', head))
            expected = digest_response("admin", "pw", "cam", "abc123", method, uri)
            if method == "OPTIONS":
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq[1]}\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n".encode())
            elif fields.get("response") == expected:
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq[1]}\r\nContent-Length: {len(sdp)}\r\n\r\n".encode() + sdp)
            else:
                challenge = 'WWW-Authenticate: Digest realm="cam", nonce="abc123"'
                writer.write(f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq[1]}\r\n{challenge}\r\n\r\n".encode())
                await writer.drain()
                return  # hang up, like some cameras do
            await writer.drain()

    async with fake_camera(strict) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", "admin", "pw", timeout=20)
    assert (result.status, result.auth, result.codec) == ("ok", "digest", "H264")
    assert connections == 2


async def test_camera_that_hangs_up_at_once_is_unreachable() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    async with fake_camera(rude) as port:
        result = await probe(f"rtsp://127.0.0.1:{port}/live", timeout=20)
    # An EOF or a reset, depending on timing: the sentence is the same, a reset adds its errno text.
    assert result.status == "unreachable"
    assert result.reason.startswith(f"127.0.0.1:{port} closed the connection without answering")


def test_missing_gstreamer_fails_under_ci_and_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no typelib.*apt-get install gir1.2-gst-rtsp-server-1.0"):
        require_gstreamer(lambda: "no typelib")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no typelib"):
        require_gstreamer(lambda: "no typelib")
    require_gstreamer(lambda: None)  # installed: nothing happens
