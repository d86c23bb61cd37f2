"""Example weather: a third-party integration showing the whole contract in one small module.

A simulated station: one temperature sensor from configuration, a service to change it,
and a poll on the hub's clock. Everything is made through the ScopedHub the hub hands
in, so the hub releases the service and the timer on unload by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

if TYPE_CHECKING:
    from hub.config_entries import ConfigEntry
    from hub.scope import ScopedHub
    from hub.services import ServiceCall

DOMAIN = "example_weather"
ENTITY_ID = "sensor.example_weather_temperature"

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("temperature", default=21.0): vol.Coerce(float),
        vol.Optional("scan_interval", default=60.0): vol.All(vol.Coerce(float), vol.Range(min=1)),
    }
)

SET_TEMPERATURE_SCHEMA = vol.Schema({vol.Required("temperature"): vol.Coerce(float)})

ENTRY_DATA_SCHEMA = vol.Schema(
    {vol.Required("station"): vol.Match(r"^[a-z0-9_]+$"), vol.Optional("temperature", default=20.0): vol.Coerce(float)}
)


class Station:
    """The simulated station's reading and how often it was polled."""

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self.polls = 0

    def attributes(self) -> dict[str, Any]:
        """State attributes of the temperature sensor."""
        return {"unit_of_measurement": "°C", "device_class": "temperature", "polls": self.polls}


async def async_setup(hub: ScopedHub, config: dict[str, Any]) -> None:
    """Publish the sensor, register the service and start polling."""
    station = Station(config["temperature"])

    def publish() -> None:
        hub.states.set(ENTITY_ID, f"{station.temperature:.1f}", station.attributes())

    def poll() -> None:
        station.polls += 1
        publish()

    def set_temperature(call: ServiceCall) -> None:
        station.temperature = call.data["temperature"]
        publish()

    publish()
    hub.services.register(DOMAIN, "set_temperature", set_temperature, SET_TEMPERATURE_SCHEMA)
    hub.clock.every(config["scan_interval"], poll)


async def async_unload(hub: ScopedHub) -> None:
    """Remove the sensor; the service and the poll timer are released by the hub."""
    hub.states.remove(ENTITY_ID)


def _entry_entity(entry: ConfigEntry) -> str:
    return f"sensor.example_weather_{ENTRY_DATA_SCHEMA(entry.data)['station']}"


async def async_setup_entry(hub: ScopedHub, entry: ConfigEntry) -> None:
    """One more station added from the dashboard: one more sensor."""
    data = ENTRY_DATA_SCHEMA(entry.data)
    hub.states.set(_entry_entity(entry), f"{data['temperature']:.1f}", {"unit_of_measurement": "°C"})


async def async_unload_entry(hub: ScopedHub, entry: ConfigEntry) -> None:
    """Remove the station's sensor."""
    hub.states.remove(_entry_entity(entry))
