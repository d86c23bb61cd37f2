"""Runs the firmware's sans-IO mDNS Responder on a Linux host with asyncio, on one interface only.

CPython and Linux only (interface look-up by ioctl, IP_MULTICAST_ALL, IP_UNICAST_IF). Two sockets:

* receive: bound to 224.0.0.251:5353, joined to the group on the interface's address only, with
  IP_MULTICAST_ALL off, so it hears the group on that interface and nowhere else;
* send: bound to the interface's address, port 5353 (mDNS replies must come from 5353, and
  unicast answers to our QU probes arrive there); IP_MULTICAST_IF is that address, IP_UNICAST_IF
  its interface, TTL 255. A unicast reply to an asker outside the interface's subnet is dropped
  (counted in `dropped`), so nothing is ever routed out of another interface.

Both use SO_REUSEADDR and SO_REUSEPORT, so avahi or python-zeroconf can share port 5353.

    responder = Responder("maderas-tank-0001", "192.168.1.20", [Service("Tank 0001", "_modbus._tcp", 502, txt)])
    async with HostResponder(responder, "192.168.1.20"):   # probes, renames on conflict, announces
        ...                                                # answers queries meanwhile
    # leaving the block sends the goodbye (TTL 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from firmware.mdns.responder import ANNOUNCING, MDNS_ADDR, MDNS_PORT, RUNNING, Responder

_LOGGER = logging.getLogger(__name__)
# Linux socket options and ioctls the socket module does not name.
IP_MULTICAST_ALL = 49
IP_UNICAST_IF = 50
SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891B
MAX_SLEEP_S = 0.5  # poll() at least this often: it notices address changes


@dataclass(frozen=True)
class Interface:
    """The network interface that holds the address: its name, index and subnet."""

    name: str
    index: int
    network: ipaddress.IPv4Network


def find_interface(address: str) -> Interface:
    """The interface holding `address` (Linux ioctls); ValueError when no interface has it."""
    if not sys.platform.startswith("linux"):
        raise OSError("the mDNS host runner needs Linux")
    wanted = ipaddress.IPv4Address(address)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for index, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                addr = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)[20:24])
                mask = socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFNETMASK, request)[20:24])
            except OSError:  # no IPv4 address on this interface
                continue
            if ipaddress.IPv4Address(addr) == wanted:
                return Interface(name, index, ipaddress.IPv4Network(f"{addr}/{mask}", strict=False))
    raise ValueError(f"no network interface has the address {address}")


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class _Receiver(asyncio.DatagramProtocol):
    """Hands every datagram of one socket to the runner."""

    def __init__(self, runner: HostResponder, *, unicast: bool) -> None:
        self.runner = runner
        self.unicast = unicast  # the socket bound to our own address, not the group

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.runner.received(data, str(addr[0]), addr[1], unicast=self.unicast)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("mDNS socket error: %s", exc)


class HostResponder:
    """A Responder on one IPv4 interface address: probe and announce on start, goodbye on stop.

    The responder's own address (what its A record says) should be the same `address`.
    """

    def __init__(self, responder: Responder, address: str, *, clock: Callable[[], int] = monotonic_ms) -> None:
        self.responder = responder
        self.address = address
        self.clock = clock
        self.interface: Interface | None = None
        self.receive_socket: socket.socket | None = None
        self.send_socket: socket.socket | None = None
        self.dropped = 0  # unicast replies refused: the asker is not on our subnet
        self._send: asyncio.DatagramTransport | None = None
        self._receive: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._announced = asyncio.Event()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the sockets and probe; return once the (possibly renamed) records are being announced."""
        if self._task is not None:
            raise RuntimeError("already started")
        self.interface = find_interface(self.address)
        loop = asyncio.get_running_loop()
        try:
            self.receive_socket = self._receive_socket()
            self.send_socket = self._send_socket(self.interface)
            self._receive, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(self, unicast=False), sock=self.receive_socket
            )
            self._send, _ = await loop.create_datagram_endpoint(
                lambda: _Receiver(self, unicast=True), sock=self.send_socket
            )
        except BaseException:
            self._close()
            raise
        self.responder.start(self.clock())
        self._task = loop.create_task(self._run(), name=f"mDNS responder {self.address}")
        waiter = loop.create_task(self._announced.wait(), name="mDNS responder announced")
        try:
            await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if self._task.done():
                self._task.result()  # the loop failed: raise its error here
        except BaseException:  # failed, or the caller gave up waiting: leave nothing running
            await self.stop()
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def stop(self) -> None:
        """Send the goodbye (TTL 0) and close everything; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # a loop that failed has had its error raised by start() or logged below
            if not task.cancelled() and task.exception() is not None:
                _LOGGER.error("mDNS responder loop failed", exc_info=task.exception())
            self._transmit(self.responder.stop(self.clock()))
        self._close()

    def _close(self) -> None:
        for transport in (self._send, self._receive):
            if transport is not None:
                transport.close()
        self._send = self._receive = None
        for sock in (self.send_socket, self.receive_socket):
            if sock is not None:
                sock.close()

    def _receive_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            self._share_port(sock)
            # Only this socket's own memberships (our interface), not every group any socket here joined.
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            sock.bind((MDNS_ADDR, MDNS_PORT))
            membership = socket.inet_aton(MDNS_ADDR) + socket.inet_aton(self.address)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _send_socket(self, interface: Interface) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            self._share_port(sock)
            sock.bind((self.address, MDNS_PORT))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.address))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)  # RFC 6762 section 11, unicast replies too
            sock.setsockopt(socket.IPPROTO_IP, IP_UNICAST_IF, struct.pack("!I", interface.index))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def _share_port(sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)

    def received(self, data: bytes, host: str, port: int, *, unicast: bool = False) -> None:
        """One datagram from either socket (`unicast`: sent to our address): the replies go out at once."""
        self._transmit(self.responder.handle(data, host, port, self.clock(), unicast))
        self._wake.set()  # a conflict may have moved the next probe earlier

    def _transmit(self, packets: list[tuple[bytes, tuple[str, int]]]) -> None:
        transport = self._send
        if transport is None or transport.is_closing():
            return
        for packet, dest in packets:
            if dest[0] != MDNS_ADDR and not self._on_link(dest[0]):
                self.dropped += 1
                continue
            try:
                transport.sendto(packet, dest)
            except OSError as err:  # a full queue or a vanished interface: mDNS tolerates loss
                _LOGGER.debug("mDNS send to %s failed: %s", dest, err)

    def _on_link(self, host: str) -> bool:
        assert self.interface is not None
        try:
            return ipaddress.IPv4Address(host) in self.interface.network
        except ValueError:
            return False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = self.clock()
            self._transmit(self.responder.poll(now))
            if self.responder.state in (ANNOUNCING, RUNNING):
                self._announced.set()
            due = self.responder.next_due()
            delay = MAX_SLEEP_S if due is None else min(MAX_SLEEP_S, max(0, due - now) / 1000)
            # a timer rather than wait_for: on 3.11 wait_for can swallow a cancel that races the event
            self._wake.clear()
            timer = loop.call_later(delay, self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()
