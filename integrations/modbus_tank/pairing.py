"""Pairing our tank sensor's Wi-Fi variant, found by its `_modbus._tcp` announcement.

The offer asks for the PIN on the sensor's label (and the tank's capacity only when the installer
did not store it in the sensor). Pairing connects over Modbus TCP, checks that the device really
is the announced serial, writes the PIN (the sensor refuses a wrong one with exception 03, and
brakes after five), then reads the tank the installer described to the sensor (commodity,
capacity, height, mount height). Nothing is saved unless all of that worked.

The entry's data becomes one TCP bus with one tank (`entry_config`), so a paired sensor runs
through the same coordinator, profile and tank model as a configured one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from hub.pairing import Ask, Found, Offer, Paired, PairingError

from .profiles import MADERAS_MODEL_ID, MADERAS_TANK_V1
from .rtu import READ_HOLDING, ModbusError
from .transport import PinRefused, TcpTransport, unlock

KIND = "tank_sensor"
DEFAULT_PORT = 502
VENDOR = "maderas"
PIN = Ask("pin", "PIN (on the sensor's label)", secret=True, pattern=r"\d{1,6}")
CAPACITY = Ask("capacity_l", "Tank capacity in litres (the sensor was not told)", pattern=r"\d{1,5}")
COMMODITIES = ("water", "lp_gas")
PAIR_TIMEOUT_S = 3.0
SERIAL_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # what a label can carry; it names the bus and entities

# Registers of firmware 1.1 (firmware/tank_sensor/registers.py, docs/firmware.md).
REG_SETTINGS = 0x0010  # unit id, baud code, mount mm, mode, commodity, capacity l, tank height mm
REG_IDENTITY = 0x0020  # model, serial (4 registers), variant


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip() or None if isinstance(value, str) else None


def _serial(words: list[int]) -> str:
    return "".join(chr(w >> 8) + chr(w & 0xFF) for w in words).strip()


def bus_name(serial: str) -> str:
    """The bus (and entity id) name of a paired sensor: `wifi_` and its serial in lower case."""
    return "wifi_" + "".join(ch if ch.isalnum() else "_" for ch in serial.lower())


async def async_discovered(hub: Any, found: Found) -> Offer | None:
    """An offer for our sensor's `_modbus._tcp` announcement; None for other Modbus TCP devices."""
    properties = found.properties
    serial = _text(properties.get("serial"))
    if found.source != "zeroconf" or _text(properties.get("vendor")) != VENDOR or not found.host:
        return None
    if serial is None or not SERIAL_RE.fullmatch(serial):
        return None  # not one of ours after all (or a hostile announcement): nothing to offer
    unit = _text(properties.get("unit")) or "1"
    details = {"model": _text(properties.get("model")), "firmware": _text(properties.get("fw")), "serial": serial,
               "unit_id": int(unit) if unit.isdigit() else 1}  # fmt: skip
    # The capacity lives in a register only the PIN opens, so it is asked as optional: used when the sensor has none.
    asks = (PIN, Ask(CAPACITY.key, CAPACITY.label, pattern=CAPACITY.pattern, default="0"))
    title = f"Tank sensor {serial}"
    address = {"host": found.host, "port": found.port or DEFAULT_PORT}
    return Offer(f"serial:{serial.lower()}", title, KIND, asks, details, address_data=address)


async def async_pair(hub: Any, found: Found, answers: Mapping[str, str]) -> Paired:
    """Talk to the sensor with the PIN; the entry's data once it answered as the announced serial."""
    assert found.host is not None
    port = found.port or DEFAULT_PORT
    serial = _text(found.properties.get("serial")) or ""
    unit_text = _text(found.properties.get("unit")) or "1"
    unit = int(unit_text) if unit_text.isdigit() and 1 <= int(unit_text) <= 247 else 1
    pin = int(answers["pin"])
    transport = TcpTransport(found.host, port, timeout=PAIR_TIMEOUT_S)
    where = f"{found.host}:{port}"
    try:
        try:
            await transport.connect()
            identity = await transport.read(unit, READ_HOLDING, REG_IDENTITY, 6)
        except ModbusError as err:
            raise PairingError(None, f"could not reach the tank sensor at {where}: {err}") from None
        if identity[0] != MADERAS_MODEL_ID or _serial(identity[1:5]) != serial:
            raise PairingError(None, f"the device at {where} is not tank sensor {serial} (it says {_serial(identity[1:5])!r})")
        try:
            await unlock(transport, unit, pin)
        except PinRefused as err:
            raise PairingError("pin", str(err).split(": ", 1)[-1]) from None
        try:
            settings = await transport.read(unit, READ_HOLDING, REG_SETTINGS, 7)
        except ModbusError as err:
            raise PairingError(None, f"the tank sensor at {where} stopped answering: {err}") from None
    finally:
        await transport.close()
    _unit, _baud, mount_mm, _mode, commodity, capacity_l, height_mm = settings
    capacity = capacity_l or int(answers.get("capacity_l") or 0)
    if capacity <= 0:
        raise PairingError("capacity_l", "the sensor was not told its tank's capacity: enter it in litres")
    name = f"Tank {serial}"
    data = {
        "name": name, "serial": serial, "host": found.host, "port": port, "unit_id": unit, "pin": pin,
        "tank": tank_block(commodity, capacity, mount_mm, height_mm),
    }  # fmt: skip
    return Paired(name, data)


def tank_block(commodity: int, capacity_l: int, mount_mm: int, height_mm: int) -> dict[str, Any]:
    """The `tank:` block for what the installer stored in the sensor: an upright cylinder of that height.

    Cisterns and rooftop tanks here are upright cylinders; the diameter follows from capacity and height.
    """
    height_m = (height_mm or mount_mm) / 1000
    diameter_m = math.sqrt(4 * capacity_l / 1000 / (math.pi * height_m))
    return {
        "shape": "vertical_cylinder", "dimensions": {"diameter_m": round(diameter_m, 4), "height_m": height_m},
        "head": "flat", "commodity": COMMODITIES[commodity] if 0 <= commodity < len(COMMODITIES) else "water",
        "mounting": {"type": "ultrasonic", "mount_height_m": mount_mm / 1000, "dead_band_m": 0.0},
    }  # fmt: skip


def entry_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's data as a `modbus_tank:` block with one TCP bus (before its schema)."""
    tank: dict[str, Any] = {"name": data["name"], "unit_id": data["unit_id"], "profile": MADERAS_TANK_V1.name,
                            "tank": data["tank"]}  # fmt: skip
    if data.get("area"):
        tank["area"] = data["area"]
    bus = {"name": bus_name(data["serial"]), "type": "tcp", "host": data["host"], "port": data["port"],
           "pin": data["pin"], "tanks": [tank]}  # fmt: skip
    return {"buses": [bus]}
