"""A Mopeka under an LP tank: its levels through the shared tank model, the quality filter, and resupply.

Advertisements are built byte for byte from PROTOCOLS.md's Mopeka vector (checked below) and reach
the integration as bleak's real objects through the fake scanner; time is the hub's ManualClock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import voluptuous as vol
from aiohttp import web
from ble_helpers import BleSetup
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from waiting import until

from examples.supplier_service import SupplierService, create_app
from hub.bus import Event
from hub.tanks.geometry import Tank
from hub.tanks.schema import build_tank
from integrations import resupply
from integrations.ble_climate.config import CONFIG_SCHEMA
from integrations.ble_climate.models import Advertisement
from integrations.ble_climate.parsers import MOPEKA_MANUFACTURER_ID, MOPEKA_UUID, ParserSet

GAS = "D4:40:F0:C3:E0:F5"
LEVEL, VOLUME, QUALITY = "sensor.gas_tank_level", "sensor.gas_tank_volume", "sensor.gas_tank_reading_quality"
# The typical stationary LP tank here: 300 L, lying, 2:1 heads (from_capacity: Ø 0.59 m).
TANK_BLOCK = {"shape": "horizontal_cylinder", "capacity_l": 300}
TEMP_RAW = 0x43  # 27 °C; the propane height factor at this temperature (PROTOCOLS.md 6)
PROPANE_MM_PER_RAW = 0.573045 - 0.002822 * TEMP_RAW - 0.00000535 * TEMP_RAW**2
API_KEY, CUSTOMER, CALLBACK_SECRET = "gas-key-0042", "MAD-GAS", "gas-callback-secret"


def mopeka_payload(raw_level: int, quality: int, *, tick: int = 0xE3) -> bytes:
    """A Pro Plus (0x08) advertisement at 3.5 V and 27 °C; `tick` (accelerometer Y) makes repeats distinct."""
    b3, b4 = raw_level & 0xFF, (raw_level >> 8) & 0x3F | quality << 6
    return bytes([0x08, 0x70, TEMP_RAW, b3, b4, 0xE0, 0xF5, 0x09, 0xFA, tick & 0xFF])


def test_payload_builder_reproduces_the_golden_vector() -> None:
    vector = bytes.fromhex("08 70 43 B6 C3 E0 F5 09 FA E3")
    assert mopeka_payload(950, 3) == vector
    adv = Advertisement(address=GAS, name=None, rssi=-70, service_data={},
                        manufacturer_data={MOPEKA_MANUFACTURER_ID: vector}, service_uuids=(MOPEKA_UUID,), time=0.0,
                        source="hci0")  # fmt: skip
    reading = ParserSet().parse(adv)
    assert reading is not None and reading.values["tank_level_mm"] == 341 == int(950 * PROPANE_MM_PER_RAW)


def raw_for(level_m: float) -> int:
    """The raw echo value a Mopeka on propane at 27 °C sends for a liquid height (0.36 mm steps)."""
    return round(level_m * 1000 / PROPANE_MM_PER_RAW)


class Gas:
    """Plays the Mopeka under the tank through the fake scanner."""

    def __init__(self, ble: BleSetup) -> None:
        self.ble = ble
        self.tick = 0
        self.tank: Tank = build_tank(CONFIG_SCHEMA({"devices": {GAS: {"tank": TANK_BLOCK}}})["devices"][GAS]["tank"])

    def send(self, level_m: float, quality: int = 3) -> None:
        """One advertisement with this liquid height (quality 0 carries no level)."""
        self.tick += 1
        payload = mopeka_payload(raw_for(level_m), quality, tick=self.tick)
        device = BLEDevice(GAS, None, None)
        data = AdvertisementData(local_name=None, manufacturer_data={MOPEKA_MANUFACTURER_ID: payload},
                                 service_data={}, service_uuids=[MOPEKA_UUID], tx_power=None, rssi=-70,
                                 platform_data=())  # fmt: skip
        self.ble.factory.running.deliver(device, data)

    def level_for_litres(self, litres: float) -> float:
        return self.tank.shape.level_at(litres)

    def heard_mm(self, level_m: float) -> float:
        """The height the parser makes of `level_m` (whole mm after the raw step), in metres."""
        return int(raw_for(level_m) * PROPANE_MM_PER_RAW) / 1000


async def start_gas(ble: BleSetup, **device: Any) -> Gas:
    await ble.start(devices={GAS: {"name": "Gas tank", "area": "Patio", "tank": TANK_BLOCK, **device}})
    return Gas(ble)


async def test_falling_levels_become_level_volume_and_the_tank_attribute(ble: BleSetup) -> None:
    gas = await start_gas(ble)
    assert ble.state(LEVEL) == "unavailable"  # not heard since the hub started
    gas.send(gas.level_for_litres(150.0), quality=0)
    await ble.clock.advance(1)
    assert ble.state(LEVEL) == "unknown" and ble.attrs(LEVEL)["tank"]["volume_l"] is None
    assert ble.attrs(LEVEL)["tank"]["capacity_l"] == pytest.approx(300.0, abs=0.05)
    # Twelve hours of a household drawing 24 L/day, one advertisement every ten minutes.
    start_l, rate = 150.0, 24.0
    for i in range(73):
        gas.send(gas.level_for_litres(start_l - rate * i * 600 / 86400))
        await ble.clock.advance(600)
    final_l = start_l - rate * 72 * 600 / 86400  # 138 L
    for _ in range(5):  # the last level held: the filter's median window is all of it
        gas.send(gas.level_for_litres(final_l))
        await ble.clock.advance(600)
    expected = gas.tank.measure(gas.heard_mm(gas.level_for_litres(final_l)))
    assert float(ble.state(LEVEL)) == pytest.approx(expected.fill_pct_of_capacity, abs=0.05)
    assert float(ble.state(LEVEL)) == pytest.approx(100 * final_l / 300, abs=0.3)  # 1 mm is ~0.5 L here
    assert float(ble.state(VOLUME)) == pytest.approx(final_l, abs=1.0)
    consumption = float(ble.state("sensor.gas_tank_consumption"))
    assert consumption == pytest.approx(rate, rel=0.15)
    days = float(ble.state("sensor.gas_tank_days_until_empty"))
    assert days == pytest.approx((expected.volume_l - 15.0) / consumption, abs=0.1)  # down to the 5 % heel
    assert ble.attrs(LEVEL)["tank"] == {
        "commodity": "lp_gas", "volume_l": round(expected.volume_l, 1), "capacity_l": round(gas.tank.capacity_l, 1),
        "days_until_empty": round(days, 1), "usable_min_pct": 5.0, "usable_max_pct": 85.0,
    }  # fmt: skip
    assert ble.attrs(LEVEL)["unit_of_measurement"] == "%" and "out_of_range" not in ble.attrs(LEVEL)
    # The raw height is still shown, and the tank's entities sit on the Mopeka's device.
    await until(lambda: ble.hub.states.get("sensor.gas_tank_tank_level"), what="the raw height entity")
    assert float(ble.state("sensor.gas_tank_tank_level")) == pytest.approx(expected.level_m * 1000, abs=1)
    entry = ble.hub.entities.get(LEVEL)
    assert entry is not None and entry.device_id == ble.hub.entities.get("sensor.gas_tank_temperature").device_id


async def test_readings_below_the_minimum_quality_are_ignored_and_the_quality_shows(ble: BleSetup) -> None:
    gas = await start_gas(ble)
    for _ in range(5):
        gas.send(0.30)
        await ble.clock.advance(30)
    steady = ble.state(LEVEL)
    assert float(steady) == pytest.approx(gas.tank.measure(gas.heard_mm(0.30)).fill_pct_of_capacity, abs=0.05)
    assert ble.state(QUALITY) == "100" and ble.attrs(QUALITY)["min_quality"] == 2
    # A badly seated sensor: one-star echoes far off, and quality 0 (no level at all). Six of them
    # would pass the plausibility filter (a step confirmed by three more), so only the quality keeps them out.
    for _ in range(6):
        gas.send(0.05, quality=1)
        await ble.clock.advance(30)
    gas.send(0.05, quality=0)
    await ble.clock.advance(30)
    assert ble.state(LEVEL) == steady
    assert ble.state(QUALITY) == "0"
    assert (ble.attrs(QUALITY)["quality"], ble.attrs(QUALITY)["ignored"]) == (0, 7)
    gas.send(0.05, quality=1)
    await ble.clock.advance(30)
    assert ble.state(QUALITY) == "33" and ble.state(LEVEL) == steady


async def test_min_quality_one_takes_one_star_levels(ble: BleSetup) -> None:
    gas = await start_gas(ble, min_quality=1)
    for _ in range(5):
        gas.send(0.20, quality=1)
        await ble.clock.advance(30)
    assert float(ble.state(LEVEL)) == pytest.approx(gas.tank.measure(gas.heard_mm(0.20)).fill_pct_of_capacity, abs=0.05)
    assert ble.attrs(QUALITY)["ignored"] == 0


async def test_a_mopeka_without_a_tank_keeps_the_height_only(ble: BleSetup) -> None:
    await ble.start(devices={GAS: {"name": "Gas tank"}})
    gas = Gas(ble)
    gas.send(0.30)
    await ble.clock.advance(1)
    await until(lambda: ble.hub.states.get("sensor.gas_tank_tank_level"), what="the height entity")
    assert float(ble.state("sensor.gas_tank_tank_level")) == pytest.approx(gas.heard_mm(0.30) * 1000)
    assert ble.hub.states.get(LEVEL) is None and ble.hub.states.get(QUALITY) is None


def _config_error(device: dict[str, Any]) -> tuple[list[Any], str]:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA({"devices": {GAS: device}})
    err = info.value.errors[0] if isinstance(info.value, vol.MultipleInvalid) else info.value
    return list(err.path), err.msg


def test_tank_block_defaults_and_errors() -> None:
    device = CONFIG_SCHEMA({"devices": {GAS: {"tank": TANK_BLOCK}}})["devices"][GAS]
    assert device["tank"]["commodity"] == "lp_gas" and device["tank"]["mounting"]["type"] == "bottom"
    assert _config_error({"tank": {**TANK_BLOCK, "mounting": "ultrasonic"}}) == (
        ["devices", GAS, "tank", "mounting"], "expected bottom, or a mapping with type")
    assert _config_error({"tank": {"shape": "vertical_cylinder"}}) == (
        ["devices", GAS, "tank", "capacity_l"], "give dimensions or capacity_l")
    assert _config_error({"tank": {**TANK_BLOCK, "usable_min_pct": 90}}) == (
        ["devices", GAS, "tank"], "need 0 <= usable_min_pct < usable_max_pct <= 100, got 90.0, 85.0")
    assert _config_error({"min_quality": 1}) == (["devices", GAS, "min_quality"], "only for a device with a tank: block")
    assert _config_error({"tank": TANK_BLOCK, "min_quality": 4}) == (
        ["devices", GAS, "min_quality"], "expected a quality from 0 to 3")


# -- resupply end to end -------------------------------------------------------------------------------


@pytest.fixture
async def gas_supplier() -> AsyncIterator[tuple[SupplierService, str]]:
    """The example supplier service selling LP gas by the litre, on loopback."""
    service = SupplierService(api_keys={API_KEY: CUSTOMER}, callback_secret=CALLBACK_SECRET, prices={"lp_gas": 11.5},
                              eta_after=7200)  # fmt: skip
    runner = web.AppRunner(create_app(service))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield service, f"http://{host}:{port}"
    await runner.cleanup()
    await service.close()


async def test_a_low_mopeka_tank_orders_gas_and_the_refill_delivers_it(
    ble: BleSetup, gas_supplier: tuple[SupplierService, str]
) -> None:
    service, base = gas_supplier
    events: list[Event] = []
    for kind in ("order_created", "order_sent", "order_delivered", "tank_refilled"):
        ble.hub.bus.listen(kind, events.append)
    gas = await start_gas(ble, refill_settle={"minutes": 2})
    confirming: list[Any] = []  # the tank's write context at the moment tank_refilled fires
    ble.hub.bus.listen("tank_refilled", lambda _: confirming.append(ble.runtime.devices[GAS].tank.context))
    scoped = ble.hub.scoped("resupply")
    block = {
        "suppliers": [{"id": "gas_norte", "name": "Gas del Norte", "commodity": "lp_gas", "type": "http_api",
                       "url": f"{base}/v1", "api_key": API_KEY, "customer_id": CUSTOMER,
                       "callback_secret": CALLBACK_SECRET, "sells": {"increment": 1, "minimum": 20},
                       "price_per_litre": 11.5, "timeout": 5}],
        "tanks": [{"tank": LEVEL, "supplier": "gas_norte", "below_pct": 25, "confirm_for": {"minutes": 10}}],
    }  # fmt: skip
    try:
        await resupply.async_setup(scoped, resupply.CONFIG_SCHEMA(block))
        manager = resupply.get_manager(scoped)

        async def run(litres: float, minutes: float, every: float = 60.0) -> None:
            for _ in range(round(minutes * 60 / every)):
                gas.send(gas.level_for_litres(litres))
                await ble.clock.advance(every)
                await manager.settle()

        # 32 % down to 22 %: a step below 25 % that holds past confirm_for orders once.
        for litres in (96.0, 90.0, 84.0, 78.0, 72.0, 66.0):
            await run(litres, 5)
        assert await manager.store.open_for(LEVEL) is None  # not under 25 % (75 L) long enough yet
        await run(66.0, 15)
        order = await until(lambda: manager.store.open_for(LEVEL), what="an order")
        # Up to 85 % of 300 L (the LP fill limit) from what the tank holds now.
        assert order.quantity_l == pytest.approx(255 - 66, abs=2) and order.supplier == "gas_norte"
        await until(lambda: len(service.orders()) == 1 and events[-1].event_type == "order_sent", what="sent")
        assert service.orders()[0]["idempotency_key"] == order.id
        # The truck: the level climbs by the ordered litres over six minutes, then holds. While the
        # level moves the Mopeka is heard every 15 s (it advertises every few seconds).
        before = 66.0
        for step in range(1, 25):
            await run(before + order.quantity_l * step / 24, 0.25, every=15)
        await run(before + order.quantity_l, 5, every=15)
        [refilled] = [e for e in events if e.event_type == "tank_refilled"]
        assert refilled.data["entity_id"] == LEVEL and refilled.data["commodity"] == "lp_gas"
        assert refilled.data["litres_delivered"] == pytest.approx(order.quantity_l, rel=0.03)
        assert set(refilled.data) == {"entity_id", "litres_delivered", "litres_before", "litres_after", "started_at",
                                      "ended_at", "commodity"}  # fmt: skip
        # Fired with the context of the reading that confirmed it, the one the tank's states were written with.
        assert refilled.context.origin == "ble_climate" and refilled.context is confirming[0]
        await until(lambda: events[-1].event_type == "order_delivered", what="delivered")
        [done] = await manager.store.list("closed")
        assert done.id == order.id and done.status == "delivered" and not done.short
        assert done.delivered_l == pytest.approx(refilled.data["litres_delivered"])
        assert [e.event_type for e in events] == ["order_created", "order_sent", "tank_refilled", "order_delivered"]
    finally:
        await scoped.scope.close()
