"""The `resupply:` block: suppliers and, per tank, the ordering policy (docs/resupply.md).

Every error carries its key path (`tanks -> 0 -> supplier: unknown supplier 'pipas'`);
cross-field checks (a tank's supplier exists and sells its commodity, targets above thresholds,
each supplier type has what it needs) are in `_check`, after the field schemas.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import voluptuous as vol

from hub.config.schemas import (
    boolean,
    email,
    ensure_list,
    entity_id,
    host,
    number,
    port,
    slug,
    string,
    time_of_day,
    time_period,
    url,
)

COMMODITIES = ("water", "lp_gas")
SUPPLIER_TYPES = ("http_api", "webhook", "email")
DEFAULT_TARGET = {"water": 90.0, "lp_gas": 85.0}


def _percent(value: Any) -> float:
    result = number(value)
    if not 0 <= result <= 100:
        raise vol.Invalid(f"must be a percentage from 0 to 100, got {result:g}")
    return result


def _positive(value: Any) -> float:
    result = number(value)
    if result <= 0:
        raise vol.Invalid(f"must be more than 0, got {result:g}")
    return result


def _non_negative(value: Any) -> float:
    result = number(value)
    if result < 0:
        raise vol.Invalid(f"must be 0 or more, got {result:g}")
    return result


def _loads(value: Any) -> tuple[float, ...]:
    # A tuple is what this validator returned before: the hub validates a block twice (check, setup).
    loads = tuple(sorted({_positive(v) for v in (value if isinstance(value, tuple) else ensure_list(value))}))
    if not loads:
        raise vol.Invalid("list at least one load size in litres")
    return loads


SELLS_SCHEMA = vol.Any(
    vol.Schema({vol.Required("loads"): _loads}),
    vol.Schema({vol.Optional("increment", default=1.0): _positive, vol.Optional("minimum", default=0.0): _non_negative}),
    msg="give either `loads: [5000, 10000]` (litres per truck) or `increment` and `minimum` (by the litre)",
)

SMTP_SCHEMA = vol.Schema(
    {
        vol.Required("host"): host,
        vol.Optional("port", default=587): port,
        vol.Optional("username"): string,
        vol.Optional("password"): string,
        vol.Optional("starttls", default=True): boolean,
        vol.Optional("tls", default=False): boolean,
        vol.Required("from"): email,
    }
)

SUPPLIER_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Optional("name"): string,
        vol.Required("commodity"): vol.In(COMMODITIES),
        vol.Required("type"): vol.In(SUPPLIER_TYPES),
        vol.Optional("url"): url,
        vol.Optional("api_key"): string,
        vol.Optional("customer_id"): string,
        vol.Optional("callback_secret"): string,
        vol.Optional("webhook_secret"): string,
        vol.Optional("email"): email,
        vol.Optional("smtp"): SMTP_SCHEMA,
        vol.Optional("timeout", default=15.0): _positive,
        vol.Optional("lead_time", default=timedelta(hours=24)): time_period,
        vol.Optional("sells", default={"increment": 1.0, "minimum": 0.0}): SELLS_SCHEMA,
        vol.Optional("price_per_litre"): _non_negative,
        vol.Optional("currency", default="MXN"): vol.All(string, vol.Length(min=3, max=3), str.upper),
        vol.Optional("poll_interval", default=timedelta(minutes=10)): time_period,
    }
)

QUIET_HOURS_SCHEMA = vol.Schema({vol.Required("start"): time_of_day, vol.Required("end"): time_of_day})

TANK_SCHEMA = vol.Schema(
    {
        vol.Required("tank"): entity_id,
        vol.Required("supplier"): slug,
        vol.Optional("below_pct", default=25.0): _percent,
        vol.Optional("days_margin", default=1.0): _non_negative,
        vol.Optional("target_pct"): _percent,
        vol.Optional("hysteresis_pct", default=10.0): _percent,
        vol.Optional("confirm_for", default=timedelta(minutes=10)): time_period,
        vol.Optional("min_interval", default=timedelta(hours=12)): time_period,
        vol.Optional("quiet_hours"): QUIET_HOURS_SCHEMA,
        vol.Optional("monthly_cap"): _positive,
        vol.Optional("approval", default=False): boolean,
        vol.Optional("short_tolerance_pct", default=5.0): _percent,
        vol.Optional("delivery_window", default=timedelta(hours=48)): time_period,
        vol.Optional("auto_order", default=True): boolean,
    }
)

_REQUIRED_BY_TYPE = {
    "http_api": ("url", "api_key"),
    "webhook": ("url", "webhook_secret"),
    "email": ("email", "smtp"),
}


def _check(config: dict[str, Any]) -> dict[str, Any]:
    """Cross-field rules; each error names its path."""
    errors: list[vol.Invalid] = []
    suppliers: dict[str, dict[str, Any]] = {}
    for index, supplier in enumerate(config["suppliers"]):
        if supplier["id"] in suppliers:
            errors.append(vol.Invalid(f"supplier id '{supplier['id']}' is used twice", path=["suppliers", index, "id"]))
        suppliers[supplier["id"]] = supplier
        supplier.setdefault("name", supplier["id"].replace("_", " ").title())
        for key in _REQUIRED_BY_TYPE[supplier["type"]]:
            if key not in supplier:
                errors.append(vol.Invalid(f"a {supplier['type']} supplier needs `{key}`", path=["suppliers", index]))
    seen: set[str] = set()
    for index, tank in enumerate(config["tanks"]):
        path = ["tanks", index]
        if tank["tank"] in seen:
            errors.append(vol.Invalid(f"{tank['tank']} has two resupply entries", path=[*path, "tank"]))
        seen.add(tank["tank"])
        supplier = suppliers.get(tank["supplier"])
        if supplier is None:
            known = ", ".join(sorted(suppliers)) or "none configured"
            errors.append(vol.Invalid(f"unknown supplier '{tank['supplier']}' (suppliers: {known})",
                                      path=[*path, "supplier"]))  # fmt: skip
            continue
        tank.setdefault("target_pct", DEFAULT_TARGET[supplier["commodity"]])
        if tank["target_pct"] <= tank["below_pct"]:
            errors.append(vol.Invalid(
                f"target_pct ({tank['target_pct']:g} %) must be above below_pct ({tank['below_pct']:g} %)",
                path=[*path, "target_pct"]))  # fmt: skip
        if tank.get("monthly_cap") is not None and supplier.get("price_per_litre") is None:
            errors.append(vol.Invalid(
                f"monthly_cap needs a price: supplier '{supplier['id']}' has no price_per_litre",
                path=[*path, "monthly_cap"]))  # fmt: skip
    if errors:
        raise vol.MultipleInvalid(errors)
    return config


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("suppliers", default=[]): vol.All(ensure_list, [SUPPLIER_SCHEMA]),
            vol.Optional("tanks", default=[]): vol.All(ensure_list, [TANK_SCHEMA]),
            vol.Optional("callback_base_url"): url,
        }
    ),
    _check,
)

__all__ = ["COMMODITIES", "CONFIG_SCHEMA", "SUPPLIER_TYPES"]
