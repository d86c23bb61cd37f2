"""SIA DC-03 data inside DC-09 `SIA-DCS`: `#ACCT|N[id<user>/][ri<area>/]<CODE><zone>[^text^]`.

`N` marks a new event; `ri` is the area (partition), `id` the user; the two-letter code is followed
by the zone (or point) number. Modifiers go in the order `ti`, `id`, `ri`: pysiaalarm reads them only
in that order, and the parser here takes them in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.command_center.dc09.contact_id import check_account
from integrations.command_center.dc09.errors import DataError

_CODE = re.compile(r"[A-Z]{2}")
_DATA = re.compile(
    r"#(?P<account>[0-9A-Fa-f]{3,16})\|N"
    r"(?P<modifiers>(?:(?:ti\d{1,2}:\d{2}|id\d+|ri\d+)/?)*)"
    r"(?P<code>[A-Z]{2})(?P<zone>\d{0,4})"
    r"(?:\^(?P<text>[^^]*)\^)?"
)
_MODIFIER = re.compile(r"(ti|id|ri)([\d:]+)")


@dataclass(frozen=True)
class SiaEvent:
    """One SIA DC-03 event: two-letter code, zone, and the optional area, user and text."""

    code: str
    zone: int = 0
    partition: int | None = None
    user: int | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise DataError(f"a SIA code is two upper-case letters, got {self.code!r}")
        if not 0 <= self.zone <= 9999:
            raise DataError(f"SIA zone must be 0..9999, got {self.zone}")
        if self.partition is not None and not 0 <= self.partition <= 999:
            raise DataError(f"SIA area must be 0..999, got {self.partition}")
        if self.user is not None and not 0 <= self.user <= 9999:
            raise DataError(f"SIA user must be 0..9999, got {self.user}")
        if self.text is not None and (
            not self.text.isascii() or not self.text.isprintable() or any(c in self.text for c in "^[]|")
        ):
            raise DataError(f"SIA text must be printable ASCII without '^', '[', ']' or '|', got {self.text!r}")


def sia_data(account: str, event: SiaEvent) -> str:
    """The SIA-DCS data block, e.g. `#1234|Nri1/BA001`."""
    check_account(account)
    modifiers = ""
    if event.user is not None:
        modifiers += f"id{event.user}/"
    if event.partition is not None:
        modifiers += f"ri{event.partition}/"
    text = f"^{event.text}^" if event.text is not None else ""
    return f"#{account}|N{modifiers}{event.code}{event.zone:03d}{text}"


def parse_sia_data(data: str) -> tuple[str, SiaEvent]:
    """(account, event) of a SIA-DCS data block; a `ti` (time) modifier is read and dropped."""
    match = _DATA.fullmatch(data)
    if not match:
        raise DataError(f"not a SIA-DCS data block (#ACCT|N...CODEzone): {data!r}")
    found = {name: value for name, value in _MODIFIER.findall(match["modifiers"])}
    event = SiaEvent(
        code=match["code"],
        zone=int(match["zone"] or 0),
        partition=int(found["ri"]) if "ri" in found else None,
        user=int(found["id"]) if "id" in found else None,
        text=match["text"],
    )
    return match["account"], event


__all__ = ["SiaEvent", "parse_sia_data", "sia_data"]
