"""Helpers for the simulator tests: open a pty end raw, read with a deadline, a raw RTU master."""

from __future__ import annotations

import os
import select
import struct
import time
import tty

from firmware.tank_sensor.modbus_slave import with_crc


def open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def read_for(fd: int, want: int, timeout: float) -> bytes:
    """Read until `want` bytes arrived or `timeout` seconds passed."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
    return data


def read_request(unit: int, start: int, qty: int) -> bytes:
    return bytes(with_crc(struct.pack(">BBHH", unit, 3, start, qty)))


def transact(fd: int, request: bytes, reply_len: int, timeout: float = 0.5) -> bytes:
    os.write(fd, request)
    return read_for(fd, reply_len, timeout)


def registers_of(reply: bytes) -> list[int]:
    count = reply[2] // 2
    return list(struct.unpack(f">{count}H", reply[3 : 3 + 2 * count]))
