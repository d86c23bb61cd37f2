"""The Wi-Fi board's connection handling (main_wifi.Clients) on real non-blocking sockets, pymodbus as the master."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pymodbus.client import ModbusTcpClient
from tank_fakes import FakeClock, FakeHardware

from firmware.tank_sensor.device import TankSensor
from firmware.tank_sensor.main_wifi import IDLE_CLOSE_US, MAX_CLIENTS, Clients, announcement
from firmware.tank_sensor.registers import MODEL_ID, VARIANT_WIFI, MemoryStore

PIN = 135790


class BoardLoop:
    """main_wifi.run's socket part, stepped in a thread as the board's loop steps it."""

    def __init__(self, clients: Clients, clock: FakeClock) -> None:
        self.clients, self.clock = clients, clock
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(MAX_CLIENTS)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="board-loop")

    def _run(self) -> None:
        while not self.stop.is_set():
            now = self.clock.monotonic_us()
            self.clients.accept(self.listener, now)
            self.clients.service(now)
            time.sleep(0.002)


@pytest.fixture
def board() -> Iterator[tuple[BoardLoop, TankSensor]]:
    clock = FakeClock()
    sensor = TankSensor(FakeHardware(), MemoryStore({"serial": "MT00AB12", "pin": PIN}), clock, variant=VARIANT_WIFI)
    loop = BoardLoop(Clients(sensor), clock)
    loop.thread.start()
    yield loop, sensor
    loop.stop.set()
    loop.thread.join(5)
    loop.clients.close_all()
    loop.listener.close()


@pytest.mark.usefixtures("quiet_pymodbus")
def test_a_master_reads_after_the_pin_and_a_fifth_connection_is_closed(board: tuple[BoardLoop, TankSensor]) -> None:
    loop, _sensor = board
    master = ModbusTcpClient("127.0.0.1", port=loop.port, timeout=2, retries=0)
    assert master.connect()
    try:
        assert master.read_holding_registers(0x0020, count=1, device_id=1).registers == [MODEL_ID]
        assert master.read_holding_registers(0x0002, count=1, device_id=1).exception_code == 1
        assert not master.write_registers(0x0030, [PIN >> 16, PIN & 0xFFFF], device_id=1).isError()
        assert master.read_holding_registers(0x0010, count=1, device_id=1).registers == [1]
        extra = [socket.create_connection(("127.0.0.1", loop.port)) for _ in range(MAX_CLIENTS)]
        try:
            # The master plus three fit; the last one is accepted and closed at once.
            extra[-1].settimeout(5)
            assert extra[-1].recv(16) == b""
        finally:
            for sock in extra:
                sock.close()
    finally:
        master.close()


def test_idle_connections_are_closed(board: tuple[BoardLoop, TankSensor]) -> None:
    loop, _sensor = board
    sock = socket.create_connection(("127.0.0.1", loop.port))
    try:
        deadline = time.monotonic() + 5
        while not loop.clients.open and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(loop.clients.open) == 1
        loop.clock.advance(IDLE_CLOSE_US + 1)
        sock.settimeout(5)
        assert sock.recv(16) == b""
    finally:
        sock.close()


def test_the_announcement_is_what_the_hub_pairs_from() -> None:
    sensor = TankSensor(FakeHardware(), MemoryStore({"unit_id": 7}), FakeClock(), variant=VARIANT_WIFI)
    service = announcement(sensor, "MT00AB12")
    assert service.full_name() == "Maderas tank MT00AB12._modbus._tcp.local."
    assert service.port == 502 and b"unit=7" in service.txt and b"vendor=maderas" in service.txt
