"""The alarm panel at run time: feeds zone states, camera events, requests and timers to the
`PanelMachine`, and carries out what it answers on the hub.

Data flow: a `state_changed` of a zone entity (or a camera event, a service call, a timer) ->
`PanelMachine.handle` (synchronous, so the mode the entity shows is always the machine's) ->
timers and the entity's state at once; alarm rows, events and the saved mode through one worker
queue, in order. Each alarm is committed before its `alarm_raised` is fired (if the database
fails, the alarm is announced anyway: the monitoring centre matters more than the history).
Every state write and event carries the context of its cause: the reading's or the service
call's (for a code that names another user than the caller, a child context naming that user).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from hub.auth import ROLE_ADMIN
from hub.bus import EVENT_HUB_STARTED, Context, Event, new_id
from hub.clock import Timer
from hub.errors import HubError, Unauthorized
from hub.states import State

from .codes import CodeBook, CodeRequired
from .config import build_settings, build_zones
from .entity import TROUBLE_SENSORS, AlarmPanelEntity, PanelView, TroubleSensor
from .machine import (
    Action,
    Arm,
    Armed,
    CancelTimer,
    Disarm,
    Disarmed,
    Input,
    ModeChanged,
    NotAllowed,
    PanelMachine,
    Panic,
    Raise,
    Reading,
    Restore,
    SetTimer,
    TimerFired,
)
from .machine import Detection as DetectionInput
from .model import ARMED_MODES, CAMERA_EVENTS, Alarm, AlarmKey, Mode, Status, Who, camera_detections, message
from .store import AlarmStore

_LOGGER = logging.getLogger(__name__)

EVENT_RAISED = "alarm_raised"
EVENT_RESTORED = "alarm_restored"
EVENT_ACKNOWLEDGED = "alarm_acknowledged"
EVENT_ARMED = "alarm_panel_armed"
EVENT_DISARMED = "alarm_panel_disarmed"
REPLAY_WINDOW_S = 24 * 3600.0  # restored alarms announced again at start (see AlarmPanel.replay)

Job = Callable[[], Awaitable[Any]]


class AlarmNotFound(HubError):
    """No alarm with that id (404)."""


class AlreadyAcknowledged(HubError):
    """The alarm was acknowledged before (409)."""


class AlarmPanel:
    """One household's panel; built and started by the integration's setup."""

    def __init__(self, hub: Any, config: Mapping[str, Any]) -> None:
        self._hub = hub
        self.name: str = config["name"]
        self.code_arm_required: bool = config["code_arm_required"]
        self.settings = build_settings(config)
        self.zones = build_zones(config)
        self.store = AlarmStore(hub.db)
        self.codes = CodeBook(hub.db, time=hub.clock.time, tz=hub.time_zone)
        self.machine = PanelMachine(self.settings, self.zones)
        self.open: dict[AlarmKey, Alarm] = {}  # unrestored alarms, as last stored
        self.entity = AlarmPanelEntity(self.name, self.code_arm_required, self._view)
        self.troubles = [TroubleSensor(self.name, category, d) for category, d in TROUBLE_SENSORS]
        self._timers: dict[str, Timer] = {}
        self._queue: asyncio.Queue[tuple[Job | None, asyncio.Future[Any] | None]] = asyncio.Queue()
        self._changed_by: str | None = None
        self._saved: tuple[Mode, str | None] = (Mode.DISARMED, None)

    # -- start -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Tables, codes, the saved mode and the unrestored alarms; then the worker."""
        await self.store.start()
        await self.codes.load()
        alarms = await self.store.open_alarms()
        armed_mode, self._changed_by = await self.store.load_state()
        self._saved = (armed_mode, self._changed_by)
        self.open = {a.key: a for a in alarms}  # oldest first: a later duplicate key wins
        self.machine = PanelMachine(self.settings, self.zones, armed_mode=armed_mode, open_alarms=self.open)
        if alarms or armed_mode is not Mode.DISARMED:
            _LOGGER.info("Alarm panel %s starts %s with %d unrestored alarms", self.name, armed_mode.value, len(alarms))
        self._hub.create_task(self._work(), "alarm_panel effects")
        self._hub.on_unload(self._drain)

    async def follow(self) -> None:
        """After the entities exist: restore orphans, follow zones and cameras, read what they show now."""
        cause = Context(origin="alarm_panel")
        self._apply(self.machine.orphans(cause), cause)
        self._hub.track_states(self.machine.entity_ids, self._on_state)
        for event_type in CAMERA_EVENTS:
            self._hub.bus.listen(event_type, self._on_camera)
        for entity_id in self.machine.entity_ids:
            state = self._hub.states.get(entity_id)
            if state is not None:
                self._step(self._reading(state, state.last_updated))
        await self.settle()
        if getattr(self._hub.state, "value", None) == "running":
            self._hub.create_task(self.replay(), "alarm_panel replay")
        else:
            self._hub.bus.listen_once(EVENT_HUB_STARTED, lambda _: self._hub.create_task(self.replay(), "alarm_panel replay"))

    async def replay(self) -> int:
        """Announce again, once everything listens, the alarms a crash may have kept from their forwarder.

        An alarm is stored before it is announced, but whoever forwards it (command_center) queues it
        only when it hears the event: a `kill -9` between the two would lose it. So at start the
        unrestored alarms and those restored in the last REPLAY_WINDOW_S are fired again with
        `replay: true`; forwarders de-duplicate by the alarm id (command_center's outbox ids are
        `<alarm id>:raised` / `:restored`), so a replay costs nothing when nothing was lost.
        """
        now = self._hub.clock.time()
        recent = [a for a in await self.store.list("all", limit=1000)
                  if a.restored_at is None or a.restored_at >= now - REPLAY_WINDOW_S]  # fmt: skip
        cause = Context(origin="alarm_panel")
        for alarm in sorted(recent, key=lambda a: a.raised_at):
            self._hub.bus.fire(EVENT_RAISED, {**alarm.as_record(), "replay": True}, context=cause)
            if alarm.restored_at is not None:
                self._hub.bus.fire(EVENT_RESTORED, {**alarm.as_record(), "replay": True}, context=cause)
        return len(recent)

    async def settle(self) -> None:
        """Wait until every queued alarm, event and write so far is done."""
        await self._queue.join()

    async def _drain(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        try:
            await asyncio.wait_for(self._queue.join(), timeout=5.0)
        except TimeoutError:
            _LOGGER.error("Alarm panel %s: %d alarm writes were still queued at unload", self.name, self._queue.qsize())

    # -- inputs ------------------------------------------------------------------------------------

    @staticmethod
    def _reading(state: State, time: float) -> Reading:
        return Reading(state.entity_id, state.state, state.attributes.get("tamper") is True, time, state.context)

    def _on_state(self, event: Event) -> None:
        new = event.data.get("new_state")
        if new is None:
            return  # the entity went away (its integration unloads): no news about the zone
        self._step(self._reading(new, event.time_fired))

    def _on_camera(self, event: Event) -> None:
        for found in camera_detections(event.event_type, event.data):
            self._step(DetectionInput(found.camera, found.what, found.snapshot, event.time_fired, event.context))

    def _on_timer(self, name: str, at: float) -> None:
        self._timers.pop(name, None)
        self._step(TimerFired(name, at))

    def _step(self, event: Input) -> asyncio.Future[Any]:
        """Run the machine on one input (NotAllowed propagates, nothing changed) and carry out its actions."""
        actions = self.machine.handle(event, self._hub.clock.time())
        return self._apply(actions, getattr(event, "cause", None))

    # -- requests (services, API) ------------------------------------------------------------------

    async def arm(self, mode: Mode, *, code: str | None, context: Context) -> None:
        if mode not in ARMED_MODES:
            raise NotAllowed(f"cannot arm to {mode.value}")
        if not self.codes.has_codes:
            raise NotAllowed("no alarm code is set yet: set one first with alarm_panel.set_code")
        who, cause = await self._who(code, context, required=self.code_arm_required)
        await self._step(Arm(mode, who, cause))

    async def disarm(self, *, code: str | None, context: Context) -> None:
        who, cause = await self._who(code, context, required=True)
        await self._step(Disarm(who, cause))

    async def panic(self, *, silent: bool, context: Context) -> None:
        """No code, by design: the person pressing it may be under threat."""
        caller = context.user_id
        number = await self.codes.user_number(caller) if caller else None
        await self._step(Panic(silent, Who(caller, number, self._user_name(caller)), self._hub.clock.time(), context))

    async def set_code(self, code: str, *, current_code: str | None, user_id: str | None, context: Context) -> int:
        """Set the caller's code (their current one needed), or as an administrator another user's."""
        caller = context.user_id
        target = user_id or caller
        if target is None:
            raise NotAllowed("set_code needs a signed-in user, or user_id")
        need_current = target == caller
        if not need_current:
            if caller is not None and not self._is_admin(caller):
                raise Unauthorized("only an administrator may set another user's alarm code")
            if self._hub.auth is not None and self._hub.auth.get_user(target) is None:
                raise NotAllowed(f"no user {target}")
        return await self.codes.set_code(target, code, current_code=current_code, need_current=need_current)

    async def acknowledge(self, alarm_id: str, *, context: Context) -> Alarm:
        """Record who saw the alarm; AlarmNotFound, AlreadyAcknowledged."""
        result: Alarm = await self._enqueue(partial(self._acknowledge, alarm_id, context), want_result=True)
        return result

    async def _who(self, code: str | None, context: Context, *, required: bool) -> tuple[Who, Context]:
        caller = context.user_id
        if code is None:
            if required:
                raise CodeRequired("a code is required")
            number = await self.codes.user_number(caller) if caller else None
            return Who(caller, number, self._user_name(caller)), context
        owner, number = await self.codes.identify(code, caller=caller)
        # A disarm by code names the code's owner, who may not be the one signed in at the keypad.
        cause = context if owner == caller else Context(user_id=owner, parent_id=context.id, origin="alarm_panel")
        return Who(owner, number, self._user_name(owner)), cause

    def _user_name(self, user_id: str | None) -> str | None:
        user = self._hub.auth.get_user(user_id) if user_id and self._hub.auth is not None else None
        return user.name if user is not None else None

    def _is_admin(self, user_id: str) -> bool:
        user = self._hub.auth.get_user(user_id) if self._hub.auth is not None else None
        return user is not None and user.role == ROLE_ADMIN

    # -- actions -----------------------------------------------------------------------------------

    def _apply(self, actions: list[Action], cause: Any) -> asyncio.Future[Any]:
        now = self._hub.clock.time()
        for action in actions:
            if isinstance(action, SetTimer):
                self._set_timer(action.name, action.at)
            elif isinstance(action, CancelTimer):
                timer = self._timers.pop(action.name, None)
                if timer is not None:
                    timer.cancel()
            elif isinstance(action, ModeChanged):
                self._note_changed_by()
                self.entity.show(action.cause, action.mode)
                cause = action.cause if action.cause is not None else cause
            elif isinstance(action, Raise):
                alarm = self._new_alarm(action, now)
                self.open[action.key] = alarm
                self._enqueue(partial(self._raised, alarm, action.cause))
            elif isinstance(action, Restore):
                restored = self.open.pop(action.key, None)
                if restored is not None:
                    self._enqueue(partial(self._restored, restored, now, action.cause))
            elif isinstance(action, Armed | Disarmed):
                self._enqueue(partial(self._open_close, action, now))
        if actions:
            self._note_changed_by()
            self.entity.show(cause)
            self._show_troubles(cause)
            saved = (self.machine.armed_mode, self._changed_by)
            if saved != self._saved:
                self._saved = saved
                self._enqueue(partial(self.store.save_state, saved[0], saved[1], now))
        return self._enqueue(None, want_result=True)

    def _set_timer(self, name: str, at: float) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        clock = self._hub.clock
        self._timers[name] = clock.call_later(max(0.0, at - clock.time()), self._on_timer, name, at)

    def _new_alarm(self, action: Raise, now: float) -> Alarm:
        zone = action.zone.ref() if action.zone is not None else None
        category = action.key.category
        return Alarm(
            id=new_id(), key=action.key, category=category, kind=action.kind, zone=zone, entity_id=action.entity_id,
            time=action.time, context_id=getattr(action.cause, "id", None), snapshot=action.snapshot,
            status=Status.ACTIVE, message=message(category, zone, action.entity_id), mode=action.mode.value,
            user=action.user, raised_at=now,
        )  # fmt: skip

    def _note_changed_by(self) -> None:
        who = self.machine.changed_by
        if who is not None:
            self._changed_by = who.name or (f"user {who.number}" if who.number is not None else None)

    def _view(self) -> PanelView:
        machine = self.machine
        return PanelView(mode=machine.mode, previous=machine.previous, next_state=machine.next_state,
                         deadlines=dict(machine.deadlines), changed_by=self._changed_by,
                         active_alarms=len(self.open))  # fmt: skip

    def _show_troubles(self, cause: Any) -> None:
        for sensor in self.troubles:
            keys = [k for k in self.open if k.category is sensor.category]
            sensor.show(sorted({k.zone_id for k in keys}), sorted({k.entity_id for k in keys if k.entity_id}), cause)

    # -- the worker: database writes and events, in order -----------------------------------------

    def _enqueue(self, job: Job | None, *, want_result: bool = False) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future if want_result else None))
        if not want_result:
            future.set_result(None)
        return future

    async def _work(self) -> None:
        while True:
            job, future = await self._queue.get()
            try:
                result = await job() if job is not None else None
            except Exception as err:
                if future is None:
                    _LOGGER.exception("Alarm panel %s: %s failed", self.name, job)
                elif not future.done():
                    future.set_exception(err)
            else:
                if future is not None and not future.done():
                    future.set_result(result)
            finally:
                self._queue.task_done()

    async def _raised(self, alarm: Alarm, cause: Any) -> None:
        try:
            await self.store.insert(alarm)
        except Exception:
            _LOGGER.exception("Could not store alarm %s; announcing it anyway", alarm.id)
        _LOGGER.warning("%s %s raised: %s", alarm.kind.value.capitalize(), alarm.id, alarm.message)
        self._hub.bus.fire(EVENT_RAISED, alarm.as_record(), context=cause)

    async def _restored(self, alarm: Alarm, now: float, cause: Any) -> None:
        stored: Alarm | None = None
        try:
            stored = await self.store.restore(alarm.id, now)
        except Exception:
            _LOGGER.exception("Could not store the restore of alarm %s; announcing it anyway", alarm.id)
        record = stored or replace(alarm, status=Status.RESTORED, restored_at=now)
        _LOGGER.info("%s %s restored: %s", alarm.kind.value.capitalize(), alarm.id, alarm.message)
        self._hub.bus.fire(EVENT_RESTORED, record.as_record(), context=cause)

    async def _open_close(self, action: Armed | Disarmed, now: float) -> None:
        event = EVENT_ARMED if isinstance(action, Armed) else EVENT_DISARMED
        data = {"mode": action.mode.value, "user_id": action.who.user_id, "user_number": action.who.number,
                "time": now}  # fmt: skip
        self._hub.bus.fire(event, data, context=action.cause)

    async def _acknowledge(self, alarm_id: str, context: Context) -> Alarm:
        # The name at the time, like changed_by: what a resident reads in the history (ids mean nothing there).
        who = self._user_name(context.user_id) or context.user_id
        alarm, changed = await self.store.acknowledge(alarm_id, who, self._hub.clock.time())
        if alarm is None:
            raise AlarmNotFound(f"no alarm {alarm_id}")
        if not changed:
            raise AlreadyAcknowledged(f"alarm {alarm_id} was already acknowledged")
        current = self.open.get(alarm.key)
        if current is not None and current.id == alarm.id:
            self.open[alarm.key] = alarm
        self._hub.bus.fire(EVENT_ACKNOWLEDGED, alarm.as_record(), context=context)
        return alarm


__all__ = ["EVENT_ACKNOWLEDGED", "EVENT_ARMED", "EVENT_DISARMED", "EVENT_RAISED", "EVENT_RESTORED", "AlarmNotFound",
           "AlarmPanel", "AlreadyAcknowledged"]  # fmt: skip
