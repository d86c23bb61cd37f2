"""The alarm panel's vocabulary: modes, zone types, categories, zones and the Alarm record; pure, no I/O.

docs/alarms.md is the specification: which zone types alarm in which modes, the alarm categories
and the event contract (`Alarm.as_record()` is exactly what `alarm_raised` / `alarm_restored` /
`alarm_acknowledged` carry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Mode(str, Enum):
    """The panel's state, as the `alarm_control_panel` entity shows it."""

    DISARMED = "disarmed"
    ARMING = "arming"  # exit delay
    ARMED_HOME = "armed_home"
    ARMED_AWAY = "armed_away"
    ARMED_NIGHT = "armed_night"
    PENDING = "pending"  # entry delay
    TRIGGERED = "triggered"


ARMED_MODES = (Mode.ARMED_HOME, Mode.ARMED_AWAY, Mode.ARMED_NIGHT)


class ZoneType(str, Enum):
    ENTRY_EXIT = "entry_exit"
    PERIMETER = "perimeter"
    INTERIOR = "interior"
    CAMERA = "camera"
    GAS = "gas"
    WATER_LEAK = "water_leak"
    SMOKE = "smoke"
    CO = "co"
    PANIC = "panic"
    TAMPER = "tamper"


class Category(str, Enum):
    """What an alarm is about (the contract's `category`)."""

    INTRUSION = "intrusion"
    UNKNOWN_FACE = "unknown_face"
    GAS = "gas"
    WATER_LEAK = "water_leak"
    FIRE = "fire"
    CO = "co"
    PANIC = "panic"
    DURESS = "duress"
    TAMPER = "tamper"
    SENSOR_OFFLINE = "sensor_offline"


class Kind(str, Enum):
    ALARM = "alarm"
    TROUBLE = "trouble"


class Status(str, Enum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    RESTORED = "restored"


Z = ZoneType
SECURITY_TYPES = frozenset({Z.ENTRY_EXIT, Z.PERIMETER, Z.INTERIOR, Z.CAMERA})
HAZARD_TYPES = frozenset({Z.GAS, Z.WATER_LEAK, Z.SMOKE, Z.CO})
# 24-hour zones: they alarm in every mode, disarmed included, and are always supervised.
ALWAYS_TYPES = HAZARD_TYPES | {Z.PANIC, Z.TAMPER}

DEFAULT_MODES: Mapping[ZoneType, frozenset[Mode]] = {
    Z.ENTRY_EXIT: frozenset(ARMED_MODES),
    Z.PERIMETER: frozenset(ARMED_MODES),
    Z.INTERIOR: frozenset({Mode.ARMED_AWAY, Mode.ARMED_NIGHT}),  # people move about at home
    Z.CAMERA: frozenset({Mode.ARMED_AWAY, Mode.ARMED_NIGHT}),
}

ZONE_CATEGORY: Mapping[ZoneType, Category] = {
    Z.ENTRY_EXIT: Category.INTRUSION,
    Z.PERIMETER: Category.INTRUSION,
    Z.INTERIOR: Category.INTRUSION,
    Z.CAMERA: Category.INTRUSION,
    Z.GAS: Category.GAS,
    Z.WATER_LEAK: Category.WATER_LEAK,
    Z.SMOKE: Category.FIRE,
    Z.CO: Category.CO,
    Z.PANIC: Category.PANIC,
    Z.TAMPER: Category.TAMPER,
}

# Restored as soon as the condition clears; every other category at the next disarm, once its
# zone is back to normal (an intruder's door that closes again is not the end of the intrusion).
RESTORE_ON_CLEAR = frozenset({Category.GAS, Category.WATER_LEAK, Category.FIRE, Category.CO, Category.TAMPER,
                              Category.SENSOR_OFFLINE})  # fmt: skip
TROUBLES = frozenset({Category.SENSOR_OFFLINE})

CAMERA_DETECTIONS = ("face_unknown", "person")
CAMERA_EVENTS = ("camera_motion", "face_detected")

# es-MX: the text travels to the monitoring centre (and its CAP messages) as written here.
_MESSAGES: Mapping[Category, str] = {
    Category.INTRUSION: "Intrusión",
    Category.UNKNOWN_FACE: "Rostro desconocido",
    Category.GAS: "Gas detectado",
    Category.WATER_LEAK: "Fuga de agua",
    Category.FIRE: "Humo detectado",
    Category.CO: "Monóxido de carbono",
    Category.PANIC: "Pánico",
    Category.DURESS: "Pánico silencioso (coacción)",
    Category.TAMPER: "Sabotaje",
    Category.SENSOR_OFFLINE: "Sensor sin conexión",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ZoneRef:
    """A zone as an alarm names it: the contract's `zone` object (plus its type, for the event code)."""

    id: str
    number: int
    name: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "name": self.name, "type": self.type}


@dataclass(frozen=True, kw_only=True, slots=True)
class Zone:
    """One configured zone: what it watches and in which armed modes it alarms."""

    id: str
    number: int
    name: str
    type: ZoneType
    entities: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    events: frozenset[str] = frozenset(CAMERA_DETECTIONS)
    modes: frozenset[Mode] = frozenset()  # armed modes a security zone alarms in

    @property
    def always(self) -> bool:
        """A 24-hour zone (hazard, panic, tamper)."""
        return self.type in ALWAYS_TYPES

    def watches(self, mode: Mode) -> bool:
        """Whether the zone alarms while the panel is armed in `mode` (24-hour zones: always)."""
        return self.always or mode in self.modes

    def ref(self) -> ZoneRef:
        return ZoneRef(id=self.id, number=self.number, name=self.name, type=self.type.value)


@dataclass(frozen=True, slots=True)
class AlarmKey:
    """What makes two alarms "the same" while one is unrestored: a second one is not raised."""

    category: Category
    zone_id: str = ""  # "" for the panic service (no zone)
    entity_id: str = ""  # only troubles and tamper are per entity

    def text(self) -> str:
        return f"{self.category.value}|{self.zone_id}|{self.entity_id}"

    @classmethod
    def parse(cls, text: str) -> AlarmKey:
        category, zone_id, entity_id = text.split("|", 2)
        return cls(Category(category), zone_id, entity_id)


@dataclass(frozen=True, slots=True)
class Who:
    """A person acting on the panel: hub user id, the panel's user number, display name."""

    user_id: str | None = None
    number: int | None = None
    name: str | None = None


NOBODY = Who()


@dataclass(frozen=True, kw_only=True, slots=True)
class Alarm:
    """One alarm or trouble, as stored in the history table and sent in events."""

    id: str
    key: AlarmKey
    category: Category
    kind: Kind
    zone: ZoneRef | None
    entity_id: str | None
    time: float  # the reading that caused it
    context_id: str | None
    snapshot: str | None
    status: Status
    message: str
    mode: str  # the panel's mode when it was raised
    user: int | None  # user number for panic / duress
    raised_at: float
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None
    restored_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Not restored yet (active or acknowledged)."""
        return self.status is not Status.RESTORED

    def as_record(self) -> dict[str, Any]:
        """The JSON-safe record of docs/alarms.md "The event contract"."""
        return {
            "id": self.id,
            "category": self.category.value,
            "kind": self.kind.value,
            "zone": self.zone.as_dict() if self.zone is not None else None,
            "entity_id": self.entity_id,
            "time": self.time,
            "context_id": self.context_id,
            "snapshot": self.snapshot,
            "status": self.status.value,
            "message": self.message,
            "mode": self.mode,
            "user": self.user,
            "raised_at": self.raised_at,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
            "restored_at": self.restored_at,
        }


def message(category: Category, zone: ZoneRef | None, entity_id: str | None = None) -> str:
    """The alarm's one-line text, e.g. "Gas detectado: Cocina gas"."""
    text = _MESSAGES[category]
    if zone is not None:
        text = f"{text}: {zone.name}"
    if category is Category.SENSOR_OFFLINE and entity_id:
        text = f"{text} ({entity_id})"
    return text


@dataclass(frozen=True, slots=True)
class CameraDetection:
    """What a camera event means for the panel: a camera saw an unknown face or a person."""

    camera: str
    what: str  # face_unknown | person
    snapshot: str | None


def camera_detections(event_type: str, data: Mapping[str, Any]) -> list[CameraDetection]:
    """Read `camera_motion` / `face_detected` event data (docs/alarms.md, "Camera events").

    `face_detected`: an unknown face when any face in `faces` is not `known: true` (all known:
    nothing). `camera_motion`: a person when `person` is true, `label` / `object` is "person",
    or "person" is in `labels` / `objects`; motion alone is not an alarm.
    """
    camera = data.get("entity_id") or data.get("camera")
    if not isinstance(camera, str):
        return []
    raw = data.get("snapshot") or data.get("snapshot_url")
    snapshot = raw if isinstance(raw, str) else None
    found: list[str] = []
    if event_type == "face_detected":
        faces = data.get("faces")
        if isinstance(faces, list) and any(not (isinstance(f, Mapping) and f.get("known") is True) for f in faces):
            found.append("face_unknown")
    elif event_type == "camera_motion":
        labels = [data.get("label"), data.get("object")]
        for key in ("labels", "objects"):
            value = data.get(key)
            if isinstance(value, list):
                labels.extend(value)
        if data.get("person") is True or "person" in labels:
            found.append("person")
    return [CameraDetection(camera, what, snapshot) for what in found]


__all__ = [
    "ALWAYS_TYPES", "ARMED_MODES", "CAMERA_DETECTIONS", "CAMERA_EVENTS", "DEFAULT_MODES", "HAZARD_TYPES", "NOBODY",
    "RESTORE_ON_CLEAR", "SECURITY_TYPES", "TROUBLES", "ZONE_CATEGORY", "Alarm", "AlarmKey", "CameraDetection",
    "Category", "Kind", "Mode", "Status", "Who", "Zone", "ZoneRef", "ZoneType", "camera_detections", "message",
]
