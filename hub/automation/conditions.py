"""Conditions: compiled once from the normalised config, then asked `variables -> bool` per run.

A compiled `Condition` is callable for the bare answer and has `explain(variables)` for the
answer with its reason, which is what a trace records ("sensor.x is 'off', not 'on'"). A
condition that cannot be evaluated (entity missing, value not a number, template error) is
false and says why; evaluating never raises. Configuration mistakes found while compiling
(unknown type, bad time) raise AutomationError at once.

YAML 1.1 reads an unquoted `on`/`off` as a boolean; a state compared against `true`/`false`
is therefore compared as 'on'/'off', the way people meant it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time as dtime
from datetime import timedelta
from typing import Any

from ..states import State, valid_entity_id
from .errors import AutomationError, ConditionError, TemplateError
from .template import Template, TemplateEngine, compile_complex, is_template, result_as_boolean
from .timeparse import WEEKDAYS, parse_duration, parse_time, parse_weekdays

Variables = Mapping[str, Any]
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class ConditionResult:
    """A condition's answer and why, in words for the trace."""

    result: bool
    reason: str


class Condition:
    """A compiled condition: `cond(variables) -> bool`, `cond.explain(variables) -> ConditionResult`."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.children: tuple[Condition, ...] = ()

    def __call__(self, variables: Variables | None = None) -> bool:
        return self.explain(variables).result

    def explain(self, variables: Variables | None = None) -> ConditionResult:
        """Evaluate, turning every failure into a false result that says why."""
        try:
            return self._evaluate(variables or {})
        except (TemplateError, ConditionError) as exc:
            return ConditionResult(False, str(exc))
        except Exception as exc:  # noqa: BLE001 -- a condition is false, never a crash of the run
            return ConditionResult(False, f"{self.description}: {type(exc).__name__}: {exc}")

    def _evaluate(self, variables: Variables) -> ConditionResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Condition {self.description}>"


def compile_conditions(
    hub: Any, configs: Sequence[Mapping[str, Any] | str], *, engine: TemplateEngine, where: str = ""
) -> Condition:
    """One condition that holds when every one of `configs` holds (true for none)."""
    children = [
        compile_condition(hub, config, engine=engine, where=where) for config in configs
    ]
    return _And(children, "all of the conditions")


def compile_condition(
    hub: Any, config: Mapping[str, Any] | str, *, engine: TemplateEngine, where: str = ""
) -> Condition:
    """Compile one condition config (a bare string is a template condition)."""
    if isinstance(config, str):
        return _TemplateCondition(engine.compile(config, where=where))
    if not isinstance(config, Mapping):
        raise AutomationError(_at(where, f"a condition must be a mapping or a template, not {config!r}"))
    kind = config.get("condition")
    if config.get("enabled", True) is False:
        return _Disabled(f"{kind} condition (disabled)")
    compiler = _COMPILERS.get(str(kind))
    if compiler is None:
        known = ", ".join(sorted(_COMPILERS))
        raise AutomationError(_at(where, f"unknown condition type {kind!r} (known: {known})"))
    try:
        return compiler(hub, config, engine, where)
    except (KeyError, ValueError, TypeError) as exc:
        raise AutomationError(_at(where, f"{kind} condition: {_text(exc)}")) from None


# -- compilers --------------------------------------------------------------------------


def _compile_state(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    if "state" not in config:
        raise ValueError("'state' is required")
    return _StateCondition(
        hub,
        entity_ids(config["entity_id"]),
        [_as_state_text(v) for v in _as_list(config["state"])],
        config.get("attribute"),
        compile_duration(engine, config.get("for"), where=where),
    )


def _compile_numeric(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    return _NumericCondition(entity_ids(config["entity_id"]), NumericTest(hub, config, engine, where))


def _compile_time(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    after = parse_time(config["after"]) if config.get("after") is not None else None
    before = parse_time(config["before"]) if config.get("before") is not None else None
    days = parse_weekdays(config["weekday"]) if config.get("weekday") is not None else None
    if after is None and before is None and days is None:
        raise ValueError("give at least one of after, before, weekday")
    return _TimeCondition(hub, after, before, days)


def _compile_template(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    source = config["value_template"]
    template = source if isinstance(source, Template) else engine.compile(source, where=where)
    return _TemplateCondition(template)


def _compile_trigger(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    return _TriggerCondition(frozenset(str(i) for i in _as_list(config["id"])))


def _compile_group(hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> Condition:
    kind = str(config["condition"])
    children = [compile_condition(hub, c, engine=engine, where=where) for c in _as_list(config.get("conditions"))]
    group = {"and": _And, "or": _Or, "not": _Not}[kind]
    return group(children, f"{kind} condition")


_COMPILERS: dict[str, Callable[[Any, Mapping[str, Any], TemplateEngine, str], Condition]] = {
    "state": _compile_state,
    "numeric_state": _compile_numeric,
    "time": _compile_time,
    "template": _compile_template,
    "trigger": _compile_trigger,
    "and": _compile_group,
    "or": _compile_group,
    "not": _compile_group,
}


# -- the condition types ------------------------------------------------------------------


class _StateCondition(Condition):
    def __init__(
        self,
        hub: Any,
        ids: list[str],
        wanted: list[str],
        attribute: str | None,
        for_: Callable[[Variables], timedelta] | None,
    ) -> None:
        what = f"attribute {attribute} of " if attribute else ""
        super().__init__(f"{what}{', '.join(ids)} is {_quoted(wanted)}")
        self._hub = hub
        self._ids = ids
        self._wanted = wanted
        self._attribute = attribute
        self._for = for_

    def _evaluate(self, variables: Variables) -> ConditionResult:
        reasons = []
        for entity_id in self._ids:
            state = self._hub.states.get(entity_id)
            if state is None:
                return ConditionResult(False, f"{entity_id} has no state (entity not found)")
            label = entity_id if self._attribute is None else f"{entity_id} attribute {self._attribute}"
            if self._attribute is not None and self._attribute not in state.attributes:
                return ConditionResult(False, f"{entity_id} has no attribute {self._attribute!r}")
            value = state.state if self._attribute is None else state.attributes[self._attribute]
            if not value_matches(value, self._wanted):
                return ConditionResult(False, f"{label} is {value!r}, not {_quoted(self._wanted)}")
            if self._for is not None:
                needed = self._for(variables)
                # An attribute change moves only last_updated, so that is when the attribute last changed.
                since = state.last_changed if self._attribute is None else state.last_updated
                held = timedelta(seconds=max(0.0, self._hub.clock.time() - since))
                if held < needed:
                    return ConditionResult(False, f"{label} has been {value!r} for {_span(held)}, less than {_span(needed)}")
                reasons.append(f"{label} has been {value!r} for {_span(held)}")
            else:
                reasons.append(f"{label} is {value!r}")
        return ConditionResult(True, "; ".join(reasons))


class _NumericCondition(Condition):
    def __init__(self, ids: list[str], test: NumericTest) -> None:
        super().__init__(f"{', '.join(ids)} {test.range_text}")
        self._ids = ids
        self._test = test

    def _evaluate(self, variables: Variables) -> ConditionResult:
        reasons = []
        for entity_id in self._ids:
            ok, reason = self._test.check(entity_id, None, variables)
            if not ok:
                return ConditionResult(False, reason)
            reasons.append(reason)
        return ConditionResult(True, "; ".join(reasons))


class _TimeCondition(Condition):
    def __init__(self, hub: Any, after: dtime | None, before: dtime | None, days: frozenset[int] | None) -> None:
        parts = []
        if after is not None:
            parts.append(f"after {after.isoformat()}")
        if before is not None:
            parts.append(f"before {before.isoformat()}")
        if days is not None:
            parts.append("on " + ", ".join(WEEKDAYS[d] for d in sorted(days)))
        self._window = " ".join(parts)
        super().__init__("time " + self._window)
        self._hub = hub
        self._after = after
        self._before = before
        self._days = days

    def _evaluate(self, variables: Variables) -> ConditionResult:
        now = self._hub.clock.now(self._hub.time_zone)
        wall = now.time().replace(tzinfo=None)
        clock_text = wall.isoformat(timespec="seconds")
        after, before = self._after, self._before
        if after is not None and before is not None:
            inside = after <= wall < before if after <= before else (wall >= after or wall < before)
            if not inside:
                return ConditionResult(
                    False, f"{clock_text} is not between {after.isoformat()} and {before.isoformat()}"
                )
        elif after is not None and wall < after:
            return ConditionResult(False, f"{clock_text} is before {after.isoformat()}")
        elif before is not None and wall >= before:
            return ConditionResult(False, f"{clock_text} is not before {before.isoformat()}")
        day = now.weekday()
        if self._days is not None and day not in self._days:
            wanted = ", ".join(WEEKDAYS[d] for d in sorted(self._days))
            return ConditionResult(False, f"it is {_DAY_NAMES[day]}, not one of {wanted}")
        return ConditionResult(True, f"{_DAY_NAMES[day]} {clock_text} is within {self._window}")


class _TemplateCondition(Condition):
    def __init__(self, template: Template) -> None:
        super().__init__(f"template {template.source}")
        self._template = template

    def _evaluate(self, variables: Variables) -> ConditionResult:
        value = self._template.render(variables)
        return ConditionResult(result_as_boolean(value), f"template rendered {_short(value)}")


class _TriggerCondition(Condition):
    def __init__(self, ids: frozenset[str]) -> None:
        super().__init__(f"trigger id is {_quoted(sorted(ids))}")
        self._ids = ids

    def _evaluate(self, variables: Variables) -> ConditionResult:
        trigger = variables.get("trigger")
        if not isinstance(trigger, Mapping) or "id" not in trigger:
            return ConditionResult(False, "no trigger started this run")
        current = str(trigger["id"])
        if current in self._ids:
            return ConditionResult(True, f"trigger id is {current!r}")
        return ConditionResult(False, f"trigger id is {current!r}, not {_quoted(sorted(self._ids))}")


class _Disabled(Condition):
    def _evaluate(self, variables: Variables) -> ConditionResult:
        return ConditionResult(True, f"{self.description}: skipped")


class _Group(Condition):
    def __init__(self, children: Sequence[Condition], description: str) -> None:
        super().__init__(description)
        self.children = tuple(children)


class _And(_Group):
    def _evaluate(self, variables: Variables) -> ConditionResult:
        for index, child in enumerate(self.children):
            outcome = child.explain(variables)
            if not outcome.result:
                return ConditionResult(False, f"condition {index} failed: {outcome.reason}")
        return ConditionResult(True, f"all {len(self.children)} conditions hold")


class _Or(_Group):
    def _evaluate(self, variables: Variables) -> ConditionResult:
        failures = []
        for index, child in enumerate(self.children):
            outcome = child.explain(variables)
            if outcome.result:
                return ConditionResult(True, f"condition {index} holds: {outcome.reason}")
            failures.append(f"{index}: {outcome.reason}")
        return ConditionResult(False, "no condition holds (" + "; ".join(failures) + ")")


class _Not(_Group):
    def _evaluate(self, variables: Variables) -> ConditionResult:
        for index, child in enumerate(self.children):
            outcome = child.explain(variables)
            if outcome.result:
                return ConditionResult(False, f"condition {index} holds: {outcome.reason}")
        return ConditionResult(True, f"none of {len(self.children)} conditions holds")


# -- shared with triggers -----------------------------------------------------------------


class NumericTest:
    """The `above` / `below` / `attribute` / `value_template` test of numeric_state, for conditions and triggers."""

    def __init__(self, hub: Any, config: Mapping[str, Any], engine: TemplateEngine, where: str) -> None:
        self._hub = hub
        self._attribute: str | None = config.get("attribute")
        self._above = _threshold(config.get("above"), "above")
        self._below = _threshold(config.get("below"), "below")
        if self._above is None and self._below is None:
            raise ValueError("give above, below or both")
        source = config.get("value_template")
        self._template: Template | None = None
        if source is not None:
            self._template = source if isinstance(source, Template) else engine.compile(source, where=where)
        parts = [f"{side} {_limit_text(bound)}" for side, bound in (("above", self._above), ("below", self._below))
                 if bound is not None]
        self.range_text = " and ".join(parts)

    def check(self, entity_id: str, state: State | None, variables: Variables) -> tuple[bool, str]:
        """Whether `state` (default: the current state of `entity_id`) is in range, and why; never raises."""
        if state is None:
            state = self._hub.states.get(entity_id)
        if state is None:
            return False, f"{entity_id} has no state (entity not found)"
        try:
            value = self._value(state, variables)
        except ConditionError as exc:
            return False, str(exc)
        except TemplateError as exc:
            return False, str(exc)
        for bound, side in ((self._above, "above"), (self._below, "below")):
            if bound is None:
                continue
            try:
                limit = self._limit(bound, side)
            except ConditionError as exc:
                return False, str(exc)
            if (side == "above" and not value > limit) or (side == "below" and not value < limit):
                return False, f"{entity_id} is {value:g}, not {side} {limit:g}"
        return True, f"{entity_id} is {value:g}, {self.range_text}"

    def _value(self, state: State, variables: Variables) -> float:
        if self._template is not None:
            raw = self._template.render({**variables, "state": state})
            what = f"value_template of {state.entity_id}"
        elif self._attribute is not None:
            if self._attribute not in state.attributes:
                raise ConditionError(f"{state.entity_id} has no attribute {self._attribute!r}")
            raw = state.attributes[self._attribute]
            what = f"{state.entity_id} attribute {self._attribute}"
        else:
            raw = state.state
            what = state.entity_id
        return _number(raw, what)

    def _limit(self, bound: float | str, side: str) -> float:
        if isinstance(bound, float):
            return bound
        state = self._hub.states.get(bound)
        if state is None:
            raise ConditionError(f"{side} limit {bound} has no state (entity not found)")
        return _number(state.state, f"{side} limit {bound}")


def compile_duration(
    engine: TemplateEngine, value: Any, *, where: str = ""
) -> Callable[[Variables], timedelta] | None:
    """None, or a function giving the duration; a template (or a mapping of them) renders per call."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        fixed = value
        return lambda variables: fixed
    if _has_template(value):
        render = compile_complex(engine, value, where=where)

        def rendered(variables: Variables) -> timedelta:
            result = render(variables)
            try:
                return parse_duration(result)
            except ValueError as exc:
                raise ConditionError(_at(where, f"for: {exc}")) from None

        return rendered
    fixed = parse_duration(value)
    return lambda variables: fixed


def entity_ids(value: Any) -> list[str]:
    """One entity id, a comma-separated string of them, or a list -> a list without duplicates."""
    items = value.split(",") if isinstance(value, str) else _as_list(value)
    ids = [str(item).strip().lower() for item in items if str(item).strip()]
    if not ids:
        raise ValueError("entity_id is empty")
    return list(dict.fromkeys(ids))


def value_matches(value: Any, wanted: Sequence[Any]) -> bool:
    """Whether a state or attribute value equals one of `wanted` (compared as is, then as text)."""
    text = _as_state_text(value)
    return any(value == w or text == _as_state_text(w) for w in wanted)


def _as_state_text(value: Any) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _has_template(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    return isinstance(value, Template) or is_template(value)


def _threshold(value: Any, side: str) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            if valid_entity_id(value.strip().lower()):
                return value.strip().lower()
    raise ValueError(f"{side} must be a number or an entity id, not {value!r}")


def _number(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or raw is None:
        raise ConditionError(f"{what} is {raw!r}, not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConditionError(f"{what} is {_short(raw)}, not a number") from None
    if math.isnan(value):  # NaN is in no range
        raise ConditionError(f"{what} is not a number (NaN)")
    return value


def _limit_text(bound: float | str) -> str:
    return f"{bound:g}" if isinstance(bound, float) else bound


def _quoted(values: Sequence[Any]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


def _span(period: timedelta) -> str:
    return str(timedelta(seconds=round(period.total_seconds())))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is required"
    return str(exc)


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message
