"""The automation manager on a real hub and the manual clock: entities, services, flags, traces, reload, restarts."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.bus import Context
from hub.clock import ManualClock
from hub.errors import HubError
from hub.runtime import Hub
from hub.services import ServiceCall

HOUR = 3600.0

PUMP = """\
- id: pump_cycle
  alias: Pump cycle
  triggers: {trigger: event, event_type: pump_go}
  actions:
    - action: test.record
      data: {step: start}
    - delay: "02:00:00"
    - action: test.record
      data: {step: end}
"""

LIGHT = """\
- id: porch_light
  triggers: {trigger: event, event_type: light_go}
  actions:
    - delay: {hours: 1}
    - action: test.record
      data: {step: light}
"""


class Calls:
    """The service test.record, keeping the data of each call."""

    def __init__(self, hub: Hub) -> None:
        self.calls: list[ServiceCall] = []
        hub.services.register("test", "record", self.calls.append)

    def data(self) -> list[dict[str, Any]]:
        return [dict(c.data) for c in self.calls]


@contextlib.asynccontextmanager
async def running(config_dir: Path, clock: ManualClock, automations: str | None = None) -> AsyncIterator[Hub]:
    """A started hub on `config_dir` (with this automations.yaml, if given), stopped afterwards."""
    config_dir.mkdir(parents=True, exist_ok=True)
    if not (config_dir / "configuration.yaml").exists():  # any free port: tests must not need 8123
        (config_dir / "configuration.yaml").write_text("http:\n  server_port: 0\n", encoding="utf-8")
    if automations is not None:
        (config_dir / "automations.yaml").write_text(automations, encoding="utf-8")
    hub = Hub(config_dir, clock=clock)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def attrs(hub: Hub, automation_id: str) -> dict[str, Any]:
    state = hub.states.get(f"automation.{automation_id}")
    assert state is not None
    return {"state": state.state, **state.attributes}


async def call(hub: Hub, service: str, **data: Any) -> None:
    await hub.services.call("automation", service, data)


async def test_older_and_newer_keys_behave_the_same(tmp_path: Path, clock: ManualClock) -> None:
    text = """\
- id: old_style
  trigger:
    - platform: state
      entity_id: binary_sensor.door
      to: "on"
  condition:
    - condition: state
      entity_id: input.armed
      state: "yes"
  action:
    - service: test.record
      data_template: {who: old, door: "{{ trigger.to_state.state }}"}
    - delay: 60
    - service: test.record
      data: {who: old, step: done}
- id: new_style
  triggers:
    - trigger: state
      entity_id: binary_sensor.door
      to: "on"
  conditions:
    - condition: state
      entity_id: input.armed
      state: "yes"
  actions:
    - action: test.record
      data: {who: new, door: "{{ trigger.to_state.state }}"}
    - delay: 60
    - action: test.record
      data: {who: new, step: done}
"""
    async with running(tmp_path, clock, text) as hub:
        calls = Calls(hub)
        manager = hub.automations
        assert manager.config_errors == []
        hub.states.set("input.armed", "no")
        hub.states.set("binary_sensor.door", "on")
        await clock.advance(0)
        assert calls.calls == []
        hub.states.set("binary_sensor.door", "off")
        hub.states.set("input.armed", "yes")
        hub.states.set("binary_sensor.door", "on")
        await clock.advance(60)
        assert sorted(map(str, calls.data())) == sorted(map(str, [
            {"who": "old", "door": "on"}, {"who": "new", "door": "on"},
            {"who": "old", "step": "done"}, {"who": "new", "step": "done"}]))  # fmt: skip
        for automation_id in ("old_style", "new_style"):
            failed, ran = manager.traces(automation_id)[::-1]
            assert failed["state"] == "condition_failed" and ran["state"] == "finished"
            assert ran["trigger"] == "state of binary_sensor.door to 'on'"
            full = manager.trace(automation_id, ran["run_id"])
            assert [(s["path"], s["action"]) for s in full["steps"]] == [
                ("actions/0", "test.record"), ("actions/1", "delay"), ("actions/2", "test.record")]
            assert full["conditions"] == [{"path": "conditions/0", "result": True, "reason": "input.armed is 'yes'"}]


async def test_the_doc_example_runs_on_the_manual_clock(tmp_path: Path, clock: ManualClock) -> None:
    text = """\
- id: cistern_low
  alias: Cistern low
  mode: single
  triggers:
    - trigger: numeric_state
      entity_id: sensor.cistern_level
      below: 20
      for: {minutes: 10}
  conditions:
    - condition: time
      after: "07:00"
      before: "22:00"
      weekday: [mon, tue, wed, thu, fri]
  actions:
    - action: test.record
      data:
        message: "Cistern at {{ states('sensor.cistern_level') }} %"
"""
    async with running(tmp_path, clock, text) as hub:
        calls = Calls(hub)
        hub.states.set("sensor.cistern_level", "35")
        await clock.advance(2 * HOUR)  # 08:00 in Mexico City on a Thursday
        hub.states.set("sensor.cistern_level", "18")
        await clock.advance(9 * 60)
        hub.states.set("sensor.cistern_level", "22")  # back above before 10 minutes: no trigger
        await clock.advance(HOUR)
        assert calls.calls == []
        hub.states.set("sensor.cistern_level", "15")
        await clock.advance(10 * 60)
        assert calls.data() == [{"message": "Cistern at 15 %"}]
        state = attrs(hub, "cistern_low")
        assert state["state"] == "on" and state["friendly_name"] == "Cistern low" and state["mode"] == "single"
        assert state["last_triggered"] == "2026-01-15T09:19:00-06:00" and state["last_error"] is None


async def test_an_invalid_automation_is_dropped_alone(tmp_path: Path, clock: ManualClock) -> None:
    text = PUMP + """\
- id: broken
  triggers: {trigger: event, event_type: pump_go}
  actions:
    - wait_for_trigger: {trigger: nonsense}
- id: broken_condition
  triggers: {trigger: event, event_type: pump_go}
  conditions: [{condition: time, after: "25:00"}]
  actions: {event: x}
"""
    async with running(tmp_path, clock, text) as hub:
        calls = Calls(hub)
        manager = hub.automations
        assert [a.id for a in manager.list()] == ["pump_cycle"]
        assert [(e.file, e.line) for e in manager.config_errors] == [("automations.yaml", 13), ("automations.yaml", 16)]
        assert "25:00" in manager.config_errors[1].message
        assert all(e in hub.config_errors for e in manager.config_errors)  # shown with the other config errors
        assert hub.states.get("automation.broken") is None and hub.states.get("automation.broken_condition") is None
        hub.bus.fire("pump_go")
        await clock.advance(0)
        assert calls.data() == [{"step": "start"}]


async def test_a_template_failing_at_run_time_names_automation_and_line(tmp_path: Path, clock: ManualClock) -> None:
    text = """\
- id: door_report
  triggers: {trigger: event, event_type: report}
  actions:
    - action: test.record
      data:
        message: "{{ trigger.to_state.state }}"
"""
    async with running(tmp_path, clock, text) as hub:
        Calls(hub)
        hub.bus.fire("report")
        await clock.advance(0)
        summary = hub.automations.traces("door_report")[0]
        expected = "automation 'door_report' (automations.yaml:6): 'dict object' has no attribute 'to_state'"
        assert summary["state"] == "error" and summary["error"] == expected
        assert attrs(hub, "door_report")["last_error"] == expected


async def test_a_failing_service_sets_last_error_until_a_run_succeeds(tmp_path: Path, clock: ManualClock) -> None:
    text = """\
- id: flaky
  triggers: {trigger: event, event_type: go}
  actions:
    - action: test.maybe
    - action: test.record
      continue_on_error: true
    - action: test.record
"""
    async with running(tmp_path, clock, text) as hub:
        broken = True

        def maybe(call: ServiceCall) -> None:
            if broken:
                raise RuntimeError("valve stuck")

        hub.services.register("test", "maybe", maybe)
        calls = Calls(hub)
        hub.bus.fire("go")
        await clock.advance(0)
        assert "valve stuck" in attrs(hub, "flaky")["last_error"] and calls.calls == []
        broken = False
        hub.bus.fire("go")
        await clock.advance(0)
        assert attrs(hub, "flaky")["last_error"] is None and len(calls.calls) == 2


async def test_traces_and_last_triggered_survive_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock, PUMP) as hub:
        Calls(hub)
        hub.bus.fire("pump_go", context=Context(id="reading"))
        await clock.advance(2 * HOUR)
        first = hub.automations.traces("pump_cycle")
        full = hub.automations.trace("pump_cycle", first[0]["run_id"])
        triggered = attrs(hub, "pump_cycle")["last_triggered"]
        assert first[0]["state"] == "finished" and triggered is not None
    await clock.advance(HOUR)
    async with running(tmp_path, clock) as hub:
        assert hub.automations.traces("pump_cycle") == first
        assert hub.automations.trace("pump_cycle", first[0]["run_id"]) == full
        assert attrs(hub, "pump_cycle")["last_triggered"] == triggered
        assert full["trigger"]["variables"]["trigger"]["event"]["context"]["id"] == "reading"


async def test_turn_off_stops_runs_and_triggers_and_the_flag_survives_a_restart(tmp_path: Path,
                                                                               clock: ManualClock) -> None:  # fmt: skip
    async with running(tmp_path, clock, PUMP) as hub:
        calls = Calls(hub)
        hub.bus.fire("pump_go")
        await clock.advance(HOUR)
        assert attrs(hub, "pump_cycle")["current"] == 1
        await call(hub, "turn_off", entity_id="automation.pump_cycle")
        assert attrs(hub, "pump_cycle")["state"] == "off" and attrs(hub, "pump_cycle")["current"] == 0
        assert hub.automations.traces("pump_cycle")[0]["state"] == "cancelled"
        assert hub.bus.listener_count().get("pump_go") is None  # its trigger is detached
        hub.bus.fire("pump_go")
        await clock.advance(3 * HOUR)
        assert calls.data() == [{"step": "start"}]
    async with running(tmp_path, clock) as hub:
        calls = Calls(hub)
        assert attrs(hub, "pump_cycle")["state"] == "off"
        hub.bus.fire("pump_go")
        await clock.advance(0)
        assert calls.calls == []
        await call(hub, "toggle", entity_id=["automation.pump_cycle"])
        hub.bus.fire("pump_go")
        await clock.advance(0)
        assert attrs(hub, "pump_cycle")["state"] == "on" and calls.data() == [{"step": "start"}]


async def test_turn_off_without_stopping_actions_and_initial_state(tmp_path: Path, clock: ManualClock) -> None:
    text = PUMP + LIGHT.replace("- id: porch_light\n", "- id: porch_light\n  initial_state: false\n")
    async with running(tmp_path, clock, text) as hub:
        calls = Calls(hub)
        assert attrs(hub, "porch_light")["state"] == "off"
        await call(hub, "turn_on", entity_id="automation.porch_light")
        hub.bus.fire("pump_go")
        await clock.advance(0)
        await call(hub, "turn_off", entity_id="all", stop_actions=False)
        await clock.advance(2 * HOUR)
        assert calls.data() == [{"step": "start"}, {"step": "end"}]  # the run went on
        assert attrs(hub, "pump_cycle")["state"] == "off" and attrs(hub, "porch_light")["state"] == "off"
    async with running(tmp_path, clock) as hub:
        assert attrs(hub, "porch_light")["state"] == "off"  # initial_state wins over the stored flag


async def test_trigger_service_skips_conditions_unless_told(tmp_path: Path, clock: ManualClock) -> None:
    text = PUMP.replace("  actions:\n", "  conditions: \"{{ false }}\"\n  actions:\n", 1)
    async with running(tmp_path, clock, text) as hub:
        calls = Calls(hub)
        context = Context(user_id="ana")
        await hub.services.call("automation", "trigger", {"entity_id": "automation.pump_cycle"}, context=context)
        await clock.advance(0)
        assert calls.data() == [{"step": "start"}]
        assert calls.calls[0].context.parent_id == context.id and calls.calls[0].context.user_id == "ana"
        await call(hub, "trigger", entity_id="automation.pump_cycle", skip_condition=False)
        summaries = hub.automations.traces("pump_cycle")
        assert [s["state"] for s in summaries] == ["condition_failed", "running"]
        assert summaries[1]["trigger"] == "service automation.trigger"


async def test_reload_keeps_unchanged_restarts_changed_and_removes_deleted(tmp_path: Path,
                                                                          clock: ManualClock) -> None:  # fmt: skip
    async with running(tmp_path, clock, PUMP + LIGHT) as hub:
        calls = Calls(hub)
        hub.bus.fire("pump_go")
        hub.bus.fire("light_go")
        await clock.advance(HOUR / 2)
        changed = PUMP.replace("{step: end}", "{step: changed_end}")
        added = "- id: added\n  triggers: {trigger: event, event_type: new_go}\n  actions: {action: test.record}\n"
        (tmp_path / "automations.yaml").write_text(added + changed, encoding="utf-8")  # lines move; porch_light goes
        light_runs = hub.automations.traces("porch_light")
        await call(hub, "reload")
        assert [a.id for a in hub.automations.list()] == ["added", "pump_cycle"]  # file order
        assert hub.states.get("automation.porch_light") is None
        assert light_runs[0]["run_id"] and hub.automations.traces("porch_light")[0]["state"] == "cancelled"
        assert hub.automations.traces("pump_cycle")[0]["state"] == "cancelled"  # changed: restarted

        (tmp_path / "automations.yaml").write_text(changed + added, encoding="utf-8")  # same content, new order
        hub.bus.fire("pump_go")
        await clock.advance(HOUR)
        pump = hub.automations.get("pump_cycle")
        await call(hub, "reload")
        assert hub.automations.get("pump_cycle") is pump and attrs(hub, "pump_cycle")["current"] == 1
        assert [a.id for a in hub.automations.list()] == ["pump_cycle", "added"]
        await clock.advance(HOUR)
        assert calls.data()[-1] == {"step": "changed_end"}  # its delay was not cut
        hub.bus.fire("new_go")
        await clock.advance(0)
        assert calls.data()[-1] == {}


async def test_a_reload_of_a_broken_file_leaves_everything_running(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock, PUMP) as hub:
        calls = Calls(hub)
        hub.bus.fire("pump_go")
        await clock.advance(HOUR)
        (tmp_path / "automations.yaml").write_text(PUMP + "- id: [unclosed\n", encoding="utf-8")
        await hub.automations.reload()
        assert [a.id for a in hub.automations.list()] == ["pump_cycle"]
        assert len(hub.automations.config_errors) == 1 and hub.automations.config_errors[0].line == 11
        await clock.advance(HOUR)
        assert calls.data() == [{"step": "start"}, {"step": "end"}]
        (tmp_path / "automations.yaml").write_text(PUMP, encoding="utf-8")
        await hub.automations.reload()
        assert hub.automations.config_errors == [] and not [e for e in hub.config_errors if e.domain == "automation"]
        # A changed version that cannot be built replaces the old one with nothing, entity included.
        broken = PUMP.replace("  actions:\n", "  conditions: {condition: time, after: \"25:00\"}\n  actions:\n", 1)
        (tmp_path / "automations.yaml").write_text(broken, encoding="utf-8")
        await hub.automations.reload()
        assert hub.automations.list() == [] and hub.states.get("automation.pump_cycle") is None
        assert "25:00" in hub.automations.config_errors[0].message


async def test_services_and_who_may_call_them(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock, PUMP) as hub:
        manager = hub.automations
        services = hub.services
        assert [services.resident_allowed("automation", s) for s in ("turn_on", "turn_off", "toggle", "trigger")] == [
            True] * 4
        assert services.has("automation", "reload") and not services.resident_allowed("automation", "reload")
        with pytest.raises(HubError, match="automation.missing"):
            await call(hub, "turn_on", entity_id="automation.missing")
    assert not hub.services.has("automation", "turn_on")  # gone with the manager
    assert manager.scope.closed and manager.scope.resource_count() == 0


async def test_stopping_the_hub_cancels_runs_and_keeps_their_traces(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock, PUMP) as hub:
        Calls(hub)
        hub.bus.fire("pump_go")
        await clock.advance(HOUR)
    async with running(tmp_path, clock) as hub:
        assert [t["state"] for t in hub.automations.traces("pump_cycle")] == ["cancelled"]


async def test_a_failure_to_start_automations_leaves_the_hub_running(tmp_path: Path, clock: ManualClock) -> None:
    async with running(tmp_path, clock, PUMP) as hub:
        assert hub.automations is not None
    with sqlite3.connect(tmp_path / "hub.db") as conn:  # as if a newer hub had written the tables
        conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'automation'")
    conn.close()
    async with running(tmp_path, clock) as hub:
        assert hub.automations is None and hub.state.value == "running"
        assert not hub.services.has("automation", "turn_on")
