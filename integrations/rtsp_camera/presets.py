"""Vendor RTSP URL builders, and putting credentials into (or hiding them from) a URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

PRESETS = ("hikvision", "dahua", "amcrest", "reolink", "generic")
REDACTED = "***"


@dataclass(frozen=True)
class StreamUrls:
    """A camera's main (full resolution) and sub (low resolution) stream URLs, without credentials."""

    main: str
    sub: str


def _netloc(host: str, port: int) -> str:
    """host:port, with an IPv6 literal in brackets; refuse anything that would change the URL's meaning."""
    host = host.strip()
    if not host or any(c in host for c in "/?#@ \t\r\n"):
        raise ValueError(f"not a host name or address: {host!r}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def build_urls(preset: str, host: str, channel: int = 1, port: int = 554) -> StreamUrls:
    """The main and sub stream URLs a vendor's cameras serve for one channel (PROTOCOLS.md 9.1)."""
    if preset == "generic":
        raise ValueError("the generic preset has no URL pattern: give main_url (and sub_url) explicitly")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if channel < 1:
        raise ValueError(f"channel must be 1 or more, got {channel}")
    base = f"rtsp://{_netloc(host, port)}"
    if preset == "hikvision":
        # Channel N's streams are N01 (main) and N02 (sub).
        return StreamUrls(f"{base}/Streaming/Channels/{channel}01", f"{base}/Streaming/Channels/{channel}02")
    if preset in ("dahua", "amcrest"):
        path = f"{base}/cam/realmonitor?channel={channel}"
        return StreamUrls(f"{path}&subtype=0", f"{path}&subtype=1")
    # reolink: the pattern reolink_aio builds; H.265 mains use h265Preview, configured as a generic URL.
    return StreamUrls(f"{base}/h264Preview_{channel:02d}_main", f"{base}/h264Preview_{channel:02d}_sub")


def _host_part(netloc: str) -> str:
    """The netloc without any userinfo."""
    return netloc.rpartition("@")[2]


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with user and password inline, percent-encoded (FFmpeg decodes them); replaces any present."""
    parts = urlsplit(url)
    host = _host_part(parts.netloc)
    if not username:
        return urlunsplit(parts._replace(netloc=host))
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def redact(url: str) -> str:
    """The URL as it may be logged or shown: the password replaced by ***, the user kept; never raises."""
    # Parsed by hand: urlsplit raises on some malformed URLs, and a log line must never fail.
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}://{user}:{REDACTED}@{host}{rest[end:]}"
