"""Fixtures for the tank sensor firmware tests (fakes live in tank_fakes.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tank_fakes import VECTORS_PATH, FakeClock, FakeHardware

from firmware.tank_sensor.registers import MemoryStore


@pytest.fixture
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
    return data


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hw() -> FakeHardware:
    return FakeHardware()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()
