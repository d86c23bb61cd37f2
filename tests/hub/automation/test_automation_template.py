"""Sandboxed templates: globals, filters, native types, bounds and error messages that say where."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.automation.errors import AutomationError, TemplateError
from hub.automation.template import (
    MAX_OUTPUT,
    TemplateEngine,
    compile_complex,
    is_template,
    parse_native,
    result_as_boolean,
)
from hub.clock import ManualClock
from hub.config.yaml_loader import load_yaml
from hub.runtime import Hub

MEXICO = ZoneInfo("America/Mexico_City")


@pytest.fixture
def engine(hub: Hub) -> TemplateEngine:
    hub.states.set("sensor.cistern_level", "42.5", {"unit_of_measurement": "%", "capacity_l": 5000})
    hub.states.set("sensor.gas", "unknown")
    hub.states.set("binary_sensor.door", "on", {"device_class": "door"})
    hub.states.set("switch.pump", "unavailable")
    return TemplateEngine(hub)


def render(engine: TemplateEngine, source: str, variables: Mapping[str, Any] | None = None, *, parse_result: bool = True) -> Any:
    return engine.compile(source, where="test").render(variables, parse_result=parse_result)


# -- globals ------------------------------------------------------------------------------


async def test_states_function_and_attribute_access(engine: TemplateEngine) -> None:
    assert render(engine, "{{ states('sensor.cistern_level') }}") == 42.5
    assert render(engine, "{{ states('sensor.nowhere') }}") == "unknown"
    assert render(engine, "{{ states.sensor.cistern_level.state }}", parse_result=False) == "42.5"
    assert render(engine, "{{ states.sensor.cistern_level.attributes.unit_of_measurement }}") == "%"
    assert render(engine, "{{ states.sensor.cistern_level.attributes['capacity_l'] }}") == 5000
    assert render(engine, "{{ states.sensor.cistern_level.entity_id }}") == "sensor.cistern_level"
    assert render(engine, "{{ 'sensor.gas' | states }}") == "unknown"
    # a missing entity renders as nothing, but reading through it fails and says which
    assert render(engine, "[{{ states.sensor.nowhere }}]", parse_result=False) == "[]"
    with pytest.raises(TemplateError, match="entity sensor.nowhere has no state"):
        render(engine, "{{ states.sensor.nowhere.state }}")


async def test_states_iterate_by_domain(engine: TemplateEngine) -> None:
    assert render(engine, "{{ states.sensor | map(attribute='entity_id') | join(',') }}") == (
        "sensor.cistern_level,sensor.gas"
    )
    assert render(engine, "{{ states | count }}") == 4
    assert render(engine, "{% for s in states.binary_sensor %}{{ s.state }}{% endfor %}") == "on"


async def test_state_helpers(engine: TemplateEngine) -> None:
    assert render(engine, "{{ is_state('binary_sensor.door', 'on') }}") is True
    assert render(engine, "{{ is_state('binary_sensor.door', ['off', 'on']) }}") is True
    assert render(engine, "{{ is_state('binary_sensor.door', 'off') }}") is False
    assert render(engine, "{{ is_state('binary_sensor.gone', 'on') }}") is False
    assert render(engine, "{{ state_attr('binary_sensor.door', 'device_class') }}") == "door"
    assert render(engine, "{{ state_attr('binary_sensor.door', 'nothing') }}") == "None"
    assert render(engine, "{{ state_attr('sensor.gone', 'x') is none }}") is True
    assert render(engine, "{{ is_state_attr('sensor.cistern_level', 'capacity_l', 5000) }}") is True
    assert render(engine, "{{ is_state_attr('sensor.cistern_level', 'capacity_l', 1) }}") is False
    assert render(engine, "{{ has_value('sensor.cistern_level') }}") is True
    assert render(engine, "{{ has_value('sensor.gas') }}") is False  # unknown
    assert render(engine, "{{ has_value('switch.pump') }}") is False  # unavailable
    assert render(engine, "{{ has_value('sensor.gone') }}") is False


async def test_now_follows_the_hub_clock_and_time_zone(engine: TemplateEngine, clock: ManualClock) -> None:
    # the manual clock starts at 12:00 UTC, which is 06:00 in Mexico City (UTC-6, no DST)
    assert render(engine, "{{ now().hour }} {{ now().tzinfo }}") == "6 America/Mexico_City"
    assert render(engine, "{{ utcnow().hour }}") == 12
    assert render(engine, "{{ now().isoformat() }}") == "2026-01-15T06:00:00-06:00"
    await clock.advance(90 * 60)
    assert render(engine, "{{ now().strftime('%H:%M') }}", parse_result=False) == "07:30"
    assert render(engine, "{{ (now() - timedelta(hours=2)).hour }}") == 5


async def test_time_conversions(engine: TemplateEngine) -> None:
    noon_utc = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
    assert render(engine, "{{ as_timestamp('2026-01-15T12:00:00+00:00') }}") == noon_utc
    assert render(engine, "{{ as_timestamp('2026-01-15T06:00:00') }}") == noon_utc  # naive = the hub's zone
    assert render(engine, "{{ as_timestamp(now()) }}") == noon_utc
    assert render(engine, "{{ '2026-01-15T12:00:00Z' | as_timestamp }}") == noon_utc
    assert render(engine, "{{ as_timestamp('never', 0) }}") == 0
    with pytest.raises(TemplateError, match="as_timestamp got invalid input 'never'"):
        render(engine, "{{ as_timestamp('never') }}")
    assert render(engine, f"{{{{ as_datetime({noon_utc}).hour }}}}") == 12
    assert render(engine, "{{ as_datetime('2026-01-15T06:00:00').utcoffset().total_seconds() }}") == -21600.0
    assert render(engine, "{{ as_datetime('x', 'fallback') }}") == "fallback"
    assert render(engine, f"{{{{ {noon_utc} | timestamp_local }}}}") == "2026-01-15T06:00:00-06:00"
    assert render(engine, "{{ 'x' | timestamp_local('n/a') }}") == "n/a"
    assert render(engine, "{{ today_at('07:30').isoformat() }}") == "2026-01-15T07:30:00-06:00"
    assert render(engine, "{{ today_at('05:00') < now() < today_at('07:00') }}") is True
    with pytest.raises(TemplateError, match="invalid time of day"):
        render(engine, "{{ today_at('7 am') }}")


async def test_number_conversions_and_defaults(engine: TemplateEngine) -> None:
    assert render(engine, "{{ float('1.5') + 1 }}") == 2.5
    assert render(engine, "{{ float('unknown', 0) }}") == 0
    assert render(engine, "{{ 'x' | float(-1) }}") == -1
    assert render(engine, "{{ int('7') * 2 }}") == 14
    assert render(engine, "{{ int('7.9') }}") == 7
    assert render(engine, "{{ 'ff' | int(base=16) }}") == 255
    assert render(engine, "{{ int('x', 3) }}") == 3
    assert render(engine, "{{ bool('on') }} {{ bool('No') }} {{ 0 | bool }}") == "True False False"
    assert render(engine, "{{ bool('maybe', 'n/a') }}") == "n/a"
    with pytest.raises(TemplateError, match="test: float got invalid input 'unknown'"):
        render(engine, "{{ states('sensor.gas') | float }}")
    with pytest.raises(TemplateError, match="int got invalid input 'seven'"):
        render(engine, "{{ int('seven') }}")
    with pytest.raises(TemplateError, match="bool got invalid input 'maybe'"):
        render(engine, "{{ 'maybe' | bool }}")


async def test_round_multiply_min_max_iif(engine: TemplateEngine) -> None:
    assert render(engine, "{{ 3.14159 | round(2) }}") == 3.14
    assert render(engine, "{{ '2.5' | round }}") == 2  # banker's rounding, then int at precision 0
    assert render(engine, "{{ 2.71 | round(1, 'floor') }}") == 2.7
    assert render(engine, "{{ 2.71 | round(1, 'ceil') }}") == 2.8
    assert render(engine, "{{ 2.3 | round(method='half') }}") == 2.5
    assert render(engine, "{{ 'x' | round(default=-1) }}") == -1
    with pytest.raises(TemplateError, match="round got invalid input"):
        render(engine, "{{ 'x' | round }}")
    assert render(engine, "{{ states('sensor.cistern_level') | multiply(2) }}") == 85.0
    assert render(engine, "{{ 'x' | multiply(2, 0) }}") == 0
    assert render(engine, "{{ min(3, 1, 2) }} {{ max([3, 9, 2]) }}") == "1 9"
    assert render(engine, "{{ iif(is_state('binary_sensor.door', 'on'), 'open', 'closed') }}") == "open"
    assert render(engine, "{{ iif(false, 'open', 'closed') }}") == "closed"
    assert render(engine, "{{ iif(none, 'a', 'b', 'unset') }}") == "unset"
    assert render(engine, "{{ (1 > 0) | iif('yes', 'no') }}") == "yes"


# -- results ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("-3", -3),
        ("1.5", 1.5),
        ("[1, 2]", [1, 2]),
        ("{'a': 1}", {"a": 1}),
        ("true", True),
        ("False", False),
        ("007", "007"),  # a code, not a number
        ("1_000", "1_000"),
        ("1e999", "1e999"),
        ("(1, 2)", "(1, 2)"),
        ("'quoted'", "'quoted'"),
        ("hello", "hello"),
        ("", ""),
        ("None", "None"),
        ("[1, 2", "[1, 2"),
    ],
)
def test_parse_native(text: str, expected: object) -> None:
    result = parse_native(text)
    assert result == expected
    assert type(result) is type(expected)


async def test_render_parses_native_types_unless_asked_not_to(engine: TemplateEngine) -> None:
    assert render(engine, "{{ 10 + 2 }}") == 12
    assert render(engine, "{{ [1, 2] }}") == [1, 2]
    assert render(engine, "{{ {'level': 5} }}") == {"level": 5}
    assert render(engine, "{{ 10 + 2 }}", parse_result=False) == "12"
    assert render(engine, "Cistern at {{ states('sensor.cistern_level') }} %") == "Cistern at 42.5 %"


async def test_static_templates(engine: TemplateEngine) -> None:
    template = engine.compile("12")
    assert template.is_static
    assert template.render() == 12
    assert template.render(parse_result=False) == "12"
    assert not engine.compile("{{ 1 }}").is_static
    assert not engine.compile("{# note #}x").is_static
    assert is_template("a {{ b }}") and is_template("{% if x %}{% endif %}")
    assert not is_template("plain") and not is_template(12) and not is_template(None)


async def test_variables(engine: TemplateEngine) -> None:
    variables = {"trigger": {"id": "low", "to_state": engine._hub.states.get("binary_sensor.door")}}
    assert render(engine, "{{ trigger.id }}:{{ trigger.to_state.state }}", variables) == "low:on"
    assert render(engine, "{{ trigger.to_state.attributes.device_class }}", variables) == "door"


async def test_undefined_renders_empty_but_fails_when_followed(engine: TemplateEngine) -> None:
    assert render(engine, "Level: {{ level }}") == "Level: "
    with pytest.raises(TemplateError, match="'trigger' is undefined"):
        render(engine, "{{ trigger.to_state.state }}")
    with pytest.raises(TemplateError, match="'dict object' has no attribute 'to_state'"):
        render(engine, "{{ trigger.to_state.state }}", {"trigger": {"platform": "time"}})


async def test_templates_compile_once(engine: TemplateEngine) -> None:
    first = engine.compile("{{ 1 + 1 }}", where="a")
    second = engine.compile("{{ 1 + 1 }}", where="b")
    assert first is not second and first.where == "a" and second.where == "b"
    assert first._compiled is second._compiled


async def test_compile_complex(engine: TemplateEngine) -> None:
    data = {
        "message": "Cistern at {{ states('sensor.cistern_level') }} %",
        "level": "{{ states('sensor.cistern_level') | float }}",
        "code": "12",  # not a template: stays text
        "targets": ["{{ who }}", "admin", 3],
        "nested": {"ok": "{{ true }}"},
    }
    render_data = compile_complex(engine, data, where="automation 'x'")
    assert render_data({"who": "ana"}) == {
        "message": "Cistern at 42.5 %",
        "level": 42.5,
        "code": "12",
        "targets": ["ana", "admin", 3],
        "nested": {"ok": True},
    }
    assert compile_complex(engine, 5)({}) == 5
    with pytest.raises(TemplateError, match="automation 'x': float got invalid input"):
        compile_complex(engine, ["{{ 'a' | float }}"], where="automation 'x'")({})


def test_result_as_boolean() -> None:
    assert all(result_as_boolean(v) for v in (True, 1, 2.5, "true", " On ", "yes", "1", "enable"))
    falsy: tuple[Any, ...] = (False, 0, 0.0, "false", "off", "", "maybe", None, [])
    assert not any(result_as_boolean(v) for v in falsy)


# -- errors say where ---------------------------------------------------------------------


async def test_render_error_names_where(engine: TemplateEngine) -> None:
    template = engine.compile("{{ {}.x.y }}", where="automation 'cistern_low' (automations.yaml:12)")
    with pytest.raises(TemplateError) as info:
        template.render()
    assert str(info.value) == "automation 'cistern_low' (automations.yaml:12): 'dict object' has no attribute 'x'"
    assert isinstance(info.value, AutomationError)


async def test_errors_carry_file_and_line_of_yaml(engine: TemplateEngine, tmp_path: Path) -> None:
    (tmp_path / "automations.yaml").write_text(
        "cistern_low:\n  message: \"{{ states('sensor.gas') | float }}\"\n  broken: \"{{ 1 + }}\"\n"
    )
    loaded = load_yaml(tmp_path / "automations.yaml", config_dir=tmp_path)
    message = loaded["cistern_low"]["message"]
    with pytest.raises(TemplateError, match=r"^automations.yaml:2: float got invalid input 'unknown'"):
        engine.compile(message).render()
    with pytest.raises(TemplateError, match=r"^automation 'cistern_low' \(automations.yaml:2\): float got"):
        engine.compile(message, where="automation 'cistern_low'").render()
    # a `where` that already names the place is not repeated
    already = engine.compile(message, where="automation 'cistern_low' (automations.yaml:2)")
    assert already.where == "automation 'cistern_low' (automations.yaml:2)"
    with pytest.raises(TemplateError, match=r"^automations.yaml:3: template syntax error: .* \(line 1\)"):
        engine.compile(loaded["cistern_low"]["broken"])


async def test_syntax_errors_at_compile(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError, match=r"^here: template syntax error: .*'endfor'.*\(line 2\)"):
        engine.compile("{% for x in y %}\n{{ x }}", where="here")
    with pytest.raises(TemplateError, match="template syntax error"):
        engine.compile("{{ states('x') ")
    with pytest.raises(TemplateError, match="No filter named 'nonsense'"):
        engine.compile("{{ 1 | nonsense }}")


async def test_every_render_failure_is_a_template_error(engine: TemplateEngine) -> None:
    for source in ("{{ 1 / 0 }}", "{{ 'a' + 1 }}", "{{ min() }}", "{{ [] | first + 1 }}"):
        with pytest.raises(TemplateError, match="^t: "):
            engine.compile(source, where="t").render()
    recursive = "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"
    with pytest.raises(TemplateError, match="recursion"):
        engine.compile(recursive, where="t").render()


# -- sandbox and bounds -------------------------------------------------------------------


async def test_sandbox_refuses_internals(engine: TemplateEngine) -> None:
    for source in (
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ states.__class__ }}",
        "{{ now.__globals__ }}",
        "{{ states.sensor.cistern_level._json }}",
    ):
        with pytest.raises(TemplateError, match="unsafe"):
            render(engine, source)


async def test_sandbox_refuses_mutation(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError, match="'append' of 'list' object is unsafe"):
        render(engine, "{% set x = [] %}{{ x.append(1) }}")
    given = {"items": [1, 2], "map": {"a": 1}}
    with pytest.raises(TemplateError, match="unsafe"):
        render(engine, "{{ items.pop() }}", given)
    with pytest.raises(TemplateError, match="unsafe"):
        render(engine, "{{ map.update({'b': 2}) }}", given)
    with pytest.raises(TemplateError, match="unsafe"):
        render(engine, "{{ states.sensor.cistern_level.attributes.update({'x': 1}) }}")
    assert given == {"items": [1, 2], "map": {"a": 1}}
    assert engine._hub.states.get("sensor.cistern_level").attributes["capacity_l"] == 5000


async def test_output_is_bounded(engine: TemplateEngine) -> None:
    near = MAX_OUTPUT - 10
    assert len(render(engine, f"{{{{ 'x' * {near} }}}}", parse_result=False)) == near
    with pytest.raises(TemplateError, match="exceeds 64 KiB"):
        render(engine, "{% for i in range(9000) %}{{ 'abcdefghij' }}{% endfor %}")
    with pytest.raises(TemplateError, match="limit is 65536"):
        render(engine, "{{ 'x' * 100000 }}")
    with pytest.raises(TemplateError, match="limit is 65536"):
        render(engine, "{{ [0] * 10 ** 6 }}")
    with pytest.raises(TemplateError, match="exponent"):
        render(engine, "{{ 10 ** 100000 }}")


async def test_loops_are_bounded(engine: TemplateEngine) -> None:
    assert render(engine, "{% for i in range(10000) %}{% endfor %}done") == "done"
    with pytest.raises(TemplateError, match="range of 10001 items"):
        render(engine, "{{ range(10001) | list | count }}")
    with pytest.raises(TemplateError, match="more than 10000 loop iterations"):
        render(engine, "{% for i in range(200) %}{% for j in range(100) %}{% endfor %}{% endfor %}")
    # the budget belongs to one render; the next render starts afresh
    template = engine.compile("{% for i in range(6000) %}{% endfor %}ok")
    assert template.render() == "ok" and template.render() == "ok"
    assert render(engine, "{{ lipsum is defined }}") is False


async def test_time_zone_comes_from_the_hub(hub: Hub) -> None:
    hub.time_zone = ZoneInfo("Asia/Tokyo")
    engine = TemplateEngine(hub)
    assert engine.compile("{{ now().hour }}").render() == 21
    assert engine.compile("{{ now().utcoffset() == timedelta(hours=9) }}").render() is True
    assert engine.compile("{{ today_at('08:00') < now() }}").render() is True
