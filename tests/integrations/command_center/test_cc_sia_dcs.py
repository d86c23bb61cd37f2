"""SIA DC-03 data blocks (SIA-DCS): building, parsing real panels' strings, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.command_center.dc09.errors import DataError
from integrations.command_center.dc09.sia_dcs import SiaEvent, parse_sia_data, sia_data

VECTORS = json.loads(
    (Path(__file__).resolve().parents[3] / "integrations/command_center/vectors/dc09.json").read_text("utf-8")
)


@pytest.mark.parametrize("vector", VECTORS["data_blocks"]["sia_dcs"], ids=lambda v: v["data"])
def test_golden_data_blocks_parse(vector: dict[str, Any]) -> None:
    event = SiaEvent(vector["code"], vector["zone"], vector["partition"], vector["user"], vector["text"])
    assert parse_sia_data(vector["data"]) == (vector["account"], event)


def test_build() -> None:
    assert sia_data("1234", SiaEvent("BA", zone=1, partition=1)) == "#1234|Nri1/BA001"
    assert sia_data("1234", SiaEvent("RP")) == "#1234|NRP000"
    assert sia_data("1234", SiaEvent("PA", zone=12, partition=1, user=3)) == "#1234|Nid3/ri1/PA012"
    assert sia_data("ABC", SiaEvent("GA", zone=1234, text="Cocina gas")) == "#ABC|NGA1234^Cocina gas^"


@pytest.mark.parametrize(
    "event",
    [
        SiaEvent("BA", 1, 1),
        SiaEvent("OP", 5),
        SiaEvent("HA", 0, 2, 17),
        SiaEvent("WA", 11, 1, None, "Lavado"),
        SiaEvent("YC", 9999, 999, 9999, ""),
    ],
)
def test_round_trip(event: SiaEvent) -> None:
    assert parse_sia_data(sia_data("0123456789ABCDEF", event)) == ("0123456789ABCDEF", event)


def test_real_strings_without_slashes_and_with_time() -> None:
    # Observed: modifiers without '/', and free text between carets.
    assert parse_sia_data("#1234|Nri1BA503^Volum.Taverna ^") == ("1234", SiaEvent("BA", 503, 1, None, "Volum.Taverna "))
    assert parse_sia_data("#1234|Nti12:30/id4/ri2/CL004") == ("1234", SiaEvent("CL", 4, 2, 4))
    assert parse_sia_data("#1234|Nri2/id4/OP004") == ("1234", SiaEvent("OP", 4, 2, 4))


@pytest.mark.parametrize(
    "data",
    [
        "1234|NBA001",
        "#1234|BA001",
        "#1234|Nri1/B1",
        "#1234|Nri1/BA001^open",
        "#1234|NBA00001",
        "#1234|NRR|Atest",
        "|Nri1/CL501",
    ],
)
def test_malformed(data: str) -> None:
    with pytest.raises(DataError, match="not a SIA-DCS data block"):
        parse_sia_data(data)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"code": "ba"}, "two upper-case letters"),
        ({"code": "BAX"}, "two upper-case letters"),
        ({"code": "BA", "zone": 10000}, "zone"),
        ({"code": "BA", "partition": 1000}, "area"),
        ({"code": "BA", "user": -1}, "user"),
        ({"code": "BA", "text": "a^b"}, "text"),
        ({"code": "BA", "text": "Baño"}, "text"),
        ({"code": "BA", "text": "a]"}, "text"),
    ],
)
def test_bad_events(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DataError, match=match):
        SiaEvent(**kwargs)


def test_bad_account() -> None:
    with pytest.raises(DataError, match="3-16 upper-case hex"):
        sia_data("12", SiaEvent("BA"))
