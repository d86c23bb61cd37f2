"""Pairing RTSP cameras found on the network: `_rtsp._tcp` announcements and ONVIF WS-Discovery answers.

The offer asks for the camera's user and password (and, for an ONVIF camera, the stream path, since
its RTSP URL is not announced); pairing probes the stream with them and saves nothing unless the
camera serves video. The entry keeps host, port and path apart so a camera found at a new address
gets its entry's host updated without losing the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.pairing import Ask, Found, Offer, Paired, PairingError

from .config import _slugify
from .rtsp import probe

DEFAULT_RTSP_PORT = 554
KIND = "camera"
USERNAME = Ask("username", "User name")
PASSWORD = Ask("password", "Password", secret=True)
STREAM_PATH = Ask("stream_path", "Stream path (from the camera's manual)", pattern=r"/\S*", default="/")


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip() or None if isinstance(value, str) else None


def _path(properties: Mapping[str, Any]) -> str:
    """The stream path an `_rtsp._tcp` TXT record names (`path=/live`), else "/"."""
    path = _text(properties.get("path")) or "/"
    return path if path.startswith("/") else "/" + path


def stream_url(host: str, port: int, path: str) -> str:
    """rtsp://host:port/path (IPv6 literals bracketed)."""
    where = f"[{host}]" if ":" in host else host
    return f"rtsp://{where}:{port}{path if path.startswith('/') else '/' + path}"


async def async_discovered(hub: Any, found: Found) -> Offer | None:
    """An offer for a camera announcing `_rtsp._tcp` or answering WS-Discovery; None for anything else."""
    if not found.host:
        return None
    if found.source == "zeroconf":
        properties = found.properties
        port = found.port or DEFAULT_RTSP_PORT
        serial = _text(properties.get("serial")) or _text(properties.get("mac"))
        unique_id = f"serial:{serial.lower()}" if serial else f"{found.host}:{port}"
        title = found.name or found.host
        details = {"model": _text(properties.get("model")), "path": _path(properties),
                   "url": stream_url(found.host, port, _path(properties))}  # fmt: skip
        return Offer(unique_id, title, KIND, (USERNAME, PASSWORD), details,
                     address_data={"host": found.host, "rtsp_port": port})  # fmt: skip
    if found.source == "wsdiscovery":
        endpoint = _text(found.extra.get("endpoint"))
        if endpoint is None:
            return None
        title = found.name or _text(found.extra.get("hardware")) or found.host
        onvif_details: dict[str, Any] = {"hardware": found.extra.get("hardware"), "location": found.extra.get("location"),
                   "onvif": list(found.extra.get("xaddrs") or ())}  # fmt: skip
        address = {"host": found.host, "onvif_port": found.port} if found.port else {"host": found.host}
        return Offer(endpoint, title, KIND, (USERNAME, PASSWORD, STREAM_PATH), onvif_details, address_data=address)
    return None


async def async_pair(hub: Any, found: Found, answers: Mapping[str, str]) -> Paired:
    """Probe the stream with the answers; the entry's data once the camera serves video."""
    assert found.host is not None  # async_discovered offers nothing without one
    onvif = found.source == "wsdiscovery"
    port = DEFAULT_RTSP_PORT if onvif else (found.port or DEFAULT_RTSP_PORT)
    path = answers.get("stream_path", "/") if onvif else _path(found.properties)
    title = found.name or (_text(found.extra.get("hardware")) if onvif else None) or found.host
    username, password = answers["username"], answers["password"]
    url = stream_url(found.host, port, path)
    result = await probe(url, username, password)
    if result.status == "auth_failed":
        raise PairingError("password", result.reason)
    if result.status == "unreachable":
        raise PairingError(None, f"could not reach {title} at {found.host}:{port}: {result.reason}")
    if not result.ok:  # it answered, but not with video on this path
        raise PairingError("stream_path" if onvif else None, f"{title}: {result.reason}")
    data: dict[str, Any] = {"name": title, "id": _free_id(hub, title), "host": found.host, "rtsp_port": port,
                            "stream_path": path, "username": username, "password": password}  # fmt: skip
    if onvif and found.port:
        data["onvif_port"] = found.port
    return Paired(title, data)


def _free_id(hub: Any, title: str) -> str:
    """A camera id no YAML camera and no other entry has (it names the entities)."""
    from . import get_runtime

    taken = {e.data.get("id") for e in hub.config_entries.entries("rtsp_camera")}
    try:
        taken |= set(get_runtime(hub).cameras)
    except LookupError:
        pass
    base = _slugify(title)
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def camera_conf(data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's data as a `cameras:` item of the YAML block (before its schema)."""
    conf: dict[str, Any] = {
        "name": data["name"], "id": data["id"],
        "sub_url": stream_url(data["host"], int(data.get("rtsp_port", DEFAULT_RTSP_PORT)), data.get("stream_path", "/")),
        # Paired cameras run without the face worker, which only YAML cameras that want faces start.
        "faces": {"enabled": False},
    }  # fmt: skip
    for key in ("username", "password", "area"):
        if data.get(key):
            conf[key] = data[key]
    if data.get("onvif_port"):
        conf["host"] = data["host"]
        conf["onvif"] = {"port": int(data["onvif_port"])}
    return conf
