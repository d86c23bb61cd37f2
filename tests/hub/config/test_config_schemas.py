"""Shared schema pieces: every accepted form and the exact rejection message."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
import voluptuous as vol

from hub.config.schemas import (
    boolean,
    ensure_list,
    entity_id,
    host,
    modbus_device_schema,
    polling_schema,
    port,
    positive_int,
    serial_port_schema,
    slug,
    tcp_endpoint_schema,
    time_of_day,
    time_period,
    url,
)
from hub.config.yaml_loader import SecretStr

PERIOD_ERROR = (
    "expected a time period (use seconds, 'HH:MM:SS', 'HH:MM', '30s', '5m', '2h', '1d' "
    "or days/hours/minutes/seconds)"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        ("45", timedelta(seconds=45)),
        ("01:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        ("00:00:00.250", timedelta(milliseconds=250)),
        ("10:30", timedelta(hours=10, minutes=30)),
        ("-00:30", timedelta(minutes=-30)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("5 min", timedelta(minutes=5)),
        ("1.5 hours", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ({"days": 1, "hours": 2, "minutes": 3, "seconds": 4, "milliseconds": 5},
         timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        (timedelta(minutes=1), timedelta(minutes=1)),
    ],
)
def test_time_period_forms(value: Any, expected: timedelta) -> None:
    assert time_period(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", PERIOD_ERROR),
        ("5 fortnights", PERIOD_ERROR),
        ("1:75", PERIOD_ERROR),
        (True, PERIOD_ERROR),
        (None, PERIOD_ERROR),
        ({}, "expected at least one of days, hours, minutes, seconds, milliseconds"),
        ({"hour": 1}, "unknown key (did you mean 'hours'?) @ data['hour']"),
        ({"hours": "x"}, "expected a number @ data['hours']"),
        (float("inf"), "time period out of range"),
        ("999999999999d", "time period out of range"),
    ],
)
def test_time_period_rejects(value: Any, message: str) -> None:
    with pytest.raises(vol.Invalid) as info:
        time_period(value)
    assert str(info.value) == message


def test_time_of_day() -> None:
    assert time_of_day("07:30") == time(7, 30)
    assert time_of_day("23:59:59") == time(23, 59, 59)
    for bad in ("24:00", "7.30", "-01:00", 730):
        with pytest.raises(vol.Invalid, match=r"^expected a time of day 'HH:MM' or 'HH:MM:SS'$"):
            time_of_day(bad)


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("Off", False), ("on", True), (0, False), (True, True), ("1", True), ("false", False)])
def test_boolean(value: Any, expected: bool) -> None:
    assert boolean(value) is expected


def test_boolean_rejects() -> None:
    with pytest.raises(vol.Invalid, match=r"^expected a boolean \(yes/no, on/off, true/false, 1/0\)$"):
        boolean("maybe")


def test_ensure_list() -> None:
    assert (ensure_list(None), ensure_list("a"), ensure_list(["a", "b"])) == ([], ["a"], ["a", "b"])


def test_entity_id_and_slug() -> None:
    assert entity_id("sensor.cistern_level") == "sensor.cistern_level"
    assert slug("rooftop_tank2") == "rooftop_tank2"
    for bad in ("Sensor.x", "sensor", "sensor._x", "sensor.x_", "sensor.a__b", "a.b.c", "_s.x"):
        with pytest.raises(vol.Invalid, match=r"^expected an entity id like"):
            entity_id(bad)
    for bad in ("Tank", "a__b", "_a", "a-b", ""):
        with pytest.raises(vol.Invalid):
            slug(bad)


def test_numbers_ports_hosts_urls() -> None:
    assert (positive_int(3), positive_int("7"), port(502), port("8123")) == (3, 7, 502, 8123)
    for bad_port in (0, 65536, True, 1.5, "abc"):
        with pytest.raises(vol.Invalid):
            port(bad_port)
    with pytest.raises(vol.Invalid, match="^expected a positive integer$"):
        positive_int(0)
    assert [host(h) for h in ("10.0.0.5", "fe80::1", "gateway.local", "tank-1")] == [
        "10.0.0.5", "fe80::1", "gateway.local", "tank-1"]
    for bad_host in ("", "-bad.local", "a b", "x" * 64):
        with pytest.raises(vol.Invalid):
            host(bad_host)
    assert url("https://hub.local:8123/") == "https://hub.local:8123/"
    with pytest.raises(vol.Invalid, match=r"^expected an http:// or https:// URL$"):
        url("ftp://hub.local")


def test_validators_keep_secret_strings_redacted() -> None:
    secret = SecretStr("10.0.0.9", "configuration.yaml", 3, "gateway")
    assert host(secret) is secret


def test_serial_port_schema_defaults_and_limits() -> None:
    schema = vol.Schema(serial_port_schema)
    assert schema({"port": "/dev/ttyUSB0"}) == {
        "port": "/dev/ttyUSB0", "baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1, "timeout": 1.0}
    assert schema({"port": "COM3", "baudrate": 19200, "bytesize": 7, "parity": "even", "stopbits": 2,
                   "timeout": "500ms"}) == {
        "port": "COM3", "baudrate": 19200, "bytesize": 7, "parity": "E", "stopbits": 2, "timeout": 0.5}
    with pytest.raises(vol.MultipleInvalid) as info:
        schema({"port": "/dev/ttyUSB0", "baudrate": 250000, "bytesize": 9, "timeout": 0})
    assert sorted(str(e) for e in info.value.errors) == [
        "expected 7 or 8 for dictionary value @ data['bytesize']",
        "expected a duration above zero for dictionary value @ data['timeout']",
        "expected a standard baud rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200) "
        "for dictionary value @ data['baudrate']",
    ]


def test_tcp_polling_and_modbus_device_pieces_merge() -> None:
    schema = vol.Schema({**tcp_endpoint_schema, **polling_schema, **modbus_device_schema})
    assert schema({"host": "10.0.0.5", "port": 502, "unit_id": 247, "name": "Gas tank"}) == {
        "host": "10.0.0.5", "port": 502, "unit_id": 247, "name": "Gas tank", "scan_interval": timedelta(seconds=30)}
    with pytest.raises(vol.MultipleInvalid) as info:
        schema({"host": "10.0.0.5", "port": 502, "unit_id": 248, "name": "x", "scan_interval": 0.5})
    assert sorted(e.error_message for e in info.value.errors) == [
        "expected a Modbus unit id between 1 and 247",
        "must be at least 1 s",
    ]
