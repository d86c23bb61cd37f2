"""Scripts: an automation's action sequence, compiled once, run as tasks under a run mode.

Every action is compiled when the automation loads (templates, conditions, durations) into a
step that knows its path in the YAML (`actions/2/choose/0/sequence/1`). A run walks its steps,
recording each in the run's `Trace`. All waiting goes through the hub's clock, so tests run
hours of delays on `ManualClock` in milliseconds. Service calls and events carry the run's
context, whose parent is the context of what triggered the run.

Run modes: `single` drops a run while one is going, `restart` cancels the running one (its trace
says "restarted"), `queued` runs one after another with at most `max` waiting, `parallel` runs at
most `max` at once. A dropped run is logged at the `max_exceeded` level (`silent`: not at all).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..bus import EVENT_STATE_CHANGED, Context, Event
from .conditions import Condition, compile_condition
from .errors import AutomationError, ScriptError, TemplateError
from .template import TemplateEngine, compile_complex, is_template, result_as_boolean
from .timeparse import parse_duration
from .trace import CANCELLED, CONDITION_FAILED, ERROR, FINISHED, RESTARTED, STOPPED, Trace
from .triggers import attach_triggers

_LOGGER = logging.getLogger(__name__)

MAX_REPEAT = 10_000
_LOG_LEVELS = {"critical": logging.CRITICAL, "fatal": logging.CRITICAL, "error": logging.ERROR,
               "warning": logging.WARNING, "info": logging.INFO, "debug": logging.DEBUG}  # fmt: skip

Variables = dict[str, Any]
Render = Callable[[Mapping[str, Any]], Any]
TaskFactory = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class _Stop(Exception):
    """Ends a run early: `stop:`, a false `condition:`, a wait that timed out without continuing."""

    def __init__(self, state: str, reason: str, result: Any = None) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.result = result


@dataclass(frozen=True, slots=True)
class _Step:
    """One compiled action."""

    path: str
    action: str
    alias: str | None
    enabled: bool
    continue_on_error: bool
    run: Callable[[_Run], Awaitable[Any]]


@dataclass(eq=False)
class _Run:
    """One run in progress: its variables, context, trace and task."""

    variables: Variables
    context: Context
    trace: Trace
    task: asyncio.Task[Any] | None = None
    restarted: bool = False
    turn: asyncio.Future[None] | None = None  # queued: set when it is this run's turn
    waiting_for: list[asyncio.Task[Any]] = field(default_factory=list)  # restart: the runs being cancelled


class Script:
    """A compiled action sequence with a run mode; each run is a task made by `create_task`."""

    def __init__(
        self,
        hub: Any,
        actions: Sequence[Mapping[str, Any]],
        *,
        engine: TemplateEngine,
        name: str,
        create_task: TaskFactory | None = None,
        mode: str = "single",
        max_runs: int = 10,
        max_exceeded: str = "warning",
        on_change: Callable[[], None] | None = None,
        on_done: Callable[[Trace], None] | None = None,
    ) -> None:
        """`actions` are validated configs (config.validate_actions); `name` names the automation in messages."""
        self.hub = hub
        self.engine = engine
        self.name = name
        self.label = f"automation '{name}'"
        self.mode = mode
        self.max_runs = max_runs
        self.max_exceeded = max_exceeded
        self._create_task = create_task or hub.create_task
        self._on_change = on_change or (lambda: None)
        self._on_done = on_done or (lambda trace: None)
        self._runs: list[_Run] = []
        self._queue: collections.deque[_Run] = collections.deque()
        self._active: _Run | None = None  # queued mode: the run whose turn it is
        self.sequence = self._compile_sequence(actions, "actions")

    # -- runs ------------------------------------------------------------------------------

    @property
    def current(self) -> int:
        """Runs going or waiting their turn."""
        return len(self._runs)

    def start(self, variables: Mapping[str, Any], *, context: Context, trace: Trace) -> asyncio.Task[Any] | None:
        """Start a run under the run mode; None when the mode drops it (logged at `max_exceeded`)."""
        why = self._full()
        if why is not None:
            level = _LOG_LEVELS.get(self.max_exceeded)
            if level is not None:
                _LOGGER.log(level, "%s: %s mode: %s; this trigger is dropped", self.label, self.mode, why)
            return None
        run = _Run(dict(variables), context, trace)
        if self.mode == "restart":
            for old in self._runs:
                if old.task is not None and not old.task.done():
                    old.restarted = True
                    old.task.cancel()
                    run.waiting_for.append(old.task)
        elif self.mode == "queued":
            if self._active is None:
                self._active = run
            else:
                run.turn = asyncio.get_running_loop().create_future()
                self._queue.append(run)
        self._runs.append(run)
        run.task = self._create_task(self._execute(run), f"{self.name} run {trace.run_id}")
        # A callback, not a `finally`: a task cancelled before it first ran never runs its body.
        run.task.add_done_callback(lambda _: self._finished(run))
        self._on_change()
        return run.task

    async def run(self, variables: Mapping[str, Any], *, context: Context, trace: Trace) -> Trace:
        """Start a run and wait for its end; the trace says how it ended (dropped: unchanged)."""
        task = self.start(variables, context=context, trace=trace)
        if task is not None:
            await asyncio.wait([task])
        return trace

    async def stop(self) -> None:
        """Cancel every run and wait until they have ended."""
        tasks = [r.task for r in self._runs if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _full(self) -> str | None:
        """Why the run mode has no room for another run, or None when it has."""
        if self.mode == "single" and self._runs:
            return "already running"
        if self.mode == "parallel" and len(self._runs) >= self.max_runs:
            return f"{len(self._runs)} runs already going (max {self.max_runs})"
        if self.mode == "queued" and self._active is not None and len(self._queue) >= self.max_runs:
            return f"{len(self._queue)} runs already queued (max {self.max_runs})"
        return None

    async def _execute(self, run: _Run) -> None:
        trace = run.trace
        try:
            if run.waiting_for:
                await asyncio.wait(run.waiting_for)
            if run.turn is not None:
                await run.turn
            await self._run_sequence(run, self.sequence)
        except _Stop as stop:
            trace.finish(stop.state, self._now(), stop.reason if stop.state == ERROR else None)
        except asyncio.CancelledError:
            trace.finish(RESTARTED if run.restarted else CANCELLED, self._now())
            raise
        except AutomationError as err:
            trace.finish(ERROR, self._now(), str(err))
        except Exception as err:
            _LOGGER.exception("%s: run %s failed", self.label, trace.run_id)
            trace.finish(ERROR, self._now(), f"{self.label}: {type(err).__name__}: {err}")
        else:
            trace.finish(FINISHED, self._now())

    def _finished(self, run: _Run) -> None:
        if run not in self._runs:
            return
        run.trace.finish(RESTARTED if run.restarted else CANCELLED, self._now())  # if it never started
        self._runs.remove(run)
        if run in self._queue:
            self._queue.remove(run)
        if self._active is run:
            self._active = None
            while self._queue:
                following = self._queue.popleft()
                if following.turn is not None and not following.turn.done():
                    self._active = following
                    following.turn.set_result(None)
                    break
        try:
            self._on_done(run.trace)
        finally:
            self._on_change()

    def _now(self) -> float:
        return float(self.hub.clock.time())

    # -- walking a sequence ----------------------------------------------------------------

    async def _run_sequence(self, run: _Run, steps: Sequence[_Step]) -> None:
        trace = run.trace
        for step in steps:
            if not step.enabled:
                index = trace.begin_step(step.path, step.action, step.alias, self._now())
                trace.end_step(index, self._now(), result={"enabled": False})
                continue
            index = trace.begin_step(step.path, step.action, step.alias, self._now())
            try:
                result = await step.run(run)
            except _Stop as stop:
                trace.end_step(index, self._now(), result=stop.result)
                raise
            except asyncio.CancelledError:
                trace.end_step(index, self._now(), error="cancelled")
                raise
            except Exception as err:
                message = str(err) if isinstance(err, AutomationError) else f"{type(err).__name__}: {err}"
                trace.end_step(index, self._now(), error=message)
                if not step.continue_on_error:
                    raise
                _LOGGER.info("%s: %s failed, continuing: %s", self.label, step.path, message)
            else:
                trace.end_step(index, self._now(), result=result)

    def _check(self, run: _Run, conditions: Sequence[tuple[str, Condition]]) -> bool:
        """All conditions hold (each outcome goes into the trace); stops at the first that does not."""
        for path, condition in conditions:
            outcome = condition.explain(run.variables)
            run.trace.add_condition(path, outcome.result, outcome.reason)
            if not outcome.result:
                return False
        return True

    # -- compiling -------------------------------------------------------------------------

    def _compile_sequence(self, actions: Sequence[Mapping[str, Any]], path: str) -> list[_Step]:
        return [self._compile_action(action, f"{path}/{index}") for index, action in enumerate(actions)]

    def _compile_conditions(self, configs: Sequence[Any], path: str) -> list[tuple[str, Condition]]:
        return [
            (f"{path}/{index}", compile_condition(self.hub, config, engine=self.engine, where=self.label))
            for index, config in enumerate(configs)
        ]

    def _template(self, value: Any) -> Render:
        """A value that may hold templates (alone or inside mappings and lists) -> a render function."""
        render = compile_complex(self.engine, value, where=self.label)
        return lambda variables: render(variables)

    def _compile_action(self, config: Mapping[str, Any], path: str) -> _Step:
        for key, compiler in _COMPILERS:
            if key in config:
                kind, run = compiler(self, config, path)
                return _Step(
                    path, kind, _text_or_none(config.get("alias")), bool(config.get("enabled", True)),
                    bool(config.get("continue_on_error", False)), run,
                )  # fmt: skip
        raise ScriptError(f"{self.label}: {path}: unknown action {dict(config)!r}")

    def _service(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        name = self._template(config["action"])
        data = self._template(config.get("data") or {})
        target = self._template(config.get("target") or {})
        response_variable = config.get("response_variable")

        async def run(r: _Run) -> Any:
            service_name = str(name(r.variables)).strip()
            domain, _, service = service_name.partition(".")
            if not domain or not service:
                raise ScriptError(f"{self.label}: {path}: {service_name!r} is not a service (domain.service)")
            payload = dict(data(r.variables) or {})
            for key, value in dict(target(r.variables) or {}).items():
                payload.setdefault(key, value)
            try:
                response = await self.hub.services.call(
                    domain, service, payload, context=r.context, return_response=response_variable is not None
                )
            except AutomationError:
                raise
            except Exception as err:
                raise ScriptError(f"{self.label}: {path}: {service_name} failed: {err}") from err
            if response_variable is not None:
                r.variables[str(response_variable)] = response
            return {"params": {"domain": domain, "service": service, "data": payload}, "response": response}

        return service_name_kind(config["action"]), run

    def _event(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        event_type = self._template(config["event"])
        event_data = self._template(config.get("event_data") or {})

        async def run(r: _Run) -> Any:
            kind = str(event_type(r.variables))
            data = dict(event_data(r.variables) or {})
            self.hub.bus.fire(kind, data, context=r.context)
            return {"event": kind, "event_data": data}

        return "event", run

    def _duration(self, value: Any, path: str) -> Callable[[Mapping[str, Any]], float]:
        """Seconds of a delay or timeout; templates render when the action runs."""
        if isinstance(value, timedelta):
            seconds = value.total_seconds()
            return lambda variables: seconds
        render = self._template(value)

        def rendered(variables: Mapping[str, Any]) -> float:
            result = render(variables)
            try:
                return parse_duration(result).total_seconds()
            except ValueError as err:
                raise ScriptError(f"{self.label}: {path}: {err}") from None

        if not is_template(value) and not isinstance(value, Mapping):
            fixed = rendered({})
            return lambda variables: fixed
        return rendered

    def _delay(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        seconds_of = self._duration(config["delay"], path)

        async def run(r: _Run) -> Any:
            seconds = seconds_of(r.variables)
            await self.hub.clock.sleep(seconds)
            return {"delay": seconds, "done": True}

        return "delay", run

    def _timeout(self, config: Mapping[str, Any], path: str) -> Callable[[Mapping[str, Any]], float | None]:
        if config.get("timeout") is None:
            return lambda variables: None
        return self._duration(config["timeout"], path)

    async def _wait(self, r: _Run, future: asyncio.Future[Any], timeout: float | None) -> tuple[Any, float | None]:
        """Wait for `future` at most `timeout` clock seconds; (its result or _TIMED_OUT, seconds remaining)."""
        clock = self.hub.clock
        started = clock.monotonic()
        timer = None

        def timed_out() -> None:
            if not future.done():
                future.set_result(_TIMED_OUT)

        if timeout is not None:
            timer = clock.call_later(timeout, timed_out)
        try:
            result = await future
        finally:
            if timer is not None:
                timer.cancel()
        remaining = None if timeout is None else max(0.0, timeout - (clock.monotonic() - started))
        return result, remaining

    def _wait_for_trigger(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        triggers = list(config["wait_for_trigger"])
        timeout_of = self._timeout(config, path)
        keep_going = bool(config.get("continue_on_timeout", True))

        async def run(r: _Run) -> Any:
            timeout = timeout_of(r.variables)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def fired(variables: dict[str, Any], context: Context | None) -> None:
                if not future.done():
                    future.set_result(variables.get("trigger"))

            detach = await attach_triggers(
                self.hub, triggers, fired, engine=self.engine, name=self.name, variables=r.variables
            )
            try:
                result, remaining = await self._wait(r, future, timeout)
            finally:
                detach()
            return self._waited(r, result, remaining, keep_going, "trigger")

        return "wait_for_trigger", run

    def _wait_template(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        template = self.engine.compile(config["wait_template"], where=self.label)
        timeout_of = self._timeout(config, path)
        keep_going = bool(config.get("continue_on_timeout", True))

        async def run(r: _Run) -> Any:
            timeout = timeout_of(r.variables)
            if result_as_boolean(template.render(r.variables)):
                return self._waited(r, True, timeout, keep_going, "completed")
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def changed(event: Event) -> None:
                if future.done():
                    return
                try:
                    if result_as_boolean(template.render(r.variables)):
                        future.set_result(True)
                except TemplateError as err:
                    future.set_exception(err)

            unlisten = self.hub.bus.listen(EVENT_STATE_CHANGED, changed)
            try:
                result, remaining = await self._wait(r, future, timeout)
            finally:
                unlisten()
            return self._waited(r, result, remaining, keep_going, "completed")

        return "wait_template", run

    def _waited(self, r: _Run, result: Any, remaining: float | None, keep_going: bool, key: str) -> Any:
        """Set `wait` after a wait; a timeout without `continue_on_timeout` stops the run."""
        if result is _TIMED_OUT:
            r.variables["wait"] = {key: None if key == "trigger" else False, "remaining": 0.0}
            outcome = {"timeout": True, "remaining": 0.0}
            if not keep_going:
                raise _Stop(STOPPED, "timed out waiting", outcome)
            return outcome
        r.variables["wait"] = {key: result, "remaining": remaining}
        return {"timeout": False, "remaining": remaining, key: result}

    def _choose(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        options = [
            (
                self._compile_conditions(option.get("conditions") or [], f"{path}/choose/{index}/conditions"),
                self._compile_sequence(option.get("sequence") or [], f"{path}/choose/{index}/sequence"),
            )
            for index, option in enumerate(config["choose"])
        ]
        default = self._compile_sequence(config.get("default") or [], f"{path}/default")

        async def run(r: _Run) -> Any:
            for index, (conditions, sequence) in enumerate(options):
                if self._check(r, conditions):
                    await self._run_sequence(r, sequence)
                    return {"choice": index}
            if default:
                await self._run_sequence(r, default)
                return {"choice": "default"}
            return {"choice": None}

        return "choose", run

    def _if(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        conditions = self._compile_conditions(config["if"], f"{path}/if")
        then = self._compile_sequence(config["then"], f"{path}/then")
        otherwise = self._compile_sequence(config.get("else") or [], f"{path}/else")

        async def run(r: _Run) -> Any:
            if self._check(r, conditions):
                await self._run_sequence(r, then)
                return {"choice": "then"}
            if otherwise:
                await self._run_sequence(r, otherwise)
                return {"choice": "else"}
            return {"choice": None}

        return "if", run

    def _condition(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        own = {k: v for k, v in config.items() if k not in ("alias", "enabled", "continue_on_error")}
        condition = compile_condition(self.hub, own, engine=self.engine, where=self.label)

        async def run(r: _Run) -> Any:
            outcome = condition.explain(r.variables)
            r.trace.add_condition(path, outcome.result, outcome.reason)
            result = {"result": outcome.result, "reason": outcome.reason}
            if not outcome.result:
                raise _Stop(CONDITION_FAILED, f"condition false: {outcome.reason}", result)
            return result

        return "condition", run

    def _variables(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        values = [(str(name), self._template(value)) for name, value in config["variables"].items()]

        async def run(r: _Run) -> Any:
            for name, render in values:  # in order: a later value may use an earlier one
                r.variables[name] = render(r.variables)
            return {name: r.variables[name] for name, _ in values}

        return "variables", run

    def _repeat(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        repeat = config["repeat"]
        sequence = self._compile_sequence(repeat["sequence"], f"{path}/repeat/sequence")
        count = self._template(repeat["count"]) if "count" in repeat else None
        while_ = self._compile_conditions(repeat.get("while") or [], f"{path}/repeat/while")
        until = self._compile_conditions(repeat.get("until") or [], f"{path}/repeat/until")

        async def run(r: _Run) -> Any:
            outer = r.variables.get("repeat")
            done = 0
            try:
                if count is not None:
                    times = _count(count(r.variables), f"{self.label}: {path}")
                    for index in range(times):
                        r.variables["repeat"] = {"first": index == 0, "index": index + 1, "last": index == times - 1}
                        await self._run_sequence(r, sequence)
                        done += 1
                else:
                    while True:
                        if done >= MAX_REPEAT:
                            raise ScriptError(f"{self.label}: {path}: repeat stopped after {MAX_REPEAT} iterations")
                        r.variables["repeat"] = {"first": done == 0, "index": done + 1}
                        if "while" in repeat and not self._check(r, while_):
                            break
                        await self._run_sequence(r, sequence)
                        done += 1
                        if "until" in repeat and self._check(r, until):
                            break
                        await asyncio.sleep(0)  # a loop of instant actions must still let the hub run
            finally:
                if outer is None:
                    r.variables.pop("repeat", None)
                else:
                    r.variables["repeat"] = outer
            return {"iterations": done}

        return "repeat", run

    def _stop(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        reason = self._template(config["stop"])
        error = bool(config.get("error", False))
        response_variable = config.get("response_variable")

        async def run(r: _Run) -> Any:
            text = str(reason(r.variables))
            response = r.variables.get(str(response_variable)) if response_variable else None
            raise _Stop(ERROR if error else STOPPED, text, {"stop": text, "error": error, "response": response})

        return "stop", run

    def _nested(self, config: Mapping[str, Any], path: str) -> tuple[str, Callable[[_Run], Awaitable[Any]]]:
        sequence = self._compile_sequence(config["sequence"], f"{path}/sequence")

        async def run(r: _Run) -> Any:
            await self._run_sequence(r, sequence)
            return None

        return "sequence", run


_TIMED_OUT = object()

Compiler = Callable[[Script, Mapping[str, Any], str], tuple[str, Callable[[_Run], Awaitable[Any]]]]
# The key that selects each kind of action, in the order they are recognised.
_COMPILERS: tuple[tuple[str, Compiler], ...] = (
    ("action", Script._service),
    ("event", Script._event),
    ("delay", Script._delay),
    ("wait_for_trigger", Script._wait_for_trigger),
    ("wait_template", Script._wait_template),
    ("choose", Script._choose),
    ("if", Script._if),
    ("condition", Script._condition),
    ("variables", Script._variables),
    ("repeat", Script._repeat),
    ("stop", Script._stop),
    ("sequence", Script._nested),
)


def service_name_kind(value: Any) -> str:
    """The trace's action name of a service call: `domain.service`, or "service" when templated."""
    return "service" if is_template(value) else str(value)


def _count(value: Any, where: str) -> int:
    try:
        times = int(value)
    except (TypeError, ValueError):
        raise ScriptError(f"{where}: repeat count {value!r} is not a number") from None
    if times > MAX_REPEAT:
        raise ScriptError(f"{where}: repeat count {times} is over the limit of {MAX_REPEAT}")
    return max(0, times)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = ["MAX_REPEAT", "Script"]
