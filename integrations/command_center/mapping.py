"""Alarm category -> Contact ID event code and SIA DC-03 code pair, overridable per installation.

The defaults follow docs/alarms.md and PROTOCOLS.md 2.2. Intrusion and fire are refined by the
alarm zone's `type` (entry/exit 134, perimeter 131, interior 132; smoke 111) as long as the
installation has not overridden that category's code: an override is taken as meant for every zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from integrations.command_center.dc09.contact_id import EVENT, RESTORE, ContactId
from integrations.command_center.dc09.sia_dcs import SiaEvent

CATEGORIES = (
    "intrusion",
    "unknown_face",
    "gas",
    "water_leak",
    "fire",
    "co",
    "panic",
    "duress",
    "medical",
    "tamper",
    "sensor_offline",
    "low_battery",
    "ac_loss",
    "test",
    "open_close",
    "link_test",
)

DEFAULT_CONTACT_ID: dict[str, int] = {
    "intrusion": 130,
    "unknown_face": 130,  # DC-05 has no camera-analytics code: burglary on the camera's zone
    "gas": 151,
    "water_leak": 154,
    "fire": 110,
    "co": 162,
    "panic": 120,
    "duress": 121,
    "medical": 100,
    "tamper": 144,
    "sensor_offline": 381,
    "low_battery": 384,
    "ac_loss": 301,
    "test": 601,
    "open_close": 401,
    "link_test": 602,  # periodic test report
}

# (alarm, restore). For open_close "alarm" is the opening (disarm, qualifier 1) and "restore" the
# closing (arm, qualifier 3), as in Contact ID 401 and pysiaalarm's ADM map (1 -> OP, 3 -> CL).
DEFAULT_SIA: dict[str, tuple[str, str]] = {
    "intrusion": ("BA", "BH"),
    "unknown_face": ("BV", "BH"),  # burglary verified; the snapshot travels as [V...] xdata
    "gas": ("GA", "GH"),
    "water_leak": ("WA", "WH"),
    "fire": ("FA", "FH"),
    "co": ("GA", "GH"),
    "panic": ("PA", "PH"),
    "duress": ("HA", "HH"),
    "medical": ("MA", "MH"),
    "tamper": ("TA", "TR"),
    "sensor_offline": ("YC", "YK"),  # 381 loss of supervision
    "low_battery": ("XT", "XR"),  # transmitter battery
    "ac_loss": ("AT", "AR"),
    "test": ("RX", "RX"),
    "open_close": ("OP", "CL"),
    "link_test": ("RP", "RP"),
}

# Zone type -> refined Contact ID code, per category (docs/alarms.md zone table).
ZONE_TYPE_CODES: dict[str, dict[str, int]] = {
    "intrusion": {"entry_exit": 134, "perimeter": 131, "interior": 132},
    "fire": {"smoke": 111},
}

_SIA_CODE = re.compile(r"[A-Z]{2}")


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown alarm category {category!r}; known: {', '.join(CATEGORIES)}")


@dataclass(frozen=True)
class CodeTable:
    """The codes one installation reports: category -> Contact ID code and -> (alarm, restore) SIA codes."""

    contact_id: Mapping[str, int] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_CONTACT_ID)))
    sia: Mapping[str, tuple[str, str]] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_SIA)))

    def with_overrides(
        self, cid: Mapping[str, int] | None = None, sia: Mapping[str, Sequence[str]] | None = None
    ) -> CodeTable:
        """A copy with some categories' codes replaced; ValueError names an unknown category or bad code."""
        contact_id = dict(self.contact_id)
        for category, code in (cid or {}).items():
            _check_category(category)
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 999:
                raise ValueError(f"Contact ID code for {category!r} must be an integer 0..999, got {code!r}")
            contact_id[category] = code
        pairs = dict(self.sia)
        for category, pair in (sia or {}).items():
            _check_category(category)
            codes = tuple(pair) if not isinstance(pair, str) else ()
            if len(codes) != 2 or not all(isinstance(c, str) and _SIA_CODE.fullmatch(c) for c in codes):
                raise ValueError(
                    f"SIA codes for {category!r} must be a pair [alarm, restore] of two upper-case letters each, "
                    f"got {pair!r}"
                )
            pairs[category] = (codes[0], codes[1])
        return CodeTable(MappingProxyType(contact_id), MappingProxyType(pairs))


DEFAULT_TABLE = CodeTable()


def _category(alarm: Mapping[str, Any], table: CodeTable) -> str:
    """The alarm's category, known to CATEGORIES and to `table`."""
    category = alarm.get("category")
    if category not in CATEGORIES:
        raise ValueError(
            f"unknown alarm category {category!r} (alarm {alarm.get('id')!r}); known: {', '.join(CATEGORIES)}"
        )
    if category not in table.contact_id or category not in table.sia:
        raise ValueError(f"the code table has no entry for category {category!r}")
    return category


def _number(value: Any, what: str, maximum: int) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{what} must be an integer 0..{maximum}, got {value!r}")
    return value


def _zone(alarm: Mapping[str, Any]) -> Mapping[str, Any]:
    zone = alarm.get("zone")
    return zone if isinstance(zone, Mapping) else {}


def _user(alarm: Mapping[str, Any]) -> Any:
    # Alarm records carry `user`; the panel's armed/disarmed events call it `user_number`.
    return alarm.get("user", alarm.get("user_number"))


def _zone_or_user(alarm: Mapping[str, Any], category: str, maximum: int) -> int:
    """Open/close reports the user in the zone field; everything else the alarm's zone number."""
    if category == "open_close":
        return _number(_user(alarm), "the user number", maximum)
    return _number(_zone(alarm).get("number"), "the zone number", maximum)


def contact_id_for(alarm: Mapping[str, Any], *, restore: bool, table: CodeTable) -> ContactId:
    """The Contact ID event of an alarm record (qualifier 3 on restore / arming, 1 otherwise)."""
    category = _category(alarm, table)
    code = table.contact_id[category]
    zone_type = _zone(alarm).get("type")
    refined = ZONE_TYPE_CODES.get(category, {})
    if isinstance(zone_type, str) and zone_type in refined and code == DEFAULT_CONTACT_ID[category]:
        code = refined[zone_type]
    return ContactId(
        qualifier=RESTORE if restore else EVENT,
        code=code,
        partition=1,
        zone=_zone_or_user(alarm, category, 999),
    )


def sia_for(alarm: Mapping[str, Any], *, restore: bool, table: CodeTable) -> SiaEvent:
    """The SIA DC-03 event of an alarm record: area 1, the zone, and the user when the record names one."""
    category = _category(alarm, table)
    alarm_code, restore_code = table.sia[category]
    user = None if category == "open_close" else _user(alarm)
    return SiaEvent(
        code=restore_code if restore else alarm_code,
        zone=_zone_or_user(alarm, category, 9999),
        partition=1,
        user=None if user is None else _number(user, "the user number", 9999),
    )


__all__ = [
    "CATEGORIES",
    "DEFAULT_CONTACT_ID",
    "DEFAULT_SIA",
    "DEFAULT_TABLE",
    "ZONE_TYPE_CODES",
    "CodeTable",
    "contact_id_for",
    "sia_for",
]
