"""`hub demo` orders water and gas: the demo's `resupply:` block, its secrets, and the example
supplier service that the demo runs beside the hub (hub.demo.DemoSuppliers)."""

from __future__ import annotations

import logging
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from hub.check import check_configuration
from hub.config import CONFIG_FILE, SECRETS_FILE, load_configuration
from hub.demo import (
    SUPPLIERS,
    TANKS,
    TRUCK_MINUTES,
    DemoDevices,
    DemoSuppliers,
    level_entity,
    load_supplier_service,
    write_demo_config,
)

ROOT = Path(__file__).resolve().parent.parent
TANK_BY_UNIT = {t.unit_id: t for t in TANKS}


class _SecretNames(yaml.SafeLoader):
    """Reads `!secret NAME` as the text "!secret NAME"."""


_SecretNames.add_constructor("!secret", lambda _loader, node: f"!secret {node.value}")


def _raw(config_dir: Path) -> dict[str, Any]:
    """configuration.yaml with every `!secret` left as its name."""
    return yaml.load((config_dir / CONFIG_FILE).read_text(encoding="utf-8"), Loader=_SecretNames)


def test_demo_config_orders_water_and_gas_and_validates(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=8125, resupply=True)
    assert check_configuration(tmp_path) == []
    block = _raw(tmp_path)["resupply"]
    assert block["callback_base_url"] == "http://127.0.0.1:8125"  # the hub's own URL: callbacks reach it
    water, gas = block["suppliers"]
    assert (water["commodity"], gas["commodity"]) == ("water", "lp_gas")
    for supplier in (water, gas):
        assert supplier["type"] == "http_api" and supplier["url"].startswith("http://127.0.0.1:")
        assert supplier["api_key"] == f"!secret {supplier['id']}_api_key"
        assert supplier["callback_secret"] == f"!secret {supplier['id']}_callback_secret"
    assert water["url"] != gas["url"]
    # By the litre from 200 L: the 1,100 L cistern's fill from 30 % to 90 % fits, and costs something.
    assert water["sells"] == {"increment": 10, "minimum": 200} and water["price_per_litre"] > 0
    assert gas["sells"]["increment"] == 1 and gas["price_per_litre"] > 0
    cistern, lp = block["tanks"]
    assert (cistern["tank"], cistern["supplier"], cistern["approval"]) == ("sensor.cistern_level", water["id"], False)
    assert (lp["tank"], lp["supplier"], lp["approval"]) == ("sensor.lp_gas_tank_level", gas["id"], True)
    assert cistern["tank"] == level_entity(TANK_BY_UNIT[1]) and lp["tank"] == level_entity(TANK_BY_UNIT[3])
    # The demo starts the cistern a little above its threshold and the LP tank under it: orders come early.
    assert 0 < TANK_BY_UNIT[1].start_pct - cistern["below_pct"] <= 5
    assert TANK_BY_UNIT[3].start_pct < lp["below_pct"]
    # The secrets are in secrets.yaml only, private, and resolve.
    secrets_path = tmp_path / SECRETS_FILE
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    stored = yaml.safe_load(secrets_path.read_text(encoding="utf-8"))
    config_text = (tmp_path / CONFIG_FILE).read_text(encoding="utf-8")
    for supplier in SUPPLIERS:
        for name in (f"{supplier.id}_api_key", f"{supplier.id}_callback_secret"):
            assert len(stored[name]) >= 24 and stored[name] not in config_text
    resolved = load_configuration(tmp_path)["resupply"]["suppliers"][0]
    assert str(resolved["api_key"]) == stored[f"{water['id']}_api_key"]


def test_demo_secrets_are_made_per_directory(tmp_path: Path) -> None:
    write_demo_config(tmp_path / "a", resupply=True)
    write_demo_config(tmp_path / "b", resupply=True)
    a, b = (yaml.safe_load((tmp_path / d / SECRETS_FILE).read_text(encoding="utf-8")) for d in ("a", "b"))
    assert set(a) == set(b) and len(a) == 2 * len(SUPPLIERS)
    assert all(a[name] != b[name] for name in a)


def test_test_port_means_no_callbacks_and_polling(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True)
    assert check_configuration(tmp_path) == []
    block = _raw(tmp_path)["resupply"]
    assert "callback_base_url" not in block  # port 0: the hub's URL is not known before it starts
    assert all(s["poll_interval"] == {"seconds": 30} for s in block["suppliers"])


def test_without_the_supplier_service_the_demo_has_no_resupply_block(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=False)
    assert check_configuration(tmp_path) == []
    assert "resupply" not in _raw(tmp_path)
    assert "demo_" not in (tmp_path / SECRETS_FILE).read_text(encoding="utf-8")


def test_the_supplier_service_is_found_in_the_checkout_when_examples_does_not_import() -> None:
    """An editable install maps only hub, integrations, firmware and web: examples/ is loaded by path."""
    code = (
        "import sys; sys.modules['examples'] = None\n"  # `import examples...` now fails, as there
        "from hub.demo import load_supplier_service\n"
        "module = load_supplier_service()\n"
        "print(module.__file__); print(module.SupplierService.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    path, module = result.stdout.split()
    assert Path(path) == ROOT / "examples" / "supplier_service" / "__init__.py"
    assert module == "examples.supplier_service.server"


async def _get(url: str, key: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers={"Authorization": f"Bearer {key}"}) as r:
        return r.status, await r.json()


async def test_demo_suppliers_serve_send_trucks_and_stop(tmp_path: Path) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True)
    keys = yaml.safe_load((tmp_path / SECRETS_FILE).read_text(encoding="utf-8"))
    with DemoDevices(tmp_path) as devices:
        assert all(t.auto_refill_below_pct == 20.0 for t in devices.tanks.values())
        async with DemoSuppliers(tmp_path, devices) as suppliers:
            assert sorted(suppliers.services) == sorted(s.id for s in SUPPLIERS)
            for supplier in SUPPLIERS:
                status, body = await _get(f"{suppliers.urls[supplier.id]}/orders/SUP-404", keys[f"{supplier.id}_api_key"])
                assert (status, body) == (404, {"error": "no order 'SUP-404'"})
            # The supplied tanks are the supplier's now; the rooftop tank keeps the simulator's truck.
            assert [devices.tanks[u].auto_refill_below_pct for u in (1, 2, 3)] == [None, 20.0, None]
            # A delivered water order sends its litres to the cistern (unit 1), gas to the LP tank (unit 3).
            water = suppliers.services["demo_pipas"]
            _, order = await water.create("DEMO-0001", "key-1", {"customer_id": "DEMO-0001", "commodity": "water",
                                                                 "quantity_l": 650, "reference": "Cistern"})  # fmt: skip
            await water.advance(order["id"], "delivered", delivered_l=640.0)
            assert suppliers.trucks == [(1, 640.0)]
            truck = devices.tanks[1].refills[-1]
            assert (truck.litres, truck.duration_s, truck.auto) == (640.0, TRUCK_MINUTES * 60.0, False)
            running = suppliers.services["demo_gas"]
        assert suppliers.services == {} and running.pending_tasks == 0
    assert devices.error is None
    # Stopped: nothing listens on the suppliers' ports any more.
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(f"{suppliers.urls['demo_gas']}/orders/x", "k")


async def test_a_busy_port_leaves_that_supplier_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True)
    water_url = _raw(tmp_path)["resupply"]["suppliers"][0]["url"]
    port = int(water_url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as squatter, DemoDevices(tmp_path) as devices:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        async with DemoSuppliers(tmp_path, devices) as suppliers:
            assert sorted(suppliers.services) == ["demo_gas"]
            assert devices.tanks[1].auto_refill_below_pct == 20.0  # the cistern keeps the simulator's truck
    assert any("demo_pipas cannot listen" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


async def test_without_the_supplier_service_the_demo_runs_without_resupply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_demo_config(tmp_path, server_port=0, resupply=True)
    with DemoDevices(tmp_path) as devices:
        caplog.set_level(logging.INFO, logger="hub.demo")
        async with DemoSuppliers(tmp_path, devices, load=lambda: None) as suppliers:
            assert suppliers.services == {}
            assert all(t.auto_refill_below_pct == 20.0 for t in devices.tanks.values())
    messages = [r.getMessage() for r in caplog.records if r.name == "hub.demo"]
    assert len(messages) == 1 and "Resupply is off in this demo" in messages[0] and "pip install -e ." in messages[0]


def test_the_real_module_is_what_the_demo_loads() -> None:
    module = load_supplier_service()
    from examples import supplier_service

    assert module is supplier_service
