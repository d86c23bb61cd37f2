"""The `command_center:` block: defaults, normalisation, cross-field errors with key paths, secrets never echoed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import voluptuous as vol

from hub.config.yaml_loader import SecretStr
from integrations.command_center import CONFIG_SCHEMA

RECEIVERS = [{"host": "10.0.0.5", "port": 9000}]


def errors(block: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(vol.Invalid) as caught:
        CONFIG_SCHEMA(block)
    found = caught.value.errors if isinstance(caught.value, vol.MultipleInvalid) else [caught.value]
    return {" -> ".join(str(p) for p in e.path): e.msg for e in found}


def test_defaults_and_normalisation() -> None:
    config = CONFIG_SCHEMA({"account": "ab12", "receiver": "R0", "line": "L1", "format": "sia-dcs",
                            "receivers": [*RECEIVERS, {"host": "backup.example", "port": 9001, "protocol": "UDP"}]})  # fmt: skip
    assert config["account"] == "AB12"  # receivers refuse lower-case accounts
    assert (config["receiver"], config["line"], config["format"]) == ("0", "1", "SIA-DCS")
    assert [(r["name"], r["protocol"]) for r in config["receivers"]] == [("primary", "tcp"), ("backup", "udp")]
    assert config["ack_timeout"] == 5.0 and config["attempts_before_failover"] == 3
    assert config["return_after"] == timedelta(minutes=5)
    assert config["supervision_interval"] == timedelta(seconds=90)
    assert config["report_open_close"] is False and config["webhooks"] == []
    assert CONFIG_SCHEMA(config) == config  # the hub validates twice (check-config, then setup)


def test_codes_are_checked_against_the_format() -> None:
    config = CONFIG_SCHEMA({"account": "1234", "receivers": RECEIVERS, "codes": {"gas": "151", "water_leak": 154}})
    assert config["codes"] == {"gas": 151, "water_leak": 154}
    sia = CONFIG_SCHEMA({"account": "1234", "format": "SIA-DCS", "receivers": RECEIVERS, "codes": {"gas": ["ga", "gh"]}})
    assert sia["codes"] == {"gas": ("GA", "GH")}
    assert CONFIG_SCHEMA(sia)["codes"] == {"gas": ("GA", "GH")}
    assert errors({"account": "1234", "receivers": RECEIVERS, "codes": {"gass": 151, "co": 1000}}) == {
        "codes -> gass": "unknown alarm category 'gass' (did you mean 'gas'?)",
        "codes -> co": "expected a Contact ID event code from 1 to 999, got 1000",
    }
    assert "codes -> gas" in errors({"account": "1234", "format": "SIA-DCS", "receivers": RECEIVERS,
                                     "codes": {"gas": "GA"}})  # fmt: skip


def test_cross_field_errors_name_their_paths() -> None:
    found = errors({
        "account": "12",
        "receivers": [*RECEIVERS, {"host": "10.0.0.6", "port": 9000, "name": "primary"}, {"host": "h", "port": 1}],
        "supervision_interval": 4,
        "webhooks": [{"url": "http://c5.example/alarms", "secret": "short"}],
        "site": {"latitude": 20.6},
    })  # fmt: skip
    assert found == {"account": "expected an account of 3 to 16 hex digits, e.g. '1234'"}  # field errors come first
    found = errors({
        "account": "1234",
        "receivers": [*RECEIVERS, {"host": "10.0.0.6", "port": 9000, "name": "primary"}, {"host": "h", "port": 1}],
        "supervision_interval": 4,
        "webhooks": [{"url": "http://c5.example/alarms", "secret": "short"}],
        "site": {"latitude": 20.6},
    })  # fmt: skip
    assert found == {
        "receivers": "at most two receivers (primary and backup), got 3",
        "receivers -> 1 -> name": "'primary' is used twice",
        "supervision_interval": "must be 0 (off) or at least 10 s, got 4 s",
        "webhooks -> 0 -> url": "alarms leave the house only over https:// (http:// is for loopback tests)",
        "webhooks -> 0 -> secret": "the signing secret needs at least 16 characters, this one has 5",
        "site": "give both latitude and longitude, or neither",
    }


def test_the_key_is_never_echoed() -> None:
    key = SecretStr("not-a-valid-key-value", name="dc09_key")
    found = errors({"account": "1234", "receivers": RECEIVERS, "key": key})
    assert found == {"key": "an ascii key must have 16, 24 or 32 characters (AES-128/192/256), this one has 21"}
    hex_key = SecretStr("0123456789abcdefXX23456789abcdef", name="dc09_key")
    found = errors({"account": "1234", "receivers": RECEIVERS, "key": hex_key, "key_format": "hex"})
    assert "not all are hex digits" in found["key"] and str(hex_key) not in found["key"]
    good = CONFIG_SCHEMA({"account": "1234", "receivers": RECEIVERS, "key": SecretStr("0123456789ABCDEF")})
    assert good["key"] == "0123456789ABCDEF" and "0123456789ABCDEF" not in repr(good["key"])
    assert "0123456789ABCDEF" not in repr(good)
