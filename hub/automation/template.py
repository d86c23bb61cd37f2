"""Sandboxed Jinja2 templates for automations: compiled once, rendered against the hub's states.

Sandbox: `ImmutableSandboxedEnvironment`, so templates cannot reach Python internals
(`''.__class__` raises at once instead of rendering empty) nor mutate lists and dicts they are
given. Undefined policy: Jinja2's default `Undefined`. A missing name renders as the empty
string (`Cistern at {{ level }} %` still sends a message), but any step *through* it raises:
`{{ trigger.to_state.state }}` without a state trigger fails with "'dict object' has no
attribute 'to_state'" rather than quietly rendering nothing. `ChainableUndefined` would hide
exactly the mistakes a trace should show.

Bounds (against accidents, such as a loop over the wrong thing): rendered output is cut off at
64 KiB, one render may run at most 10,000 loop iterations in total (`{% for %}` and `range()`),
and `*` / `**` may not build strings, lists or numbers beyond those sizes. Every failure while
rendering becomes `TemplateError("<where>: <message>")`.

Native types: `render()` turns output that reads as a number, list, mapping or true/false into
that value (for service `data:`); `parse_result=False` keeps the text (for messages).
"""

from __future__ import annotations

import ast
import contextvars
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..states import STATE_UNAVAILABLE, STATE_UNKNOWN, State
from .errors import TemplateError
from .timeparse import parse_time

MAX_OUTPUT = 64 * 1024
MAX_ITERATIONS = 10_000
_CACHE_SIZE = 2048
_LOOP_FILTER = "_loop_budget"
_TRUE_WORDS = frozenset({"true", "yes", "on", "enable", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "disable", "0"})


class _NoDefault:
    """Marks an argument that was not given (None is a legitimate default)."""

    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT: Any = _NoDefault()

# The loop budget of the render in progress; renders are synchronous, so one slot suffices.
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_loop_budget")


def is_template(value: Any) -> bool:
    """Whether `value` is a string with Jinja2 markup in it."""
    return isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value)


def result_as_boolean(value: Any) -> bool:
    """The truth of a rendered result: true/yes/on/enable/1 and non-zero numbers are true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return False


def parse_native(text: str) -> Any:
    """'12' -> 12, '1.5' -> 1.5, '[1, 2]' -> list, '{...}' -> dict, 'true'/'false' -> bool, else the text."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if not stripped or stripped[0] not in "-+.0123456789[{":
        return text
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, (bool, list, dict)):
        return value
    if isinstance(value, (int, float)):
        # '1_000' and '1e999' are Python literals but not numbers a person meant.
        if "_" in stripped or (isinstance(value, float) and not math.isfinite(value)):
            return text
        return value
    return text  # tuples, sets, quoted strings, complex numbers stay text


class TemplateEngine:
    """Compiles and caches templates for one hub; globals read its states, clock and time zone."""

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._env = _Environment()
        self._cache: OrderedDict[str, jinja2.Template] = OrderedDict()
        self._install_globals()

    def compile(self, source: str, *, where: str = "") -> Template:
        """A `Template` of `source`; raises TemplateError on a syntax error.

        `where` names the template in messages. A source read from YAML (a NodeStr) adds its
        `file:line` unless `where` already holds it.
        """
        where = _where(source, where)
        text = str(source)
        if not is_template(text):
            return Template(text, where, None)
        compiled = self._cache.get(text)
        if compiled is None:
            try:
                tree = self._env.parse(text)
                _bound_loops(tree)
                compiled = self._env.from_string(tree)  # unknown filters and tests are found here
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(_prefixed(where, f"template syntax error: {exc.message} (line {exc.lineno})")) from None
            self._cache[text] = compiled
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return Template(text, where, compiled)

    # -- what templates see --------------------------------------------------------------

    def _install_globals(self) -> None:
        env = self._env
        states = self._hub.states
        functions: dict[str, Callable[..., Any]] = {
            "is_state": self._is_state,
            "state_attr": self._state_attr,
            "is_state_attr": self._is_state_attr,
            "has_value": self._has_value,
            "as_timestamp": self._as_timestamp,
            "as_datetime": self._as_datetime,
            "today_at": self._today_at,
            "timestamp_local": self._timestamp_local,
            "float": _to_float,
            "int": _to_int,
            "bool": _to_bool,
            "iif": _iif,
            "multiply": _multiply,
            "round": _round,
        }
        env.globals.pop("lipsum", None)  # output of any size on request
        env.globals.update(
            {
                "states": _AllStates(states),
                "now": self._now,
                "utcnow": self._utcnow,
                "min": _min,
                "max": _max,
                "range": _bounded_range,
                "timedelta": timedelta,
            }
        )
        for name in ("is_state", "state_attr", "is_state_attr", "has_value", "as_timestamp", "as_datetime",
                     "today_at", "float", "int", "bool", "iif"):
            env.globals[name] = functions[name]
        env.filters.update(functions)
        env.filters["states"] = lambda entity_id: _state_text(states, entity_id)
        env.filters[_LOOP_FILTER] = _charge_loop

    def _tz(self) -> Any:
        return getattr(self._hub, "time_zone", None) or UTC

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._hub.clock.time(), self._tz())

    def _utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._hub.clock.time(), UTC)

    def _is_state(self, entity_id: str, value: Any) -> bool:
        state = self._hub.states.get(entity_id)
        if state is None:
            return False
        wanted = value if isinstance(value, (list, tuple)) else [value]
        return state.state in [str(v) for v in wanted]

    def _state_attr(self, entity_id: str, name: str) -> Any:
        state = self._hub.states.get(entity_id)
        return None if state is None else state.attributes.get(name)

    def _is_state_attr(self, entity_id: str, name: str, value: Any) -> bool:
        state = self._hub.states.get(entity_id)
        return state is not None and name in state.attributes and state.attributes[name] == value

    def _has_value(self, entity_id: str) -> bool:
        state = self._hub.states.get(entity_id)
        return state is not None and state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)

    def _as_datetime(self, value: Any, default: Any = _NO_DEFAULT) -> Any:
        """A datetime from a datetime, an ISO string (naive: the hub's zone) or epoch seconds."""
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self._tz())
        try:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return datetime.fromtimestamp(value, UTC)
            if isinstance(value, str):
                text = value.strip()
                try:
                    return datetime.fromtimestamp(float(text), UTC)
                except ValueError:
                    pass
                moment = datetime.fromisoformat(text)
                return moment if moment.tzinfo else moment.replace(tzinfo=self._tz())
        except (ValueError, OverflowError, OSError):
            pass
        return _fallback("as_datetime", value, default)

    def _as_timestamp(self, value: Any, default: Any = _NO_DEFAULT) -> Any:
        moment = self._as_datetime(value, None)
        if isinstance(moment, datetime):
            return moment.timestamp()
        return _fallback("as_timestamp", value, default)

    def _timestamp_local(self, value: Any, default: Any = _NO_DEFAULT) -> Any:
        try:
            return datetime.fromtimestamp(float(value), self._tz()).isoformat()
        except (ValueError, TypeError, OverflowError, OSError):
            return _fallback("timestamp_local", value, default)

    def _today_at(self, value: Any = "00:00") -> datetime:
        when = parse_time(value)
        today = self._now()
        moment = datetime.combine(today.date(), when, tzinfo=today.tzinfo)
        return moment.astimezone(UTC).astimezone(today.tzinfo)  # a wall time skipped by DST


class Template:
    """One compiled template; `render` is cheap and raises only TemplateError."""

    def __init__(self, source: str, where: str, compiled: jinja2.Template | None) -> None:
        self.source = source
        self.where = where
        self.is_static = compiled is None
        self._compiled = compiled

    def render(self, variables: Mapping[str, Any] | None = None, *, parse_result: bool = True) -> Any:
        """The rendered text, or its native value when `parse_result` (see `parse_native`)."""
        if self._compiled is None:
            text = self.source
        else:
            text = self._render_text(variables)
        return parse_native(text) if parse_result else text

    def _render_text(self, variables: Mapping[str, Any] | None) -> str:
        assert self._compiled is not None
        token = _budget.set([MAX_ITERATIONS])
        try:
            size = 0
            parts: list[str] = []
            for chunk in self._compiled.generate(dict(variables or {})):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise _LimitError(f"rendered output exceeds {MAX_OUTPUT // 1024} KiB")
                parts.append(chunk)
            return "".join(parts)
        except TemplateError:
            raise
        except Exception as exc:  # contract: callers see TemplateError and nothing else
            raise TemplateError(_prefixed(self.where, _message(exc))) from exc
        finally:
            _budget.reset(token)

    def __repr__(self) -> str:
        return f"<Template {self.source!r} {self.where}>"


def compile_complex(engine: TemplateEngine, value: Any, *, where: str = "") -> Callable[..., Any]:
    """Compile every template string inside dicts and lists once; the result renders the whole structure.

    Strings without markup and non-strings come back as they are (no native parsing).
    """
    if isinstance(value, Template):
        template = value
        return lambda variables=None: template.render(variables)
    if isinstance(value, Mapping):
        items = [(key, compile_complex(engine, item, where=where)) for key, item in value.items()]
        return lambda variables=None: {key: render(variables) for key, render in items}
    if isinstance(value, (list, tuple)):
        renders = [compile_complex(engine, item, where=where) for item in value]
        return lambda variables=None: [render(variables) for render in renders]
    if is_template(value):
        compiled = engine.compile(value, where=where)
        return lambda variables=None: compiled.render(variables)
    return lambda variables=None: value


# -- the environment --------------------------------------------------------------------


class _LimitError(Exception):
    """A template went past one of the bounds in this module's docstring."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, made to raise on unsafe attributes and to bound `*` and `**`."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, keep_trailing_newline=False)

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # The default renders an unsafe attribute as empty text; an error shows the attempt.
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT:
                    raise _LimitError(f"'*' would build {len(seq) * times} items; the limit is {MAX_OUTPUT}")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 1024:
            raise _LimitError(f"'**' exponent {right} is too large")
        return super().call_binop(context, operator, left, right)


def _bound_loops(tree: nodes.Template) -> None:
    """Route every `{% for %}` iterable through the loop budget filter."""
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)


def _charge_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend(1)
        yield item


def _spend(count: int) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget[0] -= count
    if budget[0] < 0:
        raise _LimitError(f"more than {MAX_ITERATIONS} loop iterations")


def _bounded_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_ITERATIONS:
        raise _LimitError(f"range of {len(span)} items; the limit is {MAX_ITERATIONS}")
    return span


class _AllStates:
    """`states`: callable as `states('sensor.x')`, or `states.sensor.x` for the State itself."""

    # Names the sandbox and Jinja2 probe on callables; they must not read as domains.
    _PROBES = frozenset({"unsafe_callable", "alters_data", "jinja_pass_arg"})

    def __init__(self, states: Any) -> None:
        self._states = states

    def __call__(self, entity_id: str) -> str:
        return _state_text(self._states, entity_id)

    def __getattr__(self, domain: str) -> _DomainStates:
        if domain.startswith("_") or domain in self._PROBES:
            raise AttributeError(domain)
        return _DomainStates(self._states, domain)

    def __iter__(self) -> Iterator[State]:
        return iter(sorted(self._states.all(), key=lambda s: s.entity_id))

    def __len__(self) -> int:
        return len(self._states)

    def __repr__(self) -> str:
        return "<template states>"


class _DomainStates:
    """`states.sensor`: attribute access to the domain's states, iterable."""

    def __init__(self, states: Any, domain: str) -> None:
        self._states = states
        self._domain = domain

    def __getattr__(self, object_id: str) -> Any:
        if object_id.startswith("_") or object_id in _AllStates._PROBES:
            raise AttributeError(object_id)
        entity_id = f"{self._domain}.{object_id}"
        state = self._states.get(entity_id)
        if state is None:
            return jinja2.Undefined(hint=f"entity {entity_id} has no state")
        return state

    def __iter__(self) -> Iterator[State]:
        return iter(sorted(self._states.all(self._domain), key=lambda s: s.entity_id))

    def __len__(self) -> int:
        return len(self._states.all(self._domain))

    def __repr__(self) -> str:
        return f"<template states of {self._domain}>"


# -- globals and filters that need no hub -------------------------------------------------


def _state_text(states: Any, entity_id: str) -> str:
    state = states.get(entity_id)
    return STATE_UNKNOWN if state is None else str(state.state)


def _fallback(name: str, value: Any, default: Any) -> Any:
    if default is _NO_DEFAULT:
        raise ValueError(f"{name} got invalid input {value!r} and no default was given")
    return default


def _to_float(value: Any, default: Any = _NO_DEFAULT) -> Any:
    try:
        return float(value)
    except (ValueError, TypeError, OverflowError):
        return _fallback("float", value, default)


def _to_int(value: Any, default: Any = _NO_DEFAULT, base: int = 10) -> Any:
    try:
        if isinstance(value, str):
            text = value.strip()
            try:
                return int(text, base)
            except ValueError:
                if base != 10:
                    raise
                return int(float(text))
        return int(value)
    except (ValueError, TypeError, OverflowError):
        return _fallback("int", value, default)


def _to_bool(value: Any, default: Any = _NO_DEFAULT) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
    return _fallback("bool", value, default)


def _round(value: Any, precision: int = 0, method: str = "common", default: Any = _NO_DEFAULT) -> Any:
    number = _to_float(value, None)
    if number is None:
        return _fallback("round", value, default)
    if method == "common":
        result = round(number, precision)
    elif method in ("floor", "ceil"):
        scale = 10**precision
        result = (math.floor if method == "floor" else math.ceil)(number * scale) / scale
    elif method == "half":
        result = round(number * 2) / 2
    else:
        raise ValueError(f"round method must be common, floor, ceil or half, not {method!r}")
    return int(result) if precision == 0 and method != "half" else result


def _multiply(value: Any, amount: Any, default: Any = _NO_DEFAULT) -> Any:
    number = _to_float(value, None)
    if number is None:
        return _fallback("multiply", value, default)
    return number * amount


def _iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = _NO_DEFAULT) -> Any:
    if value is None and if_none is not _NO_DEFAULT:
        return if_none
    return if_true if value else if_false


def _min(*args: Any) -> Any:
    if not args:
        raise ValueError("min needs at least one value")
    return min(args[0]) if len(args) == 1 else min(args)


def _max(*args: Any) -> Any:
    if not args:
        raise ValueError("max needs at least one value")
    return max(args[0]) if len(args) == 1 else max(args)


# -- messages ---------------------------------------------------------------------------


def _where(source: str, where: str) -> str:
    file, line = getattr(source, "file", None), getattr(source, "line", None)
    if not file:
        return where
    location = f"{file}:{line}" if line is not None else file
    if not where:
        return location
    return where if location in where else f"{where} ({location})"


def _prefixed(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _message(exc: BaseException) -> str:
    if isinstance(exc, (jinja2.TemplateError, _LimitError, ValueError)) and str(exc):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "too deeply nested (recursion)"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
