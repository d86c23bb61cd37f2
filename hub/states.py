"""The state machine: the current state of every entity, and cheap tracking of changes.

`StateMachine.set` fires `state_changed` only on a real change (state text or
attributes). `last_changed` moves only when the state text changes; `last_updated`
moves on any change. `StateTracker` lets automations and the dashboard follow a set
of entity ids through one bus listener and a dict lookup per event.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import orjson

from .bus import EVENT_STATE_CHANGED, Bus, Context, Event

_LOGGER = logging.getLogger(__name__)

MAX_STATE_LENGTH = 255

STATE_UNAVAILABLE = "unavailable"
STATE_UNKNOWN = "unknown"

# domain '.' object_id: lowercase letters, digits and single underscores, none leading/trailing.
_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")


class InvalidEntityId(ValueError):
    """An entity id that is not `domain.object_id` in lowercase letters, digits and underscores."""


class InvalidStateError(ValueError):
    """A state value that cannot be stored (too long)."""


@lru_cache(maxsize=4096)
def valid_entity_id(entity_id: str) -> bool:
    """Whether `entity_id` has the form `domain.object_id`."""
    return _ENTITY_ID.match(entity_id) is not None


def split_entity_id(entity_id: str) -> tuple[str, str]:
    """`sensor.cistern_level` -> ("sensor", "cistern_level")."""
    domain, _, object_id = entity_id.partition(".")
    return domain, object_id


class ReadOnlyDict(dict[str, Any]):
    """Attributes of a state: a dict nobody may change after the state is made."""

    def _readonly(self, *_: Any, **__: Any) -> Any:
        raise TypeError("state attributes are read-only; set a new state instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly


class State:
    """An entity's state at one moment; immutable."""

    __slots__ = ("entity_id", "state", "attributes", "last_changed", "last_updated", "context", "_json")

    def __init__(
        self,
        entity_id: str,
        state: str,
        attributes: Mapping[str, Any] | None = None,
        last_changed: float = 0.0,
        last_updated: float = 0.0,
        context: Context | None = None,
    ) -> None:
        self.entity_id = entity_id
        self.state = state
        self.attributes = attributes if isinstance(attributes, ReadOnlyDict) else ReadOnlyDict(attributes or {})
        self.last_changed = last_changed
        self.last_updated = last_updated or last_changed
        self.context = context or Context()
        self._json: bytes | None = None

    @property
    def domain(self) -> str:
        """The entity's domain (the part before the dot)."""
        return split_entity_id(self.entity_id)[0]

    @property
    def available(self) -> bool:
        """False when the entity reports it cannot be reached."""
        return self.state != STATE_UNAVAILABLE

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as epoch seconds)."""
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": self.attributes,
            "last_changed": self.last_changed,
            "last_updated": self.last_updated,
            "context": self.context.as_dict(),
        }

    def as_json(self) -> bytes:
        """JSON bytes of `as_dict`, computed once per state (states never change)."""
        json = self._json
        if json is None:
            # orjson returns its bytes inside a ~4 KiB allocation; keeping that in the cache
            # pins a page per state (400 MB per 100k states). An exact-size copy does not.
            json = self._json = memoryview(orjson.dumps(self.as_dict())).tobytes()
        return json

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, State)
            and self.entity_id == other.entity_id
            and self.state == other.state
            and self.attributes == other.attributes
            and self.last_changed == other.last_changed
            and self.last_updated == other.last_updated
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<State {self.entity_id}={self.state} {dict(self.attributes)}>"


class StateMachine:
    """Holds the current `State` of every entity and announces changes on the bus."""

    def __init__(self, bus: Bus, *, clock_time: Callable[[], float]) -> None:
        self._bus = bus
        self._time = clock_time
        self._states: dict[str, State] = {}

    def get(self, entity_id: str) -> State | None:
        """The current state, or None if the entity has none."""
        return self._states.get(entity_id)

    def all(self, domain: str | None = None) -> list[State]:
        """Every current state, optionally only of one domain."""
        if domain is None:
            return list(self._states.values())
        prefix = domain + "."
        return [s for eid, s in self._states.items() if eid.startswith(prefix)]

    def entity_ids(self, domain: str | None = None) -> list[str]:
        """Every entity id with a state, optionally only of one domain."""
        return [s.entity_id for s in self.all(domain)]

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._states

    def __len__(self) -> int:
        return len(self._states)

    def set(
        self,
        entity_id: str,
        new_state: Any,
        attributes: Mapping[str, Any] | None = None,
        *,
        force_update: bool = False,
        context: Context | None = None,
    ) -> State:
        """Set an entity's state; fires `state_changed` only if state or attributes changed."""
        text = new_state if type(new_state) is str else str(new_state)
        if len(text) > MAX_STATE_LENGTH:
            raise InvalidStateError(
                f"state of {entity_id} is {len(text)} characters; the limit is {MAX_STATE_LENGTH}"
            )
        old = self._states.get(entity_id)
        if old is None:
            if not valid_entity_id(entity_id):
                raise InvalidEntityId(f"invalid entity id {entity_id!r}: expected domain.object_id in lowercase")
        elif old.state == text and not force_update:
            if attributes is None:
                attributes = {}
            if old.attributes == attributes:
                return old
        now = self._time()
        last_changed = old.last_changed if old is not None and old.state == text else now
        state = State(entity_id, text, attributes, last_changed, now, context)
        self._states[entity_id] = state
        self._bus.fire(
            EVENT_STATE_CHANGED,
            {"entity_id": entity_id, "old_state": old, "new_state": state},
            context=context,
            time_fired=now,
        )
        return state

    def remove(self, entity_id: str, *, context: Context | None = None) -> bool:
        """Forget an entity's state; fires `state_changed` with `new_state` None."""
        old = self._states.pop(entity_id, None)
        if old is None:
            return False
        self._bus.fire(
            EVENT_STATE_CHANGED, {"entity_id": entity_id, "old_state": old, "new_state": None}, context=context
        )
        return True

    def restore(self, state: State) -> None:
        """Put back a state known from before a restart without firing an event."""
        self._states.setdefault(state.entity_id, state)


class StateTracker:
    """Calls listeners when one of their entity ids changes, through a single bus listener."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._by_entity: dict[str, list[Callable[[Event], Any]]] = {}
        self._unlisten: Callable[[], None] | None = None

    def track(
        self, entity_ids: str | Iterable[str], action: Callable[[Event], Any]
    ) -> Callable[[], None]:
        """Run `action(event)` on each `state_changed` of the given entity ids; returns untrack."""
        ids = [entity_ids] if isinstance(entity_ids, str) else list(dict.fromkeys(entity_ids))
        for eid in ids:
            self._by_entity.setdefault(eid.lower(), []).append(action)
        if self._unlisten is None and ids:
            by_entity = self._by_entity
            self._unlisten = self._bus.listen(
                EVENT_STATE_CHANGED,
                self._dispatch,
                event_filter=lambda data: data["entity_id"] in by_entity,
            )

        def untrack() -> None:
            for eid in ids:
                actions = self._by_entity.get(eid.lower())
                if actions is None:
                    continue
                try:
                    actions.remove(action)
                except ValueError:
                    pass
                if not actions:
                    del self._by_entity[eid.lower()]
            if not self._by_entity and self._unlisten is not None:
                self._unlisten()
                self._unlisten = None

        return untrack

    def _dispatch(self, event: Event) -> None:
        for action in tuple(self._by_entity.get(event.data["entity_id"], ())):
            try:
                action(event)
            except Exception:  # one failing action must not starve the others
                _LOGGER.exception(
                    "State tracker action %s raised for %s", action, event.data["entity_id"]
                )
