"""Ownership of what an integration starts: tasks, listeners, timers and services.

Each integration (and each of its config entries) gets a `ScopedHub`: the same
attributes as the `Hub`, but every listener, timer, task and service made through it is
recorded in its `Scope`. Unloading closes the scope, which releases all of them, so an
integration cannot leak work past its unload even if its own unload forgets something.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import time as dtime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from .bus import Bus, Context, Event, EventFilter, EventOrigin, Listener
from .clock import Clock, Repeating, Timer
from .services import Handler, ServiceRegistry, ServiceResponse, SupportsResponse

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger(__name__)

Cleanup = Callable[[], Any]


class Scope:
    """Records what one owner started and releases it all on `close`."""

    def __init__(self, name: str, parent: Scope | None = None) -> None:
        self.name = name
        self._parent = parent
        self._cleanups: list[Cleanup] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._children: list[Scope] = []
        self.closed = False

    def on_close(self, cleanup: Cleanup) -> Cleanup:
        """Run `cleanup()` (sync or async) when the scope closes; returns it for chaining."""
        if self.closed:
            raise RuntimeError(f"scope {self.name} is closed")
        self._cleanups.append(cleanup)
        return cleanup

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a named task owned by this scope; its failure is logged with the owner's name."""
        if self.closed:
            coro.close()
            raise RuntimeError(f"scope {self.name} is closed; cannot start task {name}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error(
                "Task %s of %s failed", task.get_name(), self.name, exc_info=task.exception()
            )

    @property
    def tasks(self) -> frozenset[asyncio.Task[Any]]:
        """Tasks of this scope (not its children) still running."""
        return frozenset(self._tasks)

    def child(self, name: str) -> Scope:
        """A scope that closes with this one (e.g. a config entry inside its integration)."""
        scope = Scope(name, self)
        self._children.append(scope)
        return scope

    def resource_count(self) -> int:
        """Listeners, timers, services and tasks held, children included (for tests and the dashboard)."""
        return len(self._cleanups) + len(self._tasks) + sum(c.resource_count() for c in self._children)

    async def close(self, timeout: float = 5.0) -> None:
        """Release everything: children first, then cleanups in reverse order, then tasks."""
        if self.closed:
            return
        self.closed = True
        if self._parent is not None and self in self._parent._children:
            self._parent._children.remove(self)
        for child in list(reversed(self._children)):
            await child.close(timeout)
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                result = cleanup()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout)
            except Exception:
                _LOGGER.exception("Cleanup %s of %s failed", cleanup, self.name)
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                _LOGGER.error("Task %s of %s did not stop within %.0f s", task.get_name(), self.name, timeout)


class ScopedBus:
    """The bus as seen by one owner: listeners are recorded and carry the owner's name."""

    def __init__(self, bus: Bus, scope: Scope) -> None:
        self._bus = bus
        self._scope = scope

    def listen(self, event_type: str, listener: Listener, *, event_filter: EventFilter | None = None) -> Callable[[], None]:
        """Listen until unlistened or the owner unloads."""
        return self._track(self._bus.listen(event_type, listener, event_filter=event_filter, owner=self._scope.name))

    def listen_once(
        self, event_type: str, listener: Listener, *, event_filter: EventFilter | None = None
    ) -> Callable[[], None]:
        """Listen for one event."""
        return self._track(
            self._bus.listen_once(event_type, listener, event_filter=event_filter, owner=self._scope.name)
        )

    def fire(
        self,
        event_type: str,
        data: dict[str, Any] | None = None,
        *,
        context: Context | None = None,
        origin: EventOrigin = EventOrigin.local,
    ) -> None:
        """Fire an event on the hub's bus."""
        self._bus.fire(event_type, data, context=context, origin=origin)

    def _track(self, unlisten: Callable[[], None]) -> Callable[[], None]:
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                unlisten()

        self._scope.on_close(release)
        return release


class ScopedServices:
    """The service registry as seen by one owner: its services go away on unload."""

    def __init__(self, services: ServiceRegistry, scope: Scope) -> None:
        self._services = services
        self._scope = scope

    def register(
        self,
        domain: str,
        service: str,
        handler: Handler,
        schema: Any = None,
        *,
        supports_response: SupportsResponse = SupportsResponse.NONE,
        description: str = "",
        resident: bool = False,
    ) -> Callable[[], None]:
        """Register a service owned by this scope (`resident=True`: residents may call it)."""
        unregister = self._services.register(
            domain, service, handler, schema,
            supports_response=supports_response, owner=self._scope.name, description=description,
            resident=resident,
        )
        self._scope.on_close(unregister)
        return unregister

    async def call(
        self,
        domain: str,
        service: str,
        data: dict[str, Any] | None = None,
        *,
        context: Context | None = None,
        return_response: bool = False,
    ) -> ServiceResponse:
        """Call any service."""
        return await self._services.call(domain, service, data, context=context, return_response=return_response)

    def has(self, domain: str, service: str) -> bool:
        """Whether a service exists."""
        return self._services.has(domain, service)


class ScopedClock(Clock):
    """The hub's clock; timers made through it are cancelled when the owner unloads."""

    def __init__(self, clock: Clock, scope: Scope) -> None:
        self._clock = clock
        self._scope = scope
        # One-shot timers still pending. Not one scope cleanup per timer: an automation's
        # time_pattern or `for:` makes a timer every few seconds for months, and the scope's
        # cleanup list would only ever grow. Fired timers leave the set; cancelled ones are pruned.
        self._timers: set[Timer] = set()
        self._prune_at = 64
        self._cleanup_registered = False

    def time(self) -> float:
        return self._clock.time()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    async def sleep(self, delay: float) -> None:
        await self._clock.sleep(delay)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Timer:
        def run(*call_args: Any) -> Any:
            self._timers.discard(timer)
            return callback(*call_args)

        if not self._cleanup_registered:
            self._scope.on_close(self._cancel_all)
            self._cleanup_registered = True
        timer = self._clock.call_at(when, run, *args)
        self._timers.add(timer)
        if len(self._timers) >= self._prune_at:
            self._timers = {t for t in self._timers if not t.cancelled}
            self._prune_at = max(64, 2 * len(self._timers))
        return timer

    def _cancel_all(self) -> None:
        timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

    @property
    def pending_timers(self) -> int:
        """One-shot timers made through this clock that have neither run nor been cancelled."""
        return sum(1 for t in self._timers if not t.cancelled)

    def every(self, interval: float | timedelta, callback: Callable[..., Any], *args: Any) -> Repeating:
        handle = self._clock.every(interval, callback, *args)
        self._scope.on_close(handle.cancel)
        return handle

    def at_time_of_day(
        self, when: dtime, callback: Callable[..., Any], *args: Any, tz: tzinfo | None = None
    ) -> Repeating:
        handle = self._clock.at_time_of_day(when, callback, *args, tz=tz)
        self._scope.on_close(handle.cancel)
        return handle


class ScopedHub:
    """What an integration receives: the hub's parts, with everything it starts owned by its scope."""

    def __init__(self, hub: Hub, scope: Scope) -> None:
        self._hub = hub
        self.scope = scope
        self.name = scope.name
        self.bus = ScopedBus(hub.bus, scope)
        self.services = ScopedServices(hub.services, scope)
        self.clock = ScopedClock(hub.clock, scope)
        self.states = hub.states
        self.logger = logging.getLogger(f"integrations.{scope.name}")

    def __getattr__(self, name: str) -> Any:
        # Everything not scoped (db, outbox, recorder, registries, config) is the hub's own.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._hub, name)

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a named task that is cancelled when the integration unloads."""
        return self.scope.create_task(coro, name)

    def track_states(self, entity_ids: str | Iterable[str], action: Callable[[Event], Any]) -> Callable[[], None]:
        """Run `action(event)` when one of these entities changes state, until unload."""
        untrack = self._hub.tracker.track(entity_ids, action)
        self.scope.on_close(untrack)
        return untrack

    def on_unload(self, cleanup: Callable[[], Any | Awaitable[Any]]) -> None:
        """Run `cleanup` when the integration unloads (close sockets, ports, sessions)."""
        self.scope.on_close(cleanup)

    def register_view(self, route: Any) -> Callable[[], None]:
        """Serve an HTTP `Route` under /api/<integration>/ until unload (hub/http/views.py)."""
        unregister: Callable[[], None] = self._hub.views.register(route, owner=self.name.split(".")[0])
        self.scope.on_close(unregister)
        return unregister

    def scoped(self, name: str) -> ScopedHub:
        """A child scope (e.g. one config entry) released with this one or on its own."""
        return ScopedHub(self._hub, self.scope.child(name))
