"""The example supplier on loopback and a set-up resupply integration on the `hub` fixture's manual clock.

The tank is a level sensor state with the `tank` attribute (the contract any tank integration
meets, docs/dashboard.md) plus `tank_refilled` events; modbus_tank end to end is in
test_resupply_end_to_end.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from waiting import until as until  # re-exported: the tests import it from here

from examples.supplier_service import SupplierService, create_app
from hub.runtime import Hub
from integrations import resupply

API_KEY, CUSTOMER, CALLBACK_SECRET, CONTROL = "pipas-key-0042", "MAD-0042", "callback-secret", "control"
TANK = "sensor.cistern_level"


@dataclass
class Setup:
    """A supplier service, the hub with resupply set up on it, and helpers to drive both."""

    hub: Hub
    service: SupplierService
    base: str
    scoped: Any = None
    manager: Any = None
    runners: list[web.AppRunner] = field(default_factory=list)

    async def start(self, **tank: Any) -> Any:
        """Set up resupply for TANK with the policy overrides in `tank`."""
        block = {
            "suppliers": [{"id": "pipas", "name": "Pipas El Marqués", "commodity": "water", "type": "http_api",
                           "url": f"{self.base}/v1", "api_key": API_KEY, "customer_id": CUSTOMER,
                           "callback_secret": CALLBACK_SECRET, "lead_time": {"hours": 24},
                           "sells": {"loads": [1000, 2000]}, "price_per_litre": 0.12, "timeout": 5}],
            "tanks": [{"tank": TANK, "supplier": "pipas", "below_pct": 25, "confirm_for": {"minutes": 10},
                       "min_interval": {"hours": 12}, **tank}],
        }  # fmt: skip
        self.scoped = self.hub.scoped("resupply")
        await resupply.async_setup(self.scoped, resupply.CONFIG_SCHEMA(block))
        self.manager = resupply.get_manager(self.scoped)
        return self.manager

    async def stop(self) -> None:
        if self.scoped is not None:
            await self.scoped.scope.close()
            self.scoped = None

    async def run_for(self, seconds: float, step: float = 60.0) -> None:
        """Move the manual clock in steps, letting the manager finish what each step started."""
        clock = self.hub.clock
        while seconds > 0:
            await clock.advance(min(step, seconds))  # type: ignore[attr-defined]
            seconds -= step
            if self.manager is not None:
                await self.manager.settle()

    def level(self, pct: float | str, *, capacity: float = 10000.0, days: float | None = None) -> None:
        """Write the tank's level state as a tank integration would."""
        volume = None if isinstance(pct, str) else capacity * pct / 100
        self.hub.states.set(TANK, str(pct), {
            "friendly_name": "Cistern", "unit_of_measurement": "%",
            "tank": {"commodity": "water", "volume_l": volume, "capacity_l": capacity, "days_until_empty": days},
        })  # fmt: skip

    def refilled(self, litres: float) -> None:
        self.hub.bus.fire("tank_refilled", {"entity_id": TANK, "litres_delivered": litres, "commodity": "water"})




@pytest.fixture
async def supplier() -> AsyncIterator[tuple[SupplierService, str]]:
    service = SupplierService(api_keys={API_KEY: CUSTOMER}, callback_secret=CALLBACK_SECRET, prices={"water": 0.12},
                              loads={"water": [1000, 2000]}, control_token=CONTROL, eta_after=7200)  # fmt: skip
    runner = web.AppRunner(create_app(service))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield service, f"http://{host}:{port}"
    await runner.cleanup()
    await service.close()


@pytest.fixture
async def resupply_setup(hub: Hub, supplier: tuple[SupplierService, str]) -> AsyncIterator[Setup]:
    setup = Setup(hub, *supplier)
    yield setup
    await setup.stop()
