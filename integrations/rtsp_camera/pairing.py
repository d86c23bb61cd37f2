"""Pairing RTSP cameras found on the network: `_rtsp._tcp` announcements and ONVIF WS-Discovery answers.

The offer asks only for the camera's user and password. An `_rtsp._tcp` camera announces its port and
path; an ONVIF camera is asked with those credentials for its media profiles and their stream URIs
(onvif_media.py). Pairing then probes the (sub) stream and saves nothing unless the camera serves
video. The entry keeps host, port and paths apart so a camera found at a new address gets its entry's
host updated without losing the paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.pairing import Ask, Found, Offer, Paired, PairingError

from .config import _slugify
from .onvif_media import CameraStreams, OnvifMediaError, read_streams
from .rtsp import probe

DEFAULT_RTSP_PORT = 554
KIND = "camera"
USERNAME = Ask("username", "User name")
PASSWORD = Ask("password", "Password", secret=True)
DEFAULT_ONVIF_PORT = 80


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
        return Offer(endpoint, title, KIND, (USERNAME, PASSWORD), onvif_details, address_data=address)
    return None


async def async_pair(hub: Any, found: Found, answers: Mapping[str, str]) -> Paired:
    """Learn the stream (ONVIF) and probe it with the answers; the entry's data once the camera serves video."""
    assert found.host is not None  # async_discovered offers nothing without one
    if found.source == "wsdiscovery":
        return await _pair_onvif(hub, found, answers["username"], answers["password"])
    port = found.port or DEFAULT_RTSP_PORT
    path = _path(found.properties)
    title = found.name or found.host
    username, password = answers["username"], answers["password"]
    await _probe(title, found.host, port, path, username, password)
    data: dict[str, Any] = {"name": title, "id": _free_id(hub, title), "host": found.host, "rtsp_port": port,
                            "stream_path": path, "username": username, "password": password}  # fmt: skip
    return Paired(title, data)


async def _pair_onvif(hub: Any, found: Found, username: str, password: str) -> Paired:
    """ONVIF: profiles and stream URIs with the credentials, then the sub stream probed; the entry's data."""
    assert found.host is not None
    onvif_port = found.port or DEFAULT_ONVIF_PORT
    seen_as = found.name or _text(found.extra.get("hardware")) or found.host
    try:
        streams = await read_streams(found.host, onvif_port, username, password)
    except OnvifMediaError as err:
        if err.kind == "auth":
            raise PairingError("password", err.message) from None
        if err.kind == "unreachable":
            raise PairingError(None, f"could not reach {seen_as} at {found.host}:{onvif_port}: {err.message}") from None
        raise PairingError(None, f"{seen_as}: {err.message}") from None
    title = found.name or _device_title(streams) or seen_as
    # The camera's own URI may name 0.0.0.0 or an address it had before: its host is where we found it.
    sub, main = streams.sub.location, streams.main.location
    await _probe(title, found.host, sub.port, sub.path, username, password)
    device = streams.device
    data: dict[str, Any] = {
        "name": title, "id": _free_id(hub, title), "host": found.host, "rtsp_port": sub.port,
        "main_path": main.path, "sub_path": sub.path, "username": username, "password": password,
        "onvif_port": onvif_port, "manufacturer": device.manufacturer, "model": device.model,
        "serial": device.serial, "firmware": device.firmware,
    }  # fmt: skip
    if main.port != sub.port:
        data["main_rtsp_port"] = main.port
    return Paired(title, data)


def _device_title(streams: CameraStreams) -> str | None:
    """`<model> <serial>` from GetDeviceInformation, when the camera announced no name."""
    words = [w for w in (streams.device.model, streams.device.serial) if w]
    return " ".join(words) or None


async def _probe(title: str, host: str, port: int, path: str, username: str, password: str) -> None:
    """PairingError unless the stream serves video to these credentials."""
    result = await probe(stream_url(host, port, path), username, password)
    if result.status == "auth_failed":
        raise PairingError("password", result.reason)
    if result.status == "unreachable":
        raise PairingError(None, f"could not reach {title} at {host}:{port}: {result.reason}")
    if not result.ok:  # it answered, but not with video on this path
        raise PairingError(None, f"{title}: {result.reason}")


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
    host, port = data["host"], int(data.get("rtsp_port", DEFAULT_RTSP_PORT))
    conf: dict[str, Any] = {
        "name": data["name"], "id": data["id"],
        # Paired cameras run without the face worker, which only YAML cameras that want faces start.
        "faces": {"enabled": False},
    }  # fmt: skip
    if data.get("sub_path") or data.get("main_path"):  # ONVIF: both streams, as GetStreamUri named them
        sub = data.get("sub_path") or data["main_path"]
        conf["main_url"] = stream_url(host, int(data.get("main_rtsp_port", port)), data.get("main_path") or sub)
        conf["sub_url"] = stream_url(host, port, sub)
    else:  # `_rtsp._tcp`, and entries paired before ONVIF streams: one path
        conf["sub_url"] = stream_url(host, port, data.get("stream_path", "/"))
    for key in ("username", "password", "area"):
        if data.get(key):
            conf[key] = data[key]
    if data.get("onvif_port"):
        conf["host"] = data["host"]
        conf["onvif"] = {"port": int(data["onvif_port"])}
    return conf
