"""Setup and unload through the hub's IntegrationManager, the config block's defaults and errors, the manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from ble_helpers import PROXY_ID, PROXY_TOKEN, ROOF_ADDR, free_port
from waiting import until

from hub.config import check_config
from hub.integrations import IntegrationManager, IntegrationState, voluptuous_text
from hub.loader import discover, discovery_index, match_bluetooth
from hub.runtime import Hub
from integrations.ble_climate import CONFIG_SCHEMA
from integrations.ble_climate.parsers import BTHOME_UUID, ENVIRONMENT_UUID, MIBEACON_UUID, MOPEKA_UUID

KEY = "231d39c1d7cc1ab1aee224cd096db932"


async def test_setup_and_unload_leave_nothing_behind(hub: Hub) -> None:
    found = discover(hub.config_dir, entry_points=[])
    manager = IntegrationManager(hub, found.integrations, problems=found.errors())
    port = free_port()
    block = {
        "devices": {ROOF_ADDR.lower(): {"name": "Roof", "bindkey": KEY}},
        "proxies": [{"id": PROXY_ID, "token": PROXY_TOKEN}],
        "proxy_port": port, "proxy_host": "127.0.0.1",
    }  # fmt: skip
    await manager.setup(["ble_climate"], {"ble_climate": block})
    status = manager.status("ble_climate")
    assert status.state is IntegrationState.loaded, status.error
    # bleak's real scanner runs here: whatever the machine has, it is a status, never a failed setup.
    adapter = await until(
        lambda: (s := hub.states.get("sensor.bluetooth_adapter")) is not None and s.state != "starting" and s,
        "the scanner's first attempt",
    )
    assert adapter.state in ("no_adapter", "scanning")
    assert hub.states.get("sensor.roof_temperature") is not None
    assert hub.states.get(f"binary_sensor.ble_proxy_{PROXY_ID.replace('-', '_')}").state == "off"  # type: ignore[union-attr]
    _, writer = await asyncio.open_connection("127.0.0.1", port)  # the proxy endpoint listens
    writer.close()
    await writer.wait_closed()

    await manager.unload("ble_climate")
    assert manager.status("ble_climate").state is IntegrationState.unloaded
    assert hub.scope.resource_count() == 0
    assert hub.states.get("sensor.bluetooth_adapter") is None
    assert hub.states.get("sensor.roof_temperature") is None
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_config_error_fails_the_setup_with_its_key_path(hub: Hub) -> None:
    found = discover(hub.config_dir, entry_points=[])
    manager = IntegrationManager(hub, found.integrations, problems=found.errors())
    await manager.setup(["ble_climate"], {"ble_climate": {"devices": {ROOF_ADDR: {"bindkey": "0011-too-short"}}}})
    status = manager.status("ble_climate")
    assert status.state is IntegrationState.failed
    assert status.error == f"invalid config: devices -> {ROOF_ADDR} -> bindkey: a bindkey is 32 hexadecimal digits"
    assert "too-short" not in status.error


def test_defaults_and_normalised_values() -> None:
    assert CONFIG_SCHEMA({}) == {
        "adapter": "hci0", "scanning_mode": "passive", "devices": {}, "proxies": [],
        "proxy_port": 7700, "proxy_host": "0.0.0.0",
    }  # fmt: skip
    config = CONFIG_SCHEMA({"devices": {"a4-c1-38-00-00-01": {"name": "Roof", "bindkey": KEY.upper()}}})
    assert config["devices"] == {ROOF_ADDR: {"name": "Roof", "bindkey": bytes.fromhex(KEY)}}
    assert CONFIG_SCHEMA(config) == config  # the hub validates twice (check, setup)
    assert CONFIG_SCHEMA({"devices": None, "proxy_port": 0})["proxy_port"] == 0


TOKEN = "a-long-enough-token"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"devices": {ROOF_ADDR: {"bindkey": "xyz"}}}, f"devices -> {ROOF_ADDR} -> bindkey: a bindkey is 32 hexadecimal digits"),
        ({"devices": {"roof": {}}}, "devices -> roof: expected a Bluetooth address like A4:C1:38:00:00:01"),
        ({"devices": {ROOF_ADDR: {"colour": "red"}}}, f"devices -> {ROOF_ADDR} -> colour: extra keys not allowed"),
        ({"devices": {ROOF_ADDR: {}, ROOF_ADDR.lower(): {}}}, f"devices -> {ROOF_ADDR.lower()}: {ROOF_ADDR} is listed twice"),
        ({"proxies": [{"id": "roof", "token": "short"}]}, "proxies -> [0] -> token: a proxy token has at least 16 characters"),
        ({"proxies": [{"id": "roof proxy", "token": TOKEN}]}, "proxies -> [0] -> id: a proxy id is 1..32 of A-Z a-z 0-9 _ . -"),
        ({"proxies": [{"id": "a", "token": TOKEN}, {"id": "a", "token": TOKEN}]}, "proxies -> [1] -> id: proxy id 'a' is used twice"),
        ({"scanning_mode": "loud"}, "scanning_mode: value must be one of ['active', 'passive']"),
        ({"adapter": "bluetooth0"}, "adapter: expected an adapter name like hci0, got 'bluetooth0'"),
        ({"proxy_port": 70000}, "proxy_port: expected a port between 1 and 65535"),
    ],
)  # fmt: skip
def test_config_errors_name_their_key_path(block: dict[str, Any], message: str) -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(block)
    assert voluptuous_text(err.value) == message


def test_secrets_in_configuration_yaml_are_never_echoed(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("roof_key: not-hex-but-secret\nproxy_token: tiny\n", encoding="utf-8")
    (tmp_path / "configuration.yaml").write_text(
        "ble_climate:\n"
        "  devices:\n"
        f"    {ROOF_ADDR}:\n"
        "      bindkey: !secret roof_key\n"
        "  proxies:\n"
        "    - id: garage\n"
        "      token: !secret proxy_token\n",
        encoding="utf-8",
    )
    _, errors = check_config(tmp_path, {"ble_climate": CONFIG_SCHEMA}, {"ble_climate"})
    text = "\n".join(str(e) for e in errors)
    assert "bindkey" in text and "token" in text
    assert "not-hex-but-secret" not in text and "tiny" not in text


def test_manifest_routes_our_advertisements_here() -> None:
    found = discover(None, entry_points=[])
    integration = found.integrations["ble_climate"]
    assert integration.iot_class == "local_push"
    index = discovery_index(found.integrations)
    for uuid in (BTHOME_UUID, MIBEACON_UUID, ENVIRONMENT_UUID):
        assert match_bluetooth(index, service_data_uuids=[uuid]) == ["ble_climate"]
    assert match_bluetooth(index, service_uuids=[MOPEKA_UUID], manufacturer_ids=[0x0059]) == ["ble_climate"]
    assert match_bluetooth(index, manufacturer_ids=[0x0059]) == []  # Nordic's id alone is every other gadget
