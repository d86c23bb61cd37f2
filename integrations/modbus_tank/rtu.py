"""Modbus RTU, sans-IO: CRC-16/MODBUS, request/response codecs, streaming framers, line timing.

Bytes (and, optionally, the time they arrived) in; frozen dataclasses out. No serial port, no
asyncio: the coordinator (planned, see docs/modbus_tank.md) owns the I/O and the clock.

Error tree::

    ModbusError                      base; `transient` says whether retrying can help
    +-- CrcError(frame)              transient: line noise corrupted a frame
    +-- FrameError(reason, detail)   transient: truncated / bad length / unexpected function /
    |                                           echo mismatch (a garbled or foreign reply)
    +-- WrongUnit(expected, got)     transient: another slave answered (collision, adapter echo)
    +-- ModbusExceptionError(code, meaning)  permanent for 01/02/03 (the profile asks for a
                                     function/register/value the device lacks: fix the config);
                                     transient for the rest (busy, device failure, gateway ...)

`profiles.ReadingError` extends the tree for register contents. A silent slave (timeout) is the
I/O layer's `ModbusTimeout` (planned, transient).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

MAX_READ = 125
MAX_WRITE = 123
READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10
FUNCTIONS = (READ_HOLDING, READ_INPUT, WRITE_SINGLE, WRITE_MULTIPLE)

EXCEPTION_MEANINGS: dict[int, str] = {
    0x01: "illegal function", 0x02: "illegal data address", 0x03: "illegal data value",
    0x04: "server device failure", 0x05: "acknowledge", 0x06: "server busy",
    0x07: "negative acknowledge", 0x08: "memory parity error",
    0x0A: "gateway path unavailable", 0x0B: "gateway target failed to respond",
}  # fmt: skip
PERMANENT_EXCEPTION_CODES = frozenset({0x01, 0x02, 0x03})


def _make_table() -> tuple[int, ...]:
    # Reflected poly 0x8005 = 0xA001; one entry per low byte of (crc ^ data).
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: init 0xFFFF, reflected 0xA001, no final XOR; sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    """Append the CRC, low byte first."""
    return body + crc16(body).to_bytes(2, "little")


def _words(data: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2))


def _pack(*values: int) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def crc_ok(frame: bytes) -> bool:
    """True when the last two bytes are the CRC of the rest."""
    return len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


class ModbusError(Exception):
    """Base of the Modbus error tree; compares by type and fields so tests can use ==."""

    transient: bool = True
    _fields: tuple[object, ...] = ()

    def _key(self) -> tuple[object, ...]:
        return self._fields or tuple(self.args)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, ModbusError) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash((type(self), self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(k) for k in self._key())})"


class CrcError(ModbusError):
    """The frame's CRC does not match its contents."""

    def __init__(self, frame: bytes) -> None:
        self.frame = bytes(frame)
        got, want = int.from_bytes(self.frame[-2:], "little"), crc16(self.frame[:-2])
        super().__init__(f"CRC mismatch in {self.frame.hex(' ')}: got 0x{got:04X}, expected 0x{want:04X}")
        self._fields = (self.frame,)


class FrameProblem(StrEnum):
    """Why a frame with a valid (or not yet checked) CRC is unusable."""

    TRUNCATED = "truncated"
    BAD_LENGTH = "bad length"
    UNEXPECTED_FUNCTION = "unexpected function"
    ECHO_MISMATCH = "echo mismatch"


class FrameError(ModbusError):
    """A reply that does not fit the request."""

    def __init__(self, reason: FrameProblem, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self._fields = (reason, detail)


class WrongUnit(ModbusError):
    """A valid frame from another unit than the one asked."""

    def __init__(self, expected: int, got: int) -> None:
        self.expected, self.got = expected, got
        super().__init__(f"expected a reply from unit {expected}, got unit {got}")
        self._fields = (expected, got)


class ModbusExceptionError(ModbusError):
    """The slave answered with a Modbus exception code."""

    def __init__(self, code: int, meaning: str) -> None:
        self.code, self.meaning = code, meaning
        self.transient = code not in PERMANENT_EXCEPTION_CODES
        super().__init__(f"Modbus exception 0x{code:02X}: {meaning}")
        self._fields = (code, meaning)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One request PDU plus its unit; `values` only for writes (FC06 has exactly one)."""

    unit: int
    function: int
    address: int
    count: int = 1
    values: tuple[int, ...] = ()


def read_holding(unit: int, address: int, count: int, *, function: int = READ_HOLDING) -> Request:
    return Request(unit=unit, function=function, address=address, count=count)


def read_input(unit: int, address: int, count: int) -> Request:
    return read_holding(unit, address, count, function=READ_INPUT)


def write_single(unit: int, address: int, value: int) -> Request:
    return Request(unit=unit, function=WRITE_SINGLE, address=address, count=1, values=(value,))


def write_multiple(unit: int, address: int, values: Sequence[int]) -> Request:
    return Request(unit=unit, function=WRITE_MULTIPLE, address=address, count=len(values), values=tuple(values))


def validate_request(request: Request) -> None:
    """Raise ValueError naming the first field a conforming master may not send."""
    fc = request.function
    if fc not in FUNCTIONS:
        raise ValueError(f"function 0x{fc:02X} is not supported (03, 04, 06, 16)")
    low_unit = 0 if fc in (WRITE_SINGLE, WRITE_MULTIPLE) else 1  # broadcast only for writes
    if not low_unit <= request.unit <= 247:
        raise ValueError(f"unit {request.unit} out of range {low_unit}..247")
    if not 0 <= request.address <= 0xFFFF:
        raise ValueError(f"address {request.address} out of range 0..65535")
    limit = {READ_HOLDING: MAX_READ, READ_INPUT: MAX_READ, WRITE_SINGLE: 1, WRITE_MULTIPLE: MAX_WRITE}[fc]
    if not 1 <= request.count <= limit:
        raise ValueError(f"count {request.count} out of range 1..{limit}")
    if request.address + request.count > 0x10000:
        raise ValueError(f"registers {request.address}+{request.count} run past 65535")
    expected_values = 0 if fc in (READ_HOLDING, READ_INPUT) else request.count
    if len(request.values) != expected_values:
        raise ValueError(f"function 0x{fc:02X} with count {request.count} takes {expected_values} values")
    for value in (v for v in request.values if not 0 <= v <= 0xFFFF):
        raise ValueError(f"register value {value} out of range 0..65535")


# FC03/04 request            FC06 request (= its reply)     FC16 request
# off len meaning            off len meaning                off  len meaning
# 0   1   unit               0   1   unit                   0    1   unit
# 1   1   03 / 04            1   1   06                     1    1   10
# 2   2   start, BE          2   2   register, BE           2    2   start, BE
# 4   2   count 1..125, BE   4   2   value, BE              4    2   count 1..123, BE
# 6   2   CRC, low first     6   2   CRC, low first         6    1   byte count = 2*count
#                                                           7    2n  values, BE
#                                                           7+2n 2   CRC, low first
def encode_request(request: Request) -> bytes:
    """Serialize a request ADU (CRC low byte first); ValueError for out-of-range fields."""
    validate_request(request)
    second = request.values[0] if request.function == WRITE_SINGLE else request.count
    body = bytes((request.unit, request.function)) + _pack(request.address, second)
    if request.function == WRITE_MULTIPLE:
        body += bytes((2 * request.count,)) + _pack(*request.values)
    return with_crc(body)


def expected_response_length(request: Request) -> int:
    """Length of the normal reply ADU (an exception reply is always 5)."""
    return 5 + 2 * request.count if request.function in (READ_HOLDING, READ_INPUT) else 8


@dataclass(frozen=True, slots=True)
class ReadResponse:
    unit: int
    function: int
    registers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WriteSingleResponse:
    unit: int
    address: int
    value: int


@dataclass(frozen=True, slots=True)
class WriteMultipleResponse:
    unit: int
    address: int
    count: int


@dataclass(frozen=True, slots=True)
class ExceptionResponse:
    unit: int
    function: int  # the request's function code, without the 0x80 bit
    code: int
    meaning: str

    def error(self) -> ModbusExceptionError:
        return ModbusExceptionError(self.code, self.meaning)


Response = ReadResponse | WriteSingleResponse | WriteMultipleResponse | ExceptionResponse


def exception_meaning(code: int) -> str:
    return EXCEPTION_MEANINGS.get(code, f"unknown exception code 0x{code:02X}")


# FC03/04 reply               FC06 reply: echo of the     FC16 reply          exception reply
# off  len meaning            request (table above)       off len meaning     off len meaning
# 0    1   unit                                           0   1   unit        0   1   unit
# 1    1   03 / 04                                        1   1   10          1   1   FC | 0x80
# 2    1   byte count = 2n                                2   2   start       2   1   code
# 3    2n  registers, BE                                  4   2   count       3   2   CRC
# 3+2n 2   CRC, low first                                 6   2   CRC
def decode_response(request: Request, frame: bytes) -> Response:
    """Decode one complete reply ADU to `request`; raises the error tree above."""
    fc = request.function
    if len(frame) < 3:
        raise FrameError(FrameProblem.TRUNCATED, f"{len(frame)} bytes")
    expected = 5 if frame[1] == fc | 0x80 else expected_response_length(request) if frame[1] == fc else None
    if expected is not None and len(frame) < expected:
        raise FrameError(FrameProblem.TRUNCATED, f"{len(frame)} of {expected} bytes")
    if not crc_ok(frame):
        raise CrcError(frame)
    if frame[0] != request.unit:
        raise WrongUnit(request.unit, frame[0])
    if expected is None:
        raise FrameError(FrameProblem.UNEXPECTED_FUNCTION, f"expected 0x{fc:02X}, got 0x{frame[1]:02X}")
    if len(frame) != expected:
        raise FrameError(FrameProblem.BAD_LENGTH, f"{len(frame)} bytes, expected {expected}")
    unit = frame[0]
    if frame[1] & 0x80:
        return ExceptionResponse(unit, fc, frame[2], exception_meaning(frame[2]))
    if fc in (READ_HOLDING, READ_INPUT):
        if frame[2] != 2 * request.count:
            raise FrameError(FrameProblem.BAD_LENGTH, f"byte count {frame[2]}, expected {2 * request.count}")
        return ReadResponse(unit, fc, _words(frame[3:-2]))
    first, second = _words(frame[2:6])
    if fc == WRITE_SINGLE:
        if (first, second) != (request.address, request.values[0]):
            raise FrameError(FrameProblem.ECHO_MISMATCH, f"register {first} value {second}")
        return WriteSingleResponse(unit, first, second)
    if (first, second) != (request.address, request.count):
        raise FrameError(FrameProblem.ECHO_MISMATCH, f"start {first} count {second}")
    return WriteMultipleResponse(unit, first, second)


def encode_response(response: Response) -> bytes:
    """Serialize a reply ADU (the slave side and test peers); layouts as in `decode_response`."""
    if isinstance(response, ReadResponse):
        header = bytes((response.unit, response.function, 2 * len(response.registers)))
        return with_crc(header + _pack(*response.registers))
    if isinstance(response, WriteSingleResponse):
        return with_crc(bytes((response.unit, WRITE_SINGLE)) + _pack(response.address, response.value))
    if isinstance(response, WriteMultipleResponse):
        return with_crc(bytes((response.unit, WRITE_MULTIPLE)) + _pack(response.address, response.count))
    return with_crc(bytes((response.unit, response.function | 0x80, response.code)))


def decode_request(frame: bytes) -> Request:
    """A framed, CRC-checked request, unvalidated: the slave runs `validate_request` (exception 03)."""
    unit, fc = frame[0], frame[1]
    address, second = _words(frame[2:6])
    if fc == WRITE_SINGLE:
        return Request(unit=unit, function=fc, address=address, count=1, values=(second,))
    if fc == WRITE_MULTIPLE:
        return Request(unit=unit, function=fc, address=address, count=second, values=_words(frame[7:-2]))
    return Request(unit=unit, function=fc, address=address, count=second)


def char_time(baud: int, bits: int = 11) -> float:
    """Seconds per character: 11 bits (start, 8 data, parity or 2nd stop, stop) per the spec."""
    return bits / baud


def t15(baud: int, bits: int = 11) -> float:
    """Longest silence allowed inside a frame; fixed 750 us above 19200 baud."""
    return 0.000750 if baud > 19200 else 1.5 * char_time(baud, bits)


def t35(baud: int, bits: int = 11) -> float:
    """Shortest silence between frames; fixed 1.75 ms above 19200 baud."""
    return 0.001750 if baud > 19200 else 3.5 * char_time(baud, bits)


def exchange_time(baud: int, request_len: int, response_len: int, bits: int = 11, *, latency: float = 0.0) -> float:
    """Least time for one exchange: request, t3.5, slave latency, reply, t3.5 before the next."""
    return (request_len + response_len) * char_time(baud, bits) + 2 * t35(baud, bits) + latency


_T = TypeVar("_T")
_NOT = 0  # not the start of a frame
_MORE = -1  # could be a frame start; the header is not complete yet


class _Framer(Generic[_T]):
    """Shared resynchronising scan; subclasses say where a frame may start and how long it is.
    A candidate start whose full length has arrived and whose CRC is bad is reported as a
    `CrcError`, unless a valid frame starts inside it (then it was a false start in garbage).
    An incomplete candidate waits for more bytes, unless a complete valid frame follows it.
    """

    def __init__(self, *, baud: int | None = None) -> None:
        self.baud = baud
        self.discarded = 0  # bytes dropped without belonging to any frame
        self._buf = bytearray()
        self._last: float | None = None

    def reset(self) -> None:
        """Forget buffered bytes and the last arrival time (after a timeout or a new request)."""
        self._buf.clear()
        self._last = None

    def feed(self, data: bytes, now: float | None = None) -> list[_T | ModbusError]:
        """Add bytes; return every complete frame (or its error, e.g. CrcError) in arrival order.

        `now` is when the last byte of `data` arrived. With it (and `baud`), a silence of more
        than t1.5 (estimated as now - previous now - len(data) char times) before `data` discards
        the buffered partial frame. Pass `now=None` where arrival times are not byte-accurate
        (USB adapters); feed(b"", now) after a quiet period flushes.
        """
        out: list[_T | ModbusError] = []
        if now is not None and self.baud is not None and self._last is not None and self._buf:
            silence = now - self._last - len(data) * char_time(self.baud)
            if silence > t15(self.baud):
                out += self._scan(final=True)
        self._buf += data
        if now is not None and data:
            self._last = now
        out += self._scan(final=False)
        return out

    def _frame_length(self, buf: bytearray, i: int) -> int:
        raise NotImplementedError

    def _decode(self, frame: bytes) -> _T:
        raise NotImplementedError

    def _valid_frame_in(self, start: int, stop: int) -> int | None:
        for j in range(start, min(stop, len(self._buf) - 3)):
            n = self._frame_length(self._buf, j)
            if n > 0 and j + n <= len(self._buf) and crc_ok(bytes(self._buf[j : j + n])):
                return j
        return None

    def _scan(self, *, final: bool) -> list[_T | ModbusError]:
        buf = self._buf
        out: list[_T | ModbusError] = []
        pos = 0
        while pos < len(buf):
            need = self._frame_length(buf, pos)
            if need == _NOT:
                pos += 1
                self.discarded += 1
                continue
            end = pos + need
            if need == _MORE or end > len(buf):
                later = self._valid_frame_in(pos + 1, len(buf)) or (pos + 1 if final else None)
                if later is None:
                    break
                self.discarded += later - pos
                pos = later
                continue
            frame = bytes(buf[pos:end])
            if crc_ok(frame):
                try:
                    out.append(self._decode(frame))
                except ModbusError as err:  # e.g. a write echo for another register: report, go on
                    out.append(err)
                pos = end
                continue
            later = self._valid_frame_in(pos + 1, end)
            if later is not None:
                self.discarded += later - pos
                pos = later
                continue
            inner = (self._frame_length(buf, k) for k in range(pos + 1, end))
            if not final and any(n == _MORE or (n > 0 and k + n > len(buf)) for k, n in enumerate(inner, pos + 1)):
                break  # a frame may start inside this one: wait until it completes or fails
            out.append(CrcError(frame))
            pos = end
        del buf[:pos]  # when final, every branch above advanced, so nothing is left
        return out


class ResponseFramer(_Framer[Response]):
    """Client side: finds the reply to the one outstanding request in a byte stream.
    Bytes that cannot start the expected reply (unit, function or function|0x80, and for reads
    the byte count 2*count) are skipped, which also drops an adapter's echo of our request.
    """

    def __init__(self, request: Request | None = None, *, baud: int | None = None) -> None:
        super().__init__(baud=baud)
        self.request = request

    def expect(self, request: Request) -> None:
        """Start waiting for the reply to a newly sent request."""
        self.reset()
        self.request = request

    def _frame_length(self, buf: bytearray, i: int) -> int:
        request = self.request
        if request is None or buf[i] != request.unit:
            return _NOT
        if i + 1 >= len(buf):
            return _MORE
        fc = buf[i + 1]
        if fc == request.function | 0x80:
            return 5
        if fc != request.function:
            return _NOT
        if request.function in (READ_HOLDING, READ_INPUT):
            if i + 2 >= len(buf):
                return _MORE
            return 5 + buf[i + 2] if buf[i + 2] == 2 * request.count else _NOT
        return 8

    def _decode(self, frame: bytes) -> Response:
        assert self.request is not None
        return decode_response(self.request, frame)


class RequestFramer(_Framer[Request]):
    """Slave side: finds requests for `unit` (and broadcasts), or for any unit when None."""

    def __init__(self, unit: int | None = None, *, baud: int | None = None) -> None:
        super().__init__(baud=baud)
        self.unit = unit

    def _frame_length(self, buf: bytearray, i: int) -> int:
        unit = buf[i]
        if (unit > 247) if self.unit is None else unit not in (self.unit, 0):
            return _NOT
        if i + 1 >= len(buf):
            return _MORE
        fc = buf[i + 1]
        if fc == WRITE_MULTIPLE:
            return _MORE if i + 6 >= len(buf) else 9 + buf[i + 6]
        # An unknown function's length is unknowable: it is skipped as garbage.
        return 8 if fc in (READ_HOLDING, READ_INPUT, WRITE_SINGLE) else _NOT

    def _decode(self, frame: bytes) -> Request:
        return decode_request(frame)
