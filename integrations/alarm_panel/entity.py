"""The panel's entities: `alarm_control_panel.<name>` (the dashboard's alarm card) and one trouble
`binary_sensor` per trouble kind (sensor offline, tamper)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.entities import Entity, EntityDescription

from .model import Category, Mode

PANEL = EntityDescription(key="panel", icon="mdi:shield-home")


@dataclass(frozen=True, slots=True)
class PanelView:
    """What the panel entity shows, read from the running panel at each write."""

    mode: Mode
    previous: Mode | None
    next_state: Mode | None
    deadlines: dict[str, float]
    changed_by: str | None
    active_alarms: int


class AlarmPanelEntity(Entity):
    """State: the mode; attributes: what the alarm card needs and what an automation may ask."""

    domain = "alarm_control_panel"
    entity_description = PANEL
    has_entity_name = False

    def __init__(self, name: str, code_arm_required: bool, view: Callable[[], PanelView]) -> None:
        self.unique_id = "panel"
        self.name = name
        self.suggested_object_id = name  # alarm_control_panel.<slug of the name>
        self.code_arm_required = code_arm_required
        self._view = view
        self._shown: Mode | None = None

    @property
    def native_value(self) -> str:
        return (self._shown or self._view().mode).value

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        view = self._view()
        shown = self._shown or view.mode
        current = shown is view.mode  # an intermediate mode (armed, then pending at once) has no timers to show
        return {
            "code_arm_required": self.code_arm_required,
            "code_format": "number",
            "changed_by": view.changed_by,
            "active_alarms": view.active_alarms,
            "previous_state": view.previous.value if current and view.previous else None,
            "next_state": view.next_state.value if current and view.next_state else None,
            "arming_until": view.deadlines.get("exit") if current and shown is Mode.ARMING else None,
            "pending_until": view.deadlines.get("entry") if current and shown is Mode.PENDING else None,
            "triggered_until": view.deadlines.get("trigger") if current and shown is Mode.TRIGGERED else None,
        }

    def show(self, context: Any, mode: Mode | None = None) -> None:
        """Write the state with the context that caused it (`mode`: an intermediate mode of one step)."""
        self.context = context
        self._shown = mode
        try:
            self.write_state()
        finally:
            self._shown = None


TROUBLE_SENSORS = (
    (Category.SENSOR_OFFLINE, EntityDescription(key="sensor_offline", name="sensor offline", device_class="problem",
                                                icon="mdi:lan-disconnect")),
    (Category.TAMPER, EntityDescription(key="tamper", name="tamper", device_class="tamper")),
)  # fmt: skip


class TroubleSensor(Entity):
    """On while any alarm of its category is unrestored; lists the zones and entities concerned."""

    domain = "binary_sensor"
    has_entity_name = False

    def __init__(self, panel_name: str, category: Category, description: EntityDescription) -> None:
        self.category = category
        self.entity_description = description
        self.unique_id = f"trouble_{description.key}"
        self.name = f"{panel_name} {description.name}"
        self.suggested_object_id = self.name
        self.zones: list[str] = []
        self.entities: list[str] = []

    @property
    def native_value(self) -> bool:
        return bool(self.zones)

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        return {"zones": self.zones, "entities": self.entities}

    def show(self, zones: list[str], entities: list[str], context: Any) -> None:
        if zones != self.zones or entities != self.entities:
            self.zones, self.entities = zones, entities
            self.context = context
            self.write_state()


__all__ = ["TROUBLE_SENSORS", "AlarmPanelEntity", "PanelView", "TroubleSensor"]
