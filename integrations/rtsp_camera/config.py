"""The `rtsp_camera:` block: the cameras, their streams, detection settings and CPU budget (docs/cameras.md).

Every error carries its key path (`cameras -> 1 -> host: required with preset hikvision`). A URL that
carries credentials (`rtsp://admin:pw@cam/...`) is accepted, and its user and password are moved
into `username` / `password` so the URL shown on the dashboard and in logs never holds the password.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import voluptuous as vol

from hub.config.schemas import boolean, host, number, port, positive_int, slug, string

PRESETS = ("hikvision", "dahua", "reolink", "generic")
AUTH_MODES = ("auto", "basic", "digest")


def _share(low: float, high: float) -> Any:
    def check(value: Any) -> float:
        result = number(value)
        if not low <= result <= high:
            raise vol.Invalid(f"must be from {low:g} to {high:g}, got {result:g}")
        return result

    return check


def rtsp_url(value: Any) -> str:
    """An rtsp:// or rtsps:// URL with a host; a file path or other scheme is refused with the reason."""
    text = string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("rtsp", "rtsps"):
        raise vol.Invalid(f"must be an rtsp:// URL, got {parts.scheme + '://' if parts.scheme else 'no scheme'}")
    if not parts.hostname:
        raise vol.Invalid("the URL has no host")
    return text


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without user:password@, user, password) with percent-escapes undone."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    netloc = parts.hostname or ""
    if ":" in netloc:  # IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


MOTION_SCHEMA = vol.Schema({
    vol.Optional("enabled", default=True): boolean,
    vol.Optional("fps", default=4.0): _share(0.5, 15.0),
    vol.Optional("sensitivity", default=0.5): _share(0.0, 1.0),
    vol.Optional("min_area", default=0.01): _share(0.0005, 0.5),
})  # fmt: skip

FACES_SCHEMA = vol.Schema({
    vol.Optional("enabled", default=True): boolean,
    vol.Optional("detect_per_s", default=2.0): _share(0.1, 10.0),
    vol.Optional("recognise", default=True): boolean,
})  # fmt: skip

ONVIF_SCHEMA = vol.Schema({
    vol.Optional("port", default=80): port,
    vol.Optional("enabled", default=True): boolean,
})  # fmt: skip

CAMERA_SCHEMA = vol.Schema({
    vol.Required("name"): string,
    vol.Optional("id"): slug,
    vol.Optional("preset", default="generic"): vol.In(PRESETS),
    vol.Optional("host"): host,
    vol.Optional("port", default=554): port,
    vol.Optional("channel", default=1): positive_int,
    vol.Optional("main_url"): rtsp_url,
    vol.Optional("sub_url"): rtsp_url,
    vol.Optional("username"): string,
    vol.Optional("password"): string,
    vol.Optional("auth", default="auto"): vol.In(AUTH_MODES),
    vol.Optional("area"): string,
    vol.Optional("motion", default={}): MOTION_SCHEMA,
    vol.Optional("faces", default={}): FACES_SCHEMA,
    vol.Optional("cpu_budget", default=25.0): _share(1.0, 100.0),
    vol.Optional("stall_after", default=5.0): _share(1.0, 120.0),
    vol.Optional("onvif"): ONVIF_SCHEMA,
})  # fmt: skip


def _check_camera(camera: dict[str, Any]) -> dict[str, Any]:
    camera = dict(camera)
    if camera["preset"] == "generic":
        if "main_url" not in camera and "sub_url" not in camera:
            raise vol.Invalid("a generic camera needs main_url or sub_url (or a vendor preset with host)",
                              path=["main_url"])  # fmt: skip
    elif "host" not in camera and "main_url" not in camera:
        raise vol.Invalid(f"required with preset {camera['preset']}", path=["host"])
    for key in ("main_url", "sub_url"):
        if key in camera:
            bare, user, password = split_credentials(camera[key])
            camera[key] = bare
            if user is not None and "username" not in camera:
                camera["username"] = user
            if password is not None and "password" not in camera:
                camera["password"] = password
    if "onvif" in camera and "host" not in camera:
        hostname = urlsplit(camera.get("main_url") or camera["sub_url"]).hostname
        camera["host"] = hostname
    camera.setdefault("id", _slugify(camera["name"]))
    return camera


def _slugify(name: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in name).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    return out or "camera"


def _cameras(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise vol.Invalid("expected a list of cameras")
    cameras: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        try:
            cameras.append(_check_camera(CAMERA_SCHEMA(item)))
        except vol.MultipleInvalid as err:
            raise vol.MultipleInvalid([_prefixed(e, index) for e in err.errors]) from None
        except vol.Invalid as err:
            raise _prefixed(err, index) from None
    seen: set[str] = set()
    for index, camera in enumerate(cameras):
        if camera["id"] in seen:
            raise vol.Invalid(f"two cameras have the id {camera['id']!r}; give one an `id:`", path=[index, "id"])
        seen.add(camera["id"])
    return cameras


def _prefixed(err: vol.Invalid, index: int) -> vol.Invalid:
    return vol.Invalid(err.error_message, path=[index, *err.path])


SNAPSHOTS_SCHEMA = vol.Schema({
    vol.Optional("keep_days", default=30.0): _share(0.01, 3650.0),
    vol.Optional("max_count", default=2000): positive_int,
})  # fmt: skip

CONFIG_SCHEMA = vol.Schema({
    vol.Required("cameras"): _cameras,
    vol.Optional("snapshots", default={}): SNAPSHOTS_SCHEMA,
    vol.Optional("face_match_distance", default=0.55): _share(0.2, 1.0),
})  # fmt: skip
