"""THE PEER TEST: pymodbus (an independent Modbus implementation) talks to our firmware.

AsyncModbusSerialClient on side a of a PtyLine at 9600 baud with real line timing; our
TankSensor logic, in a SensorSimulator or MultiSensorBus, on side b.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ExceptionResponse

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus, SensorSimulator
from firmware.sim.tank_physics import SimulatedTank
from firmware.tank_sensor.registers import FIRMWARE_VERSION, MODEL_ID, STATUS_VALID

BAUD = 9600


def tank(start_pct: float) -> SimulatedTank:
    return SimulatedTank(3000.0, 2.0, 2.4, start_pct, noise_mm=0.0, spike_probability=0.0)


pytestmark = pytest.mark.usefixtures("quiet_pymodbus")  # timeouts here are on purpose


@pytest.fixture
def line() -> Iterator[PtyLine]:
    with PtyLine(BAUD) as pty_line:
        yield pty_line


@pytest.fixture
def sim(line: PtyLine) -> Iterator[SensorSimulator]:
    with SensorSimulator(line.device_path_b, tank(75.0), unit_id=1, baud=BAUD) as s:
        yield s


@pytest.fixture
async def client(line: PtyLine) -> AsyncIterator[AsyncModbusSerialClient]:
    c = AsyncModbusSerialClient(
        line.device_path_a, framer=FramerType.RTU, baudrate=BAUD, timeout=0.5, retries=0
    )
    assert await c.connect()
    yield c
    c.close()
    await asyncio.sleep(0)


async def read(c: AsyncModbusSerialClient, address: int, count: int = 1, unit: int = 1) -> list[int]:
    response = await c.read_holding_registers(address, count=count, device_id=unit)
    assert not response.isError(), response
    return list(response.registers)


async def test_identity_and_measurement(client: AsyncModbusSerialClient, sim: SensorSimulator) -> None:
    version, status, distance, level = await read(client, 0x0000, 4)
    assert version == FIRMWARE_VERSION
    assert status & STATUS_VALID
    assert distance == pytest.approx(900, abs=3)  # 2.4 m mount - 1.5 m of water
    assert level == pytest.approx(625, abs=2)  # of the 2400 mm mount height
    assert await read(client, 0x0020) == [MODEL_ID]
    hi, lo = await read(client, 0x0008, 2)
    await asyncio.sleep(1.1)
    hi2, lo2 = await read(client, 0x0008, 2)
    assert (hi2 << 16 | lo2) >= (hi << 16 | lo) + 1


async def test_write_mount_height_and_read_back(client: AsyncModbusSerialClient, sim: SensorSimulator) -> None:
    response = await client.write_register(0x0012, 3000, device_id=1)
    assert not response.isError()
    assert await read(client, 0x0012) == [3000]
    distance, level = await read(client, 0x0002, 2)
    assert distance == pytest.approx(900, abs=3)
    assert level == pytest.approx(700, abs=2)  # (3000 - 900) / 3000
    assert sim.store.get("mount_mm") == 3000


async def test_new_unit_id_answers_and_old_one_is_silent(
    client: AsyncModbusSerialClient, sim: SensorSimulator
) -> None:
    response = await client.write_register(0x0010, 42, device_id=1)
    assert not response.isError()
    assert await read(client, 0x0010, unit=42) == [42]
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0x0000, count=1, device_id=1)
    assert sim.store.get("unit_id") == 42


async def test_illegal_address_is_exception_02(client: AsyncModbusSerialClient, sim: SensorSimulator) -> None:
    response = await client.read_holding_registers(0x0032, count=1, device_id=1)
    assert isinstance(response, ExceptionResponse)
    assert response.isError() and response.exception_code == 2
    response = await client.write_register(0x0002, 5, device_id=1)
    assert isinstance(response, ExceptionResponse) and response.exception_code == 2
    assert await read(client, 0x0000) == [FIRMWARE_VERSION]


async def test_corrupted_frame_times_out_and_the_next_read_works(
    line: PtyLine, client: AsyncModbusSerialClient, sim: SensorSimulator
) -> None:
    line.corrupt_next()
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0x0000, count=1, device_id=1)
    assert await read(client, 0x0000) == [FIRMWARE_VERSION]
    assert await read(client, 0x0006) == [1]  # our firmware counted the bad CRC


async def test_corrupted_reply_is_rejected_by_pymodbus(
    line: PtyLine, client: AsyncModbusSerialClient, sim: SensorSimulator
) -> None:
    line.corrupt_next(towards="a")  # the request arrives intact, the reply's CRC is broken
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0x0000, count=1, device_id=1)
    assert sim.replies == 1 and sim.sensor.registers.crc_errors == 0
    sim.faults.answer_as_unit = 9  # a reply from the wrong unit is not taken either
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0x0000, count=1, device_id=1)
    sim.faults.clear()
    assert await read(client, 0x0000) == [FIRMWARE_VERSION]


async def test_several_slaves_on_one_bus(line: PtyLine, client: AsyncModbusSerialClient) -> None:
    tanks = {1: tank(25.0), 2: tank(50.0), 3: tank(100.0)}
    with MultiSensorBus(line.device_path_b, tanks, baud=BAUD):
        levels = {unit: (await read(client, 0x0003, unit=unit))[0] for unit in tanks}
        assert levels == {1: pytest.approx(208, abs=2), 2: pytest.approx(417, abs=2), 3: pytest.approx(833, abs=2)}
        for unit in tanks:
            assert await read(client, 0x0010, unit=unit) == [unit]
