"""Modbus TCP for the Wi-Fi variant: MBAP framing over a byte stream and the per-connection PIN lock.

Runs under MicroPython and CPython (struct only). Sans-IO: the caller owns the socket and feeds
what it received; the answers come back as bytes to send.

MBAP header (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3):

    offset  length  meaning
    0       2       transaction id (echoed)
    2       2       protocol id, 0 for Modbus
    4       2       length of what follows (unit id + PDU), 2..254
    6       1       unit id
    7       N       PDU: function code and data, as in RTU without address and CRC

A request for another unit id gets exception 0x0B (gateway target failed to respond), except
0xFF and 0, which address the device itself (the guide's recommendation for a direct device).
A header that cannot be Modbus (protocol id not 0, length out of range) poisons the stream:
`feed` raises ProtocolError and the caller closes the connection.
"""

import struct

from .modbus_slave import ModbusError

HEADER_LEN = 7
MAX_LENGTH = 254  # unit id + the largest PDU (253 bytes)
GATEWAY_TARGET_FAILED = 0x0B
DIRECT_UNITS = (0, 0xFF)


class ProtocolError(Exception):
    """The peer is not speaking Modbus TCP: close the connection."""


class TcpSession:
    """One TCP connection: its receive buffer and whether the PIN unlocked it."""

    def __init__(self, slave, clock):
        self.slave = slave
        self.clock = clock
        self.unlocked = False
        self.requests = 0
        self._buffer = b""

    def feed(self, data):
        """Bytes received -> the bytes to send back (b"" while a request is incomplete)."""
        self._buffer += data
        out = b""
        while len(self._buffer) >= HEADER_LEN:
            tid, protocol, length = struct.unpack(">HHH", self._buffer[:6])
            if protocol != 0 or length < 2 or length > MAX_LENGTH:
                self._buffer = b""
                raise ProtocolError("not Modbus TCP (protocol %d, length %d)" % (protocol, length))
            end = 6 + length
            if len(self._buffer) < end:
                break
            unit = self._buffer[6]
            pdu = self._buffer[7:end]
            self._buffer = self._buffer[end:]
            self.requests += 1
            out += self._answer(tid, unit, pdu)
        return out

    def _answer(self, tid, unit, pdu):
        function = pdu[0]
        try:
            if unit not in DIRECT_UNITS and unit != self.slave.bank.unit_id:
                raise ModbusError(GATEWAY_TARGET_FAILED)
            body = self.slave.answer(unit, function, bytes(pdu[1:]), self, self.clock.monotonic_us())
        except ModbusError as exc:
            self.slave.exceptions += 1
            body = bytes([(function | 0x80) & 0xFF, exc.code])
        return struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body
