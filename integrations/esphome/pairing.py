"""What an `_esphomelib._tcp` announcement says about an ESPHome device, for the Discovered list (listed only)."""

from __future__ import annotations

from typing import Any

from hub.pairing import Found, Offer

KIND = "esphome"
WHY_NOT = ("Maderas Hub lists ESPHome devices but cannot run them yet; "
           "keep using it with its own tools (ESPHome's native API is not supported)")  # fmt: skip


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip() or None if isinstance(value, str) else None


async def async_discovered(hub: Any, found: Found) -> Offer | None:
    """An ESPHome device's announcement (TXT mac, version, platform, board, friendly_name, api_encryption)."""
    if found.source != "zeroconf":
        return None
    props = found.properties
    mac = _text(props.get("mac"))
    unique_id = f"mac:{mac.lower()}" if mac else (found.name or found.host)
    if unique_id is None:
        return None
    title = _text(props.get("friendly_name")) or found.name or found.host or unique_id
    details = {
        "esphome_version": _text(props.get("version")), "platform": _text(props.get("platform")),
        "board": _text(props.get("board")), "mac": mac, "encrypted_api": _text(props.get("api_encryption")) is not None,
        "project": _text(props.get("project_name")),
    }  # fmt: skip
    return Offer(unique_id, title, KIND, (), {k: v for k, v in details.items() if v is not None}, cannot_pair=WHY_NOT)
