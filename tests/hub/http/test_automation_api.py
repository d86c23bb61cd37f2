"""/api/automations: the list with errors, traces, reload (admin), and enable/run through the services."""

from __future__ import annotations

from typing import Any

from hub.clock import ManualClock

AUTOMATIONS = """\
- id: pump_cycle
  alias: Pump cycle
  description: Runs the pump for ten minutes
  mode: restart
  triggers: {trigger: event, event_type: pump_go}
  actions:
    - event: pump_started
    - delay: "00:10:00"  # access tokens live 30 minutes of the manual clock
    - alias: Done
      event: pump_stopped
- id: broken
  triggers: {trigger: event, event_type: x}
  actions:
    - fly: away
"""

LIST_KEYS = {"id", "alias", "description", "entity_id", "enabled", "mode", "current", "last_triggered", "last_error"}
SUMMARY_KEYS = {"run_id", "started", "finished", "state", "trigger", "error"}
TRACE_KEYS = {"run_id", "automation_id", "context_id", "started", "finished", "state", "error", "trigger",
              "conditions", "steps"}  # fmt: skip
STEP_KEYS = {"path", "action", "alias", "started", "duration", "result", "error"}


async def load(api: Any) -> dict[str, Any]:
    (api.hub.config_dir / "automations.yaml").write_text(AUTOMATIONS, encoding="utf-8")
    body: dict[str, Any] = await api.ok("POST", "/api/automations/reload")
    return body


async def test_every_endpoint_needs_a_token(api: Any) -> None:
    for method, path in (("GET", "/api/automations"), ("GET", "/api/automations/pump_cycle/traces"),
                         ("GET", "/api/automations/pump_cycle/traces/run1"), ("POST", "/api/automations/reload")):
        error = await api.error(method, path, 401)
        assert error["code"] == "unauthorized"


async def test_reload_is_for_admins_and_returns_the_list_with_errors(api: Any) -> None:
    (api.hub.config_dir / "automations.yaml").write_text(AUTOMATIONS, encoding="utf-8")
    error = await api.error("POST", "/api/automations/reload", 403, token=api.resident)
    assert error["code"] == "forbidden"
    assert (await api.ok("GET", "/api/automations", token=api.resident))["automations"] == []  # not reloaded
    body = await load(api)
    assert body == await api.ok("GET", "/api/automations", token=api.resident)
    assert set(body) == {"automations", "errors"}
    [automation] = body["automations"]
    assert set(automation) == LIST_KEYS
    assert automation == {"id": "pump_cycle", "alias": "Pump cycle", "description": "Runs the pump for ten minutes",
                          "entity_id": "automation.pump_cycle", "enabled": True, "mode": "restart", "current": 0,
                          "last_triggered": None, "last_error": None}  # fmt: skip
    [problem] = body["errors"]
    assert (problem["file"], problem["line"]) == ("automations.yaml", 14)
    assert problem["message"].startswith("actions[0]: unknown action")


async def test_runs_show_in_traces_and_services_enable_and_disable(api: Any, clock: ManualClock) -> None:
    await load(api)
    started = await api.ok("POST", "/api/services/automation/trigger", token=api.resident,
                           json={"entity_id": "automation.pump_cycle"})  # fmt: skip
    await clock.advance(60)
    [running] = (await api.ok("GET", "/api/automations", token=api.resident))["automations"]
    assert running["current"] == 1 and running["last_triggered"] == "2026-01-15T06:00:00-06:00"
    await api.ok("POST", "/api/services/automation/trigger", token=api.resident,
                 json={"entity_id": "automation.pump_cycle"})  # fmt: skip
    await clock.advance(600)

    traces = (await api.ok("GET", "/api/automations/pump_cycle/traces", token=api.resident))["traces"]
    assert [t["state"] for t in traces] == ["finished", "restarted"]  # newest first; restart mode
    assert all(set(t) == SUMMARY_KEYS for t in traces)
    assert traces[0]["trigger"] == "service automation.trigger" and traces[0]["error"] is None

    trace = await api.ok("GET", f"/api/automations/pump_cycle/traces/{traces[1]['run_id']}", token=api.resident)
    assert set(trace) == TRACE_KEYS and trace["automation_id"] == "pump_cycle"
    assert trace["state"] == "restarted" and trace["trigger"]["description"] == "service automation.trigger"
    assert [(s["path"], s["action"], s["error"]) for s in trace["steps"]] == [
        ("actions/0", "event", None), ("actions/1", "delay", "cancelled")]
    assert all(set(s) == STEP_KEYS for s in trace["steps"])
    finished = await api.ok("GET", f"/api/automations/pump_cycle/traces/{traces[0]['run_id']}")
    assert finished["steps"][-1]["alias"] == "Done" and finished["steps"][1]["duration"] == 600.0
    # The run's context is a child of the API call's context, which names the user.
    assert started["context"]["user_id"] is not None

    await api.ok("POST", "/api/services/automation/turn_off", token=api.resident,
                 json={"entity_id": "automation.pump_cycle"})  # fmt: skip
    [off] = (await api.ok("GET", "/api/automations"))["automations"]
    assert off["enabled"] is False
    state = await api.ok("GET", "/api/states/automation.pump_cycle", token=api.resident)
    assert state["state"] == "off" and state["attributes"]["friendly_name"] == "Pump cycle"


async def test_unknown_automations_and_runs_are_404_and_bad_ids_400(api: Any) -> None:
    await load(api)
    assert (await api.ok("GET", "/api/automations/pump_cycle/traces"))["traces"] == []
    await api.error("GET", "/api/automations/nothing/traces", 404, token=api.admin)
    await api.error("GET", "/api/automations/pump_cycle/traces/nothing", 404, token=api.admin)
    error = await api.error("GET", "/api/automations/bad%20id/traces", 400, token=api.admin)
    assert error["field"] == "automation_id"
