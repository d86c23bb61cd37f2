"""automations.yaml: both key generations, one invalid automation dropped alone with file:line, templates checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hub.automation.config import load_automations, read_automations
from hub.automation.template import TemplateEngine
from hub.runtime import Hub

OLD_KEYS = """\
- id: cistern_low
  alias: Cistern low
  trigger:
    - platform: numeric_state
      entity_id: sensor.cistern_level
      below: 20
      for: {minutes: 10}
  condition:
    - condition: time
      after: "07:00"
  action:
    - service: notify.resident
      data_template:
        message: "Cistern at {{ states('sensor.cistern_level') }} %"
    - choose:
        - conditions: "{{ true }}"
          sequence:
            service: pump.stop
      default:
        - service: pump.start
    - repeat:
        count: 2
        sequence:
          - service: light.flash
    - wait_for_trigger:
        platform: event
        event_type: refilled
      timeout: "01:00:00"
"""

NEW_KEYS = """\
- id: cistern_low
  alias: Cistern low
  triggers:
    - trigger: numeric_state
      entity_id: sensor.cistern_level
      below: 20
      for: {minutes: 10}
  conditions:
    - condition: time
      after: "07:00"
  actions:
    - action: notify.resident
      data:
        message: "Cistern at {{ states('sensor.cistern_level') }} %"
    - choose:
        - conditions: "{{ true }}"
          sequence:
            action: pump.stop
      default:
        - action: pump.start
    - repeat:
        count: 2
        sequence:
          - action: light.flash
    - wait_for_trigger:
        trigger: event
        event_type: refilled
      timeout: "01:00:00"
"""


def write(directory: Path, text: str, name: str = "automations.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_older_and_newer_keys_load_the_same(tmp_path: Path) -> None:
    old, old_errors = load_automations(write(tmp_path / "old", OLD_KEYS))
    new, new_errors = load_automations(write(tmp_path / "new", NEW_KEYS))
    assert old_errors == [] and new_errors == []
    assert len(old) == len(new) == 1
    assert old[0].same_as(new[0]) and old[0].data == new[0].data
    config = new[0]
    assert (config.id, config.alias, config.mode, config.max, config.stored_traces) == (
        "cistern_low", "Cistern low", "single", 10, 10)
    assert config.triggers[0]["trigger"] == "numeric_state" and "platform" not in config.triggers[0]
    assert config.actions[0]["action"] == "notify.resident" and "service" not in config.actions[0]
    assert config.actions[1]["choose"][0]["sequence"][0]["action"] == "pump.stop"  # one mapping -> a list of one
    assert config.actions[3]["wait_for_trigger"][0]["trigger"] == "event"
    assert config.actions[3]["timeout"] == timedelta(hours=1)
    assert (config.file, config.line) == ("automations.yaml", 1)


def test_a_missing_or_empty_file_means_no_automations(tmp_path: Path) -> None:
    assert load_automations(tmp_path) == ([], [])
    assert load_automations(write(tmp_path, "# nothing yet\n")) == ([], [])


def test_an_invalid_automation_is_dropped_alone_with_file_and_line(tmp_path: Path) -> None:
    text = NEW_KEYS + """\
- alias: No id
  triggers: {trigger: event, event_type: x}
  actions: {event: y}
- id: bad_mode
  mode: sometimes
  triggers: {trigger: event, event_type: x}
  actions: {event: y}
- id: bad_action
  triggers: {trigger: event, event_type: x}
  actions:
    - event: fine
    - fly: away
- id: bad_trigger
  triggers: {trigger: sunrise}
  actions: {event: y}
- id: fine
  triggers: {trigger: event, event_type: x}
  actions: {event: y}
"""
    configs, errors = load_automations(write(tmp_path, text))
    assert [c.id for c in configs] == ["cistern_low", "fine"]
    located = sorted((e.file, e.line, e.message) for e in errors)
    assert [(file, line) for file, line, _ in located] == [
        ("automations.yaml", 29), ("automations.yaml", 33), ("automations.yaml", 40), ("automations.yaml", 42)]
    messages = [m for _, _, m in located]
    assert "required" in messages[0] and "sometimes" in messages[1]
    assert "unknown action" in messages[2] and "sunrise" in messages[3]
    assert configs[1].line == 44


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    text = "- id: twice\n  triggers: {trigger: event, event_type: x}\n  actions: {event: y}\n" * 2
    configs, errors = load_automations(write(tmp_path, text))
    assert [c.id for c in configs] == ["twice"]
    assert [(e.line, "duplicate automation id 'twice'" in e.message) for e in errors] == [(4, True)]


async def test_template_syntax_errors_are_config_errors_at_the_template_line(hub: Hub) -> None:
    text = """\
- id: broken
  triggers: {trigger: event, event_type: x}
  actions:
    - action: notify.resident
      data:
        message: "{{ states('sensor.x') "
- id: fine
  triggers: {trigger: event, event_type: x}
  actions: {event: y, event_data: {level: "{{ 1 + 1 }}"}}
"""
    write(hub.config_dir, text)
    configs, errors = load_automations(hub.config_dir, engine=TemplateEngine(hub))
    assert [c.id for c in configs] == ["fine"]
    assert [(e.file, e.line) for e in errors] == [("automations.yaml", 6)]
    assert "template syntax error" in errors[0].message and not errors[0].message.startswith("automations.yaml")
    assert "automations.yaml:6" in str(errors[0])


def test_secrets_and_includes_work(tmp_path: Path) -> None:
    write(tmp_path, "pump_service: pump.start\n", "secrets.yaml")
    write(tmp_path, "- action: !secret pump_service\n- event: pumped\n", "pump_actions.yaml")
    write(tmp_path, "- id: pump\n  triggers: {trigger: event, event_type: x}\n  actions: !include pump_actions.yaml\n")
    configs, errors = load_automations(tmp_path)
    assert errors == []
    assert [a.get("action", a.get("event")) for a in configs[0].actions] == ["pump.start", "pumped"]


def test_a_file_that_does_not_parse_is_one_error_with_its_line(tmp_path: Path) -> None:
    loaded = read_automations(write(tmp_path, "- id: a\n  triggers: [\n"))
    assert not loaded.parsed and loaded.configs == []
    assert loaded.errors[0].file == "automations.yaml" and loaded.errors[0].line is not None
    assert "invalid YAML" in loaded.errors[0].message
    not_a_list = read_automations(write(tmp_path, "just text\n"))
    assert not not_a_list.parsed and "list of automations" in not_a_list.errors[0].message


def test_defaults_and_options(tmp_path: Path) -> None:
    text = """\
- id: "1672345678"
  mode: queued
  max: 3
  max_exceeded: SILENT
  initial_state: off
  trace: {stored_traces: 5}
  variables: {threshold: 20}
  triggers: {trigger: event, event_type: x}
  actions: []
"""
    configs, errors = load_automations(write(tmp_path, text))
    assert errors == []
    config = configs[0]
    assert (config.id, config.alias, config.mode, config.max, config.max_exceeded) == (
        "1672345678", "1672345678", "queued", 3, "silent")
    assert config.initial_state is False and config.stored_traces == 5 and config.variables == {"threshold": 20}
    assert config.where == "automation '1672345678' (automations.yaml:1)"
