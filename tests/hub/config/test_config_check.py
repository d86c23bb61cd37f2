"""check_config(): every block validated, every error collected, defaults round-trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import voluptuous as vol

from hub.config import CONFIG_FILE, SECRETS_FILE, check_config, load_configuration, write_default_config
from hub.config.default_config import DEFAULT_CONFIGURATION, DEFAULT_SECRETS
from hub.config.schemas import polling_schema, tcp_endpoint_schema

WriteFile = Callable[[str, str], Path]

TANK_SCHEMA = vol.Schema({vol.Required("gateways"): [vol.Schema({**tcp_endpoint_schema, **polling_schema})]})
SCHEMAS = {"modbus_tank": TANK_SCHEMA, "alarm_panel": None}
DOMAINS = {"modbus_tank", "alarm_panel", "ble_climate"}

CORE_DEFAULTS = {
    "hub": {"name": "Maderas Hub", "time_zone": "America/Mexico_City", "unit_system": "metric", "language": "es-MX"},
    "recorder": {"commit_interval": timedelta(seconds=1), "purge_keep_days": 10,
                 "exclude": {"entities": [], "domains": []}},
    "logger": {"default": "INFO", "logs": {}},
    "http": {"server_host": "127.0.0.1", "server_port": 8123, "trusted_networks": []},
    "network": {"mdns": True, "interfaces": "all"},
}


def test_empty_configuration_gives_core_defaults(write: WriteFile, tmp_path: Path) -> None:
    write(CONFIG_FILE, "")
    assert check_config(tmp_path, SCHEMAS, DOMAINS) == (CORE_DEFAULTS, [])


def test_valid_blocks(write: WriteFile, tmp_path: Path) -> None:
    write(
        CONFIG_FILE,
        """
        hub:
          name: Casa Maderas
          latitude: 19.43
          longitude: -99.13
          internal_url: http://192.168.1.20:8123
        modbus_tank:
          gateways:
            - host: 10.0.0.5
              port: 502
              scan_interval: 1m
        alarm_panel:
          anything: [1, 2]
        ble_climate:
        logger:
          default: warning
          logs:
            integrations.modbus_tank: debug
        http:
          trusted_networks: 192.168.1.0/24
        """,
    )
    validated, errors = check_config(tmp_path, SCHEMAS, DOMAINS)
    assert errors == []
    assert validated["hub"] == {**CORE_DEFAULTS["hub"], "name": "Casa Maderas", "latitude": 19.43,
                                "longitude": -99.13, "internal_url": "http://192.168.1.20:8123"}
    assert validated["modbus_tank"] == {"gateways": [{"host": "10.0.0.5", "port": 502,
                                                      "scan_interval": timedelta(minutes=1)}]}
    assert validated["alarm_panel"] == {"anything": [1, 2]}
    assert validated["ble_climate"] == {}
    assert validated["logger"] == {"default": "WARNING", "logs": {"integrations.modbus_tank": "DEBUG"}}
    assert validated["http"]["trusted_networks"] == ["192.168.1.0/24"]
    assert validated["recorder"] == CORE_DEFAULTS["recorder"]


def test_unknown_integration_with_suggestion(write: WriteFile, tmp_path: Path) -> None:
    write(CONFIG_FILE, "hub:\n  name: Casa\n\nmodbus_tnk:\n  gateways: []\nfrobnicator: {}\n")
    validated, errors = check_config(tmp_path, SCHEMAS, DOMAINS)
    assert [str(error) for error in errors] == [
        "configuration.yaml:4: modbus_tnk: unknown integration 'modbus_tnk' (did you mean 'modbus_tank'?)",
        "configuration.yaml:6: frobnicator: unknown integration 'frobnicator'",
    ]
    assert errors[0].domain == "modbus_tnk"
    assert validated["hub"]["name"] == "Casa"


def test_several_errors_at_once_and_failed_blocks_left_out(write: WriteFile, tmp_path: Path) -> None:
    write(
        CONFIG_FILE,
        """
        hub:
          time_zone: Mars/Olympus_Mons
          unit_system: imperial
        recorder:
          purge_keep_days: 0
          exclude:
            entities: [Sensor.Bad]
        modbus_tank:
          gateways:
            - host: 10.0.0.5
              port: 70000
            - host: 10.0.0.6
        alarm_panel: [1]
        logger:
          default: loud
        http:
          server_port: 8124
          trusted_networks: [192.168.1.1/24, nonsense]
        """,
    )
    validated, errors = check_config(tmp_path, SCHEMAS, DOMAINS)
    assert [str(error) for error in errors] == [
        "configuration.yaml:2: hub -> time_zone: unknown time zone, got 'Mars/Olympus_Mons'",
        "configuration.yaml:3: hub -> unit_system: only 'metric' is supported, got 'imperial'",
        "configuration.yaml:5: recorder -> purge_keep_days: expected a positive integer, got 0",
        "configuration.yaml:7: recorder -> exclude -> entities[0]: expected an entity id like "
        "'sensor.cistern_level' (lowercase, single underscores), got 'Sensor.Bad'",
        "configuration.yaml:11: modbus_tank -> gateways[0] -> port: expected a port between 1 and 65535, got 70000",
        "configuration.yaml:12: modbus_tank -> gateways[1] -> port: required key not provided",
        "configuration.yaml:13: alarm_panel: expected a mapping, got a list",
        "configuration.yaml:15: logger -> default: expected a log level (debug, info, warning, error, critical), "
        "got 'loud'",
        "configuration.yaml:18: http -> trusted_networks[0]: host bits are set, got '192.168.1.1/24' "
        "(did you mean '192.168.1.0/24'?)",
        "configuration.yaml:18: http -> trusted_networks[1]: expected a network in CIDR form such as "
        "192.168.1.0/24, got 'nonsense'",
    ]
    assert validated == {"network": CORE_DEFAULTS["network"]}  # the one core block not in the file: its defaults


def test_good_blocks_survive_a_bad_one(write: WriteFile, tmp_path: Path) -> None:
    write(CONFIG_FILE, "hub:\n  name: Casa\nhttp:\n  server_port: -1\n")
    validated, errors = check_config(tmp_path, SCHEMAS, DOMAINS)
    assert [str(error) for error in errors] == [
        "configuration.yaml:4: http -> server_port: expected a port between 1 and 65535, got -1"
    ]
    assert set(validated) == {"hub", "recorder", "logger", "network"}
    assert validated["hub"]["name"] == "Casa"


def test_load_errors_are_returned_not_raised(write: WriteFile, tmp_path: Path) -> None:
    write(CONFIG_FILE, "hub:\n  name: !secret hub_name\n")
    assert [str(e) for e in check_config(tmp_path, SCHEMAS, DOMAINS)[1]] == [
        "configuration.yaml:2: secret 'hub_name' requested but secrets.yaml was not found"
    ]


def test_default_config_round_trip(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    assert write_default_config(config_dir) is True
    assert (config_dir / CONFIG_FILE).read_text(encoding="utf-8") == DEFAULT_CONFIGURATION
    assert (config_dir / SECRETS_FILE).read_text(encoding="utf-8") == DEFAULT_SECRETS
    assert (config_dir / SECRETS_FILE).stat().st_mode & 0o777 == 0o600
    assert "hub demo" in DEFAULT_CONFIGURATION
    assert set(load_configuration(config_dir)) == {"hub", "recorder", "logger", "http"}
    assert check_config(config_dir, {}, set()) == (CORE_DEFAULTS, [])
    assert sorted(p.name for p in config_dir.iterdir()) == [CONFIG_FILE, SECRETS_FILE]


def test_default_config_never_overwrites(write: WriteFile, tmp_path: Path) -> None:
    write(CONFIG_FILE, "hub:\n  name: Mine\n")
    assert write_default_config(tmp_path) is False
    assert (tmp_path / CONFIG_FILE).read_text(encoding="utf-8") == "hub:\n  name: Mine\n"
    assert not (tmp_path / SECRETS_FILE).exists()


def test_default_config_keeps_existing_secrets(write: WriteFile, tmp_path: Path) -> None:
    write(SECRETS_FILE, "pin: '1234'\n")
    assert write_default_config(tmp_path) is True
    assert (tmp_path / SECRETS_FILE).read_text(encoding="utf-8") == "pin: '1234'\n"


def test_missing_secret_disables_only_its_block(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("receiver_key: abcdefghijklmnop\n")
    (tmp_path / "configuration.yaml").write_text(
        "alpha:\n  token: !secret supplier_tokn\n"
        "beta:\n  key: !secret receiver_key\n"
        "recorder:\n  purge_keep_days: 3\n"
    )
    validated, errors = check_config(tmp_path, {"alpha": None, "beta": None}, set())
    assert [str(e) for e in errors] == ["configuration.yaml:2: secret 'supplier_tokn' is not defined in secrets.yaml"]
    assert "alpha" not in validated
    assert validated["beta"]["key"] == "abcdefghijklmnop"
    assert validated["recorder"]["purge_keep_days"] == 3


def test_missing_include_disables_only_its_block(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("alpha: !include alpha.yaml\nbeta:\n  x: 1\n")
    validated, errors = check_config(tmp_path, {"alpha": None, "beta": None}, set())
    assert [str(e) for e in errors] == ["configuration.yaml:1: cannot include 'alpha.yaml': file not found"]
    assert "alpha" not in validated and validated["beta"] == {"x": 1}


def test_http_port_zero_means_any_free_port(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: 0\n")
    validated, errors = check_config(tmp_path, {}, set())
    assert errors == [] and validated["http"]["server_port"] == 0
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: 70000\n")
    _, errors = check_config(tmp_path, {}, set())
    assert [str(e) for e in errors] == ["configuration.yaml:2: http -> server_port: expected a port between 1 and 65535, got 70000"]
