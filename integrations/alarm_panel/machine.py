"""The panel's state machine: `handle(event, now)` -> actions; pure, no I/O, no clock.

disarmed -> arming (exit delay) -> armed_* -> pending (entry delay) -> triggered -> armed_* ...
Inputs are arm / disarm requests (codes already checked by the caller), zone entity readings,
camera detections, panic presses and timer expiries. Outputs say what the runtime must do: show
a mode, set or cancel a timer, raise or restore an alarm, report an opening or closing. Every
input carries an opaque `cause` (the hub's Context) that the machine hands back on the actions it
caused, so each alarm and state write can name the reading or service call behind it.

The rules are in docs/alarms.md ("Alarm panel", "Rules as built"); each has a row in
tests/integrations/alarm_panel/test_ap_machine.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .model import (
    ARMED_MODES,
    HAZARD_TYPES,
    NOBODY,
    RESTORE_ON_CLEAR,
    TROUBLES,
    ZONE_CATEGORY,
    AlarmKey,
    Category,
    Kind,
    Mode,
    Who,
    Zone,
    ZoneType,
)

ON, UNAVAILABLE = "on", "unavailable"
EXIT, ENTRY, TRIGGER = "exit", "entry", "trigger"  # timer names


class NotAllowed(Exception):
    """The request does not fit the panel's state (e.g. arming while pending); nothing changed."""


@dataclass(frozen=True, slots=True)
class Delays:
    exit: float = 0.0
    entry: float = 0.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Per armed mode exit and entry delays, and how long `triggered` lasts."""

    delays: Mapping[Mode, Delays] = field(default_factory=lambda: {m: Delays() for m in ARMED_MODES})
    trigger_time: float = 300.0


# -- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arm:
    mode: Mode
    who: Who = NOBODY
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Disarm:
    who: Who = NOBODY
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A zone entity's new state: "on" (open / detected), "off", "unavailable", ..."""

    entity_id: str
    state: str
    tamper: bool = False
    time: float = 0.0
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Detection:
    """A camera saw `what` (face_unknown | person)."""

    camera: str
    what: str
    snapshot: str | None = None
    time: float = 0.0
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Panic:
    silent: bool = False  # silent: duress, and nothing visible changes
    who: Who = NOBODY
    time: float = 0.0
    cause: Any = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str
    at: float  # the deadline it was set for: a stale timer is ignored


Input = Arm | Disarm | Reading | Detection | Panic | TimerFired


# -- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModeChanged:
    mode: Mode
    previous: Mode
    cause: Any = None


@dataclass(frozen=True, slots=True)
class SetTimer:
    name: str
    at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Raise:
    key: AlarmKey
    kind: Kind
    zone: Zone | None
    entity_id: str | None
    time: float
    cause: Any
    mode: Mode
    snapshot: str | None = None
    user: int | None = None


@dataclass(frozen=True, slots=True)
class Restore:
    key: AlarmKey
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Armed:
    """Closing: the panel is armed in `mode` (reported when the exit delay ends)."""

    mode: Mode
    who: Who
    cause: Any = None


@dataclass(frozen=True, slots=True)
class Disarmed:
    """Opening: the panel, armed in `mode`, was disarmed."""

    mode: Mode
    who: Who
    cause: Any = None


Action = ModeChanged | SetTimer | CancelTimer | Raise | Restore | Armed | Disarmed


@dataclass(frozen=True, slots=True)
class _Violation:
    """A zone that tripped during the entry delay: alarmed when the delay runs out."""

    zone: Zone
    entity_id: str
    time: float
    cause: Any


class PanelMachine:
    """One panel's state; `handle` is the only way it changes."""

    def __init__(self, settings: Settings, zones: Iterable[Zone], *, armed_mode: Mode = Mode.DISARMED,
                 open_alarms: Iterable[AlarmKey] = (), changed_by: Who | None = None) -> None:  # fmt: skip
        if armed_mode not in (Mode.DISARMED, *ARMED_MODES):
            raise ValueError(f"a panel starts disarmed or armed, not {armed_mode.value}")
        self.settings = settings
        self.zones: dict[str, Zone] = {z.id: z for z in zones}
        self._by_entity: dict[str, Zone] = {}  # zone entities and (for supervision) cameras
        self._by_camera: dict[str, list[Zone]] = {}
        for zone in self.zones.values():
            for entity_id in zone.entities:
                self._by_entity[entity_id] = zone
            for camera in zone.cameras:
                self._by_entity.setdefault(camera, zone)
                self._by_camera.setdefault(camera, []).append(zone)
        self.mode = armed_mode
        self.previous: Mode | None = None
        self.armed_mode = armed_mode  # armed (or arming towards, or pending / triggered in) this mode
        self.changed_by = changed_by
        self.deadlines: dict[str, float] = {}
        self.open: set[AlarmKey] = set(open_alarms)
        self._states: dict[str, str] = {}
        self._last: dict[str, Reading] = {}
        self._tampered: set[str] = set()
        self._violations: list[_Violation] = []  # the entry zone first, then zones that followed it
        self._arm_request: Arm | None = None
        self._trigger_cause: Any = None

    @property
    def entity_ids(self) -> list[str]:
        """Every entity the panel follows (zone entities and cameras)."""
        return list(self._by_entity)

    @property
    def next_state(self) -> Mode | None:
        if self.mode is Mode.ARMING:
            return self.armed_mode
        if self.mode is Mode.PENDING:
            return Mode.TRIGGERED
        if self.mode is Mode.TRIGGERED:
            return self.armed_mode
        return None

    def handle(self, event: Input, now: float) -> list[Action]:
        """Apply one input; returns what to do. NotAllowed (before any change) for a refused request."""
        out: list[Action] = []
        if isinstance(event, Arm):
            self._arm(event, now, out)
        elif isinstance(event, Disarm):
            self._disarm(event, out)
        elif isinstance(event, Reading):
            self._reading(event, now, out)
        elif isinstance(event, Detection):
            self._detection(event, now, out)
        elif isinstance(event, Panic):
            self._panic(event, now, out)
        elif isinstance(event, TimerFired):
            self._timer_fired(event, now, out)
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown input {event!r}")
        return out

    def orphans(self, cause: Any = None) -> list[Action]:
        """Restore open alarms whose zone is no longer configured (their condition can never clear)."""
        out: list[Action] = []
        for key in sorted(self.open, key=AlarmKey.text):
            if key.zone_id and key.zone_id not in self.zones:
                self._restore(key, cause, out)
        return out

    # -- requests ---------------------------------------------------------------------------------

    def _arm(self, event: Arm, now: float, out: list[Action]) -> None:
        target = event.mode
        if target not in ARMED_MODES:
            raise NotAllowed(f"cannot arm to {target.value}")
        if self.mode in (Mode.ARMING, Mode.PENDING, Mode.TRIGGERED):
            raise NotAllowed(f"the panel is {self.mode.value}; disarm it first")
        if self.mode is target:
            return  # already armed so: nothing to do (an automation may arm every evening)
        delays = self.settings.delays[target]
        # Not ready: an open window would alarm the moment the panel is armed. An open entry/exit
        # zone is fine while there is an exit delay to leave through it.
        open_zones = [z.name for z in self.zones.values() if z.type in (ZoneType.PERIMETER, ZoneType.ENTRY_EXIT)
                      and z.watches(target) and self._faulted(z)
                      and (z.type is ZoneType.PERIMETER or delays.exit <= 0)]  # fmt: skip
        if open_zones:
            raise NotAllowed(f"not ready to arm: {', '.join(sorted(open_zones))} open")
        self.armed_mode = target
        self.changed_by = event.who
        self._arm_request = event
        if delays.exit > 0:
            self._set_mode(Mode.ARMING, event.cause, out)
            self._set_timer(EXIT, now + delays.exit, out)
            self._supervise_all(out)
        else:
            self._enter_armed(event, now, out)

    def _enter_armed(self, request: Arm, now: float, out: list[Action]) -> None:
        self._set_mode(self.armed_mode, request.cause, out)
        out.append(Armed(self.armed_mode, request.who, request.cause))
        self._supervise_all(out)
        # Exit fault: an entry/exit or perimeter zone still open when the exit delay ends counts
        # as opened now. Interior and camera zones only act on a new detection.
        for zone in self.zones.values():
            if zone.type in (ZoneType.ENTRY_EXIT, ZoneType.PERIMETER) and zone.watches(self.armed_mode):
                entity_id = next((e for e in zone.entities if self._states.get(e) == ON), None)
                if entity_id is not None:
                    reading = self._last[entity_id]
                    self._intrusion(zone, entity_id, reading.time, reading.cause, now, out)

    def _disarm(self, event: Disarm, out: list[Action]) -> None:
        previous, armed_in = self.mode, self.armed_mode
        for name in list(self.deadlines):
            self._cancel_timer(name, out)
        self._violations = []
        self._arm_request = None
        self.armed_mode = Mode.DISARMED
        self.changed_by = event.who
        self._set_mode(Mode.DISARMED, event.cause, out)
        if armed_in is not Mode.DISARMED and previous is not Mode.ARMING:
            out.append(Disarmed(armed_in, event.who, event.cause))
        self._restore_on_disarm(event.cause, out)

    def _panic(self, event: Panic, now: float, out: list[Action]) -> None:
        category = Category.DURESS if event.silent else Category.PANIC
        self._raise(AlarmKey(category), None, None, event.time or now, event.cause, out, user=event.who.number)
        if not event.silent:
            self._trigger(event.cause, now, out)  # a second press sounds again, without a second alarm

    # -- readings ---------------------------------------------------------------------------------

    def _reading(self, event: Reading, now: float, out: list[Action]) -> None:
        zone = self._by_entity.get(event.entity_id)
        if zone is None:
            return
        if not event.time:
            event = replace(event, time=now)
        entity_id = event.entity_id
        was_on = self._states.get(entity_id) == ON
        self._states[entity_id] = event.state
        self._last[entity_id] = event
        self._check_tamper(zone, event, now, out)
        offline = AlarmKey(Category.SENSOR_OFFLINE, zone.id, entity_id)
        if event.state == UNAVAILABLE:
            if self._supervised(zone):
                self._raise(offline, zone, entity_id, event.time, event.cause, out)
        elif offline in self.open:
            self._restore(offline, event.cause, out)
        if zone.type is ZoneType.TAMPER or entity_id not in zone.entities:
            return  # tamper sensors act above; a camera's own state only matters for supervision
        on = event.state == ON
        if zone.type in HAZARD_TYPES or zone.type is ZoneType.PANIC:
            if on and not was_on:
                key = AlarmKey(ZONE_CATEGORY[zone.type], zone.id)
                self._raise(key, zone, entity_id, event.time, event.cause, out)
                self._trigger(event.cause, now, out)
            elif not on:
                if zone.type is ZoneType.PANIC:
                    self._restore_if_disarmed(zone, event.cause, out)
                elif self._normal(zone):
                    self._restore(AlarmKey(ZONE_CATEGORY[zone.type], zone.id), event.cause, out)
            return
        if on and not was_on:
            if self.mode not in (Mode.DISARMED, Mode.ARMING) and zone.watches(self.armed_mode):
                self._intrusion(zone, entity_id, event.time, event.cause, now, out)
        elif not on:
            self._restore_if_disarmed(zone, event.cause, out)

    def _check_tamper(self, zone: Zone, event: Reading, now: float, out: list[Action]) -> None:
        tampered = event.tamper or (zone.type is ZoneType.TAMPER and event.state == ON)
        key = AlarmKey(Category.TAMPER, zone.id, event.entity_id)
        if tampered and event.entity_id not in self._tampered:
            self._tampered.add(event.entity_id)
            if self._raise(key, zone, event.entity_id, event.time, event.cause, out) and self._is_armed:
                self._trigger(event.cause, now, out)  # disarmed, a tamper is reported but does not sound
        elif not tampered and event.entity_id in self._tampered:
            self._tampered.discard(event.entity_id)
            self._restore(key, event.cause, out)

    def _detection(self, event: Detection, now: float, out: list[Action]) -> None:
        if self.mode in (Mode.DISARMED, Mode.ARMING):
            return
        category = Category.UNKNOWN_FACE if event.what == "face_unknown" else Category.INTRUSION
        for zone in self._by_camera.get(event.camera, ()):
            if event.what in zone.events and zone.watches(self.armed_mode):
                self._intrusion(zone, event.camera, event.time or now, event.cause, now, out,
                                category=category, snapshot=event.snapshot)  # fmt: skip

    def _intrusion(self, zone: Zone, entity_id: str, time: float, cause: Any, now: float, out: list[Action], *,
                   category: Category = Category.INTRUSION, snapshot: str | None = None) -> None:  # fmt: skip
        """A watched security zone tripped while armed, pending or triggered."""
        key = AlarmKey(category, zone.id)
        if key in self.open:
            return  # swinger shutdown: one alarm per zone until it is restored
        delayed = zone.type is ZoneType.ENTRY_EXIT and category is Category.INTRUSION
        if self.mode in ARMED_MODES and delayed and self.settings.delays[self.armed_mode].entry > 0:
            self._violations = [_Violation(zone, entity_id, time, cause)]
            self._set_mode(Mode.PENDING, cause, out)
            self._set_timer(ENTRY, now + self.settings.delays[self.armed_mode].entry, out)
            return
        if self.mode is Mode.PENDING and zone.type in (ZoneType.ENTRY_EXIT, ZoneType.INTERIOR):
            # Followers: someone walking in from the entry door; they alarm only if the delay runs out.
            if all(v.zone.id != zone.id for v in self._violations):
                self._violations.append(_Violation(zone, entity_id, time, cause))
            return
        self._raise(key, zone, entity_id, time, cause, out, snapshot=snapshot)
        if self.mode is Mode.PENDING:
            self._raise_violations(out)  # an instant zone cuts the entry delay short
        self._trigger(cause, now, out)

    # -- timers -----------------------------------------------------------------------------------

    def _timer_fired(self, event: TimerFired, now: float, out: list[Action]) -> None:
        if self.deadlines.get(event.name) != event.at:
            return  # cancelled or replaced since it was set
        del self.deadlines[event.name]
        if event.name == EXIT and self.mode is Mode.ARMING and self._arm_request is not None:
            self._enter_armed(self._arm_request, now, out)
        elif event.name == ENTRY and self.mode is Mode.PENDING and self._violations:
            cause = self._violations[0].cause
            self._raise_violations(out)
            self._trigger(cause, now, out)
        elif event.name == TRIGGER and self.mode is Mode.TRIGGERED:
            self._set_mode(self.armed_mode, self._trigger_cause, out)

    def _raise_violations(self, out: list[Action]) -> None:
        for violation in self._violations:
            self._raise(AlarmKey(Category.INTRUSION, violation.zone.id), violation.zone, violation.entity_id,
                        violation.time, violation.cause, out)  # fmt: skip
        self._violations = []

    def _trigger(self, cause: Any, now: float, out: list[Action]) -> None:
        if self.mode is Mode.TRIGGERED:
            return  # the siren runs its course; a new zone adds an alarm, not time
        if self.mode is Mode.ARMING:
            self.armed_mode = Mode.DISARMED  # a panel that sounds during its exit delay never finished arming
            self._arm_request = None
        self._cancel_timer(EXIT, out)
        self._cancel_timer(ENTRY, out)
        self._violations = []
        self._trigger_cause = cause
        self._set_mode(Mode.TRIGGERED, cause, out)
        self._set_timer(TRIGGER, now + self.settings.trigger_time, out)

    # -- alarms -----------------------------------------------------------------------------------

    def _raise(self, key: AlarmKey, zone: Zone | None, entity_id: str | None, time: float, cause: Any,
               out: list[Action], *, snapshot: str | None = None, user: int | None = None) -> bool:  # fmt: skip
        if key in self.open:
            return False
        self.open.add(key)
        # The contract's mode: the armed mode the panel is in (pending and triggered are part of it).
        mode = self.armed_mode if self.mode in (Mode.PENDING, Mode.TRIGGERED) else self.mode
        kind = Kind.TROUBLE if key.category in TROUBLES else Kind.ALARM
        out.append(Raise(key=key, kind=kind, zone=zone, entity_id=entity_id, time=time, cause=cause, mode=mode,
                         snapshot=snapshot, user=user))  # fmt: skip
        return True

    def _restore(self, key: AlarmKey, cause: Any, out: list[Action]) -> None:
        if key in self.open:
            self.open.discard(key)
            out.append(Restore(key, cause))

    def _restore_if_disarmed(self, zone: Zone, cause: Any, out: list[Action]) -> None:
        if self.armed_mode is Mode.DISARMED and self._normal(zone):
            for key in sorted(self.open, key=AlarmKey.text):
                if key.zone_id == zone.id and key.category not in RESTORE_ON_CLEAR:
                    self._restore(key, cause, out)

    def _restore_on_disarm(self, cause: Any, out: list[Action]) -> None:
        for key in sorted(self.open, key=AlarmKey.text):
            if key.category in RESTORE_ON_CLEAR:
                continue
            zone = self.zones.get(key.zone_id)
            if zone is None or zone.type is ZoneType.CAMERA or self._normal(zone):
                self._restore(key, cause, out)

    def _supervise_all(self, out: list[Action]) -> None:
        """On arming: entities already offline in the zones the mode watches become troubles now."""
        for entity_id, zone in self._by_entity.items():
            if self._states.get(entity_id) == UNAVAILABLE and self._supervised(zone):
                reading = self._last[entity_id]
                self._raise(AlarmKey(Category.SENSOR_OFFLINE, zone.id, entity_id), zone, entity_id, reading.time,
                            reading.cause, out)  # fmt: skip

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def _is_armed(self) -> bool:
        return self.armed_mode is not Mode.DISARMED

    def _supervised(self, zone: Zone) -> bool:
        """24-hour zones always; security zones while the panel is armed in a mode that watches them."""
        return zone.always or (self._is_armed and zone.watches(self.armed_mode))

    def _faulted(self, zone: Zone) -> bool:
        return any(self._states.get(e) == ON for e in zone.entities)

    def _normal(self, zone: Zone) -> bool:
        """Every entity of the zone reports, and none is on (unavailable or silent is not normal)."""
        return all(self._states.get(e) not in (None, ON, UNAVAILABLE) for e in zone.entities)

    def _set_mode(self, mode: Mode, cause: Any, out: list[Action]) -> None:
        if mode is not self.mode:
            self.previous, self.mode = self.mode, mode
            out.append(ModeChanged(mode, self.previous, cause))

    def _set_timer(self, name: str, at: float, out: list[Action]) -> None:
        self.deadlines[name] = at
        out.append(SetTimer(name, at))

    def _cancel_timer(self, name: str, out: list[Action]) -> None:
        if self.deadlines.pop(name, None) is not None:
            out.append(CancelTimer(name))


__all__ = [
    "ENTRY", "EXIT", "TRIGGER", "Action", "Arm", "Armed", "CancelTimer", "Delays", "Detection", "Disarm", "Disarmed",
    "Input", "ModeChanged", "NotAllowed", "PanelMachine", "Panic", "Raise", "Reading", "Restore", "SetTimer",
    "Settings", "TimerFired",
]
