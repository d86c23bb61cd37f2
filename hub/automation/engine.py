"""The automation manager (`hub.automations`): loads automations.yaml, runs each automation, reloads.

Each automation is an `Automation` with the entity `automation.<id>` (state on/off), its triggers,
conditions and `Script`, and a child scope that owns its runs: disabling, changing or removing it
closes the scope, which cancels its runs. Enabled flags and `last_triggered` persist in the
database, so they survive restarts and reloads (`initial_state:` in YAML wins when given).
Reload keeps automations whose configuration did not change running, untouched.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlite_utils
import voluptuous as vol

from ..bus import Context
from ..config import ConfigError, schemas
from ..errors import HubError
from ..scope import Scope, ScopedHub
from ..services import ServiceCall
from .conditions import Condition, compile_condition
from .config import DOMAIN, AutomationConfig, LoadedAutomations, node_line, read_automations
from .errors import AutomationError
from .script import Script
from .template import TemplateEngine, compile_complex
from .trace import CONDITION_FAILED, ERROR, FINISHED, STOPPED, Trace, TraceStore
from .triggers import attach_triggers

_LOGGER = logging.getLogger(__name__)

_ENTITY_IDS = vol.Any(schemas.string, [schemas.string])
TURN_ON_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITY_IDS})
TURN_OFF_SCHEMA = vol.Schema(
    {vol.Required("entity_id"): _ENTITY_IDS, vol.Optional("stop_actions", default=True): schemas.boolean}
)
TRIGGER_SCHEMA = vol.Schema(
    {
        vol.Required("entity_id"): _ENTITY_IDS,
        vol.Optional("skip_condition", default=True): schemas.boolean,
        vol.Optional("variables", default=dict): dict,
    }
)


class Automation:
    """One loaded automation: its entity, triggers, conditions, script and runs."""

    def __init__(self, manager: AutomationManager, config: AutomationConfig, *, enabled: bool,
                 last_triggered: float | None) -> None:  # fmt: skip
        self._manager = manager
        self._hub = manager.hub
        self.config = config
        self.id = config.id
        self.entity_id = f"{DOMAIN}.{config.id}"
        self.enabled = enabled
        self.last_triggered = last_triggered
        self.last_error: str | None = None
        self._detach: Callable[[], None] | None = None
        self._removed = False
        engine, where = manager.engine, f"automation '{config.id}'"
        # Compiled now, so a broken condition or action is a configuration error, not a failed run.
        self._conditions: list[tuple[str, Condition]] = []
        for index, condition in enumerate(config.conditions):
            try:
                compiled = compile_condition(self._hub, condition, engine=engine, where=where)
            except AutomationError as err:
                raise _Located(err, node_line(condition)) from err
            self._conditions.append((f"conditions/{index}", compiled))
        self._variables = [(str(k), compile_complex(engine, v, where=where)) for k, v in config.variables.items()]
        self.script = Script(
            self._hub, config.actions, engine=engine, name=config.id, create_task=self._create_task,
            mode=config.mode, max_runs=config.max, max_exceeded=config.max_exceeded,
            on_change=self.write_state, on_done=self._done,
        )  # fmt: skip
        self._scope = manager.scope.child(self.entity_id)  # last: nothing above may leave it behind

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Write the entity and attach the triggers if enabled; AutomationError if a trigger is invalid."""
        if self.enabled:
            await self._attach()
        self.write_state()

    async def turn_on(self) -> None:
        """Enable: attach the triggers (the flag is persisted by the manager)."""
        if not self.enabled:
            self.enabled = True
            try:
                await self._attach()
            finally:
                self.write_state()

    async def turn_off(self, *, stop_actions: bool = True) -> None:
        """Disable: detach the triggers and, with `stop_actions`, cancel the running runs."""
        self.enabled = False
        self._detach_triggers()
        if stop_actions:
            await self._stop_runs()
        self.write_state()

    async def remove(self, *, keep_state: bool = False) -> None:
        """Stop everything this automation started; drop its entity unless it is replaced at once."""
        self._removed = True
        self._detach_triggers()
        await self._scope.close()
        if not keep_state:
            self._hub.states.remove(self.entity_id)

    async def _attach(self) -> None:
        if self._detach is not None:
            return
        self._detach = await attach_triggers(
            self._hub, self.config.triggers, self._on_trigger, engine=self._manager.engine, name=self.id,
            variables=None,
        )

    def _detach_triggers(self) -> None:
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()

    async def _stop_runs(self) -> None:
        old, self._scope = self._scope, self._manager.scope.child(self.entity_id)
        await old.close()

    def _create_task(self, coro: Any, name: str) -> asyncio.Task[Any]:
        return self._scope.create_task(coro, name)

    # -- running ---------------------------------------------------------------------------

    def _on_trigger(self, variables: dict[str, Any], context: Context | None) -> None:
        self.trigger(variables, context)

    def trigger(
        self, variables: Mapping[str, Any], cause: Context | None, *, skip_condition: bool = False
    ) -> Trace | None:
        """Evaluate the conditions and start a run; the trace, or None when the run mode dropped it."""
        now = self._hub.clock.time()
        context = cause.child(origin=self.entity_id) if cause is not None else Context(origin=self.entity_id)
        trigger = variables.get("trigger") or {}
        description = str(trigger.get("description") or "") if isinstance(trigger, Mapping) else ""
        trace = Trace.begin(self.id, now, description=description or "manual trigger", variables=variables,
                            context_id=context.id)  # fmt: skip
        run_variables = dict(variables)
        try:
            for name, render in self._variables:  # in order: a later variable may use an earlier one
                run_variables[name] = render(run_variables)
        except AutomationError as err:
            trace.finish(ERROR, now, str(err))
            self._done(trace)
            return trace
        if not skip_condition:
            for path, condition in self._conditions:
                outcome = condition.explain(run_variables)
                trace.add_condition(path, outcome.result, outcome.reason)
                if not outcome.result:
                    trace.finish(CONDITION_FAILED, now)
                    self._manager.store.save(trace)
                    return trace
        if self.script.start(run_variables, context=context, trace=trace) is None:
            return None
        self._manager.store.add(trace)
        self.last_triggered = now
        self._manager.save_last_triggered(self.id, now)
        self.write_state()
        return trace

    def _done(self, trace: Trace) -> None:
        if trace.state == ERROR:
            self.last_error = trace.error
            _LOGGER.warning("%s failed: %s", self.entity_id, trace.error)
        elif trace.state in (FINISHED, STOPPED):
            self.last_error = None
        self._manager.store.save(trace)

    # -- the entity ------------------------------------------------------------------------

    def write_state(self) -> None:
        """Publish `automation.<id>`: on/off with alias, id, mode, current runs, last_triggered, last_error."""
        if self._removed:
            return
        self._hub.states.set(self.entity_id, "on" if self.enabled else "off", self.attributes())

    def attributes(self) -> dict[str, Any]:
        """The entity's attributes."""
        return {
            "friendly_name": self.config.alias,
            "id": self.id,
            "mode": self.config.mode,
            "current": self.script.current,
            "last_triggered": self._manager.iso(self.last_triggered),
            "last_error": self.last_error,
        }

    def as_dict(self) -> dict[str, Any]:
        """The API's list item."""
        return {
            "id": self.id,
            "alias": self.config.alias,
            "description": self.config.description,
            "entity_id": self.entity_id,
            "enabled": self.enabled,
            "mode": self.config.mode,
            "current": self.script.current,
            "last_triggered": self._manager.iso(self.last_triggered),
            "last_error": self.last_error,
        }


class AutomationManager:
    """Loads, runs, enables, disables and reloads the automations of `automations.yaml`."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.engine = TemplateEngine(hub)
        self.store = TraceStore(hub.db)
        self.config_errors: list[ConfigError] = []
        self._automations: dict[str, Automation] = {}
        self._scoped: ScopedHub | None = None
        self._enabled: dict[str, bool] = {}
        self._last_triggered: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._published: list[ConfigError] = []  # what we added to hub.config_errors

    @property
    def scope(self) -> Scope:
        """The manager's scope; each automation's scope is a child of it."""
        if self._scoped is None:
            raise RuntimeError("the automation manager is not started")
        return self._scoped.scope

    async def start(self) -> None:
        """Read the stored traces and flags, register the services, load and start every automation."""
        # A scope of its own rather than a child of the hub's: the hub's scope counts what
        # integrations leave behind, and the manager closes this one itself in stop().
        self._scoped = ScopedHub(self.hub, Scope(DOMAIN))
        await self.store.load()  # also creates the enabled and last_triggered tables
        self._enabled, self._last_triggered = await self.hub.db.run(_read_flags)
        self._register_services(self._scoped)
        async with self._lock:
            loaded = await self._read()
            self._set_errors(loaded.errors)
            for config in loaded.configs:
                await self._add(config)

    async def stop(self) -> None:
        """Stop every automation (runs cancelled, traces kept) and remove their entities and services."""
        async with self._lock:
            for automation in list(self._automations.values()):
                await automation.remove()
            self._automations.clear()
            if self._scoped is not None:
                await self._scoped.scope.close()

    async def reload(self) -> None:
        """Re-read automations.yaml: unchanged ones keep running, changed ones restart, removed ones go.

        A file that cannot be read or parsed leaves every automation as it is and reports why.
        """
        async with self._lock:
            loaded = await self._read()
            if not loaded.parsed:
                self._set_errors(loaded.errors)
                for error in loaded.errors:
                    _LOGGER.error("Automations not reloaded: %s", error)
                return
            self._set_errors(loaded.errors)
            wanted = {config.id: config for config in loaded.configs}
            for automation_id in [a for a in self._automations if a not in wanted]:
                await self._automations.pop(automation_id).remove()
            for config in loaded.configs:
                old = self._automations.get(config.id)
                if old is not None and old.config.same_as(config):
                    continue
                if old is not None:
                    del self._automations[config.id]
                    await old.remove(keep_state=True)
                await self._add(config)
                if old is not None and config.id not in self._automations:  # the new version failed
                    self.hub.states.remove(old.entity_id)
            self._automations = {c.id: self._automations[c.id] for c in loaded.configs if c.id in self._automations}

    # -- queries ---------------------------------------------------------------------------

    def get(self, automation_id: str) -> Automation | None:
        """One automation by id."""
        return self._automations.get(automation_id)

    def list(self) -> list[Automation]:
        """Every loaded automation, in file order."""
        return list(self._automations.values())

    def traces(self, automation_id: str) -> builtins.list[dict[str, Any]]:
        """Summaries of an automation's traces, newest first."""
        return [trace.summary() for trace in self.store.recent(automation_id)]

    def trace(self, automation_id: str, run_id: str) -> dict[str, Any] | None:
        """One full trace, or None."""
        trace = self.store.get(automation_id, run_id)
        return None if trace is None else trace.as_dict()

    def iso(self, timestamp: float | None) -> str | None:
        """Epoch seconds as ISO 8601 in the home's time zone."""
        return None if timestamp is None else datetime.fromtimestamp(timestamp, self.hub.time_zone).isoformat()

    def save_last_triggered(self, automation_id: str, when: float) -> None:
        """Persist `last_triggered` without making the trigger wait for the disk."""
        self._last_triggered[automation_id] = when

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO automation_last_triggered (automation_id, last_triggered) VALUES (?, ?)"
                " ON CONFLICT(automation_id) DO UPDATE SET last_triggered = excluded.last_triggered",
                [automation_id, when],
            )

        try:
            self.hub.db.submit(write)
        except HubError as err:
            _LOGGER.warning("last_triggered of %s not stored: %s", automation_id, err)

    # -- loading ---------------------------------------------------------------------------

    async def _read(self) -> LoadedAutomations:
        # A separate engine for the executor thread: only compiles, so it never shares a cache with the loop.
        check = TemplateEngine(self.hub)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(read_automations, self.hub.config_dir, engine=check))

    async def _add(self, config: AutomationConfig) -> None:
        """Build and start one automation; a problem is a config error for it alone."""
        stored = self._enabled.get(config.id)
        enabled = config.initial_state if config.initial_state is not None else (stored if stored is not None else True)
        try:
            automation = Automation(self, config, enabled=enabled, last_triggered=self._last_triggered.get(config.id))
        except Exception as err:  # noqa: BLE001 - one broken automation must not stop the others
            self._config_error(config, err)
            return
        self.store.set_keep(config.id, config.stored_traces)
        try:
            await automation.start()
        except Exception as err:  # noqa: BLE001 - e.g. a trigger that cannot attach
            await automation.remove()
            self._config_error(config, err)
            return
        self._automations[config.id] = automation

    def _config_error(self, config: AutomationConfig, err: Exception) -> None:
        message = str(err) if isinstance(err, AutomationError) else f"{type(err).__name__}: {err}"
        if not isinstance(err, AutomationError):
            _LOGGER.exception("%s could not be set up", config.where)
        line = (err.line if isinstance(err, _Located) else None) or config.line
        # The path stops at the domain: the message already names the automation.
        error = ConfigError(message, file=config.file, line=line, path=(DOMAIN,), domain=DOMAIN)
        _LOGGER.error("Automation not loaded: %s", error)
        self._set_errors([*self.config_errors, error])

    def _set_errors(self, errors: builtins.list[ConfigError]) -> None:
        """Our errors, here and in the hub's list that the dashboard shows with the others."""
        self.config_errors = list(errors)
        mine = {id(e) for e in self._published}
        others = [e for e in getattr(self.hub, "config_errors", []) if id(e) not in mine]
        self._published = list(errors)
        self.hub.config_errors = [*others, *errors]

    # -- enabled flags and services --------------------------------------------------------

    async def set_enabled(self, automation: Automation, enabled: bool, *, stop_actions: bool = True) -> None:
        """Enable or disable one automation and remember it across restarts and reloads."""
        if enabled:
            await automation.turn_on()
        else:
            await automation.turn_off(stop_actions=stop_actions)
        self._enabled[automation.id] = enabled

        def write(db: sqlite_utils.Database) -> None:
            db.execute(
                "INSERT INTO automation_enabled (automation_id, enabled) VALUES (?, ?)"
                " ON CONFLICT(automation_id) DO UPDATE SET enabled = excluded.enabled",
                [automation.id, int(enabled)],
            )

        await self.hub.db.run(write)

    def _resolve(self, value: Any) -> builtins.list[Automation]:
        ids = [value] if isinstance(value, str) else list(value)
        if "all" in ids:
            return self.list()
        found = []
        for entity_id in ids:
            automation = self._automations.get(str(entity_id).removeprefix(f"{DOMAIN}."))
            if automation is None or not str(entity_id).startswith(f"{DOMAIN}."):
                raise HubError(f"no automation {entity_id}")
            found.append(automation)
        return found

    def _register_services(self, scoped: ScopedHub) -> None:
        async def turn_on(call: ServiceCall) -> None:
            """Enable automations (their triggers attach)."""
            for automation in self._resolve(call.data["entity_id"]):
                await self.set_enabled(automation, True)

        async def turn_off(call: ServiceCall) -> None:
            """Disable automations; `stop_actions` (default true) also cancels running actions."""
            for automation in self._resolve(call.data["entity_id"]):
                await self.set_enabled(automation, False, stop_actions=call.data["stop_actions"])

        async def toggle(call: ServiceCall) -> None:
            """Enable disabled automations and disable enabled ones."""
            for automation in self._resolve(call.data["entity_id"]):
                await self.set_enabled(automation, not automation.enabled)

        async def trigger(call: ServiceCall) -> None:
            """Run automations' actions now (`skip_condition`, default true)."""
            for automation in self._resolve(call.data["entity_id"]):
                variables = {**call.data["variables"],
                             "trigger": {"platform": None, "description": f"service {DOMAIN}.trigger"}}  # fmt: skip
                automation.trigger(variables, call.context, skip_condition=call.data["skip_condition"])

        async def reload(call: ServiceCall) -> None:
            """Re-read automations.yaml (unchanged automations keep running)."""
            await self.reload()

        services = scoped.services
        services.register(DOMAIN, "turn_on", turn_on, TURN_ON_SCHEMA, resident=True)
        services.register(DOMAIN, "turn_off", turn_off, TURN_OFF_SCHEMA, resident=True)
        services.register(DOMAIN, "toggle", toggle, TURN_ON_SCHEMA, resident=True)
        services.register(DOMAIN, "trigger", trigger, TRIGGER_SCHEMA, resident=True)
        services.register(DOMAIN, "reload", reload, vol.Schema({}), resident=False)


class _Located(AutomationError):
    """An automation's configuration error with the line of the part at fault."""

    def __init__(self, error: AutomationError, line: int | None) -> None:
        super().__init__(str(error))
        self.line = line


def _read_flags(db: sqlite_utils.Database) -> tuple[dict[str, bool], dict[str, float]]:
    enabled = {row[0]: bool(row[1]) for row in db.execute("SELECT automation_id, enabled FROM automation_enabled")}
    last = {
        row[0]: float(row[1])
        for row in db.execute("SELECT automation_id, last_triggered FROM automation_last_triggered")
    }
    return enabled, last


__all__ = ["Automation", "AutomationManager"]
