"""YAML loading: lines on every node, tags, and located errors."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.config import ConfigErrors, load_configuration, load_yaml
from hub.config.yaml_loader import REDACTED, NodeDict, NodeList, NodeStr, SecretStr, redacted

WriteFile = Callable[[str, str], Path]


def errors_of(config_dir: Path, environ: dict[str, str] | None = None) -> list[str]:
    """Load configuration.yaml and return the error strings it raises."""
    with pytest.raises(ConfigErrors) as info:
        load_configuration(config_dir, environ=environ or {})
    return [str(error) for error in info.value.errors]


def test_nodes_carry_file_and_lines(write: WriteFile, tmp_path: Path) -> None:
    write(
        "configuration.yaml",
        """
        hub:
          name: Casa

        modbus_tank:
          buses:
            - port: /dev/ttyUSB0
              baudrate: 9600
            - port: /dev/ttyUSB1
        """,
    )
    config = load_configuration(tmp_path)
    assert config == {
        "hub": {"name": "Casa"},
        "modbus_tank": {"buses": [{"port": "/dev/ttyUSB0", "baudrate": 9600}, {"port": "/dev/ttyUSB1"}]},
    }
    assert isinstance(config, NodeDict)
    assert (config.file, config.line, config.key_lines) == ("configuration.yaml", 1, {"hub": 1, "modbus_tank": 4})
    buses = config["modbus_tank"]["buses"]
    assert isinstance(buses, NodeList)
    assert buses.item_lines == [6, 8]
    assert buses[0].key_lines == {"port": 6, "baudrate": 7}
    name = config["hub"]["name"]
    assert isinstance(name, NodeStr)
    assert (name.file, name.line) == ("configuration.yaml", 2)


def test_empty_file_is_an_empty_mapping(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "# only a comment\n")
    config = load_configuration(tmp_path)
    assert config == {}
    assert isinstance(config, NodeDict)


def test_top_level_must_be_a_mapping(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "- a\n- b\n")
    assert errors_of(tmp_path) == ["configuration.yaml:1: the top level must be a mapping of names to settings"]


def test_missing_configuration_file(tmp_path: Path) -> None:
    assert errors_of(tmp_path) == ["configuration.yaml: file not found"]


def test_malformed_yaml_has_line_column_and_yaml_problem(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  name: Casa\n  language: es-MX\n bad: 1\n")
    with pytest.raises(ConfigErrors) as info:
        load_configuration(tmp_path)
    [error] = info.value.errors
    assert (error.file, error.line, error.column) == ("configuration.yaml", 4, 2)
    assert str(error) == (
        "configuration.yaml:4:2: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping on line 1)"
    )


def test_mapping_values_not_allowed(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  name: a: b\n")
    assert errors_of(tmp_path) == ["configuration.yaml:2:10: invalid YAML: mapping values are not allowed here"]


def test_unknown_tag(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  name: !nope x\n")
    assert errors_of(tmp_path) == [
        "configuration.yaml:2:9: invalid YAML: could not determine a constructor for the tag '!nope'"
    ]


def test_duplicate_key_names_both_lines(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  name: A\n  language: es-MX\n  name: B\n")
    assert errors_of(tmp_path) == ["configuration.yaml:4: duplicate key 'name' (first on line 2, again on line 4)"]


def test_merge_key_override_is_not_a_duplicate(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "base: &base\n  a: 1\n  b: 2\nother:\n  <<: *base\n  a: 3\n")
    assert load_configuration(tmp_path)["other"] == {"a": 3, "b": 2}


def test_yaml_1_1_base_60_and_octal_stay_strings(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "t: 10:30\nzip: 01000\nn: 0x1F\nf: 1.5\nb: yes\ni: 1_000\n")
    assert load_configuration(tmp_path) == {"t": "10:30", "zip": "01000", "n": 31, "f": 1.5, "b": True, "i": 1000}


def test_secret_is_resolved_and_redacted(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "router_password: hunter2\npin: 1234\n")
    write("configuration.yaml", "command_center:\n  password: !secret router_password\n  pin: !secret pin\n")
    block = load_configuration(tmp_path)["command_center"]
    password = block["password"]
    assert isinstance(password, SecretStr)
    assert str(password) == "hunter2"
    assert password == "hunter2"
    assert (password.file, password.line, password.name) == ("configuration.yaml", 2, "router_password")
    assert repr(password) == "SecretStr('**redacted**')"
    assert password.redacted() == REDACTED
    assert "hunter2" not in repr(block)
    assert "hunter2" not in f"{block!r} {[password]!r}"
    assert block["pin"] == "1234"
    assert redacted(block) == {"password": REDACTED, "pin": REDACTED}
    clone = copy.deepcopy(password)
    assert (str(clone), repr(clone), clone.name) == ("hunter2", "SecretStr('**redacted**')", "router_password")
    assert repr(pickle.loads(pickle.dumps(password))) == "SecretStr('**redacted**')"


def test_missing_secret_names_file_line_and_secret(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "router_password: hunter2\n")
    write("configuration.yaml", "hub:\n  name: Casa\nalarm_panel:\n  code: !secret panel_code\n")
    assert errors_of(tmp_path) == ["configuration.yaml:4: secret 'panel_code' is not defined in secrets.yaml"]


def test_missing_secret_suggests_close_name_without_values(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "router_password: hunter2\n")
    write("configuration.yaml", "x:\n  password: !secret router_pasword\n")
    messages = errors_of(tmp_path)
    assert messages == [
        "configuration.yaml:2: secret 'router_pasword' is not defined in secrets.yaml "
        "(did you mean 'router_password'?)"
    ]
    assert "hunter2" not in messages[0]


def test_missing_secrets_file(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "x:\n  a: 1\n  password: !secret router_password\n")
    assert errors_of(tmp_path) == [
        "configuration.yaml:3: secret 'router_password' requested but secrets.yaml was not found"
    ]


def test_broken_secrets_file_is_reported_once(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "a: [1\n")
    write("configuration.yaml", "x:\n  a: !secret a\n  b: !secret b\n")
    assert errors_of(tmp_path) == [
        "secrets.yaml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence on line 1)"
    ]


def test_secret_must_be_scalar(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "token:\n  - hunter2\n")
    write("configuration.yaml", "x:\n  token: !secret token\n")
    assert errors_of(tmp_path) == ["configuration.yaml:2: secret 'token' in secrets.yaml must be a string or a number"]


def test_include_is_relative_to_the_including_file(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "modbus_tank: !include packages/tanks.yaml\n")
    write("packages/tanks.yaml", "buses: !include buses.yaml\n")
    write("packages/buses.yaml", "- port: /dev/ttyUSB0\n")
    config = load_configuration(tmp_path)
    assert config == {"modbus_tank": {"buses": [{"port": "/dev/ttyUSB0"}]}}
    assert (config["modbus_tank"].file, config["modbus_tank"].key_lines) == ("packages/tanks.yaml", {"buses": 1})
    assert config["modbus_tank"]["buses"].file == "packages/buses.yaml"


def test_include_of_missing_file(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  name: Casa\nmodbus_tank: !include tanks.yaml\n")
    assert errors_of(tmp_path) == ["configuration.yaml:3: cannot include 'tanks.yaml': file not found"]


def test_include_loop(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "a: !include a.yaml\n")
    write("a.yaml", "b: !include b.yaml\n")
    write("b.yaml", "c: !include ../" + tmp_path.name + "/a.yaml\n")
    assert errors_of(tmp_path) == ["b.yaml:1: include loop: a.yaml -> b.yaml -> a.yaml"]


def test_include_of_itself(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "hub:\n  x: !include configuration.yaml\n")
    assert errors_of(tmp_path) == [
        "configuration.yaml:2: include loop: configuration.yaml -> configuration.yaml"
    ]


def test_errors_inside_included_file_name_that_file(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "modbus_tank: !include packages/tanks.yaml\n")
    write("packages/tanks.yaml", "buses:\n  - port: a\n  - port: b\n    port: c\n")
    assert errors_of(tmp_path) == ["packages/tanks.yaml:4: duplicate key 'port' (first on line 3, again on line 4)"]


def test_empty_include_is_an_empty_mapping(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "alarm_panel: !include panel.yaml\n")
    write("panel.yaml", "")
    assert load_configuration(tmp_path) == {"alarm_panel": {}}


def test_env_var(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "x:\n  host: !env_var MODBUS_HOST\n  port: !env_var MODBUS_PORT 502\n")
    config = load_configuration(tmp_path, environ={"MODBUS_HOST": "10.0.0.5"})
    assert config == {"x": {"host": "10.0.0.5", "port": "502"}}
    assert config["x"]["port"].line == 3


def test_env_var_missing(write: WriteFile, tmp_path: Path) -> None:
    write("configuration.yaml", "x:\n  host: !env_var MODBUS_HOST\n")
    assert errors_of(tmp_path) == [
        "configuration.yaml:2: environment variable 'MODBUS_HOST' is not set and has no default"
    ]


def test_every_loader_problem_is_reported_at_once(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "a: 1\n")
    write(
        "configuration.yaml",
        """
        x:
          one: !secret missing
          two: !include nowhere.yaml
          three: !env_var NOPE
          four: !secret
          four: 4
        """,
    )
    assert errors_of(tmp_path) == [
        "configuration.yaml:2: secret 'missing' is not defined in secrets.yaml",
        "configuration.yaml:3: cannot include 'nowhere.yaml': file not found",
        "configuration.yaml:4: environment variable 'NOPE' is not set and has no default",
        "configuration.yaml:5: !secret needs an argument",
        "configuration.yaml:6: duplicate key 'four' (first on line 5, again on line 6)",
    ]


def test_load_yaml_any_file_relative_to_config_dir(write: WriteFile, tmp_path: Path) -> None:
    path = write("packages/extra.yaml", "a: 1\n")
    data = load_yaml(path, config_dir=tmp_path)
    assert (data, data.file) == ({"a": 1}, "packages/extra.yaml")


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_bytes(b"hub:\n  name: \xff\n")
    assert errors_of(tmp_path) == ["configuration.yaml: file is not valid UTF-8 (byte 13)"]
