"""Vendor URL presets, credentials put into URLs for FFmpeg, and URLs redacted for logs."""

from __future__ import annotations

import pytest

from integrations.rtsp_camera.presets import StreamUrls, build_urls, redact, with_credentials


@pytest.mark.parametrize(
    ("preset", "host", "channel", "port", "expected"),
    [
        (
            "hikvision",
            "192.168.1.64",
            1,
            554,
            StreamUrls(
                "rtsp://192.168.1.64:554/Streaming/Channels/101", "rtsp://192.168.1.64:554/Streaming/Channels/102"
            ),
        ),
        (
            "hikvision",
            "cam.local",
            2,
            8554,
            StreamUrls("rtsp://cam.local:8554/Streaming/Channels/201", "rtsp://cam.local:8554/Streaming/Channels/202"),
        ),
        (
            "dahua",
            "10.0.0.5",
            1,
            554,
            StreamUrls(
                "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=0",
                "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=1",
            ),
        ),
        (
            "amcrest",
            "10.0.0.6",
            3,
            554,
            StreamUrls(
                "rtsp://10.0.0.6:554/cam/realmonitor?channel=3&subtype=0",
                "rtsp://10.0.0.6:554/cam/realmonitor?channel=3&subtype=1",
            ),
        ),
        (
            "reolink",
            "10.0.0.7",
            1,
            554,
            StreamUrls("rtsp://10.0.0.7:554/h264Preview_01_main", "rtsp://10.0.0.7:554/h264Preview_01_sub"),
        ),
        (
            "reolink",
            "fe80::1",
            12,
            554,
            StreamUrls("rtsp://[fe80::1]:554/h264Preview_12_main", "rtsp://[fe80::1]:554/h264Preview_12_sub"),
        ),
    ],
)
def test_vendor_urls(preset: str, host: str, channel: int, port: int, expected: StreamUrls) -> None:
    assert build_urls(preset, host, channel=channel, port=port) == expected


@pytest.mark.parametrize(
    ("preset", "host", "channel", "port", "message"),
    [
        ("generic", "10.0.0.1", 1, 554, "main_url"),
        ("axis", "10.0.0.1", 1, 554, "unknown preset 'axis'"),
        ("hikvision", "10.0.0.1", 0, 554, "channel must be 1 or more"),
        ("hikvision", "10.0.0.1", 1, 0, "port must be 1-65535"),
        ("hikvision", "10.0.0.1/evil", 1, 554, "not a host"),
        ("dahua", "user@10.0.0.1", 1, 554, "not a host"),
        ("reolink", "", 1, 554, "not a host"),
    ],
)
def test_bad_presets_are_refused_with_the_reason(preset: str, host: str, channel: int, port: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_urls(preset, host, channel=channel, port=port)


@pytest.mark.parametrize(
    ("url", "user", "password", "expected"),
    [
        ("rtsp://10.0.0.1:554/live", "admin", "12345", "rtsp://admin:12345@10.0.0.1:554/live"),
        # Characters that would end the userinfo or the password are percent-encoded.
        (
            "rtsp://10.0.0.1/live",
            "ad:min",
            "p@ss/w:rd %#?",
            "rtsp://ad%3Amin:p%40ss%2Fw%3Ard%20%25%23%3F@10.0.0.1/live",
        ),
        ("rtsp://old:creds@10.0.0.1/a?b=1", "new", "pw", "rtsp://new:pw@10.0.0.1/a?b=1"),
        ("rtsp://old:creds@10.0.0.1/a", None, None, "rtsp://10.0.0.1/a"),
        ("rtsp://10.0.0.1/a", "viewer", "", "rtsp://viewer@10.0.0.1/a"),
        ("rtsp://[fe80::1]:554/a", "u", "pä", "rtsp://u:p%C3%A4@[fe80::1]:554/a"),
    ],
)
def test_with_credentials(url: str, user: str | None, password: str | None, expected: str) -> None:
    assert with_credentials(url, user, password) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:12345@10.0.0.1:554/live", "rtsp://admin:***@10.0.0.1:554/live"),
        ("rtsp://admin:p%40ss@10.0.0.1/live?x=a@b", "rtsp://admin:***@10.0.0.1/live?x=a@b"),
        ("rtsp://a:b@c@10.0.0.1/x", "rtsp://a:***@10.0.0.1/x"),
        ("rtsp://viewer@10.0.0.1/live", "rtsp://viewer@10.0.0.1/live"),
        ("rtsp://10.0.0.1/live", "rtsp://10.0.0.1/live"),
        ("rtsp://u:pw@[fe80::1/broken", "rtsp://u:***@[fe80::1/broken"),
        ("not a url", "not a url"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_redact_hides_a_password_put_in_by_with_credentials() -> None:
    url = with_credentials(build_urls("hikvision", "10.0.0.9").sub, "admin", "s3cr:et@")
    assert "s3cr" not in redact(url)
    assert redact(url) == "rtsp://admin:***@10.0.0.9:554/Streaming/Channels/102"
