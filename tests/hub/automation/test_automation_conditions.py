"""Conditions: each type, with the reason a trace shows, on the manual clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.automation.conditions import (
    Condition,
    ConditionResult,
    compile_condition,
    compile_conditions,
)
from hub.automation.errors import AutomationError, TemplateError
from hub.automation.template import TemplateEngine
from hub.clock import ManualClock
from hub.runtime import Hub

MEXICO = ZoneInfo("America/Mexico_City")


@pytest.fixture
def engine(hub: Hub) -> TemplateEngine:
    return TemplateEngine(hub)


def make(hub: Hub, engine: TemplateEngine, config: Any) -> Condition:
    return compile_condition(hub, config, engine=engine, where="automation 'test'")


# -- state --------------------------------------------------------------------------------


async def test_state_condition(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(hub, engine, {"condition": "state", "entity_id": "binary_sensor.door", "state": "on"})
    hub.states.set("binary_sensor.door", "off")
    assert condition.explain({}) == ConditionResult(False, "binary_sensor.door is 'off', not 'on'")
    assert condition({}) is False
    hub.states.set("binary_sensor.door", "on")
    assert condition.explain({}) == ConditionResult(True, "binary_sensor.door is 'on'")
    assert condition({}) is True


async def test_state_condition_missing_entity_is_false_with_reason(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(hub, engine, {"condition": "state", "entity_id": "sensor.gone", "state": "on"})
    assert condition.explain({}) == ConditionResult(False, "sensor.gone has no state (entity not found)")


async def test_state_condition_lists(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(
        hub, engine,
        {"condition": "state", "entity_id": ["light.a", "light.b"], "state": ["on", "dim"]},
    )
    hub.states.set("light.a", "on")
    hub.states.set("light.b", "dim")
    assert condition({}) is True
    hub.states.set("light.b", "off")
    result = condition.explain({})
    assert result == ConditionResult(False, "light.b is 'off', not one of 'on', 'dim'")


async def test_state_condition_yaml_booleans_mean_on_off(hub: Hub, engine: TemplateEngine) -> None:
    # YAML 1.1 reads an unquoted `on` as True
    condition = make(hub, engine, {"condition": "state", "entity_id": "switch.pump", "state": True})
    hub.states.set("switch.pump", "on")
    assert condition({}) is True
    hub.states.set("switch.pump", "off")
    assert condition({}) is False


async def test_state_condition_attribute(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(
        hub, engine,
        {"condition": "state", "entity_id": "climate.house", "attribute": "hvac_action", "state": "heating"},
    )
    hub.states.set("climate.house", "heat", {"hvac_action": "idle"})
    assert condition.explain({}) == ConditionResult(
        False, "climate.house attribute hvac_action is 'idle', not 'heating'"
    )
    hub.states.set("climate.house", "heat", {"hvac_action": "heating"})
    assert condition({}) is True
    hub.states.set("climate.house", "heat", {})
    assert condition.explain({}) == ConditionResult(False, "climate.house has no attribute 'hvac_action'")
    numeric = make(
        hub, engine, {"condition": "state", "entity_id": "light.a", "attribute": "brightness", "state": 255}
    )
    hub.states.set("light.a", "on", {"brightness": 255})
    assert numeric({}) is True


async def test_state_condition_for(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    condition = make(
        hub, engine,
        {"condition": "state", "entity_id": "binary_sensor.door", "state": "on", "for": {"minutes": 5}},
    )
    hub.states.set("binary_sensor.door", "on")
    await clock.advance(240)
    result = condition.explain({})
    assert result == ConditionResult(False, "binary_sensor.door has been 'on' for 0:04:00, less than 0:05:00")
    # an attribute change does not restart how long the state has been 'on'
    hub.states.set("binary_sensor.door", "on", {"battery": 90})
    await clock.advance(60)
    assert condition.explain({}) == ConditionResult(True, "binary_sensor.door has been 'on' for 0:05:00")
    hub.states.set("binary_sensor.door", "off")
    hub.states.set("binary_sensor.door", "on")
    assert condition({}) is False


async def test_state_condition_for_as_template_and_timedelta(
    hub: Hub, engine: TemplateEngine, clock: ManualClock
) -> None:
    hub.states.set("input_number.wait", "2")
    templated = make(
        hub, engine,
        {"condition": "state", "entity_id": "switch.pump", "state": "on",
         "for": {"minutes": "{{ states('input_number.wait') }}"}},
    )
    plain = make(
        hub, engine,
        {"condition": "state", "entity_id": "switch.pump", "state": "on", "for": timedelta(minutes=3)},
    )
    hub.states.set("switch.pump", "on")
    await clock.advance(150)
    assert templated({}) is True
    assert plain({}) is False
    hub.states.set("input_number.wait", "x")
    result = templated.explain({})
    assert result.result is False and "invalid duration" in result.reason


# -- numeric_state ------------------------------------------------------------------------


async def test_numeric_state_condition(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(
        hub, engine,
        {"condition": "numeric_state", "entity_id": "sensor.cistern", "above": 10, "below": 20},
    )
    for value, expected, reason in [
        ("15", True, "sensor.cistern is 15, above 10 and below 20"),
        ("20", False, "sensor.cistern is 20, not below 20"),
        ("10", False, "sensor.cistern is 10, not above 10"),
        ("3.5", False, "sensor.cistern is 3.5, not above 10"),
        ("unknown", False, "sensor.cistern is 'unknown', not a number"),
        ("nan", False, "sensor.cistern is not a number (NaN)"),
    ]:
        hub.states.set("sensor.cistern", value)
        assert condition.explain({}) == ConditionResult(expected, reason), value
    missing = make(hub, engine, {"condition": "numeric_state", "entity_id": "sensor.gone", "below": 1})
    assert missing.explain({}) == ConditionResult(False, "sensor.gone has no state (entity not found)")


async def test_numeric_state_limits_from_entities(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(
        hub, engine,
        {"condition": "numeric_state", "entity_id": "sensor.cistern", "below": "input_number.threshold"},
    )
    hub.states.set("sensor.cistern", "15")
    assert condition.explain({}) == ConditionResult(
        False, "below limit input_number.threshold has no state (entity not found)"
    )
    hub.states.set("input_number.threshold", "20")
    assert condition({}) is True
    hub.states.set("input_number.threshold", "12")
    assert condition.explain({}) == ConditionResult(False, "sensor.cistern is 15, not below 12")
    hub.states.set("input_number.threshold", "off")
    assert condition.explain({}) == ConditionResult(
        False, "below limit input_number.threshold is 'off', not a number"
    )


async def test_numeric_state_attribute_and_value_template(hub: Hub, engine: TemplateEngine) -> None:
    by_attribute = make(
        hub, engine,
        {"condition": "numeric_state", "entity_id": "sensor.tank", "attribute": "litres", "above": 1000},
    )
    by_template = make(
        hub, engine,
        {"condition": "numeric_state", "entity_id": "sensor.tank", "above": 50,
         "value_template": "{{ state.attributes.litres / 50 }}"},
    )
    hub.states.set("sensor.tank", "x", {"litres": 3000})
    assert by_attribute({}) is True
    assert by_template.explain({}) == ConditionResult(True, "sensor.tank is 60, above 50")
    hub.states.set("sensor.tank", "x", {"litres": 500})
    assert by_attribute.explain({}) == ConditionResult(False, "sensor.tank is 500, not above 1000")
    assert by_template({}) is False
    hub.states.set("sensor.tank", "x", {})
    assert by_attribute.explain({}) == ConditionResult(False, "sensor.tank has no attribute 'litres'")
    broken = by_template.explain({})
    assert broken.result is False
    assert broken.reason.startswith("automation 'test': ") and "litres" in broken.reason


# -- time ---------------------------------------------------------------------------------


class WallClock:
    """The parts of a hub a time condition reads, on a manual clock set to any moment.

    Moving the hub fixture's clock across days runs its every-second housekeeping timer
    86,400 times a day; a time condition needs only a clock that reads a given moment.
    """

    def __init__(self, hub: Hub) -> None:
        self.states = hub.states
        self.time_zone = hub.time_zone
        self.clock = ManualClock()

    def at(self, year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> None:
        self.clock = ManualClock(datetime(year, month, day, hour, minute, second, tzinfo=MEXICO))


async def test_time_window_across_midnight_with_weekday(hub: Hub, engine: TemplateEngine) -> None:
    view = WallClock(hub)  # starts on Thursday 2026-01-15, 06:00 in Mexico City, like the fixture
    condition = compile_condition(
        view, {"condition": "time", "after": "22:00", "before": "06:00", "weekday": ["fri", "sat"]}, engine=engine
    )
    assert condition.explain({}) == ConditionResult(False, "06:00:00 is not between 22:00:00 and 06:00:00")
    view.at(2026, 1, 15, 23, 0)
    assert condition.explain({}) == ConditionResult(False, "it is Thursday, not one of fri, sat")
    view.at(2026, 1, 16, 2, 30)
    assert condition.explain({}) == ConditionResult(
        True, "Friday 02:30:00 is within after 22:00:00 before 06:00:00 on fri, sat"
    )
    expectations: list[tuple[tuple[int, int, int, int, int, int], bool]] = [
        ((2026, 1, 16, 5, 59, 59), True),
        ((2026, 1, 16, 6, 0, 0), False),
        ((2026, 1, 16, 21, 59, 0), False),
        ((2026, 1, 16, 22, 0, 0), True),
        ((2026, 1, 17, 23, 59, 0), True),  # Saturday night
        ((2026, 1, 18, 1, 0, 0), False),  # Sunday
    ]
    for moment, expected in expectations:
        view.at(*moment)
        assert condition({}) is expected, moment
    assert condition.explain({}).reason == "it is Sunday, not one of fri, sat"


async def test_time_window_same_day_and_open_ended(hub: Hub, engine: TemplateEngine) -> None:
    view = WallClock(hub)
    daytime = compile_condition(view, {"condition": "time", "after": "07:00", "before": time(22, 0)}, engine=engine)
    after_only = compile_condition(view, {"condition": "time", "after": "07:00:30"}, engine=engine)
    before_only = compile_condition(view, {"condition": "time", "before": "07:00"}, engine=engine)
    weekday_only = compile_condition(view, {"condition": "time", "weekday": "thu"}, engine=engine)

    def answers() -> tuple[bool, ...]:
        return daytime({}), after_only({}), before_only({}), weekday_only({})

    assert answers() == (False, False, True, True)
    assert after_only.explain({}).reason == "06:00:00 is before 07:00:30"
    view.at(2026, 1, 15, 7, 0, 30)
    assert answers() == (True, True, False, True)
    assert before_only.explain({}).reason == "07:00:30 is not before 07:00:00"
    view.at(2026, 1, 16, 23, 0)
    assert answers() == (False, True, False, False)


async def test_time_condition_follows_the_hub_clock(hub: Hub, engine: TemplateEngine, clock: ManualClock) -> None:
    condition = make(hub, engine, {"condition": "time", "after": "06:30", "before": "07:00"})
    assert condition({}) is False  # 06:00 in Mexico City
    await clock.advance(45 * 60)
    assert condition({}) is True
    hub.time_zone = ZoneInfo("UTC")
    assert condition({}) is False  # 12:45 UTC


# -- template, trigger, groups ------------------------------------------------------------


async def test_template_condition(hub: Hub, engine: TemplateEngine) -> None:
    bare = make(hub, engine, "{{ is_state('binary_sensor.door', 'on') }}")
    keyed = make(hub, engine, {"condition": "template", "value_template": "{{ level | float < 20 }}"})
    hub.states.set("binary_sensor.door", "on")
    assert bare.explain({}) == ConditionResult(True, "template rendered True")
    assert keyed({"level": "12"}) is True
    assert keyed.explain({"level": "30"}) == ConditionResult(False, "template rendered False")
    words = make(hub, engine, "{{ 'on' }}")
    assert words({}) is True
    broken = keyed.explain({"level": "unknown"})
    assert broken == ConditionResult(
        False, "automation 'test': float got invalid input 'unknown' and no default was given"
    )


async def test_trigger_condition(hub: Hub, engine: TemplateEngine) -> None:
    one = make(hub, engine, {"condition": "trigger", "id": "low"})
    many = make(hub, engine, {"condition": "trigger", "id": ["low", 2]})
    assert one({"trigger": {"id": "low"}}) is True
    assert one.explain({"trigger": {"id": "high"}}) == ConditionResult(False, "trigger id is 'high', not 'low'")
    assert many({"trigger": {"id": "2"}}) is True
    assert one.explain({}) == ConditionResult(False, "no trigger started this run")


async def test_and_or_not(hub: Hub, engine: TemplateEngine) -> None:
    door_on = {"condition": "state", "entity_id": "binary_sensor.door", "state": "on"}
    late = "{{ hour >= 22 }}"
    both = make(hub, engine, {"condition": "and", "conditions": [door_on, late]})
    either = make(hub, engine, {"condition": "or", "conditions": [door_on, late]})
    neither = make(hub, engine, {"condition": "not", "conditions": [door_on, late]})
    hub.states.set("binary_sensor.door", "off")
    assert (both({"hour": 23}), either({"hour": 23}), neither({"hour": 23})) == (False, True, False)
    assert both.explain({"hour": 23}).reason == "condition 0 failed: binary_sensor.door is 'off', not 'on'"
    assert either.explain({"hour": 23}).reason == "condition 1 holds: template rendered True"
    assert either.explain({"hour": 8}) == ConditionResult(
        False, "no condition holds (0: binary_sensor.door is 'off', not 'on'; 1: template rendered False)"
    )
    assert neither.explain({"hour": 8}) == ConditionResult(True, "none of 2 conditions holds")
    hub.states.set("binary_sensor.door", "on")
    assert both.explain({"hour": 23}) == ConditionResult(True, "all 2 conditions hold")
    nested = make(
        hub, engine,
        {"condition": "or", "conditions": [{"condition": "not", "conditions": [door_on]}, "{{ false }}"]},
    )
    assert nested({}) is False
    assert len(nested.children) == 2 and len(nested.children[0].children) == 1


async def test_compile_conditions_all_must_hold(hub: Hub, engine: TemplateEngine) -> None:
    assert compile_conditions(hub, [], engine=engine)({}) is True
    conditions = compile_conditions(hub, ["{{ a }}", {"condition": "template", "value_template": "{{ b }}"}],
                                    engine=engine)
    assert conditions({"a": True, "b": True}) is True
    assert conditions.explain({"a": True, "b": False}) == ConditionResult(
        False, "condition 1 failed: template rendered False"
    )


async def test_disabled_condition_passes(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(hub, engine, {"condition": "template", "value_template": "{{ false }}", "enabled": False})
    assert condition.explain({}) == ConditionResult(True, "template condition (disabled): skipped")


# -- configuration errors -----------------------------------------------------------------


async def test_configuration_errors_raise_at_compile(hub: Hub, engine: TemplateEngine) -> None:
    cases: list[tuple[Any, str]] = [
        ({"condition": "sun", "after": "sunset"}, "unknown condition type 'sun'"),
        ({"condition": "state", "entity_id": "light.a"}, "'state' is required"),
        ({"condition": "state", "state": "on"}, "'entity_id' is required"),
        ({"condition": "numeric_state", "entity_id": "sensor.x"}, "give above, below or both"),
        ({"condition": "numeric_state", "entity_id": "sensor.x", "above": "lots"}, "above must be a number"),
        ({"condition": "time", "after": "25:00"}, "invalid time of day '25:00'"),
        ({"condition": "time"}, "give at least one of after, before, weekday"),
        ({"condition": "time", "weekday": "funday"}, "invalid weekday"),
        ({"condition": "state", "entity_id": "a.b", "state": "x", "for": "soon"}, "invalid duration"),
        (42, "a condition must be a mapping or a template"),
    ]
    for config, message in cases:
        with pytest.raises(AutomationError, match=message) as info:
            make(hub, engine, config)
        assert str(info.value).startswith("automation 'test': "), str(info.value)
    with pytest.raises(TemplateError, match="template syntax error"):
        make(hub, engine, "{{ 1 + }}")


async def test_explain_never_raises(hub: Hub, engine: TemplateEngine) -> None:
    condition = make(hub, engine, "{{ x.y.z }}")
    result = condition.explain({"x": {}})
    assert result.result is False and "has no attribute 'y'" in result.reason
    weird = make(hub, engine, {"condition": "trigger", "id": "a"})
    assert weird({"trigger": "not a mapping"}) is False
