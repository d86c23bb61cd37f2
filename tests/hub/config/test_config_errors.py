"""ConfigError formatting: file:line: key -> path[index]: message."""

from __future__ import annotations

from hub.config.errors import ConfigError, ConfigErrors, did_you_mean, format_path


def test_full_error_string() -> None:
    error = ConfigError(
        "expected int",
        file="configuration.yaml",
        line=14,
        path=("modbus_tank", "buses", 0, "baudrate"),
        domain="modbus_tank",
    )
    assert str(error) == "configuration.yaml:14: modbus_tank -> buses[0] -> baudrate: expected int"
    assert (error.file, error.line, error.path, error.domain) == (
        "configuration.yaml",
        14,
        ("modbus_tank", "buses", 0, "baudrate"),
        "modbus_tank",
    )


def test_without_line_the_line_is_omitted() -> None:
    error = ConfigError("bad", file="configuration.yaml", path=("modbus_tank",))
    assert str(error) == "configuration.yaml: modbus_tank: bad"


def test_without_path_or_file() -> None:
    assert str(ConfigError("file not found", file="packages/tanks.yaml")) == "packages/tanks.yaml: file not found"
    assert str(ConfigError("oops")) == "<unknown>: oops"


def test_column_only_with_a_line() -> None:
    assert str(ConfigError("bad", file="a.yaml", line=3, column=7)) == "a.yaml:3:7: bad"
    assert str(ConfigError("bad", file="a.yaml", column=7)) == "a.yaml: bad"


def test_format_path_nested_indexes() -> None:
    assert format_path(("a", 0, 1, "b", True)) == "a[0][1] -> b -> True"
    assert format_path(()) == ""


def test_config_errors_lists_every_error() -> None:
    errors = ConfigErrors([ConfigError("one", file="a.yaml", line=1), ConfigError("two", file="a.yaml", line=2)])
    assert str(errors) == "a.yaml:1: one\na.yaml:2: two"
    assert [e.message for e in errors.errors] == ["one", "two"]


def test_equality_compares_every_field() -> None:
    assert ConfigError("x", file="a", line=1) == ConfigError("x", file="a", line=1)
    assert ConfigError("x", file="a", line=1) != ConfigError("x", file="a", line=2)


def test_did_you_mean() -> None:
    assert did_you_mean("baudrat", ["port", "baudrate"]) == " (did you mean 'baudrate'?)"
    assert did_you_mean("zzz", ["port", "baudrate"]) == ""
