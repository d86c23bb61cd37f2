"""Alarm record -> Contact ID / SIA codes: the default tables, zone-type refinement, open/close, overrides."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.command_center.dc09.contact_id import ContactId, cid_data
from integrations.command_center.dc09.sia_dcs import SiaEvent, sia_data
from integrations.command_center.mapping import (
    CATEGORIES,
    DEFAULT_CONTACT_ID,
    DEFAULT_SIA,
    DEFAULT_TABLE,
    CodeTable,
    contact_id_for,
    sia_for,
)


def alarm(
    category: str, number: int | None = 10, zone_type: str | None = None, user: int | None = None
) -> dict[str, Any]:
    zone: dict[str, Any] = {"id": "z", "number": number, "name": "Zona"}
    if zone_type is not None:
        zone["type"] = zone_type
    return {"id": "01a2", "category": category, "kind": "alarm", "zone": zone, "status": "active", "user": user}


def test_every_category_has_both_codes() -> None:
    assert set(CATEGORIES) == set(DEFAULT_CONTACT_ID) == set(DEFAULT_SIA)
    assert len(CATEGORIES) == len(set(CATEGORIES)) == 16


@pytest.mark.parametrize(
    ("category", "cid", "sia"),
    [
        ("intrusion", 130, ("BA", "BH")),
        ("unknown_face", 130, ("BV", "BH")),
        ("gas", 151, ("GA", "GH")),
        ("water_leak", 154, ("WA", "WH")),
        ("fire", 110, ("FA", "FH")),
        ("co", 162, ("GA", "GH")),
        ("panic", 120, ("PA", "PH")),
        ("duress", 121, ("HA", "HH")),
        ("medical", 100, ("MA", "MH")),
        ("tamper", 144, ("TA", "TR")),
        ("sensor_offline", 381, ("YC", "YK")),
        ("low_battery", 384, ("XT", "XR")),
        ("ac_loss", 301, ("AT", "AR")),
        ("test", 601, ("RX", "RX")),
        ("open_close", 401, ("OP", "CL")),
        ("link_test", 602, ("RP", "RP")),
    ],
)
def test_defaults_from_the_design(category: str, cid: int, sia: tuple[str, str]) -> None:
    assert DEFAULT_CONTACT_ID[category] == cid
    assert DEFAULT_SIA[category] == sia


def test_gas_alarm_and_restore() -> None:
    record = alarm("gas", 10)
    assert contact_id_for(record, restore=False, table=DEFAULT_TABLE) == ContactId(1, 151, 1, 10)
    assert contact_id_for(record, restore=True, table=DEFAULT_TABLE) == ContactId(3, 151, 1, 10)
    assert sia_for(record, restore=False, table=DEFAULT_TABLE) == SiaEvent("GA", 10, 1)
    assert sia_for(record, restore=True, table=DEFAULT_TABLE) == SiaEvent("GH", 10, 1)
    assert cid_data("1234", contact_id_for(record, restore=False, table=DEFAULT_TABLE)) == "#1234|1151 01 010"
    assert sia_data("1234", sia_for(record, restore=False, table=DEFAULT_TABLE)) == "#1234|Nri1/GA010"


@pytest.mark.parametrize(
    ("category", "zone_type", "code"),
    [
        ("intrusion", "entry_exit", 134),
        ("intrusion", "perimeter", 131),
        ("intrusion", "interior", 132),
        ("intrusion", "camera", 130),
        ("intrusion", None, 130),
        ("unknown_face", "camera", 130),
        ("fire", "smoke", 111),
        ("fire", None, 110),
        ("gas", "gas", 151),
    ],
)
def test_zone_type_refines_the_code(category: str, zone_type: str | None, code: int) -> None:
    event = contact_id_for(alarm(category, 3, zone_type), restore=False, table=DEFAULT_TABLE)
    assert event == ContactId(1, code, 1, 3)


def test_an_override_wins_over_the_zone_type() -> None:
    table = DEFAULT_TABLE.with_overrides({"intrusion": 133}, None)
    assert contact_id_for(alarm("intrusion", 1, "entry_exit"), restore=False, table=table).code == 133


def test_open_close_reports_the_user_in_the_zone_field() -> None:
    record = {"id": "x", "category": "open_close", "zone": None, "user": 5}
    # Qualifier 3 = closing (arm), 1 = opening (disarm); SIA CL / OP to match.
    assert contact_id_for(record, restore=True, table=DEFAULT_TABLE) == ContactId(3, 401, 1, 5)
    assert contact_id_for(record, restore=False, table=DEFAULT_TABLE) == ContactId(1, 401, 1, 5)
    assert sia_for(record, restore=True, table=DEFAULT_TABLE) == SiaEvent("CL", 5, 1)
    assert sia_for(record, restore=False, table=DEFAULT_TABLE) == SiaEvent("OP", 5, 1)
    # The panel's armed/disarmed events name it user_number.
    armed = {"category": "open_close", "mode": "armed_away", "user_id": "u1", "user_number": 7, "time": 1.0}
    assert contact_id_for(armed, restore=True, table=DEFAULT_TABLE) == ContactId(3, 401, 1, 7)


def test_user_and_missing_zone() -> None:
    panic = {"id": "p", "category": "panic", "zone": None, "user": 2}
    assert contact_id_for(panic, restore=False, table=DEFAULT_TABLE) == ContactId(1, 120, 1, 0)
    assert sia_for(panic, restore=False, table=DEFAULT_TABLE) == SiaEvent("PA", 0, 1, 2)
    assert sia_for({"category": "ac_loss"}, restore=False, table=DEFAULT_TABLE) == SiaEvent("AT", 0, 1)


def test_overrides_replace_only_what_they_name() -> None:
    table = DEFAULT_TABLE.with_overrides({"gas": 150}, {"water_leak": ["WS", "WR"], "co": ("GA", "GJ")})
    assert table.contact_id["gas"] == 150
    assert table.contact_id["water_leak"] == 154
    assert table.sia["water_leak"] == ("WS", "WR")
    assert table.sia["co"] == ("GA", "GJ")
    assert table.sia["gas"] == ("GA", "GH")
    # The original is untouched and the tables are read-only.
    assert DEFAULT_TABLE.contact_id["gas"] == 151
    with pytest.raises(TypeError):
        table.contact_id["gas"] = 1  # type: ignore[index]
    assert DEFAULT_TABLE.with_overrides(None, None) == CodeTable()


@pytest.mark.parametrize(
    ("cid", "sia", "match"),
    [
        ({"gaz": 151}, None, "unknown alarm category 'gaz'"),
        (None, {"flood": ["WA", "WH"]}, "unknown alarm category 'flood'"),
        ({"gas": 1000}, None, "0..999"),
        ({"gas": "151"}, None, "0..999"),
        ({"gas": True}, None, "0..999"),
        (None, {"gas": "GA"}, "pair"),
        (None, {"gas": ["GA"]}, "pair"),
        (None, {"gas": ["ga", "gh"]}, "upper-case"),
        (None, {"gas": ["GA", "GH", "GX"]}, "pair"),
    ],
)
def test_override_errors(cid: Any, sia: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DEFAULT_TABLE.with_overrides(cid, sia)


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"category": "earthquake", "zone": {"number": 1}}, "unknown alarm category 'earthquake'"),
        ({"zone": {"number": 1}}, "unknown alarm category None"),
        ({"category": "gas", "zone": {"number": 1000}}, "zone number"),
        ({"category": "gas", "zone": {"number": "10"}}, "zone number"),
        ({"category": "open_close", "user": -1}, "user number"),
    ],
)
def test_bad_records(record: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        contact_id_for(record, restore=False, table=DEFAULT_TABLE)
