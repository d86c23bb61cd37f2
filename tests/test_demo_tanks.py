"""`hub demo`'s tanks, end to end in one process: the demo config, our firmware in the simulator
on a pty line with real 9600-baud timing, the modbus_tank integration on a real clock."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import yaml

from hub.config import CONFIG_FILE
from hub.demo import (
    DEMO_TIME_FACTOR,
    TANKS,
    DemoDevices,
    serial_link,
    write_demo_config,
)
from hub.runtime import Hub
from hub.states import State

EXPECTED = {"Cistern": ("water", 1100), "Rooftop tank": ("water", 450), "LP gas tank": ("lp_gas", 300)}


def _tank_levels(hub: Hub) -> dict[str, State]:
    found = {}
    for state in hub.states.all():
        if state.entity_id.startswith("sensor.") and "tank" in state.attributes:
            try:
                float(state.state)
            except ValueError:
                continue
            found[state.attributes.get("friendly_name", state.entity_id)] = state
    return found


def test_demo_config_describes_the_three_tanks(tmp_path: Path) -> None:
    # Without the resupply block (its `!secret`s are no plain YAML): test_demo_resupply.py reads that.
    write_demo_config(tmp_path, server_port=0, resupply=False)
    config = yaml.safe_load((tmp_path / CONFIG_FILE).read_text(encoding="utf-8"))
    assert config["http"]["server_port"] == 0
    (bus,) = config["modbus_tank"]["buses"]
    assert bus["port"] == str(serial_link(tmp_path)) and not bus["port"].startswith("/dev/pts")
    assert (bus["baudrate"], bus["parity"], bus["stopbits"]) == (9600, "N", 2)
    assert [(t["unit_id"], t["name"], t["tank"]["shape"]) for t in bus["tanks"]] == [
        (1, "Cistern", "rectangular"), (2, "Rooftop tank", "vertical_cylinder"), (3, "LP gas tank", "horizontal_cylinder"),
    ]
    assert all(t["profile"] == "maderas_tank_v1" and t["scan_interval"] == 5 for t in bus["tanks"])
    # Written once: a second call (hub demo --keep DIR) keeps the file as it is.
    before = (tmp_path / CONFIG_FILE).read_text(encoding="utf-8")
    write_demo_config(tmp_path)
    assert (tmp_path / CONFIG_FILE).read_text(encoding="utf-8") == before


def test_simulated_tanks_match_the_configured_geometry() -> None:
    """The simulator's tank and the hub's model agree: distance at a known volume gives that volume back."""
    from hub.demo import _modbus_block, simulated_tank
    from integrations.modbus_tank.config import TANK_SCHEMA, build_tank

    config = yaml.safe_load(_modbus_block("/x"))["modbus_tank"]["buses"][0]["tanks"]
    for demo, conf in zip(TANKS, config, strict=True):
        model = build_tank(TANK_SCHEMA(conf["tank"]))
        assert abs(model.capacity_l - EXPECTED[demo.name][1]) / EXPECTED[demo.name][1] < 0.01
        assert abs(model.capacity_l - demo.capacity_l) < 0.5
        sim = simulated_tank(demo, seed=1)
        sim.noise_mm = sim.spike_probability = 0
        distance_m = sim.true_distance_mm_at(0.0) / 1000
        level = model.measure(distance_m)
        assert abs(level.volume_l - sim.volume_l_at(0.0)) < 0.01 * demo.capacity_l
        assert not level.out_of_range


async def test_demo_tanks_reach_the_dashboard(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    write_demo_config(tmp_path, server_port=0)
    with DemoDevices(tmp_path) as devices:
        assert os.path.realpath(devices.link).startswith("/dev/pts/")
        hub = Hub(tmp_path)
        await hub.start()
        try:
            assert hub.config_errors == []
            deadline = time.monotonic() + 20
            while len(levels := _tank_levels(hub)) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert devices.error is None
            areas = {d.name: d.area for d in hub.devices.all()}
            assert (areas["Cistern"], areas["Rooftop tank"], areas["LP gas tank"]) == ("Patio", "Azotea", "Azotea")
        finally:
            await hub.stop()
    assert devices.bus is None and devices.line is None
    assert sorted(levels) == ["Cistern Level", "LP gas tank Level", "Rooftop tank Level"], levels
    for name, (commodity, capacity) in EXPECTED.items():
        state = levels[f"{name} Level"]
        tank = state.attributes["tank"]
        assert tank["commodity"] == commodity
        assert abs(tank["capacity_l"] - capacity) / capacity < 0.01
        assert 0 < float(state.state) < 100
        start = next(t.start_pct for t in TANKS if t.name == name)
        assert abs(float(state.state) - start) < 5, (name, state.state)  # a few tank minutes at x60
    assert DEMO_TIME_FACTOR > 1
    leaked = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    leaked = [t for t in leaked if not t.name.startswith(("asyncio_", "ThreadPoolExecutor"))]
    assert leaked == []
