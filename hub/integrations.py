"""The integration manager: sets integrations up in dependency order, retries, unloads, reports.

States: not_loaded -> setting_up -> loaded | retrying | failed; unload -> unloaded.
A setup that raises SetupRetry (any TransientError), OSError or TimeoutError is *not
ready*: it is retried after 5, 10, 20 ... seconds (at most 300) on the hub's clock.
Anything else fails that integration alone; the hub and the other integrations go on.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import inspect
import logging
import pkgutil
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from .bus import EVENT_INTEGRATION_LOADED
from .clock import Timer
from .errors import PermanentError, TransientError
from .loader import check_requirements, import_integration, resolve_order
from .manifest import Integration, format_path
from .scope import ScopedHub

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger(__name__)

RETRY_FIRST = 5.0
RETRY_MAX = 300.0
# What "not ready yet" looks like from a setup function: retry, do not give up.
NOT_READY: tuple[type[BaseException], ...] = (TransientError, OSError, TimeoutError)

Hook = Callable[[str], Awaitable[None]]


def backoff_delay(failures: int) -> float:
    """Seconds before retry number `failures` (1-based): 5, 10, 20 ... capped at 300."""
    return min(RETRY_FIRST * 2 ** max(0, failures - 1), RETRY_MAX)


def error_text(err: BaseException) -> str:
    """`RuntimeError: boom`, or the type alone when the message is empty."""
    if isinstance(err, vol.Invalid):
        return f"invalid config: {voluptuous_text(err)}"
    message = str(err)
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def voluptuous_text(err: vol.Invalid) -> str:
    """`port -> [0]: expected int` for the first problem of a voluptuous error."""
    first = err.errors[0] if isinstance(err, vol.MultipleInvalid) else err
    where = format_path(first.path)
    message = first.error_message or str(first)
    return f"{where}: {message}" if where else message


class IntegrationState(str, enum.Enum):
    """Lifecycle of one integration as the dashboard shows it."""

    not_loaded = "not_loaded"
    setting_up = "setting_up"
    loaded = "loaded"
    retrying = "retrying"
    failed = "failed"
    unloaded = "unloaded"


class IntegrationLoadError(PermanentError):
    """An integration's module cannot be imported or its requirements are not installed."""


@dataclass(frozen=True)
class IntegrationStatus:
    """A snapshot of one integration's state for the API and the dashboard."""

    domain: str
    state: IntegrationState
    error: str | None
    attempts: int
    next_retry: float | None  # wall time (epoch seconds) of the next attempt while retrying
    source: str | None
    version: str | None


class _Failed(Exception):
    """Internal: a permanent setup failure whose text is already user-ready."""


class _Record:
    """Mutable bookkeeping of one domain."""

    def __init__(self, domain: str, integration: Integration | None) -> None:
        self.domain = domain
        self.integration = integration
        self.state = IntegrationState.not_loaded
        self.error: str | None = None
        self.attempts = 0
        self.failures = 0
        self.next_retry: float | None = None
        self.timer: Timer | None = None
        self.module: ModuleType | None = None
        self.scoped: ScopedHub | None = None
        self.lock = asyncio.Lock()
        self.complained = False  # logged a failure; log the recovery once too


class IntegrationManager:
    """Sets up, retries and unloads integrations; one per hub."""

    def __init__(
        self,
        hub: Hub,
        integrations: Mapping[str, Integration],
        *,
        problems: Mapping[str, str] | None = None,
        setup_timeout: float = 300.0,
        unload_timeout: float = 10.0,
    ) -> None:
        self._hub = hub
        self._integrations = dict(integrations)
        self._records: dict[str, _Record] = {d: _Record(d, i) for d, i in self._integrations.items()}
        self._problems = dict(problems or {})
        # A problem (unusable manifest, configuration block that failed validation) fails the
        # domain before setup: running it on defaults would ignore what the user wrote.
        for domain, message in self._problems.items():
            rec = self._records.setdefault(domain, _Record(domain, None))
            rec.state, rec.error = IntegrationState.failed, message
        self._config: dict[str, Any] = {}
        self._waiting: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._setup_hooks: list[Hook] = []
        self._unload_hooks: list[Hook] = []
        self.setup_timeout = setup_timeout
        self.unload_timeout = unload_timeout

    # -- queries ------------------------------------------------------------------------

    @property
    def integrations(self) -> Mapping[str, Integration]:
        """Every integration this manager knows, by domain."""
        return self._integrations

    def status(self, domain: str) -> IntegrationStatus:
        """The current status of `domain`; KeyError if the domain was never heard of."""
        rec = self._records[domain]
        return IntegrationStatus(
            domain=domain,
            state=rec.state,
            error=rec.error,
            attempts=rec.attempts,
            next_retry=rec.next_retry,
            source=rec.integration.source.value if rec.integration else None,
            version=rec.integration.version if rec.integration else None,
        )

    def statuses(self) -> list[IntegrationStatus]:
        """Status of every known domain, sorted by domain."""
        return [self.status(d) for d in sorted(self._records)]

    def loaded(self) -> list[str]:
        """Domains that are set up, sorted."""
        return sorted(d for d, r in self._records.items() if r.state is IntegrationState.loaded)

    def module(self, domain: str) -> ModuleType | None:
        """The imported module of `domain`, if it has been imported."""
        rec = self._records.get(domain)
        return rec.module if rec else None

    def scoped_hub(self, domain: str) -> ScopedHub | None:
        """The ScopedHub of a loaded integration (config entries hang their scopes below it)."""
        rec = self._records.get(domain)
        return rec.scoped if rec and rec.state is IntegrationState.loaded else None

    def config_of(self, domain: str) -> Any:
        """The configuration block last given for `domain` (None if none)."""
        return self._config.get(domain)

    def get_schema(self, domain: str) -> Any:
        """Import `domain` and return its CONFIG_SCHEMA (or None); import failures fail it, by name."""
        rec = self._records[domain]
        if rec.integration is None:
            raise IntegrationLoadError(rec.error or f"integration {domain!r} not found")
        try:
            module = self._load_module(rec)
        except _Failed as err:
            self._fail(rec, str(err))
            raise IntegrationLoadError(str(err)) from None
        return getattr(module, "CONFIG_SCHEMA", None)

    def add_setup_hook(self, hook: Hook) -> Callable[[], None]:
        """Await `hook(domain)` after each integration loads (config entries use this)."""
        self._setup_hooks.append(hook)
        return lambda: self._setup_hooks.remove(hook)

    def add_unload_hook(self, hook: Hook) -> Callable[[], None]:
        """Await `hook(domain)` before each integration unloads."""
        self._unload_hooks.append(hook)
        return lambda: self._unload_hooks.remove(hook)

    # -- setup --------------------------------------------------------------------------

    async def setup(
        self, domains: Iterable[str], config: Mapping[str, Any] | None = None
    ) -> dict[str, IntegrationStatus]:
        """Set up `domains` and their dependencies, level by level; `config` maps domain -> block."""
        if config is not None:
            self._config.update(config)
        plan = resolve_order(self._integrations, domains)
        for domain, message in sorted(plan.failed.items()):
            rec = self._record(domain)
            if rec.state is not IntegrationState.loaded:
                self._fail(rec, self._problems.get(domain, message) if rec.integration is None else message)
        for level in plan.levels:
            await asyncio.gather(*(self._setup_one(d) for d in level))
        involved = [*plan.failed, *(d for level in plan.levels for d in level)]
        return {d: self.status(d) for d in sorted(involved)}

    def _record(self, domain: str) -> _Record:
        rec = self._records.get(domain)
        if rec is None:
            rec = self._records[domain] = _Record(domain, self._integrations.get(domain))
        return rec

    async def _setup_one(
        self, domain: str, allow: tuple[IntegrationState, ...] = (IntegrationState.not_loaded, IntegrationState.unloaded)
    ) -> None:
        rec = self._records[domain]
        if rec.state not in allow:
            return
        async with rec.lock:
            if rec.state not in allow:
                return
            self._cancel_timer(rec)
            blocker = self._blocker(rec)
            if blocker is not None:
                dep, dep_state = blocker
                if dep_state is IntegrationState.failed:
                    self._fail(rec, f"dependency {dep} failed")
                else:
                    rec.state, rec.error = IntegrationState.not_loaded, f"waiting for dependency {dep} ({dep_state.value})"
                    self._waiting.add(domain)
                return
            loaded = await self._attempt(rec)
        if loaded:
            await self._after_loaded(domain)

    def _blocker(self, rec: _Record) -> tuple[str, IntegrationState] | None:
        assert rec.integration is not None
        for dep in rec.integration.dependencies:
            dep_rec = self._records.get(dep)
            if dep_rec is None or dep_rec.state is IntegrationState.failed:
                return dep, IntegrationState.failed
            if dep_rec.state is not IntegrationState.loaded:
                return dep, dep_rec.state
        return None

    async def _attempt(self, rec: _Record) -> bool:
        """One setup attempt (lock held); True when the integration is now loaded."""
        domain = rec.domain
        self._waiting.discard(domain)
        rec.state, rec.next_retry = IntegrationState.setting_up, None
        rec.attempts += 1
        try:
            # Reading requirement metadata and importing the modules (and what they import:
            # cryptography, bleak, ...) is blocking file I/O and CPU: off the event loop.
            module = rec.module or await asyncio.get_running_loop().run_in_executor(None, self._load_module, rec)
            block = self._config.get(domain)
            schema = getattr(module, "CONFIG_SCHEMA", None)
            block = {} if block is None else block
            if schema is not None:
                block = schema(block)
            rec.scoped = self._hub.scoped(domain)
            setup = getattr(module, "async_setup", None)
            if setup is not None:
                if not inspect.iscoroutinefunction(setup):
                    raise _Failed(f"{domain}: async_setup must be an `async def` function")
                async with asyncio.timeout(self.setup_timeout):
                    await setup(rec.scoped, block)
        except NOT_READY as err:
            await self._close_scope(rec)
            self._schedule_retry(rec, err)
            return False
        except _Failed as err:
            await self._close_scope(rec)
            self._fail(rec, str(err))
            return False
        except Exception as err:  # noqa: BLE001 - any bug in an integration fails it alone
            await self._close_scope(rec)
            self._fail(rec, error_text(err), exc=err)
            return False
        except BaseException:  # cancelled (hub stopping): release what it started, then go
            await self._close_scope(rec)
            rec.state = IntegrationState.not_loaded
            raise
        if rec.complained:
            _LOGGER.info("Integration %s is set up after %d attempts", domain, rec.attempts)
        rec.state, rec.error, rec.failures, rec.complained = IntegrationState.loaded, None, 0, False
        self._hub.bus.fire(EVENT_INTEGRATION_LOADED, {"domain": domain})
        return True

    async def _after_loaded(self, domain: str) -> None:
        for hook in list(self._setup_hooks):
            try:
                await hook(domain)
            except Exception:  # noqa: BLE001 - a hook must not undo a good setup
                _LOGGER.exception("Setup hook %s for %s failed", hook, domain)
        ready = [d for d in sorted(self._waiting) if self._blocker(self._records[d]) is None]
        if ready:
            await self.setup(ready)

    def _load_module(self, rec: _Record) -> ModuleType:
        if rec.module is not None:
            return rec.module
        assert rec.integration is not None
        missing = check_requirements(rec.integration)
        if missing:
            raise _Failed("; ".join(missing))
        try:
            module = import_integration(rec.integration)
        except Exception as err:  # noqa: BLE001 - any import-time error is this integration's
            raise _Failed(f"{rec.domain}: cannot import {rec.integration.module}: {error_text(err)}") from err
        _preload_submodules(module)
        rec.module = module
        return module

    def _schedule_retry(self, rec: _Record, err: BaseException) -> None:
        rec.failures += 1
        delay = backoff_delay(rec.failures)
        rec.state, rec.error = IntegrationState.retrying, error_text(err)
        rec.next_retry = self._hub.clock.time() + delay
        if not rec.complained:
            _LOGGER.warning("Integration %s is not ready (%s); retrying in %.0f s", rec.domain, rec.error, delay)
            rec.complained = True
        else:
            _LOGGER.debug("Integration %s still not ready (%s); retrying in %.0f s", rec.domain, rec.error, delay)
        rec.timer = self._hub.clock.call_later(delay, self._retry_due, rec.domain)

    def _retry_due(self, domain: str) -> None:
        self._records[domain].timer = None
        task = asyncio.get_running_loop().create_task(self._retry(domain), name=f"integrations:retry:{domain}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retry(self, domain: str) -> None:
        await self._setup_one(domain, allow=(IntegrationState.retrying,))

    def _fail(self, rec: _Record, message: str, exc: BaseException | None = None) -> None:
        self._cancel_timer(rec)
        self._waiting.discard(rec.domain)
        already = rec.state is IntegrationState.failed and rec.error == message
        rec.state, rec.error, rec.next_retry = IntegrationState.failed, message, None
        if not already:
            _LOGGER.error("Integration %s failed: %s", rec.domain, message, exc_info=exc)
            rec.complained = True
        for waiting in sorted(self._waiting):
            wrec = self._records[waiting]
            if wrec.integration is not None and rec.domain in wrec.integration.dependencies:
                self._fail(wrec, f"dependency {rec.domain} failed")

    def _cancel_timer(self, rec: _Record) -> None:
        if rec.timer is not None:
            rec.timer.cancel()
            rec.timer = None

    async def _close_scope(self, rec: _Record) -> None:
        if rec.scoped is not None:
            scoped, rec.scoped = rec.scoped, None
            await scoped.scope.close(self.unload_timeout)

    async def retry_now(self, domain: str) -> IntegrationStatus:
        """Try a retrying or failed integration again at once (the dashboard's retry button)."""
        rec = self._records[domain]
        if rec.integration is not None:
            await self._setup_one(domain, allow=(IntegrationState.retrying, IntegrationState.failed))
        return self.status(domain)

    # -- unload -------------------------------------------------------------------------

    def _dependents(self, domain: str) -> list[str]:
        """Loaded domains that need `domain`, directly or not, dependents-of-dependents last."""
        found: list[str] = []
        frontier = [domain]
        while frontier:
            current = frontier.pop(0)
            for d, rec in sorted(self._records.items()):
                if (
                    rec.integration is not None
                    and current in rec.integration.dependencies
                    and rec.state in (IntegrationState.loaded, IntegrationState.retrying)
                    and d not in found
                ):
                    found.append(d)
                    frontier.append(d)
        return found

    async def unload(self, domain: str) -> None:
        """Unload `domain` (its loaded dependents first) and release all it started."""
        for dependent in reversed(self._dependents(domain)):
            await self._unload_one(dependent)
        await self._unload_one(domain)

    async def _unload_one(self, domain: str, timeout: float | None = None) -> None:
        rec = self._records[domain]
        timeout = self.unload_timeout if timeout is None else timeout
        self._cancel_timer(rec)
        self._waiting.discard(domain)
        async with rec.lock:
            if rec.state is IntegrationState.loaded:
                for hook in list(self._unload_hooks):
                    await self._bounded(hook(domain), timeout, f"unload hook for {domain}")
                unload = getattr(rec.module, "async_unload", None)
                if unload is not None and rec.scoped is not None:
                    await self._bounded(unload(rec.scoped), timeout, f"async_unload of {domain}")
                await self._close_scope(rec)
                rec.state, rec.error = IntegrationState.unloaded, None
            elif rec.state is not IntegrationState.unloaded:  # retrying, waiting or failed
                rec.state, rec.error, rec.next_retry = IntegrationState.unloaded, None, None
            rec.failures = 0

    async def _bounded(self, awaitable: Awaitable[Any], timeout: float, what: str) -> None:
        try:
            async with asyncio.timeout(timeout):
                await awaitable
        except TimeoutError:
            _LOGGER.error("%s did not finish within %g s", what, timeout)
        except Exception:  # noqa: BLE001 - unload goes on; the scope still releases everything
            _LOGGER.exception("%s raised", what)

    async def reload(self, domain: str, config: Mapping[str, Any] | None = None) -> IntegrationStatus:
        """Unload and set up again (with new config, domain -> block, if given); dependents too."""
        dependents = self._dependents(domain)
        await self.unload(domain)
        await self.setup([domain, *dependents], config)
        return self.status(domain)

    async def unload_all(self, timeout: float | None = None) -> None:
        """Unload everything in reverse dependency order, each integration bounded by `timeout`."""
        for rec in self._records.values():
            self._cancel_timer(rec)
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        active = [
            d for d, r in self._records.items()
            if r.integration is not None and r.state in (IntegrationState.loaded, IntegrationState.retrying)
        ]
        plan = resolve_order(self._integrations, active)
        for level in reversed(plan.levels):
            await asyncio.gather(*(self._unload_one(d, timeout) for d in level if d in active))
        for domain in active:  # anything the plan could not order (not expected) still goes
            if self._records[domain].state is IntegrationState.loaded:
                await self._unload_one(domain, timeout)


def _preload_submodules(module: ModuleType) -> None:
    """Import an integration package's modules too, so the imports its setup does lazily are warm.

    Integrations keep their heavy imports inside `async_setup` (no import-time side effects), which
    would run them on the event loop; here, in the executor, they cost nothing there. Best effort:
    a submodule that fails to import is left for the setup to report in its own words.
    """
    path = getattr(module, "__path__", None)
    if path is None:
        return
    for info in pkgutil.iter_modules(path):
        name = f"{module.__name__}.{info.name}"
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - reported by the setup that needs it, if any does
            _LOGGER.debug("Preloading %s failed: %s", name, error_text(err))
