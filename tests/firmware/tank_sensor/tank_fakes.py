"""Fakes for the tank sensor firmware tests: a manual microsecond clock, scripted hardware."""

from __future__ import annotations

from pathlib import Path

from firmware.tank_sensor.device import Hardware

VECTORS_PATH = Path(__file__).resolve().parents[3] / "firmware" / "tank_sensor" / "vectors.json"


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def crc16_bitwise(data: bytes) -> int:
    """Reference CRC-16/MODBUS computed bit by bit, independent of the firmware's table."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class FakeClock:
    """Monotonic integer microseconds, moved only by the test."""

    def __init__(self, start_us: int = 1_000_000) -> None:
        self.now_us = start_us

    def monotonic_us(self) -> int:
        return self.now_us

    def advance(self, us: int) -> int:
        self.now_us += us
        return self.now_us


class FakeHardware(Hardware):
    """Scripted sensor readings; records UART writes and baud changes."""

    def __init__(self) -> None:
        self.echoes: list[int | None] = []
        self.shunt: list[int | None] = []
        self.temperature: int | None = 200
        self.rx: list[bytes] = []
        self.written: list[bytes] = []
        self.bauds: list[int] = []
        self.events: list[str] = []

    def uart_read(self) -> bytes | None:
        return self.rx.pop(0) if self.rx else None

    def uart_write(self, data: bytes) -> None:
        self.written.append(bytes(data))
        self.events.append("write " + bytes(data).hex(" "))

    def uart_set_baud(self, baud: int) -> None:
        self.bauds.append(baud)
        self.events.append(f"baud {baud}")

    def ultrasonic_echo_us(self) -> int | None:
        return self.echoes.pop(0)

    def shunt_uv(self) -> int | None:
        return self.shunt.pop(0)

    def temperature_dc(self) -> int | None:
        return self.temperature
