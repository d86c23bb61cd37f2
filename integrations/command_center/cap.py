"""OASIS CAP 1.2 XML (es-MX) of one alarm record, for the command centre's webhooks.

Choices where CAP leaves room: gas and carbon monoxide are `Safety` (a leak in a home, not an attack,
so not `CBRNE`), fire is `Fire`, a water leak and the equipment troubles are `Infra`, intrusion,
camera, panic, duress, tamper and open/close are `Security`, medical is `Health`, tests are `Other`.
Times are written in America/Mexico_City (`-06:00`, no DST since 2022) without `Z`, as CAP asks.
A restore is sent as msgType `Update` that references the original alert, with urgency `Past`.
The document is built with ElementTree, which escapes every text; characters XML 1.0 cannot carry
at all (control characters) are dropped first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
LOCAL_TIME = ZoneInfo("America/Mexico_City")
ADDRESSES = "command-center"
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
# CAP forbids these in identifier and sender (they delimit `references`).
_ID_FORBIDDEN = re.compile(r"[\s,<&]")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class CapProfile:
    """How one alarm category reads in CAP: category, Spanish event name (< 35 chars), severity."""

    category: str
    event: str
    severity: str


PROFILES: dict[str, CapProfile] = {
    "intrusion": CapProfile("Security", "Intrusión", "Severe"),
    "unknown_face": CapProfile("Security", "Rostro desconocido", "Severe"),
    "gas": CapProfile("Safety", "Fuga de gas", "Severe"),
    "water_leak": CapProfile("Infra", "Fuga de agua", "Moderate"),
    "fire": CapProfile("Fire", "Incendio", "Severe"),
    "co": CapProfile("Safety", "Monóxido de carbono", "Severe"),
    "panic": CapProfile("Security", "Pánico", "Severe"),
    "duress": CapProfile("Security", "Coacción", "Severe"),
    "medical": CapProfile("Health", "Emergencia médica", "Severe"),
    "tamper": CapProfile("Security", "Sabotaje", "Moderate"),
    "sensor_offline": CapProfile("Infra", "Sensor sin comunicación", "Minor"),
    "low_battery": CapProfile("Infra", "Batería baja", "Minor"),
    "ac_loss": CapProfile("Infra", "Falla de energía eléctrica", "Minor"),
    "test": CapProfile("Other", "Prueba manual", "Minor"),
    "open_close": CapProfile("Security", "Apertura o cierre", "Minor"),
    "link_test": CapProfile("Other", "Prueba de enlace", "Minor"),
}


def cap_time(moment: datetime) -> str:
    """`YYYY-MM-DDThh:mm:ss-06:00`: CAP's date-time in Mexico City time, never `Z`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("CAP times need an aware datetime")
    # Always local time: the offset is then -06:00, never the `Z` or +00:00 that CAP consumers refuse.
    return moment.astimezone(LOCAL_TIME).isoformat(timespec="seconds")


def cap_reference(sender: str, identifier: str, sent: datetime) -> str:
    """One `sender,identifier,sent` triple for the `references` of an Update or Cancel."""
    _check_id("sender", sender)
    _check_id("identifier", identifier)
    return f"{sender},{identifier},{cap_time(sent)}"


def _check_id(name: str, value: str) -> None:
    if not value or _ID_FORBIDDEN.search(value):
        raise ValueError(f"CAP {name} must be non-empty without spaces, commas, '<' or '&': {value!r}")


def _clean(text: Any) -> str:
    return _XML_ILLEGAL.sub("", str(text))


def _node(parent: ET.Element, tag: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{CAP_NAMESPACE}}}{tag}")


def _add(parent: ET.Element, tag: str, text: Any) -> ET.Element:
    element = _node(parent, tag)
    element.text = _clean(text)
    return element


def _moment(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, LOCAL_TIME)


def _description(alarm: Mapping[str, Any], zone: Mapping[str, Any], occurred: datetime | None) -> str:
    lines = []
    name, number = zone.get("name"), zone.get("number")
    if name or number is not None:
        label = f"{name} (zona {number})" if name and number is not None else f"{name or f'zona {number}'}"
        lines.append(f"Zona: {label}")
    if alarm.get("entity_id"):
        lines.append(f"Sensor: {alarm['entity_id']}")
    if occurred is not None:
        lines.append(f"Hora: {occurred.strftime('%Y-%m-%d %H:%M:%S')} (hora del centro de México)")
    restored = _moment(alarm.get("restored_at"))
    if restored is not None:
        lines.append(f"Restablecida: {restored.strftime('%Y-%m-%d %H:%M:%S')}")
    if alarm.get("message"):
        lines.append(f"Mensaje: {alarm['message']}")
    lines.append(f"Alarma: {alarm.get('id')}")
    return "\n".join(lines)


def render_cap(
    alarm: Mapping[str, Any],
    *,
    identifier: str,
    sender: str,
    sent: datetime,
    msg_type: str = "Alert",
    references: str | None = None,
    area_desc: str,
    circle: tuple[float, float, float] | None = None,
    snapshot_url: str | None = None,
    language: str = "es-MX",
) -> bytes:
    """The CAP 1.2 document (UTF-8 bytes with XML declaration) announcing or updating one alarm."""
    _check_id("identifier", identifier)
    _check_id("sender", sender)
    if msg_type not in MSG_TYPES:
        raise ValueError(f"CAP msgType must be one of {', '.join(MSG_TYPES)}, got {msg_type!r}")
    if msg_type in ("Update", "Cancel") and not references:
        raise ValueError(f"a CAP {msg_type} needs references to the original alert")
    if not area_desc.strip():
        raise ValueError("CAP areaDesc must not be empty")
    category = alarm.get("category")
    profile = PROFILES.get(category) if isinstance(category, str) else None
    if profile is None:
        raise ValueError(f"no CAP profile for alarm category {category!r}")
    raw_zone = alarm.get("zone")
    zone: Mapping[str, Any] = raw_zone if isinstance(raw_zone, Mapping) else {}
    restored = alarm.get("status") == "restored"

    root = ET.Element(f"{{{CAP_NAMESPACE}}}alert")
    _add(root, "identifier", identifier)
    _add(root, "sender", sender)
    _add(root, "sent", cap_time(sent))
    _add(root, "status", "Actual")
    _add(root, "msgType", msg_type)
    _add(root, "scope", "Private")
    _add(root, "addresses", ADDRESSES)
    if references:
        _add(root, "references", references)

    info = _node(root, "info")
    _add(info, "language", language)
    _add(info, "category", profile.category)
    _add(info, "event", profile.event)
    _add(info, "urgency", "Past" if restored else "Immediate")
    _add(info, "severity", profile.severity)
    _add(info, "certainty", "Observed")
    occurred = _moment(alarm.get("time"))
    if occurred is not None:
        _add(info, "onset", cap_time(occurred))
    _add(info, "senderName", "Maderas Hub")
    where = zone.get("name") or (f"zona {zone['number']}" if zone.get("number") is not None else None)
    headline = f"{profile.event}: {where}" if where else profile.event
    _add(info, "headline", f"Restablecida: {headline}" if restored else headline)
    _add(info, "description", _description(alarm, zone, occurred))
    parameter = _node(info, "parameter")
    _add(parameter, "valueName", "alarm_id")
    _add(parameter, "value", alarm.get("id", ""))
    if snapshot_url:
        resource = _node(info, "resource")
        _add(resource, "resourceDesc", "Fotografía de la cámara")
        _add(resource, "mimeType", "image/jpeg")
        _add(resource, "uri", snapshot_url)
    area = _node(info, "area")
    _add(area, "areaDesc", area_desc)
    if circle is not None:
        lat, lon, radius_km = circle
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and radius_km >= 0):
            raise ValueError(f"circle must be (lat, lon, radius_km) on WGS-84, got {circle!r}")
        _add(area, "circle", f"{lat:.6f},{lon:.6f} {radius_km:g}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NAMESPACE)


__all__ = ["ADDRESSES", "CAP_NAMESPACE", "PROFILES", "CapProfile", "cap_reference", "cap_time", "render_cap"]
