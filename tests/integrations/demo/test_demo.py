"""The demo household: entities appear, move with the clock, and go away on unload."""

from __future__ import annotations

from pathlib import Path

from hub.clock import ManualClock
from hub.demo import write_demo_config
from hub.integrations import IntegrationState
from hub.runtime import Hub


async def test_demo_home_runs_on_the_clock(tmp_path: Path, clock: ManualClock) -> None:
    write_demo_config(tmp_path)
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert hub.config_errors == []
        assert hub.integrations.status("demo").state is IntegrationState.loaded
        cistern = hub.states.get("sensor.cistern_level")
        assert cistern is not None and cistern.attributes["unit_of_measurement"] == "%"
        tank = cistern.attributes["tank"]
        assert tank["commodity"] == "water" and tank["capacity_l"] == 10000
        assert float(cistern.state) == 72.0 and tank["volume_l"] == 7200.0
        gas = hub.states.get("sensor.lp_gas_tank_level")
        assert gas is not None and gas.attributes["tank"]["usable_max_pct"] == 85
        assert hub.states.get("binary_sensor.front_door").state == "on"

        await clock.advance(3720)  # an hour and two minutes of use at 650 L/day: 28 L less
        later = hub.states.get("sensor.cistern_level")
        assert later is not None and round(later.attributes["tank"]["volume_l"]) == 7172
        assert hub.states.get("binary_sensor.front_door").state == "off"
        areas = {d.area for d in hub.devices.all()}
        assert {"Patio", "Azotea", "Sala", "Entrada"} <= areas

        await hub.integrations.unload("demo")
        assert hub.states.get("sensor.cistern_level") is None
    finally:
        await hub.stop()
