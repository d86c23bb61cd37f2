"""Tank entities: level, volume, raw reading, consumption, days until empty, and diagnostics.

Per poll: reading -> unit the mounting expects -> the shared tank model (hub.tanks: PlausibilityFilter ->
Tank.measure -> ConsumptionEstimator / RefillDetector, fed with clock.time()) -> entity states. Every state written
for one poll carries that poll's context; a confirmed refill fires `tank_refilled` with the same
context, after the states are written. Per bus a diagnostic `Bus load` sensor (% of the line the
configured polling needs) says when the scan intervals ask more than the baud rate carries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.bus import Context
from hub.entities import DeviceInfo, Entity, EntityDescription, EntityPlatform
from hub.tanks.descriptions import CONSUMPTION, DAYS_UNTIL_EMPTY, LEVEL, VOLUME, TankDescription
from hub.tanks.forecast import Refill
from hub.tanks.geometry import G, Pressure, Tank
from hub.tanks.model import EVENT_TANK_REFILLED, TankModel

from .coordinator import MAX_LOAD, BusCoordinator, Slave
from .profiles import WATER_PA_PER_M, Reading

DOMAIN = "modbus_tank"


class TankState(TankModel):
    """The tank model of one slave (hub.tanks), fed by its coordinator's polls on the hub's clock."""

    def __init__(self, tank: Tank, clock: Any, *, refill_settle_s: float = 300.0) -> None:
        super().__init__(tank, refill_settle_s=refill_settle_s)
        self.clock = clock
        self.reading: Reading | None = None
        self.context: Context | None = None  # of the last poll; the slave's entities write with it
        self.pending_refill: Refill | None = None  # confirmed by the last poll, announced after the writes

    def tank_input(self, reading: Reading) -> float:
        """The reading in the unit `Tank.measure` expects for this mounting."""
        m = self.tank.mounting
        if isinstance(m, Pressure):
            if reading.quantity == "depth":  # metres of water column
                return reading.value_si * WATER_PA_PER_M
            if reading.quantity == "level":  # metres of the stored fluid itself
                return (reading.value_si - m.sensor_offset_m) * m.fluid_density_kg_m3 * G
        return reading.value_si

    def take(self, reading: Reading) -> Refill | None:
        """Take one poll's reading now; returns a Refill when one was just confirmed."""
        self.reading = reading
        return self.update(self.clock.time(), self.tank_input(reading))


def _raw(model: TankModel) -> float | None:
    reading = model.reading if isinstance(model, TankState) else None
    return None if reading is None else reading.value_si


RAW = TankDescription(key="raw", name="Raw reading", entity_category="diagnostic", suggested_display_precision=4,
                      value=_raw)  # fmt: skip
DESCRIPTIONS = (LEVEL, VOLUME, RAW, CONSUMPTION, DAYS_UNTIL_EMPTY)

DIAGNOSTICS = (
    EntityDescription(key="error_count", name="Errors", entity_category="diagnostic", state_class="total_increasing"),
    EntityDescription(key="last_error", name="Last error", entity_category="diagnostic"),
)


class _SlaveEntity(Entity):
    domain = "sensor"

    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo, key: str,
                 model: TankState) -> None:  # fmt: skip
        self.coordinator, self.slave, self.model = coordinator, slave, model
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
        self.context = self.model.context
        self.available, self.unavailable_reason = slave.available, slave.reason
        self.write_state()


class TankSensor(_SlaveEntity):
    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo,
                 model: TankState, description: TankDescription) -> None:  # fmt: skip
        super().__init__(coordinator, slave, device, description.key, model)
        self.entity_description = description

    @property
    def native_value(self) -> Any:
        return self.entity_description.value(self.model)  # type: ignore[union-attr]

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        if self.entity_description.key != "level":  # type: ignore[union-attr]
            return {}
        return self.model.level_attributes()


class DiagnosticSensor(_SlaveEntity):
    available = True  # diagnostics stay readable while the slave is down

    def __init__(self, coordinator: BusCoordinator, slave: Slave, device: DeviceInfo,
                 model: TankState, description: EntityDescription) -> None:  # fmt: skip
        super().__init__(coordinator, slave, device, description.key, model)
        self.entity_description = description

    def _on_poll(self, slave: Slave) -> None:
        self.context = self.model.context
        self.write_state()

    @property
    def native_value(self) -> Any:
        if self.entity_description.key == "error_count":  # type: ignore[union-attr]
            return self.slave.error_count
        return None if self.slave.last_error is None else str(self.slave.last_error)


BUS_LOAD = EntityDescription(key="bus_load", name="Bus load", unit_of_measurement="%", entity_category="diagnostic",
                             state_class="measurement", suggested_display_precision=0)  # fmt: skip


def bus_load_message(coordinator: BusCoordinator) -> str | None:
    """Why the bus is overloaded, in words for the dashboard; None when the polling fits the line."""
    if not coordinator.baudrate:
        return None  # TCP: the gateway times the line behind it; the hub does not know its baud rate
    if not coordinator.overloaded:
        return None
    need = f"need {coordinator.load * 100:.0f} % of what {coordinator.baudrate} baud carries"
    if coordinator.load <= 1.0:
        need += f" (more than the {MAX_LOAD * 100:.0f} % that leaves room for retries)"
    return (f"The polls configured on bus '{coordinator.name}' {need}; "
            "lengthen scan_interval or raise the baud rate")  # fmt: skip


class BusLoadSensor(Entity):
    """Share of the line the configured polling needs (serial buses; unknown behind a TCP gateway)."""

    domain = "sensor"
    entity_description = BUS_LOAD

    def __init__(self, coordinator: BusCoordinator, device: DeviceInfo) -> None:
        self.coordinator = coordinator
        self.unique_id = f"{coordinator.name}:bus_load"
        self.device_info = device

    @property
    def native_value(self) -> float | None:
        return self.coordinator.load * 100 if self.coordinator.baudrate else None

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        return {"overloaded": self.coordinator.overloaded, "message": bus_load_message(self.coordinator)}


async def async_setup_platform(
    hub: Any,
    coordinators: list[BusCoordinator],
    tanks: dict[str, tuple[Tank, str, str | None, float]],
    *,
    config_entry_id: str | None = None,
) -> tuple[EntityPlatform, dict[str, TankState]]:
    """Register bus devices, then one device and its entities per slave; returns the tank models by slave key."""
    platform = EntityPlatform(hub, DOMAIN, config_entry_id=config_entry_id)
    entities: list[Entity] = []
    models: dict[str, TankState] = {}
    level_entities: list[tuple[Slave, TankState, TankSensor]] = []
    areas: dict[tuple[str, str], str] = {}
    for coordinator in coordinators:
        bus_id = (DOMAIN, f"bus:{coordinator.name}")
        bus_device: DeviceInfo = {"identifiers": [bus_id], "name": f"Modbus bus {coordinator.name}",
                                  "model": coordinator.transport.description}  # fmt: skip
        await hub.devices.async_get_or_create(**bus_device)
        entities.append(BusLoadSensor(coordinator, bus_device))
        for key, slave in coordinator.slaves.items():
            tank, name, area, settle_s = tanks[key]
            if area is not None:
                areas[(DOMAIN, f"{coordinator.name}:{slave.unit}")] = area
            device: DeviceInfo = {
                "identifiers": [(DOMAIN, f"{coordinator.name}:{slave.unit}")],
                "connections": [("modbus", f"{coordinator.transport.description}:{slave.unit}")],
                "name": name, "model": slave.profile.name, "via_device": bus_id,
            }  # fmt: skip
            model = models[key] = TankState(tank, hub.clock, refill_settle_s=settle_s)
            level_entity = TankSensor(coordinator, slave, device, model, DESCRIPTIONS[0])
            slave.add_listener(_feeder(model))  # before the entities: they read the model
            entities.append(level_entity)
            entities += [TankSensor(coordinator, slave, device, model, d) for d in DESCRIPTIONS[1:]]
            entities += [DiagnosticSensor(coordinator, slave, device, model, d) for d in DIAGNOSTICS]
            level_entities.append((slave, model, level_entity))
    await platform.add_entities(entities)
    for identifier, area in areas.items():
        registered = hub.devices.get_by_identifier(identifier)
        # The configured area is a default: a user who moved the device on the dashboard keeps theirs.
        if registered is not None and registered.area is None:
            await hub.devices.async_update(registered.id, area=area)
    for slave, model, level_entity in level_entities:
        slave.add_listener(_announcer(hub, model, level_entity))  # after the entities have written
    return platform, models


def _feeder(model: TankState) -> Callable[[Slave], None]:
    def feed(slave: Slave) -> None:
        model.context = Context(origin=DOMAIN)
        model.pending_refill = None
        if not slave.available or slave.reading is None or slave.failures:
            return
        model.pending_refill = model.take(slave.reading)

    return feed


def _announcer(hub: Any, model: TankState, level_entity: TankSensor) -> Callable[[Slave], None]:
    def announce(slave: Slave) -> None:
        refill, model.pending_refill = model.pending_refill, None
        if refill is None or level_entity.entity_id is None:
            return
        hub.bus.fire(EVENT_TANK_REFILLED, model.refilled_event(level_entity.entity_id, refill), context=model.context)

    return announce
