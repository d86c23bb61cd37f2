"""ble_climate's entities: per device its measurements and diagnostics, per proxy its link, one adapter sensor.

Measurements keep their last value between advertisements (a reading carries only what its packet
said). Availability is judged on a timer from the tracker's learned interval; a device problem
(wrong bindkey, replayed counter ...) is shown as `problem` on the device's entities, and one that
stops any reading from being trusted also makes the measurements unavailable with that reason.
A Mopeka configured with a `tank:` block also feeds its levels of good enough quality into the shared
tank model (hub.tanks) and gets a tank's entities: Level, Volume, Consumption, Days until empty and
Reading quality, the `tank` attribute on Level, and `tank_refilled` on a delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.bus import Bus, Context
from hub.entities import DeviceInfo, Entity, EntityDescription
from hub.scope import ScopedBus
from hub.tanks.descriptions import CONSUMPTION, DAYS_UNTIL_EMPTY, LEVEL, VOLUME, TankDescription
from hub.tanks.forecast import Refill
from hub.tanks.model import EVENT_TANK_REFILLED, TankModel
from hub.tanks.schema import build_tank

from .config import DEFAULT_MIN_QUALITY, DEFAULT_REFILL_SETTLE
from .models import REPLAYED_COUNTER, Reading, Value
from .proxy import ProxyStatus
from .scanner import ScannerStatus

if TYPE_CHECKING:
    from .manager import BleClimateManager, SourceSignal

DOMAIN = "ble_climate"
DISCOVERED_SHOWN = 20

TEMPERATURE = EntityDescription(key="temperature", name="Temperature", device_class="temperature",
                                unit_of_measurement="°C", state_class="measurement",
                                suggested_display_precision=1)  # fmt: skip
HUMIDITY = EntityDescription(key="humidity", name="Humidity", device_class="humidity", unit_of_measurement="%",
                             state_class="measurement", suggested_display_precision=1)  # fmt: skip
BATTERY = EntityDescription(key="battery", name="Battery", device_class="battery", unit_of_measurement="%",
                            state_class="measurement")  # fmt: skip
VOLTAGE = EntityDescription(key="voltage", name="Voltage", device_class="voltage", unit_of_measurement="V",
                            state_class="measurement", entity_category="diagnostic",
                            suggested_display_precision=3)  # fmt: skip
TANK_LEVEL = EntityDescription(key="tank_level_mm", name="Tank level", device_class="distance",
                               unit_of_measurement="mm", state_class="measurement")  # fmt: skip
SIGNAL = EntityDescription(key="signal_strength", name="Signal strength", device_class="signal_strength",
                           unit_of_measurement="dBm", state_class="measurement",
                           entity_category="diagnostic")  # fmt: skip
LAST_SEEN = EntityDescription(key="last_seen", name="Last seen", device_class="timestamp",
                              entity_category="diagnostic")  # fmt: skip
ADAPTER = EntityDescription(key="adapter", name="Bluetooth adapter", icon="mdi:bluetooth",
                            entity_category="diagnostic")  # fmt: skip
PROXY = EntityDescription(key="proxy", device_class="connectivity", entity_category="diagnostic")

QUALITY = EntityDescription(key="tank_level_quality_pct", name="Reading quality", unit_of_measurement="%",
                            state_class="measurement", entity_category="diagnostic",
                            icon="mdi:signal-cellular-2")  # fmt: skip

# Created with the device; the rest appear when a reading first carries them.
ALWAYS = (TEMPERATURE, HUMIDITY, BATTERY)
WHERE_PRESENT = {d.key: d for d in (VOLTAGE, TANK_LEVEL)}
TANK_ENTITIES = (LEVEL, VOLUME, CONSUMPTION, DAYS_UNTIL_EMPTY)  # and QUALITY, for a device with a tank


def iso(timestamp: float | None) -> str | None:
    """Wall time -> ISO 8601 in UTC, as timestamp sensors and attributes carry it."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


class DeviceSensor(Entity):
    """One value of one BLE device."""

    domain = "sensor"

    def __init__(self, device: BleDevice, description: EntityDescription) -> None:
        self.device = device
        self.entity_description = description
        self.unique_id = f"{device.address.lower()}-{description.key}"
        self.device_info = device.info
        self.value: Value | str | None = None

    @property
    def native_value(self) -> Any:
        return self.value

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        return self.device.attributes(self)


class TankFeed:
    """A Mopeka's tank: levels of good enough quality, in metres, into the shared tank model."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        settle = config.get("refill_settle", DEFAULT_REFILL_SETTLE)
        self.model = TankModel(build_tank(config["tank"]), refill_settle_s=settle.total_seconds())
        self.min_quality: int = config.get("min_quality", DEFAULT_MIN_QUALITY)
        self.quality: int | None = None  # 0-3 of the last reading
        self.ignored = 0  # levels not taken for their quality since setup
        self.context: Context | None = None  # of the last level taken; the tank entities write with it
        self.pending_refill: Refill | None = None  # confirmed by the last reading, announced after the writes
        self._last_t: float | None = None

    def take(self, reading: Reading) -> bool:
        """Feed the reading's level if its quality is good enough; True when the model took it."""
        self.pending_refill = None
        quality, level_mm = reading.values.get("tank_level_quality"), reading.values.get("tank_level_mm")
        if quality is None and level_mm is None:
            return False  # no level in this packet at all
        self.quality = None if quality is None else int(quality)
        # Quality 0 comes without a level (the library drops it); 1 comes with one we do not trust.
        if level_mm is None or self.quality is None or self.quality < self.min_quality:
            self.ignored += 1
            return False
        # Proxies date their records on arrival; two sources may disagree by a few ms, the model may not go back.
        t = reading.time if self._last_t is None else max(reading.time, self._last_t)
        self._last_t = t
        self.context = Context(origin=DOMAIN)
        self.pending_refill = self.model.update(t, float(level_mm) / 1000.0)
        return True


class TankSensor(DeviceSensor):
    """One of a tank's values (hub.tanks.descriptions), read from the device's tank model."""

    def __init__(self, device: BleDevice, description: TankDescription, model: TankModel) -> None:
        super().__init__(device, description)
        self.description, self.model = description, model

    @property
    def native_value(self) -> Any:
        return self.description.value(self.model)

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        attrs = self.device.attributes(self)
        if self.description is LEVEL:
            attrs.update(self.model.level_attributes())
        return attrs


class BleDevice:
    """The entities of one configured device and what they show."""

    def __init__(self, address: str, config: Mapping[str, Any]) -> None:
        self.address = address
        self.name = str(config.get("name") or address)
        self.area: str | None = config.get("area")
        self.info: DeviceInfo = {
            "identifiers": [(DOMAIN, address)], "connections": [("bluetooth", address)], "name": self.name,
        }  # fmt: skip
        self.values: dict[str, DeviceSensor] = {d.key: DeviceSensor(self, d) for d in ALWAYS}
        self.tank: TankFeed | None = None
        self.tank_entities: list[DeviceSensor] = []
        if config.get("tank"):
            tank = self.tank = TankFeed(config)
            sensors = [TankSensor(self, d, tank.model) for d in TANK_ENTITIES]
            self.tank_entities = [*sensors, DeviceSensor(self, QUALITY)]
            self.values.update(zip([*(d.key for d in TANK_ENTITIES), QUALITY.key], self.tank_entities, strict=True))
        self.signal = DeviceSensor(self, SIGNAL)
        self.last_seen = DeviceSensor(self, LAST_SEEN)
        self.kind: str | None = None
        self.model: str | None = None
        self.source: str | None = None
        self.problem: str | None = None
        self.last_problem: str | None = None
        self.last_problem_time: float | None = None
        self.heard: bool = False
        self.silence_reason: str | None = None

    @property
    def entities(self) -> list[DeviceSensor]:
        return [*self.values.values(), self.signal, self.last_seen]

    def attributes(self, entity: DeviceSensor) -> dict[str, Any]:
        """Per-entity attributes: the device's problem everywhere, details on the diagnostics."""
        out: dict[str, Any] = {}
        if self.problem is not None:
            out["problem"] = self.problem
        if self.tank is not None and entity.entity_description is QUALITY:
            out.update({"quality": self.tank.quality, "min_quality": self.tank.min_quality,
                        "ignored": self.tank.ignored})  # fmt: skip
        if entity is self.signal:
            out.update({"address": self.address, "source": self.source, "kind": self.kind, "model": self.model,
                        "last_problem": self.last_problem, "last_problem_at": iso(self.last_problem_time)})  # fmt: skip
        return out

    def apply(self, reading: Reading, signal: SourceSignal) -> list[DeviceSensor]:
        """Take a reading in; returns entities to add (a value this device had not sent before)."""
        self.heard = True
        self.kind, self.model = reading.kind, reading.model or self.model
        self.source = signal.source
        if reading.problem is not None:
            self.problem = self.last_problem = reading.problem
            self.last_problem_time = reading.time
        else:
            self.problem = None
        new: list[DeviceSensor] = []
        for key, value in reading.values.items():
            entity = self.values.get(key)
            if entity is None and key in WHERE_PRESENT:
                entity = self.values[key] = DeviceSensor(self, WHERE_PRESENT[key])
                new.append(entity)
            if entity is not None:
                entity.value = value
        if self.tank is not None and self.tank.take(reading):
            for entity in self.tank_entities:
                entity.context = self.tank.context
        self.signal.value = signal.rssi
        self.last_seen.value = iso(reading.time)
        return new

    def announce_refill(self, bus: Bus | ScopedBus) -> None:
        """Fire `tank_refilled` for a delivery the last reading confirmed; call after the states are written."""
        if self.tank is None or self.tank.pending_refill is None:
            return
        refill, self.tank.pending_refill = self.tank.pending_refill, None
        level_id = self.tank_entities[0].entity_id
        if level_id is not None:
            bus.fire(EVENT_TANK_REFILLED, self.tank.model.refilled_event(level_id, refill), context=self.tank.context)

    def refresh(self, available: bool, interval: float | None, last_seen: float | None, now: float) -> None:
        """Write availability and values; `available` is the tracker's verdict on silence."""
        if not self.heard and last_seen is None:
            silence: str | None = "not heard since the hub started"
        elif not available:
            learned = f"; advertises every {interval:.0f} s" if interval is not None else ""
            silence = f"not heard for {now - (last_seen or now):.0f} s{learned}"
        else:
            silence = None
        blocking = self.problem if self.problem not in (None, REPLAYED_COUNTER) else None
        if last_seen is not None:
            self.last_seen.value = iso(last_seen)
        for entity in self.values.values():
            reason = blocking or silence
            _show(entity, reason is None, reason)
        _show(self.signal, silence is None, silence)
        _show(self.last_seen, self.last_seen.value is not None, "not heard since the hub started")


def _show(entity: Entity, available: bool, reason: str | None) -> None:
    """Set availability and write the state once (set_available writes only on a change)."""
    entity.available = available
    entity.unavailable_reason = None if available else reason
    entity.write_state()


class AdapterSensor(Entity):
    """The local adapter's status: scanning, no_adapter (with the reason), failed or stopped."""

    domain = "sensor"
    entity_description = ADAPTER
    has_entity_name = False

    def __init__(self, adapter: str, manager: BleClimateManager) -> None:
        self.unique_id = f"adapter-{adapter}"
        self.suggested_object_id = "bluetooth_adapter"
        self.manager = manager
        self.status: ScannerStatus | None = None

    @property
    def native_value(self) -> str | None:
        return self.status.state if self.status is not None else None

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        status, counts = self.status, self.manager.tracker.counts()
        discovered = list(self.manager.discovered.values())[-DISCOVERED_SHOWN:]
        return {
            "status": status.message if status else None,
            "adapter": status.adapter if status else None,
            "scanning_mode": status.scanning_mode if status else None,
            "attempts": status.attempts if status else 0,
            "next_retry": iso(status.next_retry) if status else None,
            "warning": status.warning if status else None,
            "advertisements": self.manager.advertisements,
            "repeats_dropped": counts.dropped,
            "readings": self.manager.readings,
            "devices_heard": counts.devices,
            "unconfigured": [
                {"address": d.address, "kind": d.kind, "name": d.name, "rssi": d.rssi, "problem": d.problem}
                for d in discovered
            ],
        }

    def show(self, status: ScannerStatus) -> None:
        self.status = status
        self.write_state()


class ProxySensor(Entity):
    """One proxy's link: on while connected; attributes carry the batch statistics and the last error."""

    domain = "binary_sensor"
    entity_description = PROXY
    has_entity_name = False

    def __init__(self, status: ProxyStatus) -> None:
        self.status = status
        self.unique_id = f"proxy-{status.proxy_id}"
        self.name = f"BLE proxy {status.proxy_id}"
        self.suggested_object_id = f"ble_proxy_{_slug(status.proxy_id)}"
        self.device_info = {"identifiers": [(DOMAIN, f"proxy:{status.proxy_id}")], "name": self.name,
                            "model": "Maderas BLE proxy"}  # fmt: skip

    @property
    def native_value(self) -> bool:
        return self.status.connected

    @property
    def extra_attributes(self) -> dict[str, Any]:  # type: ignore[override]
        s = self.status
        return {
            "status": "connected" if s.connected else s.waiting or "disconnected",
            "proxy_id": s.proxy_id, "peer": s.peer, "firmware": s.firmware,
            "connected_since": iso(s.connected_since), "last_batch": iso(s.last_batch), "records": s.records,
            "dropped": s.dropped, "bad_records": s.bad_records, "last_error": s.last_error,
        }  # fmt: skip

    def show(self, status: ProxyStatus) -> None:
        if status != self.status:
            self.status = status
            self.write_state()


__all__ = ["AdapterSensor", "BleDevice", "DeviceSensor", "ProxySensor", "TankFeed", "TankSensor", "iso"]
