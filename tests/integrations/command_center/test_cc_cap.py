"""CAP 1.2: parse what render_cap writes with defusedxml and check PROTOCOLS.md 3.1 element by element."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as DET
import pytest

from integrations.command_center.cap import CAP_NAMESPACE, PROFILES, cap_reference, cap_time, render_cap
from integrations.command_center.mapping import CATEGORIES

NS = {"cap": CAP_NAMESPACE}
SENT = datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC)
SENT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[-+]\d{2}:\d{2}")
CATEGORY_VALUES = {
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
}


def record(category: str = "gas", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "01HX0000000000000000000001",
        "category": category,
        "kind": "alarm",
        "zone": {"id": "kitchen_gas", "number": 10, "name": "Cocina gas"},
        "entity_id": "binary_sensor.kitchen_gas",
        "time": SENT.timestamp() - 2,
        "context_id": "01HX",
        "snapshot": None,
        "status": "active",
        "message": "Gas detectado: Cocina gas",
        "mode": "armed_away",
        "user": None,
    }
    base.update(changes)
    return base


def render(alarm: dict[str, Any], **kwargs: Any) -> Element:
    options: dict[str, Any] = {
        "identifier": "hub-1234-0001",
        "sender": "hub.maderas.example",
        "sent": SENT,
        "area_desc": "Domicilio abonado 1234",
    }
    options.update(kwargs)
    xml = render_cap(alarm, **options)
    assert xml.startswith(b"<?xml")
    root: Element = DET.fromstring(xml)
    return root


def text(node: Element, path: str) -> str:
    found = node.find(path, NS)
    assert found is not None, path
    return found.text or ""


def test_required_alert_elements() -> None:
    root = render(record())
    assert root.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert text(root, "cap:identifier") == "hub-1234-0001"
    assert text(root, "cap:sender") == "hub.maderas.example"
    assert text(root, "cap:sent") == "2026-01-15T06:00:05-06:00"
    assert SENT_RE.fullmatch(text(root, "cap:sent"))
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:msgType") == "Alert"
    assert text(root, "cap:scope") == "Private"
    assert text(root, "cap:addresses") == "command-center"
    assert root.find("cap:references", NS) is None
    # The order CAP's schema prescribes for the alert block.
    names = [child.tag.split("}")[1] for child in root]
    assert names == ["identifier", "sender", "sent", "status", "msgType", "scope", "addresses", "info"]


def test_required_info_and_area_elements() -> None:
    info = render(record(), circle=(20.5888, -100.3899, 0.05)).find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:language") == "es-MX"
    assert text(info, "cap:category") == "Safety"
    assert text(info, "cap:event") == "Fuga de gas"
    assert text(info, "cap:urgency") == "Immediate"
    assert text(info, "cap:severity") == "Severe"
    assert text(info, "cap:certainty") == "Observed"
    assert text(info, "cap:headline") == "Fuga de gas: Cocina gas"
    assert SENT_RE.fullmatch(text(info, "cap:onset"))
    description = text(info, "cap:description")
    assert "Cocina gas (zona 10)" in description
    assert "binary_sensor.kitchen_gas" in description
    assert "2026-01-15 06:00:03" in description  # Mexico City time of the reading
    assert text(info, "cap:parameter/cap:valueName") == "alarm_id"
    assert text(info, "cap:parameter/cap:value") == "01HX0000000000000000000001"
    assert info.find("cap:resource", NS) is None
    assert text(info, "cap:area/cap:areaDesc") == "Domicilio abonado 1234"
    assert text(info, "cap:area/cap:circle") == "20.588800,-100.389900 0.05"
    names = [child.tag.split("}")[1] for child in info]
    order = [
        "language",
        "category",
        "event",
        "urgency",
        "severity",
        "certainty",
        "onset",
        "senderName",
        "headline",
        "description",
        "parameter",
        "resource",
        "area",
    ]
    assert names == [name for name in order if name in names]


def test_snapshot_resource() -> None:
    info = render(record("unknown_face"), snapshot_url="https://hub.example/snap.jpg?a=1&b=2").find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:category") == "Security"
    assert text(info, "cap:event") == "Rostro desconocido"
    assert text(info, "cap:resource/cap:uri") == "https://hub.example/snap.jpg?a=1&b=2"
    assert text(info, "cap:resource/cap:mimeType") == "image/jpeg"
    assert text(info, "cap:resource/cap:resourceDesc")


def test_user_text_is_escaped() -> None:
    zone = {"id": "k", "number": 3, "name": 'Cocina <"&>'}
    xml = render_cap(
        record(zone=zone, message="a </description><x>"),
        identifier="i-1",
        sender="s",
        sent=SENT,
        area_desc='Casa <1> & "2"',
    )
    assert b"<x>" not in xml
    root = DET.fromstring(xml)
    assert text(root, "cap:info/cap:headline") == 'Fuga de gas: Cocina <"&>'
    assert 'Cocina <"&>' in text(root, "cap:info/cap:description")
    assert "a </description><x>" in text(root, "cap:info/cap:description")
    assert text(root, "cap:info/cap:area/cap:areaDesc") == 'Casa <1> & "2"'


def test_control_characters_are_dropped_so_the_xml_stays_valid() -> None:
    root = render(record(zone={"number": 1, "name": "Pa\x00ti\x1bo"}))
    assert text(root, "cap:info/cap:headline") == "Fuga de gas: Patio"


def test_restore_is_an_update_referencing_the_alert() -> None:
    original = cap_reference("hub.maderas.example", "hub-1234-0001", SENT)
    assert original == "hub.maderas.example,hub-1234-0001,2026-01-15T06:00:05-06:00"
    root = render(
        record(status="restored", restored_at=SENT.timestamp() + 60),
        identifier="hub-1234-0002",
        msg_type="Update",
        references=original,
        sent=SENT + timedelta(minutes=1),
    )
    assert text(root, "cap:msgType") == "Update"
    assert text(root, "cap:references") == original
    names = [child.tag.split("}")[1] for child in root]
    assert names.index("references") == names.index("addresses") + 1
    assert text(root, "cap:info/cap:urgency") == "Past"
    assert text(root, "cap:info/cap:headline").startswith("Restablecida: ")
    with pytest.raises(ValueError, match="needs references"):
        render(record(status="restored"), msg_type="Update")


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_renders_within_the_rules(category: str) -> None:
    info = render(record(category)).find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:category") in CATEGORY_VALUES
    assert 0 < len(text(info, "cap:event")) < 35
    assert text(info, "cap:severity") in {"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
    assert set(PROFILES) == set(CATEGORIES)


@pytest.mark.parametrize(
    ("category", "cap_category", "severity"),
    [
        ("intrusion", "Security", "Severe"),
        ("panic", "Security", "Severe"),
        ("fire", "Fire", "Severe"),
        ("water_leak", "Infra", "Moderate"),
        ("tamper", "Security", "Moderate"),
        ("medical", "Health", "Severe"),
        ("sensor_offline", "Infra", "Minor"),
        ("low_battery", "Infra", "Minor"),
        ("co", "Safety", "Severe"),
    ],
)
def test_category_and_severity_choices(category: str, cap_category: str, severity: str) -> None:
    info = render(record(category)).find("cap:info", NS)
    assert info is not None
    assert (text(info, "cap:category"), text(info, "cap:severity")) == (cap_category, severity)


def test_cap_time() -> None:
    assert cap_time(datetime(2025, 9, 25, 14, 12, 4, tzinfo=UTC)) == "2025-09-25T08:12:04-06:00"
    # Mexico City has kept -06:00 all year since 2022.
    assert cap_time(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "2026-07-01T06:00:00-06:00"
    assert cap_time(datetime(2026, 7, 1, 12, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))).endswith("-06:00")
    with pytest.raises(ValueError, match="aware"):
        cap_time(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"identifier": "has space"}, "identifier"),
        ({"identifier": "a,b"}, "identifier"),
        ({"sender": "a&b"}, "sender"),
        ({"sender": "<a"}, "sender"),
        ({"msg_type": "Alarm"}, "msgType"),
        ({"area_desc": "  "}, "areaDesc"),
        ({"circle": (91.0, 0.0, 1.0)}, "circle"),
    ],
)
def test_refusals(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        render(record(), **kwargs)


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="no CAP profile"):
        render(record("earthquake"))
