"""Modbus RTU slave: CRC-16/MODBUS, a t1.5/t3.5 request framer and FC03/06/16 handling.

Runs unchanged under MicroPython (ESP32) and CPython: no typing, no dataclasses, only struct.
Sans-IO: bytes and a timestamp (integer microseconds) in, bytes out.

ADU layout (PROTOCOLS.md 7.1):

    offset  length  meaning
    0       1       unit address (0 = broadcast, 1..247 slaves)
    1       1       function code (reply: code | 0x80 for an exception)
    2       N       data, 16-bit fields big-endian
    2+N     2       CRC-16/MODBUS, low byte first

Requests handled (data layouts after the function code):

    FC03 read holding     start(2) qty(2)                     -> bytecount(1) values(2*qty)
    FC06 write single     reg(2) value(2)                     -> echo of the request
    FC16 write multiple   start(2) qty(2) bytecount(1) values -> start(2) qty(2)
    exception reply       code(1): 01 illegal function (also: wrong state, a locked TCP connection),
                          02 illegal address, 03 illegal value, 06 busy (PIN lockout)

`ModbusSlave.answer(unit, function, pdu, session, now_us)` is the transport-free core: RTU frames
(`handle_frame`) and Modbus TCP ADUs (modbus_tcp.py) both go through it. A `session` (TCP only)
is locked until the bank's PIN is written to it; RTU passes None: the wire has no lock.
"""

import struct

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03
SLAVE_BUSY = 0x06

READ_HOLDING = 0x03
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10

BROADCAST = 0
MAX_ADU = 256
MAX_READ_QTY = 125
MAX_WRITE_QTY = 123

# Above 19200 baud the spec fixes t1.5/t3.5 instead of scaling them with the character time.
FIXED_TIMING_ABOVE_BAUD = 19200
FIXED_T15_US = 750
FIXED_T35_US = 1750
# 8N2 (and 8E1) characters are 11 bits: start, 8 data, parity or second stop, stop.
BITS_PER_CHAR = 11


class ModbusError(Exception):
    """A request the slave answers with an exception reply; `code` is the exception code."""

    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
        table.append(crc)
    return table


_CRC_TABLE = _make_table()


def crc16(data, crc=0xFFFF):
    """CRC-16/MODBUS (reflected poly 0xA001, init 0xFFFF, no final xor) of `data`."""
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def with_crc(body):
    """`body` followed by its CRC, low byte first, as bytes."""
    crc = crc16(body)
    return bytes(body) + bytes((crc & 0xFF, crc >> 8))


def crc_ok(frame):
    """True when the last two bytes of `frame` are the CRC of the rest."""
    if len(frame) < 4:
        return False
    crc = crc16(memoryview(frame)[:-2])
    return frame[-2] == (crc & 0xFF) and frame[-1] == (crc >> 8)


def exception_reply(unit, function, code):
    """An exception ADU: unit, function | 0x80, code, CRC."""
    return with_crc(bytes((unit, (function | 0x80) & 0xFF, code)))


class RtuFramer:
    """Splits a byte stream into RTU frames by silence.

    `feed(data, now_us)`: `now_us` is when the last byte of `data` arrived; the bytes of one chunk
    are taken to have arrived back to back, so only the silence before the chunk's first byte is
    measured (chunk end to chunk start, minus the chunk's own transmission time). Silence >= t3.5
    ends the frame in progress; silence > t1.5 inside a frame spoils it, and it is discarded when
    it ends. A frame also ends when `poll(now_us)` sees t3.5 of silence after the last byte.

    All arithmetic is in microseconds times baud, so it stays exact in integers.
    """

    def __init__(self, baud):
        self.discarded = 0  # frames dropped for a t1.5 gap or overflowing 256 bytes
        self._buf = bytearray()
        self._spoiled = False
        self._last_us = None
        self.set_baud(baud)

    def set_baud(self, baud):
        """Change the timing; a partial frame is dropped (it was sent at the old rate)."""
        self.baud = baud
        self._char = BITS_PER_CHAR * 1000000
        if baud > FIXED_TIMING_ABOVE_BAUD:
            self._t15 = FIXED_T15_US * baud
            self._t35 = FIXED_T35_US * baud
        else:
            self._t15 = self._char * 3 // 2
            self._t35 = self._char * 7 // 2
        self._reset()

    def t35_us(self):
        """t3.5 in microseconds, rounded up."""
        return -(-self._t35 // self.baud)

    def char_us(self):
        """One character time in microseconds, rounded up."""
        return -(-self._char // self.baud)

    def _reset(self):
        self._buf = bytearray()
        self._spoiled = False
        self._last_us = None

    def _close(self):
        frame = bytes(self._buf)
        spoiled = self._spoiled
        self._reset()
        if spoiled:
            self.discarded += 1
            return None
        return frame

    def feed(self, data, now_us):
        """Add received bytes; returns the list of frames this call completed."""
        frames = []
        if not data:
            frame = self.poll(now_us)
            if frame is not None:
                frames.append(frame)
            return frames
        if self._last_us is not None:
            silence = (now_us - self._last_us) * self.baud - len(data) * self._char
            if silence >= self._t35:
                frame = self._close()
                if frame is not None:
                    frames.append(frame)
            elif silence > self._t15:
                self._spoiled = True
        if len(self._buf) + len(data) > MAX_ADU:
            self._spoiled = True
        elif not self._spoiled:
            self._buf.extend(data)
        self._last_us = now_us
        return frames

    def poll(self, now_us):
        """The frame in progress if t3.5 of silence has passed since its last byte, else None."""
        if self._last_us is None:
            return None
        if (now_us - self._last_us) * self.baud < self._t35:
            return None
        return self._close()

    def idle(self, now_us):
        """True when no frame is in progress (safe moment for a blocking measurement)."""
        if self._last_us is None:
            return True
        return (now_us - self._last_us) * self.baud >= self._t35


class ModbusSlave:
    """Answers one complete frame at a time against a register bank.

    The bank provides `unit_id` (attribute), `read_holding(start, qty) -> list of ints`,
    `write_holding(start, values)` (both raise ModbusError) and `count_crc_error()`; a bank with
    a PIN also `pin_register`, `check_pin(pin, now_us)` and `is_public(start, qty)`.
    """

    def __init__(self, bank):
        self.bank = bank
        self.ignored = 0  # well-formed frames for another unit, or broadcast reads
        self.short = 0  # frames under 4 bytes (line noise), not counted as CRC errors
        self.exceptions = 0

    def handle_frame(self, frame):
        """The reply ADU for `frame`, or None when nothing must be sent."""
        if len(frame) < 4:
            self.short += 1
            return None
        if not crc_ok(frame):
            self.bank.count_crc_error()
            return None
        unit = frame[0]
        if unit != BROADCAST and unit != self.bank.unit_id:
            self.ignored += 1
            return None
        function = frame[1]
        pdu = bytes(frame[2:-2])
        broadcast = unit == BROADCAST
        if broadcast and function == READ_HOLDING:
            # Broadcast is for writes only; a read has nobody to answer it.
            self.ignored += 1
            return None
        try:
            body = self.answer(unit, function, pdu)
        except ModbusError as exc:
            if broadcast:
                return None
            self.exceptions += 1
            return exception_reply(unit, function, exc.code)
        if broadcast:
            return None
        return with_crc(bytes([unit]) + body)

    def answer(self, unit, function, pdu, session=None, now_us=0):
        """The reply PDU (function code and data) for one request; ModbusError for an exception reply.

        `session` is a TCP connection's state (attribute `unlocked`); None means no lock applies.
        """
        locked = session is not None and not session.unlocked
        if function == READ_HOLDING:
            if len(pdu) != 4:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            start, qty = struct.unpack(">HH", pdu)
            if qty < 1 or qty > MAX_READ_QTY:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            if locked and not self.bank.is_public(start, qty):
                raise ModbusError(ILLEGAL_FUNCTION)
            values = self.bank.read_holding(start, qty)
            return struct.pack(">BB", READ_HOLDING, 2 * qty) + struct.pack(">%dH" % qty, *values)
        if function == WRITE_SINGLE:
            if len(pdu) != 4:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            if locked:
                raise ModbusError(ILLEGAL_FUNCTION)
            register, value = struct.unpack(">HH", pdu)
            self.bank.write_holding(register, [value])
            return bytes([WRITE_SINGLE]) + pdu
        if function == WRITE_MULTIPLE:
            if len(pdu) < 5:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            start, qty, count = struct.unpack(">HHB", pdu[:5])
            if qty < 1 or qty > MAX_WRITE_QTY or count != 2 * qty or len(pdu) != 5 + count:
                raise ModbusError(ILLEGAL_DATA_VALUE)
            values = list(struct.unpack(">%dH" % qty, pdu[5:]))
            if start == getattr(self.bank, "pin_register", None) and qty == 2:
                self.bank.check_pin((values[0] << 16) | values[1], now_us)
                if session is not None:
                    session.unlocked = True
            elif locked:
                raise ModbusError(ILLEGAL_FUNCTION)
            else:
                self.bank.write_holding(start, values)
            return struct.pack(">BHH", WRITE_MULTIPLE, start, qty)
        raise ModbusError(ILLEGAL_FUNCTION)
