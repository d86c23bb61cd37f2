"""Contact ID data blocks (ADM-CID) and the DTMF checksum."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.command_center.dc09.contact_id import ContactId, cid_data, dtmf_checksum, parse_cid_data
from integrations.command_center.dc09.errors import DataError

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)


@pytest.mark.parametrize("vector", VECTORS["data_blocks"]["contact_id"], ids=lambda v: v["data"])
def test_golden_data_blocks(vector: dict[str, Any]) -> None:
    event = ContactId(vector["qualifier"], vector["code"], vector["partition"], vector["zone"])
    assert cid_data(vector["account"], event) == vector["data"]
    assert parse_cid_data(vector["data"]) == (vector["account"], event)


def test_layout_pads_every_field() -> None:
    assert cid_data("1234", ContactId(1, 130, 1, 1)) == "#1234|1130 01 001"
    assert cid_data("ABCDEF0123456789", ContactId(3, 401, 12, 999)) == "#ABCDEF0123456789|3401 12 999"
    assert cid_data("123", ContactId(6, 1, 0, 0)) == "#123|6001 00 000"
    assert ContactId(1, 130) == ContactId(qualifier=1, code=130, partition=1, zone=0)


@pytest.mark.parametrize("qualifier", [1, 3, 6])
def test_round_trip(qualifier: int) -> None:
    event = ContactId(qualifier, 151, 2, 10)
    assert parse_cid_data(cid_data("1234", event)) == ("1234", event)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ((2, 130, 1, 1), "qualifier"),
        ((1, 1000, 1, 1), "event code"),
        ((1, 130, 100, 1), "partition"),
        ((1, 130, 1, 1000), "zone"),
        ((1, -1, 1, 1), "event code"),
    ],
)
def test_out_of_range_fields(fields: tuple[int, int, int, int], match: str) -> None:
    with pytest.raises(DataError, match=match):
        ContactId(*fields)


@pytest.mark.parametrize("account", ["12", "abcd", "12345678901234567", "#1234", ""])
def test_bad_accounts(account: str) -> None:
    with pytest.raises(DataError, match="3-16 upper-case hex"):
        cid_data(account, ContactId(1, 130))


@pytest.mark.parametrize(
    "data",
    [
        "1234|1130 01 001",
        "#1234|1130 1 001",
        "#1234|1130 01 01",
        "#1234|11300 01 001",
        "#1234|2130 01 001",
        "#1234|1130 01 001]",
        "#1234 1130 01 001",
        "#12|1130 01 001",
    ],
)
def test_malformed_data_blocks(data: str) -> None:
    with pytest.raises(DataError):
        parse_cid_data(data)


def test_dtmf_checksum_vector() -> None:
    vector = VECTORS["data_blocks"]["dtmf_checksum"][0]
    assert dtmf_checksum(vector["digits"]) == vector["checksum"] == "E"


def digit_value(digit: str) -> int:
    return 10 if digit == "0" else int(digit, 16)


@pytest.mark.parametrize(
    "digits", ["123418113001015", "123418113001016", "123418113001011", "BCDF18160201003", "000018100000000"]
)
def test_dtmf_checksum_makes_the_sum_a_multiple_of_15(digits: str) -> None:
    check = dtmf_checksum(digits)
    assert len(check) == 1 and check in "1234567890BCDEF"
    assert sum(digit_value(d) for d in digits + check) % 15 == 0


def test_dtmf_checksum_edges() -> None:
    # Sum 150 is already a multiple of 15: the checksum is F, never 0-as-nothing.
    assert dtmf_checksum("000000000000000") == "F"
    # A needed value of 10 is written as the digit 0.
    assert dtmf_checksum("F00000000000000") == "0"
    with pytest.raises(DataError, match="15 digits"):
        dtmf_checksum("1234")
    with pytest.raises(DataError, match="not a Contact ID DTMF digit"):
        dtmf_checksum("12341811300101A")
