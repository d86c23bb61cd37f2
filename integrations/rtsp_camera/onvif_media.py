"""A camera's stream addresses over ONVIF: device information, media profiles and GetStreamUri.

Pairing a camera found by WS-Discovery needs its RTSP URLs, which only the camera knows. With the
resident's user and password this asks the camera (onvif-zeep-async, the clock read first so a
camera whose clock is off still accepts the WS-UsernameToken) for its media profiles and the
stream URI of the largest (main) and smallest (sub, the one the hub analyses) picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import zeep.exceptions

from .onvif_events import DeviceIdentity, describe_error, import_onvif, is_auth_error

_LOGGER = logging.getLogger(__name__)

MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
DEFAULT_RTSP_PORT = 554
# What we ask GetStreamUri for: unicast RTP inside RTSP, the one setup every ONVIF camera must offer.
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}

FailureKind = Literal["auth", "unreachable", "no_media", "error"]


class OnvifMediaError(Exception):
    """The camera's streams could not be read: `kind` says why, `message` in words (never the password)."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Profile:
    """One media profile with video: its token and picture size."""

    token: str
    name: str
    width: int
    height: int
    encoding: str | None = None

    @property
    def pixels(self) -> int:
        """The picture's area, to rank profiles."""
        return self.width * self.height


@dataclass(frozen=True)
class StreamLocation:
    """Where a stream URI points, without the credentials some cameras put inline."""

    host: str | None
    port: int
    path: str  # path and query: `/Streaming/Channels/101`, `/cam/realmonitor?channel=1&subtype=0`


@dataclass(frozen=True)
class MediaStream:
    """A chosen profile and where its stream is."""

    profile: Profile
    location: StreamLocation


@dataclass(frozen=True)
class CameraStreams:
    """What pairing learns from the camera: who it is, its main stream and its sub stream (maybe the same)."""

    device: DeviceIdentity
    main: MediaStream
    sub: MediaStream


def choose_profiles(profiles: Sequence[Profile]) -> tuple[Profile, Profile]:
    """(main, sub): the largest and the smallest picture; the first of equals wins; one profile is both."""
    if not profiles:
        raise ValueError("no profiles")
    main = max(profiles, key=lambda p: p.pixels)  # max/min keep the first of equal keys
    sub = min(profiles, key=lambda p: p.pixels)
    return main, sub


def stream_location(uri: str) -> StreamLocation:
    """Host, port and path of an rtsp:// URI with any `user:password@` dropped; ValueError if it is not one."""
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "rtsp":
        raise ValueError(f"the camera offers its stream as {parts.scheme or 'a URI without scheme'}, not rtsp://")
    port = parts.port or DEFAULT_RTSP_PORT  # ValueError for a port that is not a number
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StreamLocation(parts.hostname, port, path if path.startswith("/") else "/" + path)


def _profile(raw: Any) -> Profile | None:
    """A zeep tt:Profile as a Profile; None for one without a video encoder (audio or metadata only)."""
    encoder = getattr(raw, "VideoEncoderConfiguration", None)
    resolution = getattr(encoder, "Resolution", None)
    token = getattr(raw, "token", None)
    if resolution is None or not token:
        return None
    try:
        width, height = int(resolution.Width), int(resolution.Height)
    except (AttributeError, TypeError, ValueError):
        return None
    encoding = getattr(encoder, "Encoding", None)
    return Profile(str(token), str(getattr(raw, "Name", "") or token), width, height,
                   str(encoding) if encoding else None)  # fmt: skip


async def read_streams(host: str, port: int, username: str, password: str, *, timeout: float = 30.0) -> CameraStreams:
    """Ask the camera at its ONVIF device service for its identity and main / sub stream; OnvifMediaError if not."""
    camera = import_onvif()(host, port, username, password, adjust_time=True, no_cache=True)
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await _read(camera, username)
    except OnvifMediaError:
        raise
    except TimeoutError as err:
        if deadline.expired():
            raise OnvifMediaError("unreachable", f"no answer within {timeout:g} s") from None
        raise _classify(err, username) from err
    except Exception as err:  # onvif wraps what it meets in ONVIFError, zeep and aiohttp raise their own
        raise _classify(err, username) from err
    finally:
        await _close(camera)


async def _read(camera: Any, username: str) -> CameraStreams:
    # Reads the camera clock first (GetSystemDateAndTime needs no auth), then GetServices, else GetCapabilities.
    await camera.update_xaddrs()
    if MEDIA_NS not in camera.xaddrs:
        # Some cameras list the media service only among their capabilities.
        media_capability = (await camera.get_capabilities() or {}).get("Media") or {}
        if media_capability.get("XAddr"):
            camera.xaddrs[MEDIA_NS] = media_capability["XAddr"]
    if MEDIA_NS not in camera.xaddrs:
        raise OnvifMediaError("no_media", "the camera has no ONVIF media service, so it names no stream")
    device = await _identity(camera, username)
    media = await camera.create_media_service()
    raw_profiles = await media.GetProfiles() or []
    profiles = [p for p in map(_profile, raw_profiles) if p is not None]
    if not profiles:
        if raw_profiles:
            raise OnvifMediaError("no_media", f"none of the camera's {len(raw_profiles)} media profiles has video")
        raise OnvifMediaError("no_media", "the camera names no stream: it has no media profiles")
    main, sub = choose_profiles(profiles)
    main_location = await _stream_uri(media, main)
    sub_location = main_location if sub == main else await _stream_uri(media, sub)
    return CameraStreams(device, MediaStream(main, main_location), MediaStream(sub, sub_location))


async def _identity(camera: Any, username: str) -> DeviceIdentity:
    """GetDeviceInformation; a camera that will not say (but accepted us) is paired without it."""
    try:
        info = await (await camera.create_devicemgmt_service()).GetDeviceInformation()
    except zeep.exceptions.Fault as err:
        if is_auth_error(err):
            raise _classify(err, username) from err
        _LOGGER.debug("%s: GetDeviceInformation refused: %s", camera.host, describe_error(err))
        return DeviceIdentity("", "", "", "")

    def text(name: str) -> str:
        value = getattr(info, name, None)
        return "" if value is None else str(value).strip()

    return DeviceIdentity(text("Manufacturer"), text("Model"), text("SerialNumber"), text("FirmwareVersion"))


async def _stream_uri(media: Any, profile: Profile) -> StreamLocation:
    answer = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": profile.token})
    uri = getattr(answer, "Uri", None)
    if not uri:
        raise OnvifMediaError("error", f"the camera gave no stream URI for profile {profile.name}")
    try:
        return stream_location(str(uri))
    except ValueError as err:
        raise OnvifMediaError("error", f"profile {profile.name}: {err}") from None


def _classify(err: BaseException, username: str) -> OnvifMediaError:
    """An onvif / zeep / aiohttp error as refused, unreachable or another failure, in words."""
    cause = err.__cause__ or err
    if is_auth_error(err) or is_auth_error(cause):
        return OnvifMediaError("auth", f"the camera refused user {username} ({describe_error(cause)})")
    if isinstance(cause, zeep.exceptions.TransportError):
        return OnvifMediaError("error", f"the camera answered HTTP {cause.status_code}")
    if isinstance(cause, aiohttp.ClientError | OSError | TimeoutError) or type(err).__name__ == "ONVIFTimeoutError":
        return OnvifMediaError("unreachable", describe_error(cause))
    if isinstance(cause, zeep.exceptions.Fault):
        return OnvifMediaError("error", f"the camera refused: {describe_error(cause)}")
    return OnvifMediaError("error", f"the camera's ONVIF answer could not be read: {describe_error(cause)}")


async def _close(camera: Any) -> None:
    """Close every HTTP session of the camera, even when cancelled meanwhile (else sockets leak)."""

    async def release() -> None:
        with contextlib.suppress(Exception):
            await camera.close()
        # camera.close() stops at the first service that fails to close; close each on its own too.
        for service in list(camera.services.values()):
            with contextlib.suppress(Exception):
                await service.close()

    closing = asyncio.ensure_future(release())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await asyncio.wait([closing])
        raise
