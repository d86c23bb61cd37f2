"""The demo household: entities appear, move with the clock, and go away on unload.

The tanks of `hub demo` are not here any more: they are the modbus_tank integration reading
our firmware in a simulator (tests/test_demo_tanks.py).
"""

from __future__ import annotations

from pathlib import Path

from hub.clock import ManualClock
from hub.config import CONFIG_FILE, write_default_config
from hub.integrations import IntegrationState
from hub.runtime import Hub


async def test_demo_home_runs_on_the_clock(tmp_path: Path, clock: ManualClock) -> None:
    write_default_config(tmp_path)
    with (tmp_path / CONFIG_FILE).open("a", encoding="utf-8") as handle:
        handle.write("\ndemo:\n  update_interval: 5\n")
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        assert hub.config_errors == []
        assert hub.integrations.status("demo").state is IntegrationState.loaded
        # No fake tanks: only climate sensors and the door.
        assert {s.entity_id for s in hub.states.all()} >= {
            "sensor.living_room_sensor_temperature", "sensor.living_room_sensor_humidity",
            "sensor.roof_sensor_temperature", "binary_sensor.front_door",
        }
        assert not [s for s in hub.states.all() if "tank" in s.attributes]
        temperature = hub.states.get("sensor.living_room_sensor_temperature")
        assert temperature is not None and temperature.attributes["unit_of_measurement"] == "°C"
        assert 15 < float(temperature.state) < 31
        door = hub.states.get("binary_sensor.front_door")
        assert door is not None and door.state == "on"

        await clock.advance(3720)  # an hour and two minutes: the door has closed, the room warmed or cooled
        door, later = hub.states.get("binary_sensor.front_door"), hub.states.get("sensor.living_room_sensor_temperature")
        assert door is not None and door.state == "off"
        assert later is not None and later.state != temperature.state
        areas = {d.area for d in hub.devices.all()}
        assert {"Azotea", "Sala", "Entrada"} <= areas

        await hub.integrations.unload("demo")
        assert hub.states.get("binary_sensor.front_door") is None
    finally:
        await hub.stop()
