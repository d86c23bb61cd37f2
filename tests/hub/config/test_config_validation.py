"""validate(): voluptuous errors become located, human ConfigErrors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from hub.config import ConfigErrors, load_configuration, validate
from hub.config.schemas import (
    merge,
    modbus_device_schema,
    polling_schema,
    serial_port_schema,
    string,
)

WriteFile = Callable[[str, str], Path]

BUS_SCHEMA = vol.Schema(
    {
        **serial_port_schema,
        **polling_schema,
        vol.Optional("devices", default=list): [vol.Schema(modbus_device_schema)],
        vol.Optional("password"): string,
    }
)
MODBUS_TANK_SCHEMA = vol.Schema({vol.Required("buses"): [BUS_SCHEMA]})


def failures(write: WriteFile, tmp_path: Path, text: str, schema: Any = MODBUS_TANK_SCHEMA) -> list[str]:
    """Validate the modbus_tank block of ``text`` and return the error strings."""
    write("configuration.yaml", text)
    config = load_configuration(tmp_path)
    with pytest.raises(ConfigErrors) as info:
        validate("modbus_tank", schema, config["modbus_tank"], file=config.file, line=config.key_lines["modbus_tank"])
    return [str(error) for error in info.value.errors]


def test_valid_block_gets_defaults(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "modbus_tank:\n  buses:\n    - port: /dev/ttyUSB0\n")
    result = validate("modbus_tank", MODBUS_TANK_SCHEMA, load_configuration(tmp_path)["modbus_tank"])
    bus = result["buses"][0]
    assert dict(bus) == {
        "port": "/dev/ttyUSB0",
        "baudrate": 9600,
        "bytesize": 8,
        "parity": "N",
        "stopbits": 1,
        "timeout": 1.0,
        "scan_interval": bus["scan_interval"],
        "devices": [],
    }
    assert bus["scan_interval"].total_seconds() == 30


def test_wrong_type_nested_in_a_list(write: WriteFile, tmp_path: Path) -> None:
    text = """
    hub:
      name: Casa
    modbus_tank:
      buses:
        - port: /dev/ttyUSB0
          baudrate: abc
    """
    assert failures(write, tmp_path, text) == [
        "configuration.yaml:6: modbus_tank -> buses[0] -> baudrate: expected int, got 'abc'"
    ]


def test_unknown_key_suggestion_and_exact_line(write: WriteFile, tmp_path: Path) -> None:
    text = """
    modbus_tank:
      buses:
        - port: /dev/ttyUSB0

          baudrat: 19200
    """
    errors = failures(write, tmp_path, text)
    assert errors == ["configuration.yaml:5: modbus_tank -> buses[0] -> baudrat: unknown key (did you mean 'baudrate'?)"]


def test_unknown_key_without_close_match(write: WriteFile, tmp_path: Path) -> None:
    text = "modbus_tank:\n  buses: []\n  colour: red\n"
    assert failures(write, tmp_path, text) == ["configuration.yaml:3: modbus_tank -> colour: unknown key"]


def test_required_key_points_at_enclosing_item(write: WriteFile, tmp_path: Path) -> None:
    text = """
    modbus_tank:
      buses:
        - port: /dev/ttyUSB0
          devices:
            - unit_id: 3
    """
    assert failures(write, tmp_path, text) == [
        "configuration.yaml:5: modbus_tank -> buses[0] -> devices[0] -> name: required key not provided"
    ]


def test_required_key_missing_in_block_points_at_block_key(write: WriteFile, tmp_path: Path) -> None:
    text = "hub:\n  name: Casa\nmodbus_tank:\n  other: 1\n"
    schema = vol.Schema({vol.Required("buses"): list, vol.Optional("other"): int})
    assert failures(write, tmp_path, text, schema) == [
        "configuration.yaml:3: modbus_tank -> buses: required key not provided"
    ]


def test_every_failing_list_item_is_reported(write: WriteFile, tmp_path: Path) -> None:
    text = """
    modbus_tank:
      buses:
        - port: /dev/ttyUSB0
          baudrate: 9601
        - port: /dev/ttyUSB1
          parity: X
          scan_interval: 500ms
        - port: /dev/ttyUSB2
          devices:
            - unit_id: 0
              name: Cistern
            - unit_id: 2
              name: [a]
    """
    assert failures(write, tmp_path, text) == [
        "configuration.yaml:4: modbus_tank -> buses[0] -> baudrate: expected a standard baud rate "
        "(1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200), got 9601",
        "configuration.yaml:6: modbus_tank -> buses[1] -> parity: expected parity N, E or O, got 'X'",
        "configuration.yaml:7: modbus_tank -> buses[1] -> scan_interval: must be at least 1 s, got '500ms'",
        "configuration.yaml:10: modbus_tank -> buses[2] -> devices[0] -> unit_id: "
        "expected a Modbus unit id between 1 and 247, got 0",
        "configuration.yaml:13: modbus_tank -> buses[2] -> devices[1] -> name: expected a string, got a list",
    ]


def test_errors_in_included_file_point_into_it(write: WriteFile, tmp_path: Path) -> None:
    write("packages/tanks.yaml", "buses:\n  - port: /dev/ttyUSB0\n    stopbits: 3\n")
    text = "modbus_tank: !include packages/tanks.yaml\n"
    assert failures(write, tmp_path, text) == [
        "packages/tanks.yaml:3: modbus_tank -> buses[0] -> stopbits: expected 1 or 2, got 3"
    ]


def test_secret_value_never_in_messages(write: WriteFile, tmp_path: Path) -> None:
    def echo(value: Any) -> Any:
        raise vol.Invalid(f"bad password {value}")  # a careless validator echoing its input

    write("secrets.yaml", "bus_password: hunter2\n")
    text = "modbus_tank:\n  password: !secret bus_password\n  pin: !secret bus_password\n"
    schema = {vol.Required("password"): echo, vol.Required("pin"): int}
    errors = failures(write, tmp_path, text, schema)
    assert errors == [
        "configuration.yaml:2: modbus_tank -> password: bad password **redacted**, got !secret bus_password",
        "configuration.yaml:3: modbus_tank -> pin: expected int, got !secret bus_password",
    ]
    assert not any("hunter2" in error for error in errors)


def test_crashing_schema_fails_its_block_only(write: WriteFile, tmp_path: Path) -> None:
    def broken(value: Any) -> Any:
        raise KeyError("oops")

    text = "modbus_tank:\n  buses: 1\n"
    assert failures(write, tmp_path, text, {"buses": broken}) == [
        "configuration.yaml:1: modbus_tank: the schema itself failed (KeyError: 'oops')"
    ]


def test_plain_dict_schema_and_unannotated_data() -> None:
    with pytest.raises(ConfigErrors) as info:
        validate("x", {"a": int}, {"a": "1", "b": 2})
    assert [str(error) for error in info.value.errors] == [
        "<unknown>: x -> a: expected int, got '1'",
        "<unknown>: x -> b: unknown key",
    ]


def test_merge_replaces_marker() -> None:
    schema = vol.Schema(merge({vol.Required("port"): int}, {vol.Optional("port", default=502): int}))
    assert schema({}) == {"port": 502}
    plain = vol.Schema({**{vol.Required("port"): int}, **{vol.Optional("port", default=502): int}})
    with pytest.raises(vol.MultipleInvalid):
        plain({})  # why merge() exists: the dict literal keeps the first marker
