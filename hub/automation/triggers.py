"""Triggers: bus listeners and clock timers that call an automation's action when they fire.

`attach_triggers` attaches every enabled trigger of an automation and returns one `detach()`
that removes every listener and timer, pending `for:` timers included. The action is called
synchronously as `action({"trigger": {...}}, context)` and should return None: the engine
starts its run tasks itself. (Should it return a coroutine anyway, that is started with
`hub.create_task`, so it is not lost.) An action that raises is logged and the trigger stays.

The variables under "trigger" are always `platform`, `id` (the config's `id`, else the index),
`idx` and `description`; state triggers add `entity_id`, `from_state`, `to_state`, `for`; time
triggers add `now`; event triggers add `event`. The context handed on is the causing event's
(the state change or the event); time triggers have none.

All waiting goes through `hub.clock`, and time of day is the hub's `time_zone`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

from ..bus import EVENT_STATE_CHANGED, Context, Event
from ..clock import Repeating, Timer
from ..states import STATE_UNAVAILABLE, STATE_UNKNOWN, State, valid_entity_id
from .conditions import NumericTest, compile_duration, entity_ids, value_matches
from .errors import AutomationError, ConditionError, TemplateError
from .template import TemplateEngine, compile_complex, is_template
from .timeparse import parse_duration, parse_time

_LOGGER = logging.getLogger(__name__)

TriggerAction = Callable[[dict[str, Any], Context | None], Any]
Variables = Mapping[str, Any]


async def attach_triggers(
    hub: Any,
    configs: Sequence[Mapping[str, Any]],
    action: TriggerAction,
    *,
    engine: TemplateEngine,
    name: str,
    variables: Mapping[str, Any] | None = None,
) -> Callable[[], None]:
    """Attach every trigger not marked `enabled: false`; returns detach() (safe to call twice).

    A trigger that cannot be attached raises AutomationError, after detaching the ones before it.
    """
    attached: list[_Trigger] = []
    try:
        for index, config in enumerate(configs):
            if config.get("enabled", True) is False:
                continue
            kind = _kind(config)
            trigger_type = _TRIGGERS.get(kind)
            where = f"automation {name!r} trigger {index}"
            if trigger_type is None:
                raise AutomationError(f"{where}: unknown trigger type {kind!r} (known: {', '.join(sorted(_TRIGGERS))})")
            try:
                trigger = trigger_type(hub, config, index, action, engine, name, dict(variables or {}))
                attached.append(trigger)
                trigger.attach()
            except (KeyError, ValueError, TypeError) as exc:
                text = f"{exc.args[0]!r} is required" if isinstance(exc, KeyError) else str(exc)
                raise AutomationError(f"{where}: {kind} trigger: {text}") from None
    except BaseException:
        for trigger in attached:
            trigger.detach()
        raise

    detached = False

    def detach() -> None:
        nonlocal detached
        if detached:
            return
        detached = True
        for trigger in attached:
            trigger.detach()

    return detach


def describe_trigger(config: Mapping[str, Any]) -> str:
    """A short human description for traces, e.g. "state of sensor.x to 'on' for 0:10:00"."""
    try:
        return _describe(config)
    except (TypeError, ValueError, KeyError, AttributeError):  # a description must not stop an automation
        return f"{_kind(config)} trigger"


def _describe(config: Mapping[str, Any]) -> str:
    kind = _kind(config)
    if kind in ("state", "numeric_state"):
        ids = ", ".join(_safe_ids(config.get("entity_id")))
        text = f"{'numeric state' if kind == 'numeric_state' else 'state'} of {ids}"
        if config.get("attribute"):
            text = f"attribute {config['attribute']} of {ids}"
        for key in ("from", "to", "above", "below"):
            if config.get(key) is not None:
                text += f" {key} {_show(config[key])}"
        if config.get("for") is not None:
            text += f" for {_show_duration(config['for'])}"
        return text
    if kind == "time":
        return "time " + ", ".join(_show_time(at) for at in _as_list(config.get("at")))
    if kind == "time_pattern":
        fields = [f"{key}={config[key]}" for key in ("hours", "minutes", "seconds") if config.get(key) is not None]
        return "time pattern " + " ".join(fields)
    if kind == "event":
        text = "event " + ", ".join(str(t) for t in _as_list(config.get("event_type")))
        data = config.get("event_data")
        if data:
            text += f" with {dict(data) if isinstance(data, Mapping) else data!r}"
        return text
    return f"{kind} trigger"


class _Trigger:
    """One attached trigger; subclasses listen or schedule in `attach` and fire through `_fire`."""

    platform = ""

    def __init__(
        self,
        hub: Any,
        config: Mapping[str, Any],
        index: int,
        action: TriggerAction,
        engine: TemplateEngine,
        name: str,
        variables: dict[str, Any],
    ) -> None:
        self.hub = hub
        self.config = config
        self.engine = engine
        self.name = name
        self.variables = variables
        self.where = f"automation {name!r} trigger {index}"
        self._action = action
        self._base = {
            "platform": self.platform,
            "id": str(config["id"]) if config.get("id") is not None else str(index),
            "idx": str(index),
            "description": describe_trigger(config),
        }
        self._cleanups: list[Callable[[], None]] = []

    def attach(self) -> None:
        raise NotImplementedError

    def detach(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()

    def _trigger_vars(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        return {**self._base, **extra}

    def _fire(self, extra: Mapping[str, Any], context: Context | None) -> None:
        try:
            result = self._action({"trigger": self._trigger_vars(extra)}, context)
            if inspect.isawaitable(result):
                self.hub.create_task(_await(result), f"automation {self.name} trigger")
        except Exception:  # one failing action must not take the trigger (or the bus) down
            _LOGGER.exception("Automation %s: the action of trigger %s raised", self.name, self._base["id"])


class _StateTrigger(_Trigger):
    platform = "state"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        config = self.config
        self._ids = entity_ids(config["entity_id"])
        self._attribute: str | None = config.get("attribute")
        self._from = _matcher(config, "from", "not_from")
        self._to = _matcher(config, "to", "not_to")
        # No from/to at all: any change counts, attribute-only changes too (with `attribute:`,
        # any change of that attribute). Naming either, even as null, watches only the value.
        self._any_change = not any(key in config for key in ("from", "to", "not_from", "not_to"))
        self._to_given = config.get("to") is not None or config.get("not_to") is not None
        self._for = compile_duration(self.engine, config.get("for"), where=self.where)
        self._pending: dict[str, tuple[Timer, Any]] = {}

    def attach(self) -> None:
        ids = set(self._ids)
        self._cleanups.append(
            self.hub.bus.listen(EVENT_STATE_CHANGED, self._on_change, event_filter=lambda d: d["entity_id"] in ids)
        )
        self._cleanups.append(lambda: _cancel_all(self._pending))

    def _value(self, state: State | None) -> Any:
        if state is None:
            return None
        return state.state if self._attribute is None else state.attributes.get(self._attribute)

    def _on_change(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        old: State | None = event.data["old_state"]
        new: State | None = event.data["new_state"]
        old_value, new_value = self._value(old), self._value(new)
        pending = self._pending.get(entity_id)
        if pending is not None and not self._still_holds(pending[1], new, new_value):
            _cancel(self._pending, entity_id)
        if new is None:
            return
        if self._any_change and self._attribute is None:
            matched = True
        else:
            matched = old_value != new_value and self._from(old_value) and self._to(new_value)
        if not matched:
            return
        extra = {"entity_id": entity_id, "from_state": old, "to_state": new, "for": None}
        if self._for is None:
            self._fire(extra, event.context)
            return
        _cancel(self._pending, entity_id)
        _start_for(self, self._for, self._pending, entity_id, extra, old_value, event.context)

    def _still_holds(self, value_at_match: Any, new: State | None, new_value: Any) -> bool:
        """Whether a pending `for:` survives this change (a change that matches anew restarts it anyway)."""
        if new is None:
            return False
        if self._to_given:
            return self._to(new_value)
        if self.config.get("from") is not None or self.config.get("not_from") is not None:
            return bool(new_value != value_at_match)  # `from` without `to`: until it goes back
        return True


class _NumericStateTrigger(_Trigger):
    platform = "numeric_state"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._ids = entity_ids(self.config["entity_id"])
        self._test = NumericTest(self.hub, self.config, self.engine, self.where)
        self._for = compile_duration(self.engine, self.config.get("for"), where=self.where)
        self._pending: dict[str, tuple[Timer, Any]] = {}
        self._armed: set[str] = set()

    def attach(self) -> None:
        # Armed = out of range: only an entity that is out of range can cross into it. One that is
        # already in range when the automation starts fires only after leaving and coming back.
        for entity_id in self._ids:
            if not self._test.check(entity_id, None, self.variables)[0]:
                self._armed.add(entity_id)
        ids = set(self._ids)
        self._cleanups.append(
            self.hub.bus.listen(EVENT_STATE_CHANGED, self._on_change, event_filter=lambda d: d["entity_id"] in ids)
        )
        self._cleanups.append(lambda: _cancel_all(self._pending))

    def _on_change(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        new: State | None = event.data["new_state"]
        in_range = new is not None and self._test.check(entity_id, new, self.variables)[0]
        if not in_range:
            self._armed.add(entity_id)
            _cancel(self._pending, entity_id)
            return
        if entity_id not in self._armed:
            return  # still in range: no new crossing (a running `for:` timer keeps running)
        self._armed.discard(entity_id)
        extra = {"entity_id": entity_id, "from_state": event.data["old_state"], "to_state": new, "for": None}
        if self._for is None:
            self._fire(extra, event.context)
        else:
            _start_for(self, self._for, self._pending, entity_id, extra, None, event.context)


def _start_for(
    trigger: _Trigger,
    duration_of: Callable[[Variables], timedelta],
    pending: dict[str, tuple[Timer, Any]],
    entity_id: str,
    extra: dict[str, Any],
    value_at_match: Any,
    context: Context | None,
) -> None:
    """Fire after the trigger's `for:` unless cancelled; then to_state is the state at that moment."""
    try:
        duration: timedelta = duration_of({**trigger.variables, "trigger": trigger._trigger_vars(extra)})
    except (ConditionError, TemplateError) as exc:
        _LOGGER.warning("Automation %s: %s", trigger.name, exc)
        return
    extra = {**extra, "for": duration}

    def expired() -> None:
        pending.pop(entity_id, None)
        trigger._fire({**extra, "to_state": trigger.hub.states.get(entity_id)}, context)

    if duration <= timedelta(0):
        expired()
        return
    pending[entity_id] = (trigger.hub.clock.call_later(duration.total_seconds(), expired), value_at_match)


class _TimeTrigger(_Trigger):
    platform = "time"

    def attach(self) -> None:
        ats = _as_list(self.config["at"])
        if not ats:
            raise ValueError("'at' is empty")
        for at in ats:
            if isinstance(at, str) and valid_entity_id(at.strip()):
                self._track_entity(at.strip())
                continue
            handle = self.hub.clock.at_time_of_day(parse_time(at), self._fire_now, tz=self.hub.time_zone)
            self._cleanups.append(handle.cancel)

    def _fire_now(self) -> None:
        self._fire({"now": self.hub.clock.now(self.hub.time_zone)}, None)

    def _track_entity(self, entity_id: str) -> None:
        """`at: sensor.x`: a timestamp state fires once at that moment; a time-of-day state daily."""
        current: list[Timer | Repeating] = []

        def schedule(_: Event | None = None) -> None:
            cancel()
            state = self.hub.states.get(entity_id)
            if state is None or state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
                return
            try:
                current.append(
                    self.hub.clock.at_time_of_day(parse_time(state.state), self._fire_now, tz=self.hub.time_zone)
                )
                return
            except ValueError:
                pass
            try:
                moment = datetime.fromisoformat(state.state)
            except ValueError:
                _LOGGER.warning("Automation %s: %s is %r, not a time", self.name, entity_id, state.state)
                return
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.hub.time_zone)
            delay = moment.timestamp() - self.hub.clock.time()
            if delay > 0:
                current.append(self.hub.clock.call_later(delay, self._fire_now))

        self._cleanups.append(
            self.hub.bus.listen(EVENT_STATE_CHANGED, schedule, event_filter=lambda d: d["entity_id"] == entity_id)
        )
        def cancel() -> None:
            for handle in current:
                handle.cancel()
            current.clear()

        self._cleanups.append(cancel)
        schedule()


class _TimePatternTrigger(_Trigger):
    platform = "time_pattern"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        raw = {key: self.config.get(key) for key in ("hours", "minutes", "seconds")}
        if all(value is None for value in raw.values()):
            raise ValueError("give hours, minutes or seconds")
        # Larger units given, smaller ones left out: the smaller ones are zero ("hours: 7" is 07:00:00).
        if raw["minutes"] is None and raw["hours"] is not None:
            raw["minutes"] = 0
        if raw["seconds"] is None and raw["minutes"] is not None:
            raw["seconds"] = 0
        self._hours = _pattern(raw["hours"], 23, "hours")
        self._minutes = _pattern(raw["minutes"], 59, "minutes")
        self._seconds = _pattern(raw["seconds"], 59, "seconds")
        self._timer: Timer | None = None

    def attach(self) -> None:
        self._schedule(self.hub.clock.now(self.hub.time_zone))
        self._cleanups.append(self._cancel)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, after: datetime) -> None:
        target = next_pattern_match(after, self._hours, self._minutes, self._seconds)
        self._timer = self.hub.clock.call_later(target.timestamp() - self.hub.clock.time(), self._tick, target)

    def _tick(self, target: datetime) -> None:
        now = self.hub.clock.now(self.hub.time_zone)
        # A real clock may wake a hair early; never let that match the same second twice.
        if now.timestamp() < target.timestamp():
            now = target
        self._schedule(now)
        self._fire({"now": now}, None)


def next_pattern_match(
    after: datetime, hours: Sequence[int], minutes: Sequence[int], seconds: Sequence[int]
) -> datetime:
    """The first whole second strictly after `after` (aware, local) whose wall time fits the pattern."""
    tz = after.tzinfo
    start = after.replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
    limit = after.timestamp()
    for offset in range(3):
        day = start.date() + timedelta(days=offset)
        first = offset == 0
        for hour in hours:
            if first and hour < start.hour:
                continue
            same_hour = first and hour == start.hour
            for minute in minutes:
                if same_hour and minute < start.minute:
                    continue
                same_minute = same_hour and minute == start.minute
                for second in seconds:
                    if same_minute and second < start.second:
                        continue
                    candidate = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)
                    # Normalise a wall time that a DST jump skips.
                    candidate = candidate.astimezone(UTC).astimezone(tz)
                    if candidate.timestamp() > limit:
                        return candidate
    raise AssertionError("unreachable: every pattern matches within two days")


class _EventTrigger(_Trigger):
    platform = "event"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._types = [str(t) for t in _as_list(self.config["event_type"])]
        if not self._types:
            raise ValueError("'event_type' is empty")
        data = self.config.get("event_data") or {}
        if not isinstance(data, Mapping):
            raise TypeError("event_data must be a mapping")
        self._templated = _has_template(data)
        self._data = compile_complex(self.engine, data, where=self.where)
        self._fixed = None if self._templated else self._data(self.variables)

    def attach(self) -> None:
        fixed = self._fixed
        event_filter = None if fixed is None else (lambda data: _subset(fixed, data))
        for event_type in self._types:
            self._cleanups.append(self.hub.bus.listen(event_type, self._on_event, event_filter=event_filter))

    def _on_event(self, event: Event) -> None:
        if self._templated:
            try:
                wanted = self._data(self.variables)
            except TemplateError as exc:
                _LOGGER.warning("Automation %s: event_data: %s", self.name, exc)
                return
            if not _subset(wanted, event.data):
                return
        context = event.context
        self._fire(
            {
                "event": {
                    "event_type": event.event_type,
                    "data": dict(event.data),
                    "origin": event.origin.value,
                    "time_fired": event.time_fired,
                    "context": context.as_dict(),
                    "context_id": context.id,
                }
            },
            context,
        )


_TRIGGERS: dict[str, type[_Trigger]] = {
    "state": _StateTrigger,
    "numeric_state": _NumericStateTrigger,
    "time": _TimeTrigger,
    "time_pattern": _TimePatternTrigger,
    "event": _EventTrigger,
}


# -- helpers ------------------------------------------------------------------------------


def _kind(config: Mapping[str, Any]) -> str:
    """The trigger type: `trigger:` (new key) or `platform:` (old key, in case it was not normalised)."""
    return str(config.get("trigger", config.get("platform")))


def _matcher(config: Mapping[str, Any], key: str, not_key: str) -> Callable[[Any], bool]:
    wanted = config.get(key)
    unwanted = config.get(not_key)
    wanted_list = None if wanted is None else _as_list(wanted)
    unwanted_list = [] if unwanted is None else _as_list(unwanted)

    def matches(value: Any) -> bool:
        if wanted_list is not None and (value is None or not value_matches(value, wanted_list)):
            return False
        return not (unwanted_list and value is not None and value_matches(value, unwanted_list))

    return matches


def _pattern(value: Any, highest: int, what: str) -> list[int]:
    """'*' -> every value, 'N' -> [N], '/N' -> every Nth from 0."""
    if value is None or (isinstance(value, str) and value.strip() == "*"):
        return list(range(highest + 1))
    text = str(value).strip()
    try:
        if text.startswith("/"):
            step = int(text[1:])
            if step <= 0:
                raise ValueError
            return list(range(0, highest + 1, step))
        number = int(text)
    except ValueError:
        raise ValueError(f"{what}: expected '*', a number or '/N', not {value!r}") from None
    if not 0 <= number <= highest:
        raise ValueError(f"{what}: {number} is out of range 0-{highest}")
    return [number]


def _subset(wanted: Any, actual: Any) -> bool:
    """Whether `actual` contains `wanted`: every key of a mapping (recursively), other values equal."""
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _subset(value, actual[key]) for key, value in wanted.items()
        )
    return bool(wanted == actual)


def _has_template(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return is_template(value)


def _cancel(pending: dict[str, tuple[Timer, Any]], entity_id: str) -> None:
    entry = pending.pop(entity_id, None)
    if entry is not None:
        entry[0].cancel()


def _cancel_all(pending: dict[str, tuple[Timer, Any]]) -> None:
    for timer, _ in pending.values():
        timer.cancel()
    pending.clear()


async def _await(awaitable: Any) -> None:
    await awaitable


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _safe_ids(value: Any) -> list[str]:
    try:
        return entity_ids(value)
    except ValueError:
        return ["?"]


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(str(value)) if not isinstance(value, bool) else repr("on" if value else "off")


def _show_duration(value: Any) -> str:
    try:
        return str(parse_duration(value))
    except ValueError:
        return str(value)


def _show_time(value: Any) -> str:
    return value.isoformat(timespec="minutes") if isinstance(value, dtime) else str(value)
