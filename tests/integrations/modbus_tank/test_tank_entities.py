"""Tank entities end to end on a manual clock: hours of polls in milliseconds through a fake transport.

The fake implements transport.Transport and answers Profile A (generic_hydrostatic: unit code mH2O,
3 decimals, depth in mm) from a function of the hub's wall clock, so the coordinator, the
plausibility filter, the estimators and the entities all run as in production.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hub.bus import Event
from hub.clock import ManualClock
from hub.runtime import Hub
from integrations import modbus_tank
from integrations.modbus_tank.sensor import EVENT_TANK_REFILLED
from integrations.modbus_tank.transport import SlaveTimeout

RADIUS_M = 1.0  # vertical cylinder, 2 m across and 2 m high: 6,283.2 L, 3.14 L per mm
CAPACITY_L = math.pi * RADIUS_M**2 * 2.0 * 1000
LEVEL = "sensor.cistern_level"


def depth_m(litres: float) -> float:
    return litres / 1000 / (math.pi * RADIUS_M**2)


class FakeTransport:
    """Profile A registers per unit from `litres[unit](t)`; `spike` answers one wild depth once, `fail` raises."""

    description = "/dev/fake"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self._connected = False
        self.litres: dict[int, Callable[[float], float]] = {}
        self.spike: dict[int, float] = {}  # unit -> depth (m) of the next answer only
        self.fail: dict[int, Exception] = {}
        self.reads = 0

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        self._connected = True

    async def close(self) -> None:
        self._connected = False

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]:
        self.reads += 1
        if unit in self.fail:
            raise self.fail[unit]
        depth = self.spike.pop(unit) if unit in self.spike else depth_m(self.litres.get(unit, lambda t: 3000.0)(self.clock.time()))
        registers = {0x0002: 7, 0x0003: 3, 0x0004: max(0, round(depth * 1000))}  # mH2O, 3 decimals, mm
        return [registers.get(a, 0) for a in range(address, address + count)]

    async def write_register(self, unit: int, address: int, value: int) -> None:
        return None


def _tank(name: str, unit: int, *, scan: float = 60, **tank: Any) -> dict[str, Any]:
    return {"name": name, "unit_id": unit, "profile": "generic_hydrostatic", "scan_interval": scan,
            "tank": {"shape": "vertical_cylinder", "dimensions": {"diameter_m": 2 * RADIUS_M, "height_m": 2.0},
                     "commodity": "water", "mounting": "pressure", **tank}}  # fmt: skip


def _block(tanks: list[dict[str, Any]], baud: int = 9600) -> dict[str, Any]:
    return {"buses": [{"name": "patio", "type": "serial", "port": "/dev/fake", "baudrate": baud, "stopbits": 2,
                       "tanks": tanks}]}  # fmt: skip


class Setup:
    def __init__(self, hub: Hub, clock: ManualClock) -> None:
        self.hub, self.clock = hub, clock
        self.transport = FakeTransport(clock)
        self.scoped = hub.scoped("modbus_tank")
        self.events: list[tuple[Event, Any]] = []  # (tank_refilled, level state's context when it fired)
        hub.bus.listen(EVENT_TANK_REFILLED, self._refilled)

    def _refilled(self, event: Event) -> None:
        level = self.hub.states.get(event.data["entity_id"])
        self.events.append((event, None if level is None else level.context))

    async def start(self, block: dict[str, Any]) -> modbus_tank.ModbusTankRuntime:
        await modbus_tank.async_setup(self.scoped, modbus_tank.CONFIG_SCHEMA(block),
                                      transport_factory=lambda bus: self.transport)  # fmt: skip
        return modbus_tank.get_runtime(self.scoped)

    def state(self, entity_id: str) -> Any:
        state = self.hub.states.get(entity_id)
        assert state is not None, entity_id
        return state


@pytest.fixture
async def setup(hub: Hub, clock: ManualClock) -> AsyncIterator[Setup]:
    s = Setup(hub, clock)
    yield s
    # Polls already queued on the bus lock finish first (each waits t3.5 on the manual clock), so
    # time moves on while the integration unloads.
    closing = asyncio.create_task(s.scoped.scope.close())
    while not closing.done():
        await clock.advance(0.01)
    await closing


def draining(clock: ManualClock, start_l: float, per_day: float, sigma: float, seed: int = 7) -> Callable[[float], float]:
    rng, t0 = random.Random(seed), clock.time()
    return lambda t: start_l - per_day * (t - t0) / 86400 + rng.gauss(0, sigma)


async def test_runtime_is_found_on_the_scoped_hub(setup: Setup) -> None:
    runtime = await setup.start(_block([_tank("Cistern", 1)]))
    assert list(runtime.coordinators) == ["patio"] and list(runtime.tanks) == ["patio:1"]
    assert runtime.coordinator("patio").slaves["patio:1"].unit == 1
    with pytest.raises(LookupError):
        modbus_tank.get_runtime(setup.hub.scoped("other"))


async def test_consumption_converges_and_days_until_empty_follows(setup: Setup, clock: ManualClock) -> None:
    setup.transport.litres[1] = draining(clock, 5000, 600, sigma=30)
    runtime = await setup.start(_block([_tank("Cistern", 1)]))
    await clock.advance(5 * 3600)
    assert setup.state("sensor.cistern_consumption").state == "unknown"  # under a quarter of the window
    await clock.advance(25 * 3600)  # 30 h of polls every minute
    consumption = float(setup.state("sensor.cistern_consumption").state)
    assert consumption == pytest.approx(600, rel=0.05)
    model = runtime.tanks["patio:1"]
    assert model.level is not None and model.rate is not None
    true_litres = 5000 - 600 * 30 / 24
    assert float(setup.state("sensor.cistern_volume").state) == pytest.approx(true_litres, abs=60)
    days = float(setup.state("sensor.cistern_days_until_empty").state)
    assert days == pytest.approx(model.level.volume_l / model.rate, abs=0.051)
    assert days == pytest.approx(true_litres / 600, rel=0.06)
    assert setup.state(LEVEL).attributes["tank"]["days_until_empty"] == round(days, 1)
    assert setup.events == []


async def test_refill_fires_once_with_litres_and_the_readings_context(setup: Setup, clock: ManualClock) -> None:
    rng, t0 = random.Random(11), clock.time()
    truck_at, truck_s, delivered = t0 + 8 * 3600, 20 * 60, 3000.0

    def litres(t: float) -> float:
        into_truck = min(max(t - truck_at, 0.0), truck_s) / truck_s
        return 2000 - 600 * (t - t0) / 86400 + delivered * into_truck + rng.gauss(0, 30)

    setup.transport.litres[1] = litres
    await setup.start(_block([_tank("Cistern", 1)]))
    await clock.advance(12 * 3600)
    assert len(setup.events) == 1
    event, level_context = setup.events[0]
    assert event.data["entity_id"] == LEVEL and event.data["commodity"] == "water"
    assert event.data["litres_delivered"] == pytest.approx(delivered, rel=0.03)
    assert truck_at - 600 <= event.data["started_at"] <= truck_at + 300
    # The event carries the context of the poll that confirmed it, which the level state was written with.
    assert event.context.origin == "modbus_tank" and level_context is not None and event.context.id == level_context.id
    await clock.advance(12 * 3600)
    assert len(setup.events) == 1  # once, not again while the level stays up
    assert float(setup.state("sensor.cistern_consumption").state) == pytest.approx(600, rel=0.1)


async def test_a_single_wild_reading_moves_nothing(setup: Setup, clock: ManualClock) -> None:
    setup.transport.litres[1] = draining(clock, 4000, 0, sigma=5)
    await setup.start(_block([_tank("Cistern", 1)]))
    await clock.advance(3600)
    changes: list[Event] = []
    setup.hub.bus.listen("state_changed", changes.append,
                         event_filter=lambda data: data["entity_id"] in (LEVEL, "sensor.cistern_volume"))  # fmt: skip
    for wild in (1.99, 0.05):  # an echo off the lid, a ripple that reads near empty
        before = setup.state(LEVEL)
        setup.transport.spike[1] = wild
        await clock.advance(60)
        assert setup.state("sensor.cistern_raw_reading").state == f"{wild:.4f}"  # it was read ...
        assert setup.state(LEVEL).state == before.state  # ... and not believed
        await clock.advance(600)
    assert all(abs(float(e.data["new_state"].state) - float(e.data["old_state"].state)) < 2 for e in changes
               if e.data["entity_id"] == LEVEL)  # fmt: skip
    assert setup.events == []


async def test_unavailable_after_n_failures_diagnostics_stay_readable(setup: Setup, clock: ManualClock) -> None:
    setup.transport.litres[1] = draining(clock, 4000, 0, sigma=0)
    await setup.start(_block([_tank("Cistern", 1)]))
    await clock.advance(60)
    level = setup.state(LEVEL).state
    error = SlaveTimeout("unit 1: no reply")
    setup.transport.fail[1] = error
    await clock.advance(120)  # two failures: still the last good level
    assert setup.state(LEVEL).state == level and setup.state("sensor.cistern_errors").state == "2"
    await clock.advance(60)
    state = setup.state(LEVEL)
    assert (state.state, state.attributes["unavailable_reason"]) == ("unavailable", "timeout after 3 tries")
    assert setup.state("sensor.cistern_volume").attributes["unavailable_reason"] == "timeout after 3 tries"
    assert setup.state("sensor.cistern_errors").state == "3"
    assert setup.state("sensor.cistern_last_error").state == str(error)
    del setup.transport.fail[1]
    await clock.advance(60)
    assert setup.state(LEVEL).state == level and "unavailable_reason" not in setup.state(LEVEL).attributes
    assert setup.state("sensor.cistern_errors").state == "3"


@pytest.mark.parametrize(("count", "pct", "headroom"), [
    (30, "149", ""),  # more than the line carries at all
    (20, "100", " (more than the 80 % that leaves room for retries)"),  # 99.6 %: no room for a retry
])  # fmt: skip
async def test_bus_load_overloaded_for_an_impossible_config(setup: Setup, count: int, pct: str, headroom: str) -> None:
    # `count` tanks polled every second at 9600 baud: one 3-register read is ~50 ms with 20 ms latency.
    runtime = await setup.start(_block([_tank(f"Tank {u}", u, scan=1) for u in range(1, count + 1)]))
    state = setup.state("sensor.modbus_bus_patio_bus_load")
    assert state.state == pct and state.attributes["unit_of_measurement"] == "%"
    assert state.attributes["overloaded"] is True
    assert state.attributes["message"] == (
        f"The polls configured on bus 'patio' need {pct} % of what 9600 baud carries{headroom}; "
        "lengthen scan_interval or raise the baud rate"
    )
    assert "tank" not in state.attributes  # a generic card, not a tank gauge
    assert runtime.platform is not None
    assert runtime.platform.entities["sensor.modbus_bus_patio_bus_load"].entity_category == "diagnostic"


async def test_bus_load_fine_for_a_sane_config(setup: Setup) -> None:
    runtime = await setup.start(_block([_tank("Cistern", 1), _tank("Roof", 2)]))
    state = setup.state("sensor.modbus_bus_patio_bus_load")
    assert state.attributes["overloaded"] is False and state.attributes["message"] is None
    assert float(state.state) == pytest.approx(runtime.coordinator("patio").load * 100, abs=0.5)
    assert float(state.state) < 1


async def test_level_tank_attribute_matches_the_dashboard_contract(setup: Setup, clock: ManualClock) -> None:
    setup.transport.litres[1] = draining(clock, 3000, 0, sigma=0)
    await setup.start(_block([_tank("Cistern", 1, usable_max_pct=95)]))
    await clock.advance(60)
    state = setup.state(LEVEL)
    assert state.attributes["unit_of_measurement"] == "%"
    tank = state.attributes["tank"]
    assert tank == {
        "commodity": "water",
        "volume_l": tank["volume_l"],
        "capacity_l": round(CAPACITY_L, 1),
        "days_until_empty": None,  # null while there is not enough data
        "usable_min_pct": 0.0,
        "usable_max_pct": 95,
    }
    assert tank["volume_l"] == pytest.approx(3000, abs=2)  # 1 mm of depth is 3.14 L
    assert float(state.state) == pytest.approx(tank["volume_l"] / tank["capacity_l"] * 100, abs=0.051)
    assert json.loads(json.dumps(tank)) == tank
