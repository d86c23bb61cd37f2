"""End to end against real pymodbus peers: a TCP gateway with two slaves, and RTU over a pty pair."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from hub.clock import RealClock
from hub.runtime import Hub
from integrations import modbus_tank

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

# Profile A layout: unit code 0x0002 (7 = mH2O), decimals 0x0003, value 0x0004 (i16).
def _device(unit: int, raw: int) -> SimDevice:
    return SimDevice(id=unit, simdata=[SimData(address=0, values=[0, 0, 7, 3, raw, 0, 0], datatype=DataType.REGISTERS)])


def _tank(name: str, unit: int, profile: str = "generic_hydrostatic") -> dict[str, Any]:
    return {"name": name, "unit_id": unit, "profile": profile, "scan_interval": 3600,
            "tank": {"shape": "vertical_cylinder", "dimensions": {"diameter_m": 1.0, "height_m": 2.0},
                     "commodity": "water", "mounting": "pressure"}}  # fmt: skip


@pytest.fixture
async def real_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = Hub(tmp_path, clock=RealClock())
    await hub.start()
    yield hub
    await hub.stop()


async def _tcp_server(port: int) -> ModbusTcpServer:
    server = ModbusTcpServer([_device(1, 1234), _device(2, 500), _device(3, 0)], address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    return server


async def _setup(hub: Hub, block: dict[str, Any]) -> Any:
    scoped = hub.scoped("modbus_tank")
    await modbus_tank.async_setup(scoped, modbus_tank.CONFIG_SCHEMA(block))
    return scoped


def _state(hub: Hub, entity_id: str) -> Any:
    state = hub.states.get(entity_id)
    assert state is not None, entity_id
    return state


async def test_tcp_gateway_two_slaves_exception_and_restart(real_hub: Hub, free_port: int) -> None:
    server = await _tcp_server(free_port)
    # Tank C's user profile reads 0x0100, which the simulated slave does not map: exception 02.
    block = {
        "profiles": {"bad": {"quantity": "depth", "value": {"address": 0x100, "unit": "m"}}},
        "buses": [{"name": "gw", "type": "tcp", "host": "127.0.0.1", "port": free_port, "timeout": 0.3,
                   "tanks": [_tank("Tank A", 1), _tank("Tank B", 2), _tank("Tank C", 3, "bad")]}],
    }  # fmt: skip
    scoped = await _setup(real_hub, block)
    try:
        (coordinator,) = modbus_tank.get_runtime(scoped).coordinators.values()
        await coordinator.poll_all()
        a, b = _state(real_hub, "sensor.tank_a_level"), _state(real_hub, "sensor.tank_b_level")
        # 1.234 m of water in a 2 m cylinder: 61.7 %, pi * 0.25 * 1.234 m3 = 969.2 L.
        assert (a.state, _state(real_hub, "sensor.tank_a_volume").state) == ("61.7", "969")
        assert a.attributes["tank"]["volume_l"] == 969.2 and a.attributes["tank"]["commodity"] == "water"
        assert b.state == "25.0"
        c = _state(real_hub, "sensor.tank_c_level")
        assert (c.state, c.attributes["unavailable_reason"]) == ("unavailable", "exception 02 illegal data address")

        await server.async_setValues(1, 3, 4, [1300])  # within the plausibility step: taken at once
        await coordinator.poll_all()
        # The filter's level is the median of its window: (1.234 + 1.300) / 2 m of 2 m.
        assert _state(real_hub, "sensor.tank_a_level").state == "63.4"

        await server.shutdown()
        for _ in range(3):
            await coordinator.poll_all()
        a = _state(real_hub, "sensor.tank_a_level")
        assert a.state == "unavailable" and a.attributes["unavailable_reason"].startswith("bus unavailable")
        assert _state(real_hub, "sensor.tank_a_errors").state == "3"

        server = await _tcp_server(free_port)  # reopened by the coordinator's backoff (1 s first)
        for _ in range(50):
            await asyncio.sleep(0.1)
            await coordinator.poll_all()
            if _state(real_hub, "sensor.tank_a_level").state != "unavailable":
                break
        assert _state(real_hub, "sensor.tank_a_level").state == "61.7"  # median of 1.234, 1.3, 1.234
    finally:
        await scoped.scope.close()
        await server.shutdown()


async def test_serial_rtu_over_pty(real_hub: Hub, pty_bridge: Any) -> None:
    server = ModbusSerialServer(_device(7, 1234), port=pty_bridge.port_b, baudrate=9600)
    await server.serve_forever(background=True)
    block = {"buses": [{"name": "rs485", "type": "serial", "port": pty_bridge.port_a, "baudrate": 9600,
                        "stopbits": 2, "timeout": 0.5, "tanks": [_tank("Cistern", 7)]}]}  # fmt: skip
    scoped = await _setup(real_hub, block)
    try:
        (coordinator,) = modbus_tank.get_runtime(scoped).coordinators.values()
        await coordinator.poll_all()
        slave = coordinator.slaves["rs485:7"]
        assert slave.reading is not None and slave.reading.value_si == pytest.approx(1.234)
        assert _state(real_hub, "sensor.cistern_raw_reading").state == "1.2340"
        assert _state(real_hub, "sensor.cistern_level").state == "61.7"
    finally:
        await scoped.scope.close()
        await server.shutdown()
