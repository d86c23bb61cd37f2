"""The `resupply:` block: defaults, cross-field checks with their key paths, and validating twice."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from hub.config import check_config
from integrations.resupply import CONFIG_SCHEMA


def block(**tank: Any) -> dict[str, Any]:
    return {
        "suppliers": [
            {"id": "pipas", "commodity": "water", "type": "http_api", "url": "http://127.0.0.1:9/v1", "api_key": "k",
             "sells": {"loads": [10000, 5000]}, "price_per_litre": 0.12},
            {"id": "gas_express", "commodity": "lp_gas", "type": "email", "email": "pedidos@gas.example",
             "smtp": {"host": "smtp.gas.example", "from": "hub@casa.example"}},
        ],
        "tanks": [{"tank": "sensor.cistern_level", "supplier": "pipas", **tank}],
    }  # fmt: skip


def test_defaults_and_normalised_values() -> None:
    config = CONFIG_SCHEMA(block(quiet_hours={"start": "22:00", "end": "07:00"}))
    pipas, gas = config["suppliers"]
    assert pipas["name"] == "Pipas" and pipas["sells"] == {"loads": (5000.0, 10000.0)}
    assert pipas["lead_time"] == timedelta(hours=24) and pipas["currency"] == "MXN"
    assert gas["smtp"]["port"] == 587 and gas["smtp"]["starttls"] is True and gas["sells"]["increment"] == 1.0
    [tank] = config["tanks"]
    assert tank["target_pct"] == 90.0 and tank["below_pct"] == 25.0 and tank["approval"] is False
    assert tank["quiet_hours"] == {"start": time(22), "end": time(7)}
    assert tank["confirm_for"] == timedelta(minutes=10)


def test_validating_twice_gives_the_same_result() -> None:
    """The hub validates at check time and again at setup: the second pass must accept the first's output."""
    once = CONFIG_SCHEMA(block())
    assert CONFIG_SCHEMA(once) == once


def test_gas_tank_targets_85_percent_by_default() -> None:
    config = CONFIG_SCHEMA({**block(), "tanks": [{"tank": "sensor.lp_gas_level", "supplier": "gas_express"}]})
    assert config["tanks"][0]["target_pct"] == 85.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"supplier": "nobody"}, "unknown supplier 'nobody' (suppliers: gas_express, pipas)"),
        ({"target_pct": 20}, "target_pct (20 %) must be above below_pct (25 %)"),
        ({"below_pct": 120}, "must be a percentage from 0 to 100"),
        ({"monthly_cap": 0}, "must be more than 0"),
    ],
)
def test_tank_errors_name_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(block(**change))
    assert message in str(err.value)


def test_supplier_errors_name_what_is_missing() -> None:
    bad = block()
    del bad["suppliers"][0]["api_key"]
    bad["suppliers"][1]["email"] = "not-an-address"
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(bad)
    assert "expected an email address like name@example.com, got 'not-an-address'" in str(err.value)
    bad["suppliers"][1]["email"] = "pedidos@gas.example"
    with pytest.raises(vol.Invalid, match="a http_api supplier needs `api_key`"):
        CONFIG_SCHEMA(bad)
    cap = block(monthly_cap=3000)
    del cap["suppliers"][0]["price_per_litre"]
    with pytest.raises(vol.Invalid, match="monthly_cap needs a price"):
        CONFIG_SCHEMA(cap)


def test_errors_in_configuration_yaml_carry_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("pipas_key: s3cret-key\n", encoding="utf-8")
    (tmp_path / "configuration.yaml").write_text(
        "resupply:\n"
        "  suppliers:\n"
        "    - id: pipas\n"
        "      commodity: water\n"
        "      type: http_api\n"
        "      url: http://127.0.0.1:9/v1\n"
        "      api_key: !secret pipas_key\n"
        "  tanks:\n"
        "    - tank: sensor.cistern_level\n"
        "      supplier: pipas\n"
        "      below_pct: 250\n",
        encoding="utf-8",
    )
    _, errors = check_config(tmp_path, {"resupply": CONFIG_SCHEMA}, {"resupply"})
    [error] = errors
    assert error.line == 11 and "below_pct" in str(error) and "percentage" in str(error)
    assert "s3cret-key" not in str(error)
