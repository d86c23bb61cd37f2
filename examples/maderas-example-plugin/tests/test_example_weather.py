"""The example plugin, installed as a normal package, found and run by the hub."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.clock import ManualClock
from hub.config_entries import ConfigEntries, EntryState
from hub.integrations import IntegrationManager, IntegrationState
from hub.loader import discover, discovery_index, match_zeroconf
from hub.manifest import Source
from hub.runtime import Hub

ENTITY = "sensor.example_weather_temperature"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    instance = Hub(tmp_path, clock=ManualClock())
    await instance.start()
    yield instance
    await instance.stop()


def test_found_through_its_entry_point() -> None:
    found = discover(None, builtin_package=None)
    integration = found.integrations["example_weather"]
    assert integration.source is Source.entry_point
    assert integration.module == "maderas_example_plugin"
    assert integration.version == "0.1.0"
    assert "site-packages" in str(integration.path)  # the installed copy, not the source tree


def test_zeroconf_routes_without_import() -> None:
    sys.modules.pop("maderas_example_plugin", None)
    index = discovery_index(discover(None, builtin_package=None).integrations)
    assert match_zeroconf(index, "_example-weather._tcp.local.", "station-roof", {}) == ["example_weather"]
    assert match_zeroconf(index, "_example-weather._tcp.local.", "printer", {}) == []
    assert "maderas_example_plugin" not in sys.modules


async def test_setup_service_poll_unload(hub: Hub) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    listeners_before = hub.bus.listener_count()
    timers_before = clock.pending  # the hub's own (recorder)
    manager = IntegrationManager(hub, discover(None, builtin_package=None).integrations)
    await manager.setup(["example_weather"], {"example_weather": {"temperature": 18.5, "scan_interval": 30}})
    assert manager.status("example_weather").state is IntegrationState.loaded

    state = hub.states.get(ENTITY)
    assert state is not None and state.state == "18.5" and state.attributes["polls"] == 0
    await hub.services.call("example_weather", "set_temperature", {"temperature": 25})
    assert hub.states.get(ENTITY).state == "25.0"  # type: ignore[union-attr]
    await clock.advance(90)
    assert hub.states.get(ENTITY).attributes["polls"] == 3  # type: ignore[union-attr]

    scoped = manager.scoped_hub("example_weather")
    assert scoped is not None and scoped.scope.resource_count() == 2  # the service and the timer
    await manager.unload("example_weather")
    assert scoped.scope.resource_count() == 0
    assert ENTITY not in hub.states
    assert not hub.services.has("example_weather", "set_temperature")
    assert hub.bus.listener_count() == listeners_before
    assert clock.pending == timers_before


async def test_config_entry_adds_a_station(hub: Hub) -> None:
    manager = IntegrationManager(hub, discover(None, builtin_package=None).integrations)
    entries = ConfigEntries(hub, manager)
    await entries.load()
    entry = await entries.add("example_weather", "Roof", {"station": "roof", "temperature": 17}, unique_id="roof")
    assert entry.state is EntryState.loaded
    assert hub.states.get("sensor.example_weather_roof").state == "17.0"  # type: ignore[union-attr]
    await entries.remove(entry.entry_id)
    assert "sensor.example_weather_roof" not in hub.states
    await manager.unload_all()
