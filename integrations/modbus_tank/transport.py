"""Thin adapters over pymodbus clients, mapping its results and exceptions to our typed errors.

Error tree (extends `rtu.ModbusError`; `transient` says whether a retry can help)::

    ModbusError
    +-- SlaveTimeout        transient  no (complete) reply within the timeout: silent slave, wrong unit
    +-- CrcOrFrameError     transient  a reply arrived but did not decode (bad CRC, truncated)
    +-- SlaveException      permanent for 01/02/03 (wrong profile), transient otherwise (busy ...)
    +-- BusUnavailable      transient  port gone / gateway unreachable; the coordinator reopens it

pymodbus is imported when a transport is built, never at module import (tests/test_imports.py).
Both clients get `retries=0` and no auto-reconnect: the coordinator retries and reconnects on the
hub's clock, so failures are counted and logged in one place.
"""

from __future__ import annotations

from typing import Any, Protocol

from .rtu import (
    READ_HOLDING,
    READ_INPUT,
    ModbusError,
    ModbusExceptionError,
    exception_meaning,
)


class SlaveTimeout(ModbusError):
    """The slave did not answer (in time)."""

    transient = True


class CrcOrFrameError(ModbusError):
    """A reply arrived but was corrupted or malformed."""

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
        result = await self._call(call, address, count=count, device_id=unit)
        registers = list(result.registers)
        if len(registers) != count:
            raise CrcOrFrameError(f"unit {unit}: asked for {count} registers, got {len(registers)}")
        return registers

    async def write_register(self, unit: int, address: int, value: int) -> None:
        await self._call(self._client.write_register, address, value, device_id=unit)

    async def _call(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        from pymodbus.exceptions import ConnectionException, ModbusIOException
        from pymodbus.pdu import ExceptionResponse

        if not self.connected:
            raise BusUnavailable(f"{self.description}: not connected")
        try:
            result = await call(*args, **kwargs)
        except ConnectionException as err:
            raise BusUnavailable(f"{self.description}: {err}") from err
        except ModbusIOException as err:
            raise self._io_error(err) from err
        except TimeoutError as err:
            raise SlaveTimeout("no reply") from err
        except OSError as err:
            raise BusUnavailable(f"{self.description}: {err}") from err
        if isinstance(result, ExceptionResponse):
            code = int(result.exception_code)
            raise SlaveException(code, exception_meaning(code))
        if isinstance(result, ModbusIOException) or result.isError():
            raise self._io_error(result)
        return result

    def _io_error(self, err: Any) -> ModbusError:
        if not self.connected:
            return BusUnavailable(f"{self.description}: connection lost")
        text = str(err).lower()
        if "crc" in text or "frame" in text:
            return CrcOrFrameError(str(err))
        return SlaveTimeout("no reply")


class SerialTransport(PymodbusTransport):
    """RTU over a serial port (RS-485 adapter)."""

    def __init__(
        self, port: str, *, baudrate: int, parity: str = "N", stopbits: int = 1, bytesize: int = 8, timeout: float = 1.0
    ) -> None:
        from pymodbus.client import AsyncModbusSerialClient
        from pymodbus.framer import FramerType

        client = AsyncModbusSerialClient(
            port, framer=FramerType.RTU, baudrate=baudrate, parity=parity, stopbits=stopbits,
            bytesize=bytesize, timeout=timeout, retries=0, reconnect_delay=0,
        )  # fmt: skip
        super().__init__(client)
        self.description = port


class TcpTransport(PymodbusTransport):
    """A Modbus TCP gateway (`framer="socket"`) or RTU frames tunnelled over TCP (`"rtu"`)."""

    def __init__(self, host: str, port: int, *, timeout: float = 1.0, framer: str = "socket") -> None:
        from pymodbus.client import AsyncModbusTcpClient
        from pymodbus.framer import FramerType

        kind = FramerType.RTU if framer == "rtu" else FramerType.SOCKET
        client = AsyncModbusTcpClient(host, port=port, framer=kind, timeout=timeout, retries=0, reconnect_delay=0)
        super().__init__(client)
        self.description = f"{host}:{port}"


def build_transport(bus: dict[str, Any]) -> Transport:
    """The one place real transports are built, from a validated bus config."""
    if bus["type"] == "serial":
        return SerialTransport(
            bus["port"], baudrate=bus["baudrate"], parity=bus["parity"], stopbits=bus["stopbits"],
            bytesize=bus["bytesize"], timeout=bus["timeout"],
        )  # fmt: skip
    return TcpTransport(bus["host"], bus["port"], timeout=bus["timeout"], framer=bus["framer"])
