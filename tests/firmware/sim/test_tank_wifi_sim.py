"""THE TCP PEER TEST: pymodbus's Modbus TCP client talks to our Wi-Fi tank sensor simulator.

AsyncModbusTcpClient (framer socket) against WifiTankSimulator on loopback: the identity before
the PIN, the lock, the PIN, then the measurement and settings, and the announcement it would make.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ExceptionResponse

from firmware.sim.tank_physics import SimulatedTank
from firmware.sim.tank_wifi import SERVICE_TYPE, WifiTankSimulator
from firmware.tank_sensor.registers import FIRMWARE_VERSION, MODEL_ID, STATUS_VALID

PIN = 482913

pytestmark = pytest.mark.usefixtures("quiet_pymodbus")


@pytest.fixture
async def sim() -> AsyncIterator[WifiTankSimulator]:
    tank = SimulatedTank(1100.0, 1.2, 1.4, 60.0, noise_mm=0.0, spike_probability=0.0)
    async with WifiTankSimulator(tank, serial="MT0A1B2C", pin=PIN, capacity_l=1100, tank_height_m=1.2,
                                 commodity="lp_gas") as s:  # fmt: skip
        yield s


@pytest.fixture
async def client(sim: WifiTankSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    c = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2.0, retries=0)
    assert await c.connect()
    yield c
    c.close()


def serial_of(words: list[int]) -> str:
    return "".join(chr(w >> 8) + chr(w & 0xFF) for w in words)


async def test_identity_then_pin_then_measurement(client: AsyncModbusTcpClient, sim: WifiTankSimulator) -> None:
    identity = await client.read_holding_registers(0x0020, count=6, device_id=1)
    assert identity.registers[0] == MODEL_ID and serial_of(identity.registers[1:5]) == "MT0A1B2C"
    assert identity.registers[5] == 1  # the Wi-Fi variant
    locked = await client.read_holding_registers(0x0002, count=2, device_id=1)
    assert isinstance(locked, ExceptionResponse) and locked.exception_code == 1
    wrong = await client.write_registers(0x0030, [(PIN + 1) >> 16, (PIN + 1) & 0xFFFF], device_id=1)
    assert isinstance(wrong, ExceptionResponse) and wrong.exception_code == 3
    ok = await client.write_registers(0x0030, [PIN >> 16, PIN & 0xFFFF], device_id=1)
    assert not ok.isError()
    block = await client.read_holding_registers(0x0000, count=0x17, device_id=1)
    version, status, distance, level = block.registers[:4]
    assert version == FIRMWARE_VERSION and status & STATUS_VALID
    # 60 % of a 1.2 m tank under a sensor mounted at 1.4 m: 0.72 m of liquid, 680 mm to the surface.
    assert distance == pytest.approx(680, abs=3)
    assert level == pytest.approx(round(720 / 1400 * 1000), abs=3)  # the firmware's level is of the mount height
    assert block.registers[0x10:0x17] == [1, 3, 1400, 0, 1, 1100, 1200]  # ... LP gas, 1100 l, 1.2 m high


async def test_the_announcement_names_what_pairing_reads(sim: WifiTankSimulator) -> None:
    spec = sim.spec()
    assert spec.type == SERVICE_TYPE and spec.port == sim.port and spec.name == "Maderas tank MT0A1B2C"
    assert spec.properties == {"vendor": "maderas", "model": "maderas_tank_v1", "fw": "1.1", "unit": "1",
                               "serial": "MT0A1B2C"}  # fmt: skip


async def test_garbage_closes_only_that_connection(client: AsyncModbusTcpClient, sim: WifiTankSimulator) -> None:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
    writer.close()
    await writer.wait_closed()
    identity = await client.read_holding_registers(0x0020, count=1, device_id=1)
    assert identity.registers == [MODEL_ID]


async def test_stopping_with_a_master_connected_closes_it_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    tank = SimulatedTank(1100.0, 1.2, 1.4, 60.0, noise_mm=0.0, spike_probability=0.0)
    sim = WifiTankSimulator(tank, serial="MT0A1B2C", pin=PIN)
    await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(bytes.fromhex("0001 0000 0006 01 03 0020 0001"))
    assert (await reader.readexactly(11))[-2:] == bytes.fromhex("4D54")
    await sim.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the device hung up
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.05)  # let a stray "Exception in callback" be logged, if there were one
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
