"""The demo's hazard detectors: clear from the start, set and cleared by `demo.trip` with the caller's context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.bus import Context
from hub.clock import ManualClock
from hub.config import CONFIG_FILE, write_default_config
from hub.errors import ServiceValidationError
from hub.runtime import Hub

GAS, LEAK = "binary_sensor.kitchen_gas", "binary_sensor.laundry_leak"


@pytest.fixture
async def demo_hub(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Hub]:
    write_default_config(tmp_path)
    with (tmp_path / CONFIG_FILE).open("a", encoding="utf-8") as handle:
        handle.write("\ndemo:\n  update_interval: 5\n")
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def _state(hub: Hub, entity_id: str) -> str:
    state = hub.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_detectors_are_clear_and_stay_clear_on_the_clock(demo_hub: Hub, clock: ManualClock) -> None:
    gas, leak = demo_hub.states.get(GAS), demo_hub.states.get(LEAK)
    assert gas is not None and leak is not None
    assert (gas.state, gas.attributes["device_class"], gas.attributes["friendly_name"]) == ("off", "gas", "Kitchen gas")
    assert (leak.state, leak.attributes["device_class"]) == ("off", "moisture")
    assert {"Cocina", "Lavandería"} <= {d.area for d in demo_hub.devices.all()}
    await clock.advance(3600)
    assert (_state(demo_hub, GAS), _state(demo_hub, LEAK)) == ("off", "off")


async def test_trip_sets_and_clears_a_detector_with_the_callers_context(demo_hub: Hub, clock: ManualClock) -> None:
    assert demo_hub.services.resident_allowed("demo", "trip")
    caller = Context(user_id="resident-1")
    await demo_hub.services.call("demo", "trip", {"entity_id": GAS}, context=caller)  # `on` defaults to true
    state = demo_hub.states.get(GAS)
    assert state is not None and state.state == "on" and state.context is caller
    assert _state(demo_hub, LEAK) == "off"
    await clock.advance(60)  # the ticks rewrite it: still detecting, still the caller's reading
    state = demo_hub.states.get(GAS)
    assert state is not None and state.state == "on" and state.context is caller
    await demo_hub.services.call("demo", "trip", {"entity_id": GAS, "on": False})
    assert _state(demo_hub, GAS) == "off"
    await demo_hub.services.call("demo", "trip", {"entity_id": LEAK, "on": True})
    assert _state(demo_hub, LEAK) == "on"


async def test_trip_refuses_what_is_not_a_detector(demo_hub: Hub) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await demo_hub.services.call("demo", "trip", {"entity_id": "binary_sensor.front_door"})
    assert caught.value.path == ("entity_id",)
    assert f"one of {GAS}, {LEAK}" in str(caught.value)
    with pytest.raises(ServiceValidationError):
        await demo_hub.services.call("demo", "trip", {"entity_id": GAS, "on": "yes"})
    assert _state(demo_hub, GAS) == "off"


async def test_trip_goes_with_the_integration(demo_hub: Hub) -> None:
    assert demo_hub.services.has("demo", "trip")
    await demo_hub.integrations.unload("demo")
    assert not demo_hub.services.has("demo", "trip")
    assert demo_hub.states.get(GAS) is None
