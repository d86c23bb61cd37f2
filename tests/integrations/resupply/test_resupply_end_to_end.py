"""Resupply end to end on real components, in one process, on the wall clock.

Our tank firmware runs in the simulator on a pty line with 9600-baud timing and plays a cistern;
a real `Hub` (RealClock, HTTP on a free port) reads it with modbus_tank and runs resupply against
the example supplier service on loopback. The supplier's `on_delivered` hook sends the truck: the
simulator's tank receives the litres over twenty tank minutes. Chain under test: the level falls
below `below_pct` -> exactly one order -> sent -> confirmed -> the tank rises -> modbus_tank fires
`tank_refilled` -> the order is delivered with the measured litres (short when the truck was short).

Timing. Tank time runs x1200 (twenty tank minutes a second). The cistern is quiet for three real
seconds (the hub starts and reads a steady level), then the household's morning rush drains it
through `below_pct`, then the house is quiet again while the truck comes. modbus_tank measures a
rise from the median of the idle readings before it, so the drain before the truck is kept small
(30.8 % to under 29 %): a long fast fall would make that median read high and the rise short.
modbus_tank settles a refill for `refill_settle` of hub time (default 5 minutes; docs/modbus_tank.md);
five tank minutes here would be a quarter of a second, under one poll, so the test configures a
settle of 3 s of hub time (three polls of a quiet tank). About 20 s a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from examples.supplier_service import SupplierService, create_app
from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import SimulatedTank, UsageProfile
from hub.bus import Event
from hub.config import CONFIG_FILE, write_default_config
from hub.runtime import Hub
from integrations.modbus_tank import get_runtime
from integrations.resupply import get_manager

TIME_FACTOR = 1200.0  # tank seconds per real second
UNIT = 1
CAPACITY_L = 1000.0  # 1.0 x 1.0 x 1.0 m, the simulator's tank is prismatic too
MOUNT_M = 1.25
START_PCT = 30.8
BELOW_PCT = 30.0
TARGET_PCT = 90.0
SETTLE_S = 3.0  # the refill detector's confirm_s, in hub (wall) seconds
TRUCK_MINUTES = 20.0  # tank minutes: one real second
API_KEY, CUSTOMER, CALLBACK_SECRET = "e2e-key", "MAD-E2E", "e2e-callback-secret"
LEVEL = "sensor.cistern_level"
TIMEOUT_S = 25.0

# 05:00-06:00 nearly nothing (three real seconds: the hub starts and reads a steady level),
# 06:00-07:00 showers and breakfast (~20 L), then a quiet house.
MORNING_RUSH = UsageProfile(
    "morning_rush", 22.0, tuple(30.0 if hour == 6 else 0.1 for hour in range(24)), day_variation=0.0
)


def _config(supplier_url: str) -> str:
    return f"""
modbus_tank:
  buses:
    - name: e2e
      type: serial
      port: {{port}}
      baudrate: 9600
      parity: N
      stopbits: 2
      timeout: 0.5
      tanks:
        - name: Cistern
          unit_id: {UNIT}
          profile: maderas_tank_v1
          scan_interval: 1
          refill_settle: {SETTLE_S}
          tank:
            shape: rectangular
            dimensions: {{length_m: 1.0, width_m: 1.0, height_m: 1.0}}
            commodity: water
            mounting: {{type: ultrasonic, mount_height_m: {MOUNT_M}}}

resupply:
  suppliers:
    - id: pipas_e2e
      name: Pipas E2E
      commodity: water
      type: http_api
      url: {supplier_url}/v1
      api_key: {API_KEY}
      customer_id: {CUSTOMER}
      callback_secret: {CALLBACK_SECRET}
      sells: {{increment: 10, minimum: 200}}
      price_per_litre: 0.12
      poll_interval: {{seconds: 1}}
      timeout: 5
  tanks:
    - tank: {LEVEL}
      supplier: pipas_e2e
      below_pct: {BELOW_PCT}
      target_pct: {TARGET_PCT}
      confirm_for: {{seconds: 1}}
"""


@dataclass
class Chain:
    """The three peers of one run and what the hub's bus said."""

    hub: Hub
    service: SupplierService
    bus: MultiSensorBus
    events: list[Event] = field(default_factory=list)
    levels: list[tuple[float, float]] = field(default_factory=list)  # (time fired, level %)
    trucks: list[float] = field(default_factory=list)  # litres the truck brought

    def of(self, event_type: str) -> list[Event]:
        return [e for e in self.events if e.event_type == event_type]


async def until(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
    """Wait on the wall clock until `predicate()` is truthy (the peers run on real sockets and threads)."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)
    return result


@pytest.fixture
def cistern() -> SimulatedTank:
    return SimulatedTank(capacity_l=CAPACITY_L, height_m=1.0, mount_height_m=MOUNT_M, start_pct=START_PCT,
                         usage_profile=MORNING_RUSH, seed=7, start_hour=5.0)  # fmt: skip


@pytest.fixture
async def chain(request: pytest.FixtureRequest, tmp_path: Path, cistern: SimulatedTank) -> AsyncIterator[Chain]:
    """Simulator, supplier and hub running; `request.param` is the share of the order the truck brings."""
    truck_share: float = request.param
    holder: list[Chain] = []

    def deliver(order: dict[str, Any]) -> None:
        # The supplier says it delivered `delivered_l`; the truck really brings truck_share of it.
        litres = float(order["delivered_l"]) * truck_share
        bus = holder[0].bus
        # Half a real second from now: the simulator thread may already be past "now".
        cistern.schedule_refill(bus.tank_time() + 0.5 * TIME_FACTOR, litres, TRUCK_MINUTES * 60)
        holder[0].trucks.append(litres)

    service = SupplierService(api_keys={API_KEY: CUSTOMER}, callback_secret=CALLBACK_SECRET,
                              prices={"water": 0.12}, confirm_after=1.0, deliver_after=2.0,
                              on_delivered=deliver)  # fmt: skip
    runner = web.AppRunner(create_app(service))
    await runner.setup()
    line = PtyLine(9600, bits_per_char=11, enforce_timing=True)
    bus = MultiSensorBus(line.device_path_b, {UNIT: cistern}, baud=9600, time_scale=TIME_FACTOR)
    hub: Hub | None = None
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        write_default_config(tmp_path)
        path = tmp_path / CONFIG_FILE
        text = path.read_text(encoding="utf-8").replace("  server_port: 8123\n", "  server_port: 0\n", 1)
        path.write_text(text + _config(f"http://{host}:{port}").replace("{port}", line.device_path_a), "utf-8")
        hub = Hub(tmp_path)
        result = Chain(hub, service, bus)
        holder.append(result)
        for event_type in ("order_created", "order_sent", "order_confirmed", "order_delivered", "order_failed",
                           "order_cancelled", "tank_refilled"):  # fmt: skip
            hub.bus.listen(event_type, result.events.append)
        hub.bus.listen("state_changed", lambda e: _record_level(result, e))
        bus.start()
        await hub.start()
        assert hub.config_errors == []
        detector = get_runtime(hub.integrations.scoped_hub("modbus_tank")).tanks[f"e2e:{UNIT}"].refills
        assert detector.confirm_s == SETTLE_S  # from the config's refill_settle
        yield result
    finally:
        if hub is not None:
            await hub.stop()
        await runner.cleanup()  # the service too: timers, callbacks, its client session
        bus.stop()
        line.close()
        assert bus.error is None


def _record_level(chain: Chain, event: Event) -> None:
    if event.data["entity_id"] != LEVEL or event.data["new_state"] is None:
        return
    try:
        chain.levels.append((event.time_fired, float(event.data["new_state"].state)))
    except ValueError:
        pass  # unavailable / unknown


def _order(chain: Chain) -> dict[str, Any] | None:
    delivered = chain.of("order_delivered")
    return dict(delivered[-1].data) if delivered else None


async def _run(chain: Chain) -> dict[str, Any]:
    """Wait for the whole chain; returns the delivered order as the API gives it."""
    order = await until(lambda: _order(chain), "the order to be delivered")
    manager = get_manager(chain.hub.integrations.scoped_hub("resupply"))
    await manager.settle()
    return order


def _check_chain(chain: Chain, order: dict[str, Any]) -> Event:
    """What both variants share: one low crossing, one order, one delivery, in this order."""
    first_level = chain.levels[0][1]
    assert first_level >= BELOW_PCT, f"the hub's first reading ({first_level} %) is already low"
    low_at = next(t for t, level in chain.levels if level < BELOW_PCT)
    (created,) = chain.of("order_created")
    (sent,) = chain.of("order_sent")
    (confirmed,) = chain.of("order_confirmed")
    (refilled,) = chain.of("tank_refilled")
    (delivered,) = chain.of("order_delivered")
    assert chain.of("order_failed") == [] and chain.of("order_cancelled") == []
    assert low_at < created.time_fired <= sent.time_fired <= confirmed.time_fired < refilled.time_fired
    assert refilled.time_fired <= delivered.time_fired
    # The policy waited confirm_for (1 s) of low readings before ordering.
    assert created.time_fired - low_at >= 1.0
    assert created.data["tank"] == LEVEL and created.data["id"] == order["id"]
    # Fill to 90 % of 1,000 L from just under 30 %: about 600-700 L, in tens of litres.
    assert 550 <= order["quantity_l"] <= 720 and order["quantity_l"] % 10 == 0
    assert (order["supplier_status"], order["supplier_delivered_l"]) == ("delivered", order["quantity_l"])
    # Exactly one order at the supplier: one create request, one order, and the tank rose above the threshold.
    assert chain.service.counters["create_requests"] == chain.service.counters["distinct_orders"] == 1
    assert [o["id"] for o in chain.service.orders()] == [order["supplier_ref"]]
    assert len(chain.trucks) == 1
    # The gauge saw the truck: from under the threshold to well above it (60 % of the load is 35 points).
    assert max(level for t, level in chain.levels if t > created.time_fired) > BELOW_PCT + 25
    assert refilled.data["entity_id"] == LEVEL and refilled.data["litres_delivered"] == order["delivered_l"]
    return refilled


@pytest.mark.parametrize("chain", [1.0], indirect=True, ids=["full"])
async def test_low_cistern_is_ordered_delivered_and_measured(chain: Chain) -> None:
    order = await _run(chain)
    _check_chain(chain, order)
    (truck,) = chain.trucks
    assert truck == order["quantity_l"]
    # The rise the gauge measured is the truck's load, within a few per cent, and not short.
    assert abs(order["delivered_l"] - truck) / truck < 0.03, (order["delivered_l"], truck)
    assert order["status"] == "delivered" and order["short"] is False
    # The tank's order sensor is back to no open order.
    sensor = get_manager(chain.hub.integrations.scoped_hub("resupply")).order_sensors[LEVEL]
    state = chain.hub.states.get(sensor.entity_id)
    assert state is not None and state.state == "none", state


@pytest.mark.parametrize("chain", [0.6], indirect=True, ids=["short"])
async def test_short_truck_is_flagged_short(chain: Chain) -> None:
    order = await _run(chain)
    _check_chain(chain, order)
    (truck,) = chain.trucks
    assert truck == pytest.approx(0.6 * order["quantity_l"])
    # The supplier reported the whole order delivered; the tank says 60 % came.
    assert order["supplier_delivered_l"] == order["quantity_l"]
    assert abs(order["delivered_l"] - truck) / truck < 0.03, (order["delivered_l"], truck)
    assert order["status"] == "delivered" and order["short"] is True
    assert "short delivery" in (order["delivery_note"] or "")
