"""The demo's entities: each computes its value from the clock, so the demo is repeatable.

The hazard detectors are the exception: they stay clear until `demo.trip` sets them.
"""

from __future__ import annotations

import math
from typing import Any

from hub.bus import Context
from hub.clock import Clock
from hub.entities import Entity, EntityDescription

DAY = 86400.0

DEVICE_NAMES = {
    "living_room_sensor": "Living room sensor",
    "roof_sensor": "Roof sensor",
    "front_door": "Front door",
    "kitchen_gas": "Kitchen gas",
    "laundry_leak": "Laundry leak",
}


class DemoEntity(Entity):
    """An entity whose value is a function of time; `tick` recomputes and writes it."""

    def __init__(self, clock: Clock, unique_id: str, device: str, description: EntityDescription) -> None:
        self._clock = clock
        self._start = clock.time()
        self.unique_id = unique_id
        self.entity_description = description
        self.device_info = {
            "identifiers": [("demo", device)],
            "manufacturer": "Maderas Hub",
            "model": "Simulated",
            "name": DEVICE_NAMES[device],
            "sw_version": "demo",
        }

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return self._clock.time() - self._start

    def tick(self) -> None:
        """Write the value for the current time."""
        self.write_state()


class DemoClimate(DemoEntity):
    """Temperature or humidity following the time of day, with a small wobble."""

    domain = "sensor"

    def __init__(self, clock: Clock, unique_id: str, device: str, *, kind: str, mean: float, swing: float) -> None:
        unit = "°C" if kind == "temperature" else "%"
        super().__init__(
            clock, unique_id, device,
            EntityDescription(key=kind, name=kind.title(), device_class=kind, unit_of_measurement=unit,
                              state_class="measurement", suggested_display_precision=1),
        )
        self.mean = mean
        self.swing = swing

    @property
    def native_value(self) -> float:
        hour = (self._clock.time() % DAY) / 3600
        wobble = 0.15 * math.sin(self.elapsed() / 37)
        return self.mean + self.swing * math.sin((hour - 9) / 24 * 2 * math.pi) + wobble


class DemoDoor(DemoEntity):
    """A door that opens for a minute every ten minutes."""

    domain = "binary_sensor"

    def __init__(self, clock: Clock, unique_id: str, device: str) -> None:
        super().__init__(clock, unique_id, device, EntityDescription(key="door", name=None, device_class="door"))

    @property
    def native_value(self) -> bool:
        return self.elapsed() % 600 < 60


class DemoHazard(DemoEntity):
    """A gas or water-leak detector: clear until the `demo.trip` service sets it (a hazard has no schedule)."""

    domain = "binary_sensor"

    def __init__(self, clock: Clock, unique_id: str, device: str, *, device_class: str) -> None:
        super().__init__(clock, unique_id, device, EntityDescription(key=device_class, name=None, device_class=device_class))
        self.detected = False

    @property
    def native_value(self) -> bool:
        return self.detected

    def trip(self, detected: bool, context: Context | None = None) -> None:
        """Detect (or clear) now; the state write carries the caller's context, as a reading would."""
        self.detected = detected
        self.context = context
        try:
            self.write_state()
        finally:
            self.context = None  # later ticks rewrite the same state: nothing to attribute


def build_entities(clock: Clock, config: dict[str, Any]) -> tuple[list[DemoEntity], dict[str, str]]:
    """The demo household's entities, and the area of each one's device by unique id."""
    entities: list[DemoEntity] = [
        DemoClimate(clock, "living_temperature", "living_room_sensor", kind="temperature", mean=23, swing=3),
        DemoClimate(clock, "living_humidity", "living_room_sensor", kind="humidity", mean=45, swing=10),
        DemoClimate(clock, "roof_temperature", "roof_sensor", kind="temperature", mean=24, swing=9),
        DemoDoor(clock, "front_door", "front_door"),
        DemoHazard(clock, "kitchen_gas", "kitchen_gas", device_class="gas"),
        DemoHazard(clock, "laundry_leak", "laundry_leak", device_class="moisture"),
    ]
    areas = {
        "living_temperature": "Sala", "living_humidity": "Sala", "roof_temperature": "Azotea", "front_door": "Entrada",
        "kitchen_gas": "Cocina", "laundry_leak": "Lavandería",
    }
    return entities, areas
