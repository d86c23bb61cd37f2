"""The demo's entities: each computes its value from the clock, so the demo is repeatable."""

from __future__ import annotations

import math
from typing import Any

from hub.clock import Clock
from hub.entities import Entity, EntityDescription

DAY = 86400.0

DEVICE_NAMES = {
    "cistern": "Cistern",
    "lp_gas_tank": "LP gas tank",
    "living_room_sensor": "Living room sensor",
    "roof_sensor": "Roof sensor",
    "front_door": "Front door",
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


class DemoTank(DemoEntity):
    """A tank that empties at a steady daily rate and is refilled when it gets low."""

    domain = "sensor"

    def __init__(
        self, clock: Clock, unique_id: str, device: str, *, commodity: str, capacity: float, per_day: float,
        start_pct: float, usable: tuple[float, float],
    ) -> None:
        super().__init__(
            clock, unique_id, device,
            EntityDescription(key="level", name="Level", unit_of_measurement="%", state_class="measurement",
                              suggested_display_precision=1),
        )
        self.commodity = commodity
        self.capacity = capacity
        self.per_day = per_day
        self.start_pct = start_pct
        self.usable = usable

    def _volume(self) -> float:
        low, high = self.usable
        span = (high - low) / 100 * self.capacity
        used = self.per_day * self.elapsed() / DAY
        start = self.start_pct / 100 * self.capacity - low / 100 * self.capacity
        # A refill arrives when the usable volume runs out, and the cycle starts again.
        return low / 100 * self.capacity + (start - used) % span

    @property
    def native_value(self) -> float:
        return self._volume() / self.capacity * 100

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        volume = self._volume()
        usable_left = volume - self.usable[0] / 100 * self.capacity
        return {
            "tank": {
                "commodity": self.commodity,
                "volume_l": round(volume, 1),
                "capacity_l": self.capacity,
                "days_until_empty": round(usable_left / self.per_day, 1),
                "usable_min_pct": self.usable[0],
                "usable_max_pct": self.usable[1],
            }
        }


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


def build_entities(clock: Clock, config: dict[str, Any]) -> tuple[list[DemoEntity], dict[str, str]]:
    """The demo household's entities, and the area of each one's device by unique id."""
    entities: list[DemoEntity] = [
        DemoTank(clock, "cistern_level", "cistern", commodity="water", capacity=config["cistern_litres"],
                 per_day=650, start_pct=72, usable=(0, 95)),
        DemoTank(clock, "gas_level", "lp_gas_tank", commodity="lp_gas", capacity=config["gas_tank_litres"],
                 per_day=3.5, start_pct=41, usable=(5, 85)),
        DemoClimate(clock, "living_temperature", "living_room_sensor", kind="temperature", mean=23, swing=3),
        DemoClimate(clock, "living_humidity", "living_room_sensor", kind="humidity", mean=45, swing=10),
        DemoClimate(clock, "roof_temperature", "roof_sensor", kind="temperature", mean=24, swing=9),
        DemoDoor(clock, "front_door", "front_door"),
    ]
    areas = {
        "cistern_level": "Patio", "gas_level": "Azotea", "living_temperature": "Sala", "living_humidity": "Sala",
        "roof_temperature": "Azotea", "front_door": "Entrada",
    }
    return entities, areas
