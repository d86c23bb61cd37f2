"""Ademco Contact ID (SIA DC-05) inside DC-09 `ADM-CID`: `#ACCT|QXYZ GG CCC`.

Q is the qualifier (1 new event or opening, 3 restore or closing, 6 status), XYZ the event code,
GG the partition and CCC the zone or user. The telephone (DTMF) form adds a message type and a
checksum digit; `dtmf_checksum` computes that digit, DC-09 itself carries none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.command_center.dc09.errors import DataError

QUALIFIERS = (1, 3, 6)
EVENT, RESTORE, STATUS = QUALIFIERS
_ACCOUNT = re.compile(r"[0-9A-F]{3,16}")
_DATA = re.compile(r"#(?P<account>[0-9A-Fa-f]{3,16})\|(?P<q>\d)(?P<code>\d{3}) (?P<group>\d{2}) (?P<zone>\d{3})")
# DTMF digit values: 0 counts as 10, B-F as 11-15 (A is not a Contact ID digit).
_DTMF_VALUES = {**{str(n): n for n in range(1, 10)}, "0": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15}
_DTMF_DIGITS = {value: digit for digit, value in _DTMF_VALUES.items()}


@dataclass(frozen=True)
class ContactId:
    """One Contact ID event: qualifier, event code, partition (group) and zone or user number."""

    qualifier: int
    code: int
    partition: int = 1
    zone: int = 0

    def __post_init__(self) -> None:
        if self.qualifier not in QUALIFIERS:
            raise DataError(f"Contact ID qualifier must be 1 (event), 3 (restore) or 6 (status), got {self.qualifier}")
        if not 0 <= self.code <= 999:
            raise DataError(f"Contact ID event code must be 0..999, got {self.code}")
        if not 0 <= self.partition <= 99:
            raise DataError(f"Contact ID partition must be 0..99, got {self.partition}")
        if not 0 <= self.zone <= 999:
            raise DataError(f"Contact ID zone/user must be 0..999, got {self.zone}")


def check_account(account: str) -> str:
    """`account` if it is 3-16 upper-case hex digits (what DC-09 receivers accept), else DataError."""
    if not _ACCOUNT.fullmatch(account):
        raise DataError(f"account {account!r} must be 3-16 upper-case hex digits")
    return account


def cid_data(account: str, event: ContactId) -> str:
    """The ADM-CID data block, e.g. `#1234|1130 01 001`."""
    check_account(account)
    return f"#{account}|{event.qualifier}{event.code:03d} {event.partition:02d} {event.zone:03d}"


def parse_cid_data(data: str) -> tuple[str, ContactId]:
    """(account, event) of an ADM-CID data block."""
    match = _DATA.fullmatch(data)
    if not match:
        raise DataError(f"not an ADM-CID data block (#ACCT|QXYZ GG CCC): {data!r}")
    event = ContactId(int(match["q"]), int(match["code"]), int(match["group"]), int(match["zone"]))
    return match["account"], event


def dtmf_checksum(digits: str) -> str:
    """The checksum digit that makes a 16-digit DTMF Contact ID message sum to a multiple of 15."""
    if len(digits) != 15:
        raise DataError(f"a DTMF Contact ID message has 15 digits before its checksum, got {len(digits)}")
    try:
        total = sum(_DTMF_VALUES[digit] for digit in digits.upper())
    except KeyError as exc:
        raise DataError(f"{exc.args[0]!r} is not a Contact ID DTMF digit (0-9, B-F)") from None
    # 15 - total % 15 lies in 1..15, so a zero remainder already yields F, as DC-05 asks.
    return _DTMF_DIGITS[15 - total % 15]


__all__ = [
    "EVENT",
    "QUALIFIERS",
    "RESTORE",
    "STATUS",
    "ContactId",
    "check_account",
    "cid_data",
    "dtmf_checksum",
    "parse_cid_data",
]
