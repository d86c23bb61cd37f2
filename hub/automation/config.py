"""`automations.yaml`: read with line numbers, older keys renamed to the newer ones, each automation validated alone.

Both key generations are accepted (`trigger:`/`platform:`/`condition:`/`action:`/`service:` and
`triggers:`/`trigger:`/`conditions:`/`actions:`/`action:`); they are renamed before validation so
everything after this module sees one shape. An automation that is invalid is reported with its
file and line and left out; the others load. Blocking file I/O: call from an executor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import voluptuous as vol

from ..config import ConfigError, ConfigErrors, NodeDict, NodeList, schemas, validate
from ..config.yaml_loader import first_failure, load_yaml_document
from . import timeparse
from .errors import TemplateError
from .template import is_template

AUTOMATIONS_FILE = "automations.yaml"
DOMAIN = "automation"

MODES = ("single", "restart", "queued", "parallel")
MAX_EXCEEDED = ("silent", "critical", "fatal", "error", "warning", "info", "debug")
DEFAULT_MAX = 10
DEFAULT_STORED_TRACES = 10

TRIGGER_TYPES = ("state", "numeric_state", "time", "time_pattern", "event")
CONDITION_TYPES = ("state", "numeric_state", "time", "template", "trigger", "and", "or", "not")

# Older key -> newer key, at the top of an automation.
_TOP_KEYS = {"trigger": "triggers", "condition": "conditions", "action": "actions"}
# Keys of an action (and of its nested parts) that hold a sequence of actions.
_SEQUENCE_KEYS = ("sequence", "default", "then", "else")


@dataclass(frozen=True, slots=True)
class AutomationConfig:
    """One validated automation, in the newer keys; `data` is what reload compares."""

    id: str
    alias: str
    description: str
    mode: str
    max: int
    max_exceeded: str
    initial_state: bool | None
    variables: Mapping[str, Any]
    stored_traces: int
    triggers: tuple[Mapping[str, Any], ...]
    conditions: tuple[Any, ...]
    actions: tuple[Mapping[str, Any], ...]
    file: str | None = None
    line: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def where(self) -> str:
        """`automation 'id' (file:line)`, the prefix of this automation's messages."""
        return f"automation '{self.id}' ({self.file}:{self.line})" if self.file else f"automation '{self.id}'"

    def same_as(self, other: AutomationConfig) -> bool:
        """Whether two loads describe the same automation (lines may differ: editing another one moves them)."""
        return bool(self.data == other.data)


@dataclass(frozen=True, slots=True)
class LoadedAutomations:
    """What `read_automations` found; `parsed` is False when the file itself could not be read."""

    configs: list[AutomationConfig]
    errors: list[ConfigError]
    parsed: bool


# -- normalising the older keys --------------------------------------------------------------


def _like(source: Any, items: Any) -> Any:
    """A NodeDict / NodeList with `items` that keeps `source`'s file and lines."""
    if isinstance(source, dict):
        out = NodeDict(items)
        if isinstance(source, NodeDict):
            out.file, out.line, out.key_lines = source.file, source.line, dict(source.key_lines)
        return out
    out_list = NodeList(items)
    if isinstance(source, NodeList):
        out_list.file, out_list.line, out_list.item_lines = source.file, source.line, list(source.item_lines)
    return out_list


def _renamed(mapping: Mapping[Any, Any], renames: Mapping[str, str]) -> Any:
    """A copy with older keys renamed (unless the newer key is there too: validation then names the older)."""
    out = _like(mapping, {})
    for key, value in mapping.items():
        new = renames.get(key) if isinstance(key, str) else None
        if new is not None and new not in mapping:
            out[new] = value
            if isinstance(mapping, NodeDict) and key in mapping.key_lines:
                out.key_lines[new] = mapping.key_lines[key]
        else:
            out[key] = value
    return out


def _as_list(value: Any) -> Any:
    """A single mapping (or a single template string) where a list belongs -> a one-item list."""
    if isinstance(value, (dict, str)):
        out = _like(NodeList(), [value])
        line = getattr(value, "line", None)
        out.file, out.line = getattr(value, "file", None), line
        out.item_lines = [line] if line is not None else []
        return out
    return value


def _each(value: Any, normalise: Callable[[Any], Any]) -> Any:
    value = _as_list(value)
    if not isinstance(value, list):
        return value
    return _like(value, [normalise(item) for item in value])


def normalise_trigger(trigger: Any) -> Any:
    """`platform: state` -> `trigger: state`."""
    return _renamed(trigger, {"platform": "trigger"}) if isinstance(trigger, dict) else trigger


def normalise_condition(condition: Any) -> Any:
    """Nested `conditions:` of and/or/not become lists."""
    if not isinstance(condition, dict):
        return condition
    out = _like(condition, condition)
    if "conditions" in out:
        out["conditions"] = _each(out["conditions"], normalise_condition)
    return out


def normalise_action(action: Any) -> Any:
    """`service:` -> `action:` (and `data_template:` -> `data:`), in this action and every nested one."""
    if not isinstance(action, dict):
        return action
    out = _renamed(action, {"service": "action", "service_template": "action", "data_template": "data"})
    for key in _SEQUENCE_KEYS:
        if key in out:
            out[key] = normalise_actions(out[key])
    if "choose" in out:
        out["choose"] = _each(out["choose"], _normalise_option)
    if "if" in out:
        out["if"] = _each(out["if"], normalise_condition)
    if "conditions" in out:
        out["conditions"] = _each(out["conditions"], normalise_condition)
    if isinstance(out.get("repeat"), dict):
        repeat = out["repeat"] = _like(out["repeat"], out["repeat"])
        if "sequence" in repeat:
            repeat["sequence"] = normalise_actions(repeat["sequence"])
        for key in ("while", "until"):
            if key in repeat:
                repeat[key] = _each(repeat[key], normalise_condition)
    if "wait_for_trigger" in out:
        out["wait_for_trigger"] = _each(out["wait_for_trigger"], normalise_trigger)
    return out


def _normalise_option(option: Any) -> Any:
    if not isinstance(option, dict):
        return option
    out = _renamed(option, {"condition": "conditions"})
    if "conditions" in out:
        out["conditions"] = _each(out["conditions"], normalise_condition)
    if "sequence" in out:
        out["sequence"] = normalise_actions(out["sequence"])
    return out


def normalise_actions(actions: Any) -> Any:
    """A sequence of actions (one mapping counts as a list of one), each normalised."""
    return _each(actions, normalise_action)


def normalise(automation: Any) -> Any:
    """One automation in the newer keys; anything that is not a mapping is left for validation to report."""
    if not isinstance(automation, dict):
        return automation
    out = _renamed(automation, _TOP_KEYS)
    if isinstance(out.get("trace"), dict) and "stored_traces" in out["trace"] and "stored_traces" not in out:
        out["stored_traces"] = out.pop("trace")["stored_traces"]
    if "triggers" in out:
        out["triggers"] = _each(out["triggers"], normalise_trigger)
    if "conditions" in out:
        out["conditions"] = _each(out["conditions"], normalise_condition)
    if "actions" in out:
        out["actions"] = normalise_actions(out["actions"])
    return out


# -- the schema ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A string (numbers are read as their text); keeps NodeStr so templates know their line."""
    return schemas.string(value)


def _duration(value: Any) -> Any:
    """A duration, or a template that renders one when the action runs."""
    if isinstance(value, str) and "{" in value:
        return value
    if isinstance(value, dict) and any(isinstance(v, str) and "{" in v for v in value.values()):
        return value
    return timeparse.duration(value)


def _trigger(value: Any) -> Any:
    """A trigger: a mapping whose `trigger:` names a known kind (the trigger module checks the rest)."""
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping with 'trigger:'")
    if "trigger" not in value:
        raise vol.Invalid("a trigger needs 'trigger:' (or the older 'platform:')")
    vol.Schema({vol.Required("trigger"): vol.In(TRIGGER_TYPES)}, extra=vol.ALLOW_EXTRA)(value)
    return value


def _condition(value: Any) -> Any:
    """A condition: a template string, or a mapping whose `condition:` names a known kind."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise vol.Invalid("expected a condition mapping or a template")
    schema = vol.Schema({vol.Required("condition"): vol.In(CONDITION_TYPES)}, extra=vol.ALLOW_EXTRA)
    schema(value)
    for index, inner in enumerate(value.get("conditions") or ()):
        try:
            _condition(inner)
        except vol.Invalid as err:
            err.prepend(["conditions", index])
            raise
    return value


TRIGGERS = vol.All(schemas.ensure_list, [_trigger])
CONDITIONS = vol.All(schemas.ensure_list, [_condition])
_COMMON: dict[Any, Any] = {
    vol.Optional("alias"): _text,
    vol.Optional("enabled", default=True): schemas.boolean,
    vol.Optional("continue_on_error", default=False): schemas.boolean,
}


def _action(value: Any) -> Any:
    """One action, validated by the schema its keys select."""
    if not isinstance(value, dict):
        raise vol.Invalid("expected an action mapping")
    for key, schema in _ACTION_SCHEMAS:
        if key in value:
            return schema(value)
    raise vol.Invalid(f"unknown action; expected one of: {', '.join(k for k, _ in _ACTION_SCHEMAS)}")


SEQUENCE = vol.All(schemas.ensure_list, [_action])
_WAIT: dict[Any, Any] = {
    vol.Optional("timeout"): _duration,
    vol.Optional("continue_on_timeout", default=True): schemas.boolean,
}


def _one_repeat_kind(value: Mapping[str, Any]) -> Mapping[str, Any]:
    kinds = [k for k in ("count", "while", "until") if k in value]
    if len(kinds) != 1:
        raise vol.Invalid("repeat needs exactly one of count, while, until")
    return value


_ACTION_SCHEMAS: tuple[tuple[str, Any], ...] = (
    ("action", vol.Schema({
        **_COMMON, vol.Required("action"): _text, vol.Optional("data"): dict, vol.Optional("target"): dict,
        vol.Optional("response_variable"): _text,
    })),
    ("event", vol.Schema({**_COMMON, vol.Required("event"): _text, vol.Optional("event_data"): dict})),
    ("delay", vol.Schema({**_COMMON, vol.Required("delay"): _duration})),
    ("wait_for_trigger", vol.Schema({**_COMMON, **_WAIT, vol.Required("wait_for_trigger"): TRIGGERS})),
    ("wait_template", vol.Schema({**_COMMON, **_WAIT, vol.Required("wait_template"): _text})),
    ("choose", vol.Schema({
        **_COMMON,
        vol.Required("choose"): vol.All(schemas.ensure_list, [
            {vol.Optional("alias"): _text, vol.Required("conditions"): CONDITIONS, vol.Required("sequence"): SEQUENCE}
        ]),
        vol.Optional("default"): SEQUENCE,
    })),
    ("if", vol.Schema({
        **_COMMON, vol.Required("if"): CONDITIONS, vol.Required("then"): SEQUENCE, vol.Optional("else"): SEQUENCE,
    })),
    ("condition", vol.All(vol.Schema(_COMMON, extra=vol.ALLOW_EXTRA), _condition)),
    ("variables", vol.Schema({**_COMMON, vol.Required("variables"): {_text: object}})),
    ("repeat", vol.Schema({
        **_COMMON,
        vol.Required("repeat"): vol.All({
            vol.Optional("count"): vol.Any(schemas.positive_int, _text),
            vol.Optional("while"): CONDITIONS,
            vol.Optional("until"): CONDITIONS,
            vol.Required("sequence"): SEQUENCE,
        }, _one_repeat_kind),
    })),
    ("stop", vol.Schema({
        **_COMMON, vol.Required("stop"): _text, vol.Optional("error", default=False): schemas.boolean,
        vol.Optional("response_variable"): _text,
    })),
    ("sequence", vol.Schema({**_COMMON, vol.Required("sequence"): SEQUENCE})),
)  # fmt: skip


AUTOMATION_SCHEMA = vol.Schema(
    {
        vol.Required("id"): vol.All(_text, schemas.slug),
        vol.Optional("alias"): _text,
        vol.Optional("description", default=""): _text,
        vol.Optional("mode", default="single"): vol.In(MODES),
        vol.Optional("max", default=DEFAULT_MAX): schemas.positive_int,
        vol.Optional("max_exceeded", default="warning"): vol.All(_text, vol.Lower, vol.In(MAX_EXCEEDED)),
        vol.Optional("initial_state"): schemas.boolean,
        vol.Optional("variables", default=dict): {_text: object},
        vol.Optional("stored_traces", default=DEFAULT_STORED_TRACES): schemas.positive_int,
        vol.Required("triggers"): TRIGGERS,
        vol.Optional("conditions", default=list): CONDITIONS,
        vol.Required("actions"): SEQUENCE,
    }
)


def validate_actions(actions: Any) -> list[Any]:
    """A sequence of actions in either key generation, normalised and validated (for scripts and tests)."""
    return list(SEQUENCE(normalise_actions(actions)))


def validate_automation(raw: Any, *, file: str | None = None, line: int | None = None) -> AutomationConfig:
    """One automation from YAML; raises ConfigErrors located by file and line."""
    data = validate(DOMAIN, AUTOMATION_SCHEMA, normalise(raw), file=file, line=line)
    return AutomationConfig(
        id=str(data["id"]),
        alias=str(data.get("alias") or data["id"]),
        description=str(data["description"]),
        mode=data["mode"],
        max=data["max"],
        max_exceeded=data["max_exceeded"],
        initial_state=data.get("initial_state"),
        variables=data["variables"],
        stored_traces=data["stored_traces"],
        triggers=tuple(data["triggers"]),
        conditions=tuple(data["conditions"]),
        actions=tuple(data["actions"]),
        file=file,
        line=line,
        data=data,
    )


def check_templates(engine: Any, config: AutomationConfig) -> list[ConfigError]:
    """Compile every template of an automation once; a syntax error becomes a ConfigError at its line."""
    errors: list[ConfigError] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, str):
            if is_template(value):
                try:
                    engine.compile(str(value), where="")  # plain str: the ConfigError has the line
                except TemplateError as err:
                    errors.append(
                        ConfigError(
                            _template_message(err), file=getattr(value, "file", None) or config.file,
                            line=getattr(value, "line", None) or config.line, path=path, domain=DOMAIN,
                        )
                    )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, (*path, str(key)))
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(config.data, (f"automation '{config.id}'",))
    return errors


def _template_message(err: TemplateError) -> str:
    text = str(err)
    return text.removeprefix(": ")


def read_automations(config_dir: Path | str, *, engine: Any = None) -> LoadedAutomations:
    """Read `<config_dir>/automations.yaml`: the valid automations, every error, and whether the file parsed."""
    directory = Path(config_dir)
    path = directory / AUTOMATIONS_FILE
    if not path.exists():
        return LoadedAutomations([], [], True)
    data, load_errors = load_yaml_document(path, config_dir=directory)
    if data is None and load_errors:
        return LoadedAutomations([], list(load_errors), False)
    if data is None:
        return LoadedAutomations([], [], True)  # an empty file: no automations
    if isinstance(data, dict):
        data = _like(NodeList(), [data])  # one automation written as a mapping
        data.file, data.line = AUTOMATIONS_FILE, 1
    if not isinstance(data, list):
        error = ConfigError("automations.yaml must be a list of automations", file=AUTOMATIONS_FILE, line=1)
        return LoadedAutomations([], [error], False)
    errors: list[ConfigError] = list(load_errors)
    configs: list[AutomationConfig] = []
    seen: dict[str, AutomationConfig] = {}
    for index, raw in enumerate(data):
        line = data.line_of(index) if isinstance(data, NodeList) else None
        file = getattr(data, "file", None) or AUTOMATIONS_FILE
        if first_failure(raw) is not None:
            continue  # a !secret or !include in it did not resolve: already reported
        try:
            config = validate_automation(raw, file=file, line=line)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        if config.id in seen:
            first = seen[config.id]
            errors.append(
                ConfigError(
                    f"duplicate automation id '{config.id}' (first at line {first.line}); this one is ignored",
                    file=file, line=line, path=(DOMAIN, "id"), domain=DOMAIN,
                )
            )
            continue
        if engine is not None:
            template_errors = check_templates(engine, config)
            if template_errors:
                errors.extend(template_errors)
                continue
        seen[config.id] = config
        configs.append(config)
    return LoadedAutomations(configs, errors, True)


def load_automations(config_dir: Path | str, *, engine: Any = None) -> tuple[list[AutomationConfig], list[ConfigError]]:
    """The valid automations of `<config_dir>/automations.yaml` and every error (a missing file: none)."""
    loaded = read_automations(config_dir, engine=engine)
    return loaded.configs, loaded.errors


def node_line(value: Any) -> int | None:
    """The line a loaded value (or the first located thing inside it) came from."""
    line = getattr(value, "line", None)
    if line is not None:
        return int(line)
    if isinstance(value, Mapping):
        values: Any = value.values()
    elif isinstance(value, (list, tuple)):
        values = value
    else:
        return None
    for item in values:
        found = node_line(item)
        if found is not None:
            return found
    return None


__all__ = [
    "AUTOMATIONS_FILE",
    "AutomationConfig",
    "LoadedAutomations",
    "check_templates",
    "load_automations",
    "node_line",
    "normalise",
    "read_automations",
    "validate_actions",
    "validate_automation",
]
