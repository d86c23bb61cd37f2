"""Every REST endpoint: the happy path and each error it can give."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from hub import __version__
from hub.clock import ManualClock
from hub.loader import CUSTOM_DIR
from hub.runtime import Hub
from hub.services import ServiceCall, SupportsResponse

TANK = '''
DOMAIN = "tank"

async def async_setup(hub, config):
    hub.states.set("sensor.tank_ready", "yes")

async def async_setup_entry(hub, entry):
    hub.states.set("sensor.tank_entry", entry.title)

async def async_unload_entry(hub, entry):
    hub.states.remove("sensor.tank_entry")
'''


def iso(timestamp: float, offset_hours: int = 0) -> str:
    return datetime.fromtimestamp(timestamp, timezone(timedelta(hours=offset_hours))).isoformat()


# -- hub, me, states -------------------------------------------------------------------------


async def test_root_and_health(api: Any) -> None:
    assert await api.ok("GET", "/api/", token=api.resident) == {
        "name": "Maderas Hub", "version": __version__, "time_zone": "America/Mexico_City", "language": "es-MX",
    }  # fmt: skip
    health = await api.ok("GET", "/api/health", token=api.resident)
    assert health["state"] == "running" and health["uptime"] == 0.0
    assert health["database_size"] > 0 and health["recorder_pending_rows"] >= 0
    assert health["integrations_failed"] == [] and health["config_errors"] == 0
    assert isinstance(health["outbox"], dict) and health["loop_lag_max"] >= 0


async def test_me_read_and_change(api: Any, password: str) -> None:
    me = await api.ok("GET", "/api/me", token=api.resident)
    assert me == {"id": me["id"], "username": "rita", "name": "Rita Mendoza", "role": "resident", "language": "en"}
    changed = await api.ok("PATCH", "/api/me", token=api.resident, json={"name": "Rita M.", "language": "es-MX"})
    assert changed["name"] == "Rita M." and changed["language"] == "es-MX"
    error = await api.error("PATCH", "/api/me", 400, token=api.resident, json={"password": "a new long password"})
    assert error["field"] == "current_password"
    error = await api.error("PATCH", "/api/me", 400, token=api.resident,
                            json={"password": "a new long password", "current_password": "not it at all"})  # fmt: skip
    assert error["field"] == "current_password"
    error = await api.error("PATCH", "/api/me", 400, token=api.resident, json={"role": "admin"})
    assert error == {"code": "bad_request", "message": "role: unknown field", "field": "role"}
    error = await api.error("PATCH", "/api/me", 400, token=api.resident,
                            json={"password": "short", "current_password": password})  # fmt: skip
    assert error["field"] == "password"
    await api.ok("PATCH", "/api/me", token=api.resident,
                 json={"password": "a new long password", "current_password": password})  # fmt: skip
    # A new password signs out every session of the user, this one included.
    await api.error("GET", "/api/me", 401, token=api.resident)
    assert (await api.hub.auth.login("rita", "a new long password", address="127.0.0.1")).access_token


async def test_states_are_joined_from_cached_json(api: Any) -> None:
    api.hub.states.set("sensor.cistern_level", "71", {"unit_of_measurement": "%"})
    api.hub.states.set("binary_sensor.door", "off")
    response = await api.call("GET", "/api/states", token=api.resident)
    assert response.status == 200 and response.content_type == "application/json"
    body = await response.read()
    assert body == b"[" + b",".join(s.as_json() for s in api.hub.states.all()) + b"]"
    state = await api.ok("GET", "/api/states/sensor.cistern_level", token=api.resident)
    assert state["state"] == "71" and state["attributes"] == {"unit_of_measurement": "%"}
    error = await api.error("GET", "/api/states/sensor.nothing", 404, token=api.resident)
    assert error == {"code": "not_found", "message": "entity sensor.nothing not found"}
    error = await api.error("GET", "/api/states/Sensor.Bad-Id", 400, token=api.resident)
    assert error["field"] == "entity_id"


# -- history and events ----------------------------------------------------------------------


async def test_history_raw_states_in_a_range(api: Any, clock: ManualClock) -> None:
    t0 = clock.time()
    for value in ("10", "20", "30"):
        api.hub.states.set("sensor.level", value)
        await clock.advance(60)
    await api.hub.recorder.flush()
    path = "/api/history/sensor.level"
    body = await api.ok("GET", f"{path}?start={t0 - 1}&end={t0 + 150}", token=api.resident)
    assert [s["state"] for s in body["states"]] == ["10", "20", "30"]
    assert body["start"] == t0 - 1 and body["end"] == t0 + 150
    # ISO 8601 with an offset, percent-encoded or with a bare '+' (which a query turns into a space).
    response = await api.call("GET", path, token=api.resident, params={"start": iso(t0 + 30, -6), "end": iso(t0 + 90)})
    assert [s["state"] for s in (await response.json())["states"]] == ["10", "20"]  # 10 was in force at start
    raw = await api.ok("GET", f"{path}?start={iso(t0 + 61)}&end={iso(t0 + 200)}", token=api.resident)
    assert [s["state"] for s in raw["states"]] == ["20", "30"]
    # Default: the last 24 hours up to now.
    assert [s["state"] for s in (await api.ok("GET", path, token=api.resident))["states"]] == ["10", "20", "30"]


async def test_history_statistics_with_points(api: Any, clock: ManualClock) -> None:
    t0 = clock.time()
    for value, wait in (("10", 30), ("20", 30), ("30", 60), ("40", 1)):
        api.hub.states.set("sensor.level", value)
        await clock.advance(wait)
    await api.hub.recorder.flush()
    body = await api.ok("GET", f"/api/history/sensor.level?start={t0}&end={t0 + 120}&points=2", token=api.resident)
    assert body["bucket_seconds"] == 60 and body["points"] == 2
    assert body["statistics"] == [
        {"start": t0, "min": 10.0, "mean": 15.0, "max": 20.0, "count": 2},
        {"start": t0 + 60, "min": 30.0, "mean": 30.0, "max": 30.0, "count": 1},
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=yesterday", "start"),
        ("start=2026-01-15T10:00:00", "start"),  # no offset: ambiguous, refused
        ("end=nan", "end"),
        ("start=1000&end=1000", "end"),
        ("start=1000&end=500", "end"),
        ("start=0&end=2678401", "start"),  # 31 days and a second
        ("points=1", "points"),
        ("points=2001", "points"),
        ("points=many", "points"),
    ],
)
async def test_history_bad_queries_name_the_parameter(api: Any, query: str, field: str) -> None:
    error = await api.error("GET", f"/api/history/sensor.level?{query}", 400, token=api.resident)
    assert error["field"] == field


async def test_history_path_is_validated(api: Any) -> None:
    error = await api.error("GET", "/api/history/not-an-entity", 400, token=api.resident)
    assert error["field"] == "entity_id"


async def test_events_newest_first(api: Any, clock: ManualClock) -> None:
    for n in range(250):
        api.hub.bus.fire("test_event", {"n": n})
        await clock.advance(1)
    api.hub.bus.fire("other_event", {})
    await clock.advance(1)  # ranges are [start, end): "now" itself is not in the default range yet
    await api.hub.recorder.flush()
    body = await api.ok("GET", "/api/events?event_type=test_event&limit=5", token=api.resident)
    assert [e["data"]["n"] for e in body["events"]] == [249, 248, 247, 246, 245]
    everything = await api.ok("GET", "/api/events?limit=1000", token=api.resident)
    assert everything["events"][0]["event_type"] == "other_event"
    assert [e["time_fired"] for e in everything["events"]] == sorted(
        (e["time_fired"] for e in everything["events"]), reverse=True
    )
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("event_type=Bad Type", "event_type")):
        error = await api.error("GET", f"/api/events?{query}", 400, token=api.resident)
        assert error["field"] == field


# -- services --------------------------------------------------------------------------------


@pytest.fixture
def calls(hub: Hub) -> list[ServiceCall]:
    seen: list[ServiceCall] = []

    def echo(call: ServiceCall) -> dict[str, Any]:
        seen.append(call)
        return {"level": call.data["level"]}

    def arm(call: ServiceCall) -> None:
        seen.append(call)

    hub.services.register("tank", "set_level", echo, {vol.Required("level"): vol.All(int, vol.Range(0, 100))},
                          supports_response=SupportsResponse.OPTIONAL)  # fmt: skip
    hub.services.register("alarm", "arm", arm, resident=True)
    return seen


async def test_services_list_and_call(api: Any, calls: list[ServiceCall]) -> None:
    described = await api.ok("GET", "/api/services", token=api.resident)
    assert described["tank"]["set_level"]["resident"] is False and described["alarm"]["arm"]["resident"] is True
    body = await api.ok("POST", "/api/services/tank/set_level?return_response=1", json={"level": 40})
    assert body["response"] == {"level": 40}
    admin_id = (await api.ok("GET", "/api/me"))["id"]
    assert calls[-1].context.user_id == admin_id and body["context"]["user_id"] == admin_id
    body = await api.ok("POST", "/api/services/alarm/arm", token=api.resident)
    assert "response" not in body and len(calls) == 2


async def test_service_errors(api: Any, calls: list[ServiceCall]) -> None:
    error = await api.error("POST", "/api/services/tank/set_level", 400, token=api.admin, json={"level": 400})
    assert error["field"] == "level" and "at most 100" in error["message"]
    error = await api.error("POST", "/api/services/tank/set_level", 400, token=api.admin, json={"lvl": 4})
    assert error["field"] == "lvl"
    error = await api.error("POST", "/api/services/tank/set_level", 400, token=api.admin, json=[1, 2])
    assert error["message"] == "service data must be a JSON object"
    error = await api.error("POST", "/api/services/alarm/arm?return_response=1", 400, token=api.admin)
    assert "does not return data" in error["message"]
    error = await api.error("POST", "/api/services/tank/set_level?return_response=maybe", 400, token=api.admin)
    assert error["field"] == "return_response"
    await api.error("POST", "/api/services/tank/fly", 404, token=api.admin)
    await api.error("POST", "/api/services/Tank/fly", 400, token=api.admin)
    error = await api.error("POST", "/api/services/tank/set_level", 403, token=api.resident, json={"level": 4})
    assert error["message"] == "residents may not call tank.set_level"
    error = await api.error("POST", "/api/services/tank/set_level", 415, token=api.admin, data=b'{"level": 4}',
                            headers={"Content-Type": "text/plain"})  # fmt: skip
    assert calls == []


# -- registries ------------------------------------------------------------------------------


async def test_entities_list_and_change(api: Any) -> None:
    registry = api.hub.entities
    await registry.async_get_or_create("sensor", "tank", "u1", suggested_object_id="cistern level")
    await registry.async_get_or_create("sensor", "tank", "u2", suggested_object_id="roof level")
    listed = await api.ok("GET", "/api/entities", token=api.resident)
    assert {e["entity_id"] for e in listed} == {"sensor.cistern_level", "sensor.roof_level"}
    assert listed[0]["disabled"] is False
    body = await api.ok("PATCH", "/api/entities/sensor.cistern_level",
                        json={"name": "Cisterna", "area": "patio", "disabled": True, "new_entity_id": "sensor.cisterna"})
    assert body["entity_id"] == "sensor.cisterna" and body["disabled_by"] == "user" and body["area"] == "patio"
    body = await api.ok("PATCH", "/api/entities/sensor.cisterna", json={"disabled": False, "area": None})
    assert body["disabled"] is False and body["area"] is None
    error = await api.error("PATCH", "/api/entities/sensor.cisterna", 409, token=api.admin,
                            json={"new_entity_id": "sensor.roof_level"})  # fmt: skip
    assert error["field"] == "new_entity_id"
    error = await api.error("PATCH", "/api/entities/sensor.cisterna", 400, token=api.admin,
                            json={"new_entity_id": "light.cisterna"})  # fmt: skip
    assert error["field"] == "new_entity_id" and "domain must stay" in error["message"]
    error = await api.error("PATCH", "/api/entities/sensor.cisterna", 400, token=api.admin, json={"disabled": "yes"})
    assert error["field"] == "disabled"
    await api.error("PATCH", "/api/entities/sensor.cistern_level", 404, token=api.admin, json={"name": "x"})


async def test_devices_list_and_change(api: Any) -> None:
    device = await api.hub.devices.async_get_or_create(
        identifiers=[("tank", "T1")], connections=[("mac", "AA-BB-CC-DD-EE-FF")], name="Tank 1"
    )
    listed = await api.ok("GET", "/api/devices", token=api.resident)
    assert listed[0]["identifiers"] == [["tank", "T1"]] and listed[0]["connections"] == [["mac", "aa:bb:cc:dd:ee:ff"]]
    body = await api.ok("PATCH", f"/api/devices/{device.id}", json={"name": "Cisterna", "area": "patio", "disabled": True})
    assert body["display_name"] == "Cisterna" and body["area"] == "patio" and body["disabled_by"] == "user"
    await api.error("PATCH", "/api/devices/nope", 404, token=api.admin, json={"name": "x"})
    error = await api.error("PATCH", "/api/devices/no%20pe", 400, token=api.admin, json={"name": "x"})
    assert error["field"] == "device_id"


# -- integrations and config entries (a hub with a custom integration) ---------------------------


@pytest.fixture
async def tank_api(
    tmp_path: Path, clock: ManualClock, serve: Any, password: str, api_class: Any
) -> AsyncIterator[Any]:
    home = tmp_path / "home"
    package = home / CUSTOM_DIR / "tank"
    package.mkdir(parents=True)
    manifest = {"domain": "tank", "name": "Tank", "version": "1.2.0", "iot_class": "local_polling", "config_flow": True}
    (package / "manifest.json").write_text(json.dumps(manifest))
    (package / "__init__.py").write_text(TANK)
    (home / "configuration.yaml").write_text("tank:\n")
    hub = Hub(home, clock=clock)
    await hub.start()
    try:
        await hub.auth.create_user("ana", "Ana", password, "admin")
        await hub.auth.create_user("rita", "Rita", password, "resident")
        tokens = [(await hub.auth.login(u, password, address="127.0.0.1")).access_token for u in ("ana", "rita")]
        async with serve(hub) as client:
            yield api_class(client, hub, *tokens)
    finally:
        await hub.stop()


async def test_integrations_status_retry_and_reload(tank_api: Any) -> None:
    api = tank_api
    listed = await api.ok("GET", "/api/integrations", token=api.resident)
    tank = next(i for i in listed if i["domain"] == "tank")
    assert tank == {"domain": "tank", "name": "Tank", "version": "1.2.0", "state": "loaded", "error": None,
                    "attempts": 1, "next_retry": None, "source": "custom"}  # fmt: skip
    # Retry is for failed or retrying integrations; a loaded one answers 409 saying so.
    conflict = await api.error("POST", "/api/integrations/tank/retry", 409, token=api.admin)
    assert "is loaded; only failed or retrying ones can be retried" in json.dumps(conflict)
    reloaded = await api.ok("POST", "/api/integrations/tank/reload")
    assert reloaded["state"] == "loaded" and reloaded["attempts"] == 2
    await api.error("POST", "/api/integrations/nothing/reload", 404, token=api.admin)
    await api.error("POST", "/api/integrations/nothing/retry", 404, token=api.admin)
    if "demo" in {i["domain"] for i in listed}:  # built-in but not configured here: nothing to reload
        await api.error("POST", "/api/integrations/demo/reload", 409, token=api.admin)


async def test_config_entries_redacted_changed_reloaded_removed(tank_api: Any) -> None:
    api, hub = tank_api, tank_api.hub
    entry = await hub.config_entries.add("tank", "Tank 1", {"password": "s3cret"})
    await hub.entities.async_get_or_create("sensor", "tank", "e1", suggested_object_id="t1", config_entry_id=entry.entry_id)
    listed = await api.ok("GET", "/api/config_entries", token=api.resident)
    assert listed[0]["state"] == "loaded" and "data" not in listed[0] and "s3cret" not in json.dumps(listed)
    path = f"/api/config_entries/{entry.entry_id}"
    assert (await api.ok("PATCH", path, json={"title": "Cistern"}))["title"] == "Cistern"
    assert (await api.ok("PATCH", path, json={"disabled": True}))["state"] == "not_loaded"
    assert (await api.ok("PATCH", path, json={"disabled": False}))["state"] == "loaded"
    assert (await api.ok("POST", f"{path}/reload"))["state"] == "loaded"
    assert hub.states.get("sensor.tank_entry").state == "Cistern"
    await api.ok("DELETE", path, status=204)
    assert hub.config_entries.entries() == [] and hub.entities.get("sensor.t1") is None
    await api.error("DELETE", path, 404, token=api.admin)
    await api.error("PATCH", path, 404, token=api.admin, json={"title": "x"})
    await api.error("POST", f"{path}/reload", 404, token=api.admin)


# -- users and tokens ------------------------------------------------------------------------


async def test_users_crud_and_its_limits(api: Any, password: str) -> None:
    listed = await api.ok("GET", "/api/users")
    assert [u["username"] for u in listed] == ["ana", "rita"]
    created = await api.ok("POST", "/api/users", status=201,
                           json={"username": "tomas", "name": "Tomás", "password": password, "role": "resident"})
    assert created["username"] == "tomas" and created["active"] is True
    error = await api.error("POST", "/api/users", 409, token=api.admin,
                            json={"username": "tomas", "name": "T", "password": password, "role": "resident"})
    assert error["field"] == "username"
    error = await api.error("POST", "/api/users", 400, token=api.admin,
                            json={"username": "x", "name": "X", "password": password, "role": "resident"})
    assert error["field"] == "username"
    error = await api.error("POST", "/api/users", 400, token=api.admin,
                            json={"username": "xavier", "name": "X", "password": password, "role": "owner"})
    assert error["field"] == "role"
    path = f"/api/users/{created['id']}"
    changed = await api.ok("PATCH", path, json={"role": "admin", "name": "Tomás R.", "active": False})
    assert changed["role"] == "admin" and changed["active"] is False
    ana = next(u for u in listed if u["username"] == "ana")
    error = await api.error("PATCH", f"/api/users/{ana['id']}", 409, token=api.admin, json={"role": "resident"})
    assert "last active administrator" in error["message"]
    error = await api.error("DELETE", f"/api/users/{ana['id']}", 409, token=api.admin)
    assert error["message"] == "you cannot remove yourself"
    await api.ok("DELETE", path, status=204)
    await api.error("DELETE", path, 404, token=api.admin)
    await api.error("PATCH", path, 404, token=api.admin, json={"name": "x"})


async def test_long_lived_tokens(api: Any) -> None:
    created = await api.ok("POST", "/api/tokens", status=201, json={"name": "Grafana", "role": "resident"})
    secret = created.pop("token")
    assert created["kind"] == "long_lived" and created["role"] == "resident"
    assert created["expires"] - created["created"] == 365 * 86400
    # The token works with its own (lower) role.
    assert (await api.ok("GET", "/api/me", token=secret))["role"] == "resident"
    await api.error("GET", "/api/users", 403, token=secret)
    listed = await api.ok("GET", "/api/tokens")
    assert {t["kind"] for t in listed} == {"session", "long_lived"}
    assert secret not in json.dumps(listed)
    error = await api.error("POST", "/api/tokens", 400, token=api.admin, json={"name": "x", "role": "admin",
                                                                              "lifespan_days": 4000})  # fmt: skip
    assert error["field"] == "lifespan_days"
    await api.ok("DELETE", f"/api/tokens/{created['id']}", status=204)
    await api.error("GET", "/api/me", 401, token=secret)
    await api.error("DELETE", f"/api/tokens/{created['id']}", 404, token=api.admin)
