"""The event bus: fire / listen / unlisten with filters, match-all listeners and contexts.

Sync listeners run inline inside `fire`, in registration order; coroutine listeners
each get an owned task. A listener that raises is logged with the name of the
integration that registered it, and the remaining listeners still run.

A `Context` travels with every event and state write. A child context points at its
parent, so an alarm or an order can be traced back to the reading that caused it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time as _time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from enum import Enum
from random import getrandbits as _getrandbits
from typing import Any

_LOGGER = logging.getLogger(__name__)

MATCH_ALL = "*"

EVENT_STATE_CHANGED = "state_changed"
EVENT_HUB_STARTED = "hub_started"
EVENT_HUB_STOP = "hub_stop"
EVENT_SERVICE_CALLED = "service_called"
EVENT_INTEGRATION_LOADED = "integration_loaded"

EventFilter = Callable[[Mapping[str, Any]], bool]
Listener = Callable[["Event"], Any]
TaskFactory = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]

_EMPTY: Mapping[str, Any] = {}


def new_id() -> str:
    """A 26-character id that sorts by creation time (48-bit ms timestamp + 56 random bits).

    Ids trace causes; they are not secrets, so the random part comes from `random` (no
    system call; reseeded in forked children) rather than os.urandom.
    """
    return ((int(_time.time() * 1000) << 56) | _getrandbits(56)).to_bytes(13, "big").hex()


@dataclass(frozen=True, slots=True)
class Context:
    """Who and what caused something: user, originating component, and parent context."""

    id: str = field(default_factory=new_id)
    user_id: str | None = None
    parent_id: str | None = None
    origin: str | None = None

    def child(self, origin: str | None = None) -> Context:
        """A new context caused by this one (same user), e.g. an automation run from a reading."""
        return Context(user_id=self.user_id, parent_id=self.id, origin=origin)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "user_id": self.user_id, "parent_id": self.parent_id, "origin": self.origin}


class EventOrigin(str, Enum):
    """Whether an event was fired in this hub or came from outside (API, MQTT)."""

    local = "local"
    remote = "remote"


class Event:
    """One event: type, data, origin, time fired (epoch seconds) and context."""

    __slots__ = ("event_type", "data", "origin", "time_fired", "_context")

    def __init__(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        origin: EventOrigin = EventOrigin.local,
        time_fired: float = 0.0,
        context: Context | None = None,
    ) -> None:
        self.event_type = event_type
        self.data = _EMPTY if data is None else data
        self.origin = origin
        self.time_fired = time_fired
        self._context = context

    @property
    def context(self) -> Context:
        """The event's context; made lazily so events nobody traces cost no id."""
        ctx = self._context
        if ctx is None:
            ctx = self._context = Context()
        return ctx

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "event_type": self.event_type,
            "data": dict(self.data),
            "origin": self.origin.value,
            "time_fired": self.time_fired,
            "context": self.context.as_dict(),
        }

    def __repr__(self) -> str:
        return f"<Event {self.event_type}[{self.origin.value[0].upper()}]: {dict(self.data)}>"


class _Registration:
    __slots__ = ("func", "event_filter", "owner", "is_coro", "once", "active", "inline", "group")

    def __init__(
        self, func: Listener, event_filter: EventFilter | None, owner: str | None, once: bool, group: str
    ) -> None:
        self.func = func
        self.event_filter = event_filter
        self.owner = owner
        self.is_coro = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)
        )
        self.once = once
        self.active = True
        self.inline = not self.is_coro and not once  # plain sync listener: called straight from fire
        self.group = group  # the event type it was registered under (MATCH_ALL for match-all)


class Bus:
    """Delivers events to listeners; must be used from the event loop's thread."""

    def __init__(self, *, clock_time: Callable[[], float] = _time.time, task_factory: TaskFactory | None = None) -> None:
        self._time = clock_time
        self._task_factory = task_factory or _default_task_factory
        # Tuples, replaced on every change, so `fire` iterates a snapshot without copying.
        self._listeners: dict[str, tuple[_Registration, ...]] = {}
        self._match_all: tuple[_Registration, ...] = ()

    def listen(
        self,
        event_type: str,
        listener: Listener,
        *,
        event_filter: EventFilter | None = None,
        owner: str | None = None,
    ) -> Callable[[], None]:
        """Call `listener(event)` for each event of `event_type` (or MATCH_ALL); returns unlisten."""
        return self._add(event_type, _Registration(listener, event_filter, owner, False, event_type))

    def listen_once(
        self,
        event_type: str,
        listener: Listener,
        *,
        event_filter: EventFilter | None = None,
        owner: str | None = None,
    ) -> Callable[[], None]:
        """Like `listen`, but removed after the first matching event."""
        return self._add(event_type, _Registration(listener, event_filter, owner, True, event_type))

    def _add(self, event_type: str, reg: _Registration) -> Callable[[], None]:
        if event_type == MATCH_ALL:
            self._match_all = (*self._match_all, reg)
        else:
            self._listeners[event_type] = (*self._listeners.get(event_type, ()), reg)

        def unlisten() -> None:
            self._remove(event_type, reg)

        return unlisten

    def _remove(self, event_type: str, reg: _Registration) -> None:
        reg.active = False
        if event_type == MATCH_ALL:
            self._match_all = tuple(r for r in self._match_all if r is not reg)
            return
        remaining = tuple(r for r in self._listeners.get(event_type, ()) if r is not reg)
        if remaining:
            self._listeners[event_type] = remaining
        else:
            self._listeners.pop(event_type, None)

    def listener_count(self) -> dict[str, int]:
        """How many listeners each event type has (MATCH_ALL under '*')."""
        counts = {etype: len(regs) for etype, regs in self._listeners.items()}
        if self._match_all:
            counts[MATCH_ALL] = len(self._match_all)
        return counts

    def fire(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        context: Context | None = None,
        origin: EventOrigin = EventOrigin.local,
        time_fired: float | None = None,
    ) -> None:
        """Deliver an event now to every listener of its type and to match-all listeners.

        `time_fired` defaults to the clock's now; the state machine passes the state's own
        `last_updated` so both carry the same instant.
        """
        regs = self._listeners.get(event_type)
        if regs is None:
            regs = self._match_all
            if not regs:
                return
        elif self._match_all:
            regs = regs + self._match_all
        if data is None:
            data = _EMPTY
        # Filters see only the data, so the Event is built once the first listener accepts:
        # the common case of a filter rejecting (trackers, per-entity listeners) stays cheap.
        event: Event | None = None
        for reg in regs:
            if (event_filter := reg.event_filter) is not None:
                try:
                    if not event_filter(data):
                        continue
                except Exception:  # a broken filter must not break the bus
                    _LOGGER.exception("Event filter of %s for %s raised", reg.owner or "hub", event_type)
                    continue
            if event is None:
                event = Event(event_type, data, origin, self._time() if time_fired is None else time_fired, context)
            if reg.inline:
                try:
                    reg.func(event)
                except Exception:
                    _log_listener_error(reg, event)
            else:
                self._run_special(reg, event)

    def _run_special(self, reg: _Registration, event: Event) -> None:
        """A once-listener or a coroutine listener (the slow path of delivery)."""
        if reg.once:
            if not reg.active:
                return
            self._remove(reg.group, reg)
        if reg.is_coro:
            self._task_factory(_guard(reg, event), f"listener:{reg.owner or 'hub'}:{event.event_type}")
            return
        try:
            reg.func(event)
        except Exception:
            _log_listener_error(reg, event)


def _log_listener_error(reg: _Registration, event: Event) -> None:
    _LOGGER.exception(
        "Listener %s of integration %s raised on %s",
        getattr(reg.func, "__qualname__", reg.func),
        reg.owner or "hub",
        event.event_type,
    )


async def _guard(reg: _Registration, event: Event) -> None:
    try:
        await reg.func(event)
    except asyncio.CancelledError:
        raise
    except Exception:
        _log_listener_error(reg, event)


_background: set[asyncio.Task[Any]] = set()


def _default_task_factory(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task
