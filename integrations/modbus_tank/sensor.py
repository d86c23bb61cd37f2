"""Tank entities: level, volume, raw reading, consumption, days until empty, and diagnostics.

Per poll: reading -> unit the mounting expects -> PlausibilityFilter -> Tank.measure -> volume ->
ConsumptionEstimator / RefillDetector (fed with clock.time()) -> entity states. A confirmed refill
fires `tank_refilled` with the context of the reading that confirmed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.bus import Context
from hub.entities import DeviceInfo, Entity, EntityDescription, EntityPlatform

from .coordinator import BusCoordinator, Slave
from .forecast import (
    ConsumptionEstimator,
    PlausibilityFilter,
    RefillDetector,
    days_until_empty,
)
from .profiles import WATER_PA_PER_M, Reading
from .tank import G, Pressure, Tank, TankLevel, Ultrasonic

DOMAIN = "modbus_tank"
EVENT_TANK_REFILLED = "tank_refilled"


@dataclass(frozen=True, kw_only=True)
class TankDescription(EntityDescription):
    value: Callable[[TankState], Any]
    diagnostic_attrs: bool = False


class TankState:
    """The tank model of one slave, fed by its coordinator's polls."""

    def __init__(self, tank: Tank, clock: Any) -> None:
        self.tank, self.clock = tank, clock
        self.filter = PlausibilityFilter(full_scale=self._full_scale())
        self.consumption = ConsumptionEstimator()
        # A delivery is at least 5 % of the tank; noise is far below that.
        self.refills = RefillDetector(min_rise_l=max(self.tank.capacity_l * 0.05, 1.0))
        self.level: TankLevel | None = None
        self.reading: Reading | None = None
        self.rate: float | None = None

    def _full_scale(self) -> float:
        m = self.tank.mounting
        if isinstance(m, Ultrasonic):
            return m.mount_height_m
        if isinstance(m, Pressure):
            return self.tank.shape.height_m * m.fluid_density_kg_m3 * G
        return 100.0

    def tank_input(self, reading: Reading) -> float:
        """The reading in the unit `Tank.measure` expects for this mounting."""
        m = self.tank.mounting
        if isinstance(m, Pressure):
            if reading.quantity == "depth":  # metres of water column
                return reading.value_si * WATER_PA_PER_M
            if reading.quantity == "level":  # metres of the stored fluid itself
                return (reading.value_si - m.sensor_offset_m) * m.fluid_density_kg_m3 * G
        return reading.value_si

    def update(self, reading: Reading) -> Any:
        """Take one reading; returns a Refill when one was just confirmed."""
        now = self.clock.time()
        self.reading = reading
        filtered = self.filter.update(now, self.tank_input(reading))
        self.level = self.tank.measure(filtered.value)
        self.rate = self.consumption.update(now, self.level.volume_l)
        return self.refills.update(now, self.level.volume_l)

    @property
    def days_left(self) -> float | None:
        if self.level is None:
            return None
        return days_until_empty(self.level.volume_l, self.tank.usable_min_l, self.rate)

    def attribute(self) -> dict[str, Any]:
        """The dashboard's `tank` attribute (docs/dashboard.md)."""
        return {
            "commodity": self.tank.commodity,
            "volume_l": None if self.level is None else round(self.level.volume_l, 1),
            "capacity_l": round(self.tank.capacity_l, 1),
            "days_until_empty": None if self.days_left is None else round(self.days_left, 1),
            "usable_min_pct": self.tank.usable_min_pct,
            "usable_max_pct": self.tank.usable_max_pct,
        }


def _lvl(f: Callable[[TankLevel], float]) -> Callable[[TankState], float | None]:
    return lambda s: None if s.level is None else f(s.level)


DESCRIPTIONS = (
    TankDescription(key="level", name="Level", unit_of_measurement="%", state_class="measurement",
                    suggested_display_precision=1, value=_lvl(lambda lv: lv.fill_pct_of_capacity)),
    TankDescription(key="volume", name="Volume", unit_of_measurement="L", device_class="volume",
                    state_class="measurement", suggested_display_precision=0, value=_lvl(lambda lv: lv.volume_l)),
    TankDescription(key="raw", name="Raw reading", entity_category="diagnostic", suggested_display_precision=4,
                    value=lambda s: None if s.reading is None else s.reading.value_si),
    TankDescription(key="consumption", name="Consumption", unit_of_measurement="L/d", state_class="measurement",
                    suggested_display_precision=0, value=lambda s: s.rate),
    TankDescription(key="days_until_empty", name="Days until empty", unit_of_measurement="d",
                    suggested_display_precision=1, value=lambda s: s.days_left),
)  # fmt: skip

DIAGNOSTICS = (
    EntityDescription(key="error_count", name="Errors", entity_category="diagnostic", state_class="total_increasing"),
    EntityDescription(key="last_error", name="Last error", entity_category="diagnostic"),
)


class _SlaveEntity(Entity):
    domain = "sensor"

    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo, key: str) -> None:
        self.coordinator, self.slave = coordinator, slave
        self.unique_id = f"{coordinator.name}:{slave.unit}:{key}"
        self.device_info = device
        self._unlisten: Callable[[], None] | None = None

    async def async_added(self) -> None:
        self._unlisten = self.slave.add_listener(self._on_poll)

    async def async_will_remove(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    def _on_poll(self, slave: Slave) -> None:
        self.available, self.unavailable_reason = slave.available, slave.reason
        self.write_state()


class TankSensor(_SlaveEntity):
    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo,
                 model: TankState, description: TankDescription) -> None:  # fmt: skip
        super().__init__(coordinator, slave, device, description.key)
        self.entity_description, self.model = description, model

    @property
    def native_value(self) -> Any:
        return self.entity_description.value(self.model)  # type: ignore[union-attr]

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        if self.entity_description.key != "level":  # type: ignore[union-attr]
            return {}
        attrs: dict[str, Any] = {"tank": self.model.attribute()}
        if self.model.level is not None and self.model.level.out_of_range:
            attrs["out_of_range"] = True
        return attrs


class DiagnosticSensor(_SlaveEntity):
    available = True  # diagnostics stay readable while the slave is down

    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo, description: EntityDescription) -> None:
        super().__init__(coordinator, slave, device, description.key)
        self.entity_description = description

    def _on_poll(self, slave: Slave) -> None:
        self.write_state()

    @property
    def native_value(self) -> Any:
        if self.entity_description.key == "error_count":  # type: ignore[union-attr]
            return self.slave.error_count
        return None if self.slave.last_error is None else str(self.slave.last_error)


async def async_setup_platform(
    hub: Any, coordinators: list[BusCoordinator], tanks: dict[str, tuple[Tank, str]]
) -> EntityPlatform:
    """Register bus devices, then one device and its entities per slave."""
    platform = EntityPlatform(hub, DOMAIN)
    entities: list[Entity] = []
    for coordinator in coordinators:
        bus_id = (DOMAIN, f"bus:{coordinator.name}")
        await hub.devices.async_get_or_create(identifiers=[bus_id], name=f"Modbus bus {coordinator.name}",
                                              model=coordinator.transport.description)  # fmt: skip
        for key, slave in coordinator.slaves.items():
            tank, name = tanks[key]
            device: DeviceInfo = {
                "identifiers": [(DOMAIN, f"{coordinator.name}:{slave.unit}")],
                "connections": [("modbus", f"{coordinator.transport.description}:{slave.unit}")],
                "name": name, "model": slave.profile.name, "via_device": bus_id,
            }  # fmt: skip
            model = TankState(tank, hub.clock)
            level_entity = TankSensor(coordinator, slave, device, model, DESCRIPTIONS[0])
            slave.add_listener(_feeder(hub, model, level_entity))  # before the entities: they read the model
            entities.append(level_entity)
            entities += [TankSensor(coordinator, slave, device, model, d) for d in DESCRIPTIONS[1:]]
            entities += [DiagnosticSensor(coordinator, slave, device, d) for d in DIAGNOSTICS]
    await platform.add_entities(entities)
    return platform


def _feeder(hub: Any, model: TankState, level_entity: TankSensor) -> Callable[[Slave], None]:
    def feed(slave: Slave) -> None:
        if not slave.available or slave.reading is None or slave.failures:
            return
        context = Context(origin=DOMAIN)
        refill = model.update(slave.reading)
        if refill is not None and level_entity.entity_id is not None:
            hub.bus.fire(EVENT_TANK_REFILLED, {
                "entity_id": level_entity.entity_id, "litres_delivered": refill.litres_delivered,
                "litres_before": refill.litres_before, "litres_after": refill.litres_after,
                "commodity": model.tank.commodity,
            }, context=context)  # fmt: skip

    return feed
