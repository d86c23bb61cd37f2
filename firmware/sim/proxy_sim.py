"""A simulated BLE proxy on the host: the firmware's protocol over asyncio, fed advertisements by hand.

CPython only. It speaks exactly what firmware/ble_proxy/main.py speaks (the same protocol
module): connect, answer the hub's CHALLENGE with HELLO, wait for WELCOME, then send what was
fed as BATCH frames every `batch_interval` seconds, answer PINGs, ping a quiet hub, and on any
failure (refused, closed, garbage, silence) close and retry after a doubling backoff. Timestamps
are milliseconds since the simulator was made (time.monotonic).

    python -m firmware.sim.proxy_sim --host 127.0.0.1 --id proxy-1 --token SECRET [--mdns 192.168.1.20]

With `mdns_interfaces` (`--mdns ADDRESS`) it also announces itself as `_maderas-proxy._tcp` on those
addresses only, as the real proxy is meant to (docs/firmware.md); off by default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from firmware.ble_proxy import protocol
from firmware.ble_proxy.main import announcement, host_label
from firmware.mdns.responder import Responder, Service
from firmware.sim.climate_sim import ROOF, SimulatedClimateBeacon
from firmware.sim.mdns_host import HostResponder
from firmware.sim.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
FIRMWARE = "proxy_sim 1.0"
# One fed advertisement: (address, address type, advertising type, rssi, time_ms, AD data).
Fed = tuple[bytes, int, int, int, int, bytes]
PROXY_SERVICE_TYPE = "_maderas-proxy._tcp.local."


class ProxyAnnouncement:
    """The proxy's own mDNS service, sent by the firmware's own responder (firmware/mdns), as on the board.

    `<id>._maderas-proxy._tcp` with TXT id, fw, proto and hub_port (firmware.ble_proxy.main.announcement);
    the SRV port is 0 (the proxy dials the hub). One HostResponder per given IPv4 address, each
    bound to that address only: nothing goes out anywhere else.
    """

    def __init__(self, proxy_id: str, firmware: str, hub_port: int, interfaces: Sequence[str]) -> None:
        if not interfaces:
            raise ValueError("an mDNS announcement needs at least one interface address")
        self.interfaces = list(interfaces)
        self.proxy_id, self.firmware, self.hub_port = proxy_id, firmware, hub_port
        self._runners: list[HostResponder] = []

    @property
    def announcing(self) -> bool:
        """Whether the service is announced now."""
        return bool(self._runners)

    async def start(self) -> None:
        """Probe, then announce (a name taken on the network gets a suffix, as the board does)."""
        try:
            for address in self.interfaces:
                service = announcement(Service, self.proxy_id, self.hub_port, self.firmware)
                runner = HostResponder(Responder(host_label(self.proxy_id), address, [service]), address)
                await runner.start()
                self._runners.append(runner)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Say goodbye and close the sockets; safe to call twice."""
        runners, self._runners = self._runners, []
        for runner in runners:
            await runner.stop()


class HubRefused(Exception):
    """The hub answered with an ERROR frame."""

    def __init__(self, error: protocol.Error) -> None:
        super().__init__(f"hub refused (code {error.code}): {error.reason}")
        self.error = error


class SimulatedProxy:
    """One proxy: `feed()` advertisements in, `start()` / `stop()` the connection loop."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        proxy_id: str,
        token: str,
        firmware: str = FIRMWARE,
        batch_interval: float = 0.1,
        backoff_min: float = 0.05,
        backoff_max: float = 5.0,
        buffer_size: int = 256,
        connect_timeout: float = 5.0,
        handshake_timeout: float = 10.0,
        ping_interval: float = 15.0,
        idle_timeout: float = 45.0,
        mdns_interfaces: Sequence[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.proxy_id = proxy_id
        self.token = token
        self.firmware = firmware
        self.batch_interval = batch_interval
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.ping_interval = ping_interval
        self.idle_timeout = idle_timeout
        self.queue: deque[Fed] = deque()
        self.buffer_size = buffer_size
        self.dropped = 0
        self.sessions = 0
        self.sent_records = 0
        self.refusals: list[protocol.Error] = []
        self.last_error: str | None = None
        self.streaming = asyncio.Event()
        self._epoch = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        self.announcement = ProxyAnnouncement(proxy_id, firmware, port, mdns_interfaces) if mdns_interfaces else None

    def now_ms(self) -> int:
        """The proxy's monotonic milliseconds."""
        return int((time.monotonic() - self._epoch) * 1000)

    def feed(
        self,
        address: str,
        data: bytes,
        rssi: int = -60,
        *,
        address_type: int = 0,
        adv_type: int = protocol.ADV_NONCONN_IND,
    ) -> None:
        """Queue one advertisement as if the radio heard it now; the oldest goes when full."""
        record = protocol.Record(protocol.parse_address(address), address_type, adv_type, rssi, 0, data)
        protocol.encode_record(record)  # refuse what the protocol cannot carry here, not in the loop
        if len(self.queue) >= self.buffer_size:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append((record.address, address_type, adv_type, rssi, self.now_ms(), bytes(data)))

    def feed_beacon(self, beacon: SimulatedClimateBeacon, now: datetime, rssi: int = -60) -> bytes:
        """Queue a simulated climate beacon's advertisement for `now`; returns its AD data."""
        address, payload, _ = beacon.advertise(now)
        self.feed(address, payload, rssi)
        return payload

    def start(self) -> None:
        """Run the connection loop in a task until stop()."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"proxy_sim {self.proxy_id}")

    async def stop(self) -> None:
        """Cancel the loop and wait for its connection to close."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait([task])

    async def run(self) -> None:
        """Announce (if asked), then connect, stream, and reconnect with backoff, forever."""
        try:
            if self.announcement is not None:
                await self.announcement.start()
            await self._connect_forever()
        finally:
            if self.announcement is not None:
                await self.announcement.stop()

    async def _connect_forever(self) -> None:
        delay = self.backoff_min
        while True:
            sessions = self.sessions
            try:
                await self._session()
            except HubRefused as exc:
                self.refusals.append(exc.error)
                self.last_error = str(exc)
            except (OSError, EOFError, TimeoutError, protocol.ProtocolError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.streaming.clear()
            if self.sessions > sessions:
                delay = self.backoff_min  # it got in: a drop after that starts the backoff afresh
            _LOGGER.info("proxy %s: %s; retrying in %.2f s", self.proxy_id, self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.connect_timeout)
        try:
            decoder = protocol.FrameDecoder()
            pending: deque[object] = deque()
            try:
                async with asyncio.timeout(self.handshake_timeout):
                    await self._handshake(reader, writer, decoder, pending)
                self.sessions += 1
                self.streaming.set()
                await self._stream(reader, writer, decoder, pending)
            except protocol.ProtocolError as exc:
                # Tell the hub why before closing, as the firmware does.
                writer.write(protocol.encode_error(exc.code, str(exc)))
                raise
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: protocol.FrameDecoder,
        pending: deque[object],
    ) -> None:
        challenge = await self._next(reader, decoder, pending)
        if not isinstance(challenge, protocol.Challenge):
            raise protocol.MalformedFrame(f"expected a challenge, got {challenge!r}")
        proof = protocol.proof(self.token, challenge.nonce, self.proxy_id)
        writer.write(protocol.encode_hello(self.proxy_id, self.firmware, proof))
        await writer.drain()
        welcome = await self._next(reader, decoder, pending)
        if not isinstance(welcome, protocol.Welcome):
            raise protocol.MalformedFrame(f"expected welcome, got {welcome!r}")

    async def _next(
        self, reader: asyncio.StreamReader, decoder: protocol.FrameDecoder, pending: deque[object]
    ) -> object:
        """The next message; an ERROR frame raises HubRefused."""
        while not pending:
            data = await reader.read(4096)
            if not data:
                raise EOFError("hub closed the connection")
            pending.extend(protocol.decode_body(t, b) for t, b in decoder.feed(data))
        message = pending.popleft()
        if isinstance(message, protocol.Error):
            raise HubRefused(message)
        return message

    async def _stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: protocol.FrameDecoder,
        pending: deque[object],
    ) -> None:
        loop = asyncio.get_running_loop()
        last_rx = last_batch = loop.time()
        ping_seq = 0
        ping_sent = False
        while True:
            while pending:
                message = pending.popleft()
                if isinstance(message, protocol.Error):
                    raise HubRefused(message)
                if isinstance(message, protocol.Ping) and not isinstance(message, protocol.Pong):
                    writer.write(protocol.encode_pong(message.seq))
                elif not isinstance(message, protocol.Pong):
                    raise protocol.MalformedFrame(f"unexpected {message!r} while streaming")
            try:
                # A cancelled read keeps its bytes in the reader's buffer: nothing is lost.
                data = await asyncio.wait_for(reader.read(4096), self.batch_interval)
            except TimeoutError:
                data = None
            now = loop.time()
            if data == b"":
                raise EOFError("hub closed the connection")
            if data:
                last_rx = now
                ping_sent = False
                pending.extend(protocol.decode_body(t, b) for t, b in decoder.feed(data))
                continue
            if now - last_rx >= self.idle_timeout:
                raise TimeoutError("hub silent")
            if now - last_rx >= self.ping_interval and not ping_sent:
                ping_seq += 1
                writer.write(protocol.encode_ping(ping_seq))
                ping_sent = True
            if now - last_batch >= self.batch_interval:
                last_batch = now
                await self._send_batches(writer)

    async def _send_batches(self, writer: asyncio.StreamWriter) -> None:
        records = [protocol.Record(*fed) for fed in self.queue]
        self.queue.clear()
        sent_ms = self.now_ms()
        for i in range(0, len(records), protocol.MAX_BATCH):
            writer.write(protocol.encode_batch(records[i : i + protocol.MAX_BATCH], sent_ms, self.dropped))
        await writer.drain()
        self.sent_records += len(records)


async def _main(args: argparse.Namespace) -> None:
    proxy = SimulatedProxy(args.host, args.port, proxy_id=args.id, token=args.token, mdns_interfaces=args.mdns)
    beacon = SimulatedClimateBeacon(args.beacon, ROOF, start=datetime.now(UTC))
    proxy.start()
    try:
        while True:
            proxy.feed_beacon(beacon, datetime.now(UTC), rssi=args.rssi)
            await asyncio.sleep(args.interval)
    finally:
        await proxy.stop()


def main(argv: list[str] | None = None) -> None:
    """Forward a simulated roof beacon to a hub until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m firmware.sim.proxy_sim", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=protocol.DEFAULT_PORT)
    parser.add_argument("--id", required=True, help="proxy id as configured on the hub")
    parser.add_argument("--token", required=True)
    parser.add_argument("--beacon", default="A4:C1:38:00:00:01", help="the simulated beacon's address")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between advertisements")
    parser.add_argument("--rssi", type=int, default=-70)
    parser.add_argument("--mdns", action="append", default=[], metavar="ADDRESS",
                        help="announce _maderas-proxy._tcp on this IPv4 address (repeatable; off by default)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
