"""PanelMachine, table-driven: each rule of docs/alarms.md is a row of inputs and the outcome.

Inputs are a tiny script: `arm_away`, `disarm`, `on:front_door`, `off:patio`, `unavailable:living`,
`tamper:patio` / `untamper:patio`, `face:gate_camera` / `known:...` (no-op), `person:gate_camera`,
`panic` / `silent_panic`, `wait:30` (runs the timers that fall due, in order). Outcomes: the final
mode, the alarms raised (`category:zone[:entity]`, in order) and restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from integrations.alarm_panel.machine import (
    Action,
    Arm,
    Armed,
    CancelTimer,
    Delays,
    Detection,
    Disarm,
    Disarmed,
    ModeChanged,
    NotAllowed,
    PanelMachine,
    Panic,
    Raise,
    Reading,
    Restore,
    SetTimer,
    Settings,
    TimerFired,
)
from integrations.alarm_panel.model import DEFAULT_MODES, AlarmKey, Category, Kind, Mode, Who, Zone, ZoneType

T0 = 1_768_478_400.0  # 2026-01-15 12:00 UTC
WHO = Who("u1", 1, "Ana")
SETTINGS = Settings(delays={Mode.ARMED_AWAY: Delays(exit=60, entry=30), Mode.ARMED_HOME: Delays(exit=0, entry=30),
                            Mode.ARMED_NIGHT: Delays(exit=60, entry=30)}, trigger_time=300)  # fmt: skip


def zone(zone_id: str, number: int, kind: ZoneType, **extra: Any) -> Zone:
    entities = () if kind is ZoneType.CAMERA else (f"binary_sensor.{zone_id}",)
    return Zone(id=zone_id, number=number, name=zone_id.replace("_", " ").title(), type=kind, entities=entities,
                modes=DEFAULT_MODES.get(kind, frozenset()), **extra)  # fmt: skip


ZONES = (
    zone("front_door", 1, ZoneType.ENTRY_EXIT),
    zone("back_door", 4, ZoneType.ENTRY_EXIT),
    zone("patio", 2, ZoneType.PERIMETER),
    zone("living", 3, ZoneType.INTERIOR),
    zone("kitchen_gas", 10, ZoneType.GAS),
    zone("laundry_leak", 11, ZoneType.WATER_LEAK),
    zone("hall_smoke", 12, ZoneType.SMOKE),
    zone("gate_camera", 20, ZoneType.CAMERA, cameras=("camera.gate",)),
    zone("panic_button", 30, ZoneType.PANIC),
    zone("box", 40, ZoneType.TAMPER),
)


@dataclass
class Sim:
    """A machine on a fake clock that fires its own timers."""

    machine: PanelMachine = field(default_factory=lambda: PanelMachine(SETTINGS, ZONES))
    now: float = T0
    actions: list[Action] = field(default_factory=list)
    timers: dict[str, float] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)

    def do(self, event: Any) -> list[Action]:
        actions = self.machine.handle(event, self.now)
        for action in actions:
            if isinstance(action, SetTimer):
                self.timers[action.name] = action.at
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
        self.actions += actions
        return actions

    def wait(self, seconds: float) -> None:
        target = self.now + seconds
        while self.timers and min(self.timers.values()) <= target:
            name, at = min(self.timers.items(), key=lambda item: item[1])
            del self.timers[name]
            self.now = at
            self.do(TimerFired(name, at))
        self.now = target

    def step(self, command: str) -> None:
        verb, _, arg = command.partition(":")
        entity = f"binary_sensor.{arg}"
        if verb in ("arm_away", "arm_home", "arm_night"):
            self.do(Arm(Mode("armed_" + verb[4:]), WHO, cause="ctx-arm"))
        elif verb == "disarm":
            self.do(Disarm(WHO, cause="ctx-disarm"))
        elif verb in ("on", "off", "unavailable"):
            self.states[entity] = verb
            self.do(Reading(entity, verb, time=self.now, cause=f"ctx-{arg}"))
        elif verb in ("tamper", "untamper"):
            self.do(Reading(entity, self.states.get(entity, "off"), tamper=verb == "tamper", time=self.now,
                            cause=f"ctx-{verb}"))  # fmt: skip
        elif verb in ("face", "person"):
            self.do(Detection("camera.gate", "face_unknown" if verb == "face" else "person", "/snap.jpg", self.now,
                              cause=f"ctx-{verb}"))  # fmt: skip
        elif verb in ("panic", "silent_panic"):
            self.do(Panic(silent=verb == "silent_panic", who=WHO, time=self.now, cause="ctx-panic"))
        elif verb == "wait":
            self.wait(float(arg))
        else:
            raise AssertionError(f"unknown step {command}")

    def run(self, script: list[str]) -> Sim:
        for command in script:
            self.step(command)
        return self

    @property
    def raised(self) -> list[str]:
        return [_key(a.key) for a in self.actions if isinstance(a, Raise)]

    @property
    def restored(self) -> list[str]:
        return [_key(a.key) for a in self.actions if isinstance(a, Restore)]


def _key(key: AlarmKey) -> str:
    return ":".join(p for p in (key.category.value, key.zone_id, key.entity_id) if p)


FD = "binary_sensor.front_door"
ARMED_AWAY = ["arm_away", "wait:60"]
RULES = [
    # (rule, script, final mode, raised, restored)
    ("exit delay ends armed", ARMED_AWAY, "armed_away", [], []),
    ("arming shows arming", ["arm_away", "wait:59"], "arming", [], []),
    ("door during the exit delay is ignored", ["arm_away", "on:front_door", "off:front_door", "wait:60"],
     "armed_away", [], []),
    ("entry door starts the entry delay", [*ARMED_AWAY, "on:front_door"], "pending", [], []),
    ("disarm within the entry delay: no alarm", [*ARMED_AWAY, "on:front_door", "wait:29", "disarm"], "disarmed", [], []),
    ("entry delay runs out: intrusion", [*ARMED_AWAY, "on:front_door", "wait:30"], "triggered",
     ["intrusion:front_door"], []),
    ("trigger_time ends back in the armed mode", [*ARMED_AWAY, "on:front_door", "wait:30", "wait:300"], "armed_away",
     ["intrusion:front_door"], []),
    ("intrusion is not restored while armed", [*ARMED_AWAY, "on:front_door", "wait:30", "off:front_door"],
     "triggered", ["intrusion:front_door"], []),
    ("intrusion restored at disarm once closed", [*ARMED_AWAY, "on:front_door", "wait:30", "off:front_door", "disarm"],
     "disarmed", ["intrusion:front_door"], ["intrusion:front_door"]),
    ("disarmed with the door open: restored when it closes",
     [*ARMED_AWAY, "on:front_door", "wait:30", "disarm", "off:front_door"], "disarmed", ["intrusion:front_door"],
     ["intrusion:front_door"]),
    ("disarmed, door still open: not restored", [*ARMED_AWAY, "on:front_door", "wait:30", "disarm"], "disarmed",
     ["intrusion:front_door"], []),
    ("interior ignored in armed_home", ["arm_home", "on:living"], "armed_home", [], []),
    ("interior instant in armed_away", [*ARMED_AWAY, "on:living"], "triggered", ["intrusion:living"], []),
    ("interior instant in armed_night", ["arm_night", "wait:60", "on:living"], "triggered", ["intrusion:living"], []),
    ("perimeter instant in armed_home", ["arm_home", "on:patio"], "triggered", ["intrusion:patio"], []),
    ("zones ignored while disarmed", ["on:front_door", "on:patio", "on:living", "person", "face"], "disarmed", [], []),
    ("gas in disarmed", ["on:kitchen_gas"], "triggered", ["gas:kitchen_gas"], []),
    ("gas restored at once when it clears", ["on:kitchen_gas", "off:kitchen_gas"], "triggered", ["gas:kitchen_gas"],
     ["gas:kitchen_gas"]),
    ("hazard siren ends disarmed", ["on:kitchen_gas", "wait:300"], "disarmed", ["gas:kitchen_gas"], []),
    ("water leak while armed, restored while armed", ["arm_home", "on:laundry_leak", "off:laundry_leak"], "triggered",
     ["water_leak:laundry_leak"], ["water_leak:laundry_leak"]),
    ("smoke is fire", ["on:hall_smoke"], "triggered", ["fire:hall_smoke"], []),
    ("a hazard going unavailable is not a clear", ["on:kitchen_gas", "unavailable:kitchen_gas"], "triggered",
     ["gas:kitchen_gas", "sensor_offline:kitchen_gas:binary_sensor.kitchen_gas"], []),
    ("flapping perimeter: one alarm", [*ARMED_AWAY, "on:patio", "off:patio", "on:patio", "wait:400", "off:patio",
                                       "on:patio"], "armed_away", ["intrusion:patio"], []),
    ("flapping entry door: one alarm", [*ARMED_AWAY, "on:front_door", "off:front_door", "on:front_door", "wait:30",
                                        "off:front_door", "on:front_door"], "triggered", ["intrusion:front_door"], []),
    ("after restore a zone alarms again", [*ARMED_AWAY, "on:patio", "off:patio", "disarm", *ARMED_AWAY, "on:patio"],
     "triggered", ["intrusion:patio", "intrusion:patio"], ["intrusion:patio"]),
    ("panic needs no code and sounds in disarmed", ["panic"], "triggered", ["panic"], []),
    ("panic restored at the next disarm", ["panic", "disarm"], "disarmed", ["panic"], ["panic"]),
    ("pressing panic twice: one alarm", ["panic", "panic"], "triggered", ["panic"], []),
    ("silent panic is duress and changes nothing visible", ["silent_panic"], "disarmed", ["duress"], []),
    ("panic zone", ["arm_home", "on:panic_button"], "triggered", ["panic:panic_button"], []),
    ("unknown face while armed_night", ["arm_night", "wait:60", "face"], "triggered", ["unknown_face:gate_camera"], []),
    ("person while armed_away", [*ARMED_AWAY, "person"], "triggered", ["intrusion:gate_camera"], []),
    ("camera ignored in armed_home", ["arm_home", "face", "person"], "armed_home", [], []),
    ("camera ignored during the exit delay", ["arm_away", "face"], "arming", [], []),
    ("camera alarm restored at disarm", ["arm_night", "wait:60", "face", "face", "disarm"], "disarmed",
     ["unknown_face:gate_camera"], ["unknown_face:gate_camera"]),
    ("sensor offline while armed: trouble, no siren", [*ARMED_AWAY, "unavailable:patio"], "armed_away",
     ["sensor_offline:patio:binary_sensor.patio"], []),
    ("sensor back: trouble restored", [*ARMED_AWAY, "unavailable:patio", "off:patio"], "armed_away",
     ["sensor_offline:patio:binary_sensor.patio"], ["sensor_offline:patio:binary_sensor.patio"]),
    ("offline trouble outlives the disarm until the sensor is back",
     [*ARMED_AWAY, "unavailable:patio", "disarm"], "disarmed", ["sensor_offline:patio:binary_sensor.patio"], []),
    ("security zone offline while disarmed: not supervised", ["unavailable:patio", "off:patio"], "disarmed", [], []),
    ("interior offline in armed_home: not watched, not supervised", ["arm_home", "unavailable:living"], "armed_home",
     [], []),
    ("hazard offline while disarmed: trouble", ["unavailable:kitchen_gas"], "disarmed",
     ["sensor_offline:kitchen_gas:binary_sensor.kitchen_gas"], []),
    ("offline before arming: trouble when armed", ["unavailable:patio", "arm_away"], "arming",
     ["sensor_offline:patio:binary_sensor.patio"], []),
    ("tamper while disarmed: reported, silent", ["tamper:patio"], "disarmed", ["tamper:patio:binary_sensor.patio"], []),
    ("tamper while armed sounds", ["arm_home", "tamper:patio"], "triggered", ["tamper:patio:binary_sensor.patio"], []),
    ("tamper restored when it clears", ["tamper:patio", "untamper:patio"], "disarmed",
     ["tamper:patio:binary_sensor.patio"], ["tamper:patio:binary_sensor.patio"]),
    ("tamper zone", ["on:box", "off:box"], "disarmed", ["tamper:box:binary_sensor.box"],
     ["tamper:box:binary_sensor.box"]),
    ("exit fault: entry door left open", ["on:front_door", "arm_away", "wait:60"], "pending", [], []),
    ("exit fault: entry door left open, delay runs out", ["on:front_door", "arm_away", "wait:90"], "triggered",
     ["intrusion:front_door"], []),
    ("exit fault: window opened during the exit delay", ["arm_away", "on:patio", "wait:60"], "triggered",
     ["intrusion:patio"], []),
    ("interior still on at exit: not an alarm", ["on:living", "arm_away", "wait:60"], "armed_away", [], []),
    ("perimeter during the entry delay cuts it short", [*ARMED_AWAY, "on:front_door", "on:patio"], "triggered",
     ["intrusion:patio", "intrusion:front_door"], []),
    ("interior follows the entry delay", [*ARMED_AWAY, "on:front_door", "on:living"], "pending", [], []),
    ("followers alarm when the delay runs out", [*ARMED_AWAY, "on:front_door", "on:living", "on:back_door", "wait:30"],
     "triggered", ["intrusion:front_door", "intrusion:living", "intrusion:back_door"], []),
    ("a new zone while triggered adds an alarm", [*ARMED_AWAY, "on:patio", "on:living"], "triggered",
     ["intrusion:patio", "intrusion:living"], []),
    ("a hazard during the exit delay aborts arming", ["arm_away", "on:kitchen_gas", "wait:300"], "disarmed",
     ["gas:kitchen_gas"], []),
    ("home to away goes through the exit delay", ["arm_home", "arm_away"], "arming", [], []),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "script", "mode", "raised", "restored"), RULES, ids=[r[0] for r in RULES])
def test_rule(rule: str, script: list[str], mode: str, raised: list[str], restored: list[str]) -> None:
    sim = Sim().run(script)
    assert (sim.machine.mode.value, sim.raised, sim.restored) == (mode, raised, restored), rule


REFUSALS = [
    ("arm while pending", [*ARMED_AWAY, "on:front_door", "arm_home"], "the panel is pending; disarm it first"),
    ("arm while triggered by a hazard", ["on:kitchen_gas", "arm_away"], "the panel is triggered"),
    ("arm while arming", ["arm_away", "arm_night"], "the panel is arming"),
    ("window open", ["on:patio", "arm_away"], "not ready to arm: Patio open"),
    ("entry door open and no exit delay", ["on:front_door", "arm_home"], "not ready to arm: Front Door open"),
]


@pytest.mark.parametrize(("rule", "script", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_requests_change_nothing(rule: str, script: list[str], error: str) -> None:
    sim = Sim()
    with pytest.raises(NotAllowed, match=error):
        sim.run(script)
    before = (sim.machine.mode, sim.machine.armed_mode, dict(sim.machine.deadlines), set(sim.machine.open))
    with pytest.raises(NotAllowed):
        sim.step(script[-1])
    assert (sim.machine.mode, sim.machine.armed_mode, dict(sim.machine.deadlines), set(sim.machine.open)) == before


def test_alarm_names_the_reading_that_caused_it_not_the_timer() -> None:
    sim = Sim().run(ARMED_AWAY)
    opened_at = sim.now + 5
    sim.wait(5)
    sim.step("on:front_door")
    sim.wait(30)
    [alarm] = [a for a in sim.actions if isinstance(a, Raise)]
    assert (alarm.cause, alarm.time, alarm.entity_id, alarm.mode, alarm.kind) == (
        "ctx-front_door", opened_at, FD, Mode.ARMED_AWAY, Kind.ALARM)
    assert alarm.zone is not None and (alarm.zone.number, alarm.zone.type) == (1, ZoneType.ENTRY_EXIT)
    modes = [(a.mode.value, a.cause) for a in sim.actions if isinstance(a, ModeChanged)]
    assert modes == [("arming", "ctx-arm"), ("armed_away", "ctx-arm"), ("pending", "ctx-front_door"),
                     ("triggered", "ctx-front_door")]  # fmt: skip


def test_panic_and_camera_records() -> None:
    sim = Sim().run(["silent_panic"])
    [duress] = [a for a in sim.actions if isinstance(a, Raise)]
    assert (duress.user, duress.zone, duress.mode) == (1, None, Mode.DISARMED)
    sim = Sim().run(["arm_night", "wait:60", "face"])
    [face] = [a for a in sim.actions if isinstance(a, Raise)]
    assert (face.snapshot, face.entity_id, face.cause) == ("/snap.jpg", "camera.gate", "ctx-face")


def test_open_and_close_reports() -> None:
    sim = Sim().run([*ARMED_AWAY, "disarm", "arm_away", "disarm", "arm_home", "on:kitchen_gas", "disarm"])
    reports = [(type(a).__name__, a.mode.value, a.who.number) for a in sim.actions if isinstance(a, Armed | Disarmed)]
    # A disarm during the exit delay never closed, so it does not open; nor does silencing a hazard.
    assert reports == [("Armed", "armed_away", 1), ("Disarmed", "armed_away", 1), ("Armed", "armed_home", 1),
                       ("Disarmed", "armed_home", 1)]  # fmt: skip


def test_attributes_while_arming_and_pending() -> None:
    sim = Sim().run(["arm_away"])
    machine = sim.machine
    assert (machine.next_state, machine.deadlines) == (Mode.ARMED_AWAY, {"exit": T0 + 60})
    sim.run(["wait:60", "on:front_door"])
    assert (machine.next_state, machine.deadlines) == (Mode.TRIGGERED, {"entry": T0 + 90})
    assert machine.previous is Mode.ARMED_AWAY
    sim.run(["disarm"])
    assert (machine.next_state, machine.deadlines, sim.timers) == (None, {}, {})


def test_stale_timer_is_ignored() -> None:
    sim = Sim().run(["arm_away", "wait:10", "disarm", "arm_away"])
    assert sim.do(TimerFired("exit", T0 + 60)) == []  # the first arming's timer, cancelled by the disarm
    assert sim.machine.mode is Mode.ARMING
    assert sim.do(TimerFired("exit", T0 + 70)) != [] and sim.machine.mode is Mode.ARMED_AWAY


def test_arming_again_in_the_same_mode_does_nothing() -> None:
    sim = Sim().run(["arm_home"])
    assert sim.do(Arm(Mode.ARMED_HOME, WHO)) == []


def test_restart_keeps_unrestored_alarms_and_the_mode() -> None:
    key = AlarmKey(Category.INTRUSION, "front_door")
    machine = PanelMachine(SETTINGS, ZONES, armed_mode=Mode.ARMED_AWAY, open_alarms=[key])
    sim = Sim(machine=machine).run(["on:front_door"])
    assert (machine.mode, sim.raised) == (Mode.ARMED_AWAY, [])  # the same zone does not alarm twice
    sim.run(["disarm", "off:front_door"])
    assert sim.restored == ["intrusion:front_door"]


def test_orphaned_alarms_are_restored() -> None:
    gone = AlarmKey(Category.GAS, "old_zone")
    kept = AlarmKey(Category.PANIC)
    machine = PanelMachine(SETTINGS, ZONES, open_alarms=[gone, kept])
    assert machine.orphans("ctx") == [Restore(gone, "ctx")]
    assert machine.open == {kept}


def test_zone_modes_override() -> None:
    porch = Zone(id="porch", number=5, name="Porch", type=ZoneType.INTERIOR, entities=("binary_sensor.porch",),
                 modes=frozenset({Mode.ARMED_HOME}))  # fmt: skip
    sim = Sim(machine=PanelMachine(SETTINGS, (porch,))).run(["arm_home", "on:porch"])
    assert sim.raised == ["intrusion:porch"]
    sim = Sim(machine=PanelMachine(SETTINGS, (porch,))).run(["arm_away", "wait:60", "on:porch"])
    assert sim.raised == []
