"""/api/alarm_panel over HTTP with real tokens, the dashboard's service calls, and history across a restart."""

from __future__ import annotations

import asyncio

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from ap_helpers import PANEL, PASSWORD, RITA_PIN, PanelSetup

from hub.clock import ManualClock
from hub.config import CONFIG_FILE, write_default_config
from hub.http import create_app
from hub.runtime import Hub
from integrations.alarm_panel import get_panel

GAS, PATIO = "binary_sensor.kitchen_gas", "binary_sensor.patio_window"


@asynccontextmanager
async def client_for(hub: Hub) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    """A test client and the resident's bearer header."""
    token = (await hub.auth.login("rita", PASSWORD, address="127.0.0.1")).access_token
    async with TestClient(TestServer(create_app(hub))) as client:
        yield client, {"Authorization": f"Bearer {token}"}


async def test_history_and_acknowledge(ap: PanelSetup) -> None:
    await ap.start()
    ap.sensor(GAS, "on")
    ap.sensor(GAS, "off")
    await ap.advance(300)  # the siren's time
    ap.sensor(PATIO, "unavailable")
    await ap.call("arm_home", {}, user=ap.rita.id)  # the offline window becomes a trouble when armed
    await ap.panel.settle()
    async with client_for(ap.hub) as (client, auth):
        assert (await client.get("/api/alarm_panel/alarms")).status == 401
        listing = await client.get("/api/alarm_panel/alarms", headers=auth)
        assert listing.status == 200
        alarms = (await listing.json())["alarms"]
        assert [(a["category"], a["status"]) for a in alarms] == [("sensor_offline", "active"), ("gas", "restored")]
        active = await (await client.get("/api/alarm_panel/alarms?status=active", headers=auth)).json()
        [trouble] = active["alarms"]
        assert trouble["entity_id"] == PATIO
        bad = await client.get("/api/alarm_panel/alarms?status=open", headers=auth)
        assert bad.status == 400 and (await bad.json())["error"]["field"] == "status"

        path = f"/api/alarm_panel/alarms/{trouble['id']}/acknowledge"
        assert (await client.post(path)).status == 401
        acked = await client.post(path, headers=auth)
        assert acked.status == 200
        record = await acked.json()
        assert (record["status"], record["acknowledged_by"], record["acknowledged_at"]) == (
            "acknowledged", "Rita Mendoza", ap.hub.clock.time())
        [event] = ap.fired("alarm_acknowledged")
        assert (event.data, event.context.user_id) == (record, ap.rita.id)
        again = await client.post(path, headers=auth)
        assert again.status == 409 and "already acknowledged" in (await again.json())["error"]["message"]
        missing = await client.post("/api/alarm_panel/alarms/nope/acknowledge", headers=auth)
        assert missing.status == 404
        # Acknowledged is still unrestored: listed as active until the window reports again.
        active = await (await client.get("/api/alarm_panel/alarms?status=active", headers=auth)).json()
        assert [a["status"] for a in active["alarms"]] == ["acknowledged"]
        ap.sensor(PATIO, "off")
        await ap.panel.settle()
        [restored] = ap.fired("alarm_restored")[-1:]
        assert (restored.data["status"], restored.data["acknowledged_by"]) == ("restored", "Rita Mendoza")
        spec = await (await client.get("/api/openapi.json", headers=auth)).json()
        assert "/api/alarm_panel/alarms/{alarm_id}/acknowledge" in spec["paths"]


async def test_dashboard_alarm_card_calls(ap: PanelSetup) -> None:
    await ap.start()
    async with client_for(ap.hub) as (client, auth):
        url = "/api/services/alarm_panel"
        arm = await client.post(f"{url}/arm_away", json={"entity_id": PANEL}, headers=auth)
        assert arm.status == 200
        assert ap.state().state == "arming"
        wrong = await client.post(f"{url}/disarm", json={"entity_id": PANEL, "code": "0000"}, headers=auth)
        error = (await wrong.json())["error"]
        assert wrong.status == 400 and (error["message"], error["field"]) == ("code: wrong code", "code")
        right = await client.post(f"{url}/disarm", json={"entity_id": PANEL, "code": RITA_PIN}, headers=auth)
        assert right.status == 200 and ap.state().state == "disarmed"
        assert ap.state().context.user_id == ap.rita.id
        ack = await client.post(f"{url}/acknowledge", json={"alarm_id": "nope"}, headers=auth)
        assert ack.status == 400 and "no alarm nope" in (await ack.json())["error"]["message"]


async def test_history_and_active_alarms_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    first = PanelSetup(Hub(tmp_path, clock=clock))
    await first.hub.start()
    try:
        await first.start()
        await first.call("arm_home", {}, user=first.rita.id)
        first.sensor(PATIO, "on")
        await first.panel.settle()
        [raised] = first.fired("alarm_raised")
        await first.stop()
    finally:
        await first.hub.stop()

    second = PanelSetup(Hub(tmp_path, clock=clock))
    await second.hub.start()
    try:
        second.rita = second.hub.auth.get_user_by_username("rita")
        second.ana = second.hub.auth.get_user_by_username("ana")
        await second.start(codes=False)  # the codes are in the database already
        state = second.state()
        assert (state.state, state.attributes["active_alarms"], state.attributes["changed_by"]) == (
            "armed_home", 1, "Rita Mendoza")
        # Announced again once at start, marked as a replay (a forwarder de-duplicates by the id).
        await until_fired(second, "alarm_raised")
        [replayed] = second.fired("alarm_raised")
        assert replayed.data["replay"] is True and replayed.data["id"] == raised.data["id"]
        second.sensor(PATIO, "on")  # the same window again: still the one alarm
        await second.panel.settle()
        assert len(second.fired("alarm_raised")) == 1
        async with client_for(second.hub) as (client, auth):
            body = await (await client.get("/api/alarm_panel/alarms", headers=auth)).json()
        assert [a["id"] for a in body["alarms"]] == [raised.data["id"]]
        second.sensor(PATIO, "off")
        await second.call("disarm", {"code": RITA_PIN}, user=second.rita.id)
        [restored] = second.fired("alarm_restored")
        assert restored.data["id"] == raised.data["id"]
        await second.stop()
    finally:
        await second.hub.stop()


async def until_fired(setup: PanelSetup, event_type: str) -> None:
    for _ in range(100):
        if setup.fired(event_type):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {event_type}")


CONFIGURATION = """
alarm_panel:
  name: Casa
  zones:
    - {id: kitchen_gas, name: Cocina gas, number: 10, type: gas, entities: [binary_sensor.kitchen_gas]}
"""


async def test_set_up_from_configuration_yaml_and_unloaded_on_stop(tmp_path: Path, clock: ManualClock) -> None:
    write_default_config(tmp_path)
    path = tmp_path / CONFIG_FILE
    text = path.read_text(encoding="utf-8").replace("  server_port: 8123\n", "  server_port: 0\n", 1)
    path.write_text(text + CONFIGURATION, "utf-8")
    for attempt in range(2):
        hub = Hub(tmp_path, clock=clock)
        raised: list[Any] = []
        hub.bus.listen("alarm_raised", raised.append)
        await hub.start()
        try:
            assert hub.config_errors == [] and hub.integrations.status("alarm_panel").state.value == "loaded"
            state = hub.states.get("alarm_control_panel.casa")
            assert state is not None
            if attempt == 0:
                hub.states.set("binary_sensor.kitchen_gas", "on")
                await hub.clock.advance(0)  # type: ignore[attr-defined]
                # The hub stops at once: the unload drains the queued alarm into the database.
            else:
                # Replayed once at start (hub_started): a crash before a forwarder queued it loses nothing.
                for _ in range(100):
                    if raised:
                        break
                    await asyncio.sleep(0.01)
                assert [(e.data["category"], e.data["replay"]) for e in raised] == [("gas", True)]
                assert state.attributes["active_alarms"] == 1
                [stored] = await get_panel(hub.integrations.scoped_hub("alarm_panel")).store.list()
                assert (stored.category.value, stored.status.value) == ("gas", "active")
        finally:
            await hub.stop()
