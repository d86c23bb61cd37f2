"""Thin adapters over pymodbus clients, mapping its results and exceptions to our typed errors.

Error tree (extends `rtu.ModbusError`; `transient` says whether a retry can help)::

    ModbusError
    +-- SlaveTimeout        transient  no byte of a reply within the timeout: a silent slave
    +-- CrcOrFrameError     transient  a reply arrived but did not decode (bad CRC, truncated)
    +-- WrongUnit           transient  a good frame came from another unit id (address clash)
    +-- SlaveException      permanent for 01/02/03 (wrong profile), transient otherwise (busy ...)
    +-- BusUnavailable      transient  port gone / gateway unreachable; the coordinator reopens it

pymodbus is imported when a transport is built, never at module import (tests/test_imports.py).
pymodbus reports a damaged reply and a reply from another unit as a timeout; on serial lines its
packet hook keeps the raw bytes of each reply so `classify_reply` (our own RTU codec) can say which.
Both clients get `retries=0` and no auto-reconnect: the coordinator retries and reconnects on the
hub's clock, so failures are counted and logged in one place.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from .rtu import (
    READ_HOLDING,
    READ_INPUT,
    ModbusError,
    ModbusExceptionError,
    crc_ok,
    exception_meaning,
)

ILLEGAL_DATA_VALUE_CODE = 0x03  # our tank sensor: wrong PIN
BUSY_CODE = 0x06  # our tank sensor: PINs braked after too many wrong ones


class SlaveTimeout(ModbusError):
    """The slave did not answer (in time)."""

    transient = True


class CrcOrFrameError(ModbusError):
    """A reply arrived but was corrupted or malformed."""

    transient = True


class WrongUnit(ModbusError):
    """A well-formed reply came from another unit than the one asked (address clash on the bus)."""

    transient = True


class SlaveException(ModbusExceptionError):
    """The slave answered with a Modbus exception; permanent for codes 01, 02 and 03."""


class BusUnavailable(ModbusError):
    """The serial port or TCP gateway cannot be used right now."""

    transient = True


class Transport(Protocol):
    """What the coordinator needs from a bus; fakes in tests implement the same."""

    description: str  # "/dev/ttyUSB0" or "host:port", used in device connections and logs

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]: ...

    async def write_register(self, unit: int, address: int, value: int) -> None: ...


class PymodbusTransport:
    """Shared mapping for the serial and TCP adapters; `_client` is a pymodbus async client."""

    description = ""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._received = bytearray()  # raw bytes since the last request (serial: see _trace)
        self.reply_received_at: float | None = None  # loop time the last reply bytes arrived

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """pymodbus's packet hook: remember what came back (and when), to explain failures and time gaps."""
        if sending:
            self._received.clear()
            self.reply_received_at = None
        else:
            if len(self._received) < 512:
                self._received += data
            self.reply_received_at = time.monotonic()  # the clock asyncio's loop.time() reads
        return data

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> None:
        try:
            ok = await self._client.connect()
        except OSError as err:
            raise BusUnavailable(f"{self.description}: {err}") from err
        if not ok:
            raise BusUnavailable(f"{self.description}: cannot connect")

    async def close(self) -> None:
        self._client.close()

    async def read(self, unit: int, function: int, address: int, count: int) -> list[int]:
        if function == READ_HOLDING:
            call = self._client.read_holding_registers
        elif function == READ_INPUT:
            call = self._client.read_input_registers
        else:
            raise ValueError(f"function {function} is not a register read")
        result = await self._call(call, address, count=count, device_id=unit, unit=unit)
        registers = list(result.registers)
        if len(registers) != count:
            raise CrcOrFrameError(f"unit {unit}: asked for {count} registers, got {len(registers)}")
        return registers

    async def write_register(self, unit: int, address: int, value: int) -> None:
        await self._call(self._client.write_register, address, value, device_id=unit, unit=unit)

    async def write_registers(self, unit: int, address: int, values: list[int]) -> None:
        await self._call(self._client.write_registers, address, values, device_id=unit, unit=unit)

    async def _call(self, call: Any, *args: Any, unit: int, **kwargs: Any) -> Any:
        from pymodbus.exceptions import ConnectionException, ModbusIOException
        from pymodbus.pdu import ExceptionResponse

        if not self.connected:
            raise BusUnavailable(f"{self.description}: not connected")
        try:
            result = await call(*args, **kwargs)
        except ConnectionException as err:
            raise BusUnavailable(f"{self.description}: {err}") from err
        except ModbusIOException as err:
            raise self._io_error(err, unit) from err
        except TimeoutError as err:
            raise self._explain_silence(unit) from err
        except OSError as err:
            raise BusUnavailable(f"{self.description}: {err}") from err
        if isinstance(result, ExceptionResponse):
            code = int(result.exception_code)
            raise SlaveException(code, exception_meaning(code))
        if isinstance(result, ModbusIOException) or result.isError():
            raise self._io_error(result, unit)
        return result

    def _io_error(self, err: Any, unit: int) -> ModbusError:
        if not self.connected:
            return BusUnavailable(f"{self.description}: connection lost")
        text = str(err).lower()
        if "crc" in text or "frame" in text:
            return CrcOrFrameError(str(err))
        return self._explain_silence(unit)

    def _explain_silence(self, unit: int) -> ModbusError:
        """pymodbus drops a bad or foreign reply and reports a timeout; tell the three apart."""
        return classify_reply(bytes(self._received), unit)



class SerialTransport(PymodbusTransport):
    """RTU over a serial port (RS-485 adapter)."""

    def __init__(
        self, port: str, *, baudrate: int, parity: str = "N", stopbits: int = 1, bytesize: int = 8, timeout: float = 1.0
    ) -> None:
        from pymodbus.client import AsyncModbusSerialClient
        from pymodbus.framer import FramerType

        super().__init__(None)
        self._client = AsyncModbusSerialClient(
            port, framer=FramerType.RTU, baudrate=baudrate, parity=parity, stopbits=stopbits,
            bytesize=bytesize, timeout=timeout, retries=0, reconnect_delay=0, trace_packet=self._trace,
        )  # fmt: skip
        self.description = port


class PinRefused(BusUnavailable):
    """A PIN-locked device (our tank sensor's Wi-Fi variant) refused the configured PIN."""


class TcpTransport(PymodbusTransport):
    """A Modbus TCP gateway (`framer="socket"`) or RTU frames tunnelled over TCP (`"rtu"`).

    With a `pin`, each new connection first writes it to the device's PIN registers (our tank
    sensor's Wi-Fi variant answers nothing it measures until then; docs/firmware.md).
    """

    def __init__(
        self, host: str, port: int, *, timeout: float = 1.0, framer: str = "socket", pin: int | None = None,
        pin_unit: int = 1,
    ) -> None:  # fmt: skip
        from pymodbus.client import AsyncModbusTcpClient
        from pymodbus.framer import FramerType

        kind = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
        client = AsyncModbusTcpClient(host, port=port, framer=kind, timeout=timeout, retries=0, reconnect_delay=0)
        super().__init__(client)
        self.description = f"{host}:{port}"
        self._pin = pin
        self._pin_unit = pin_unit

    async def connect(self) -> None:
        await super().connect()
        if self._pin is not None:
            try:
                await unlock(self, self._pin_unit, self._pin)
            except BaseException:
                await self.close()
                raise


async def unlock(transport: PymodbusTransport, unit: int, pin: int) -> None:
    """Write the PIN to a connected device; PinRefused when it says no (wrong, or braked after wrong ones)."""
    from firmware.tank_sensor.registers import REG_PIN

    try:
        await transport.write_registers(unit, REG_PIN, [pin >> 16, pin & 0xFFFF])
    except SlaveException as err:
        if err.code == ILLEGAL_DATA_VALUE_CODE:
            raise PinRefused(f"{transport.description}: the sensor refused the PIN") from None
        if err.code == BUSY_CODE:
            raise PinRefused(
                f"{transport.description}: the sensor takes no PIN for a minute after too many wrong ones"
            ) from None
        raise


def classify_reply(raw: bytes, unit: int) -> ModbusError:
    """Why a request got no usable reply, from the raw bytes that did arrive (RTU framing).

    Nothing: the slave is silent. A frame with a good CRC from another address: a second device
    with the same bus and another unit id answered (or two slaves share an id). Otherwise the
    reply was damaged on the line (CRC) or cut short.
    """
    if not raw:
        return SlaveTimeout("no reply")
    if len(raw) >= 4 and crc_ok(raw) and raw[0] != unit:
        return WrongUnit(f"unit {raw[0]} answered a request for unit {unit}")
    if len(raw) >= 4 and not crc_ok(raw):
        return CrcOrFrameError(f"CRC error in a {len(raw)}-byte reply")
    return CrcOrFrameError(f"incomplete reply ({len(raw)} bytes)")


def build_transport(bus: dict[str, Any]) -> Transport:
    """The one place real transports are built, from a validated bus config."""
    if bus["type"] == "serial":
        return SerialTransport(
            bus["port"], baudrate=bus["baudrate"], parity=bus["parity"], stopbits=bus["stopbits"],
            bytesize=bus["bytesize"], timeout=bus["timeout"],
        )  # fmt: skip
    first_unit = bus["tanks"][0]["unit_id"] if bus.get("tanks") else 1
    return TcpTransport(bus["host"], bus["port"], timeout=bus["timeout"], framer=bus["framer"], pin=bus.get("pin"),
                        pin_unit=first_unit)  # fmt: skip
