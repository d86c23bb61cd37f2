"""Our tank sensor's Wi-Fi variant on the host: the same firmware serving Modbus TCP, announced by mDNS.

    python -m firmware.sim.tank_wifi --host 192.168.1.30 --serial MT0A1B2C --pin 482913 --mdns

`WifiTankSimulator` runs firmware.tank_sensor.device.TankSensor (variant Wi-Fi) on the event loop:
a sample every 200 ms as main_wifi.py takes them, one `TcpSession` per accepted connection, and
the announcement `<name>._modbus._tcp.local.` with the TXT record the hub's pairing reads:

    vendor=maderas  model=maderas_tank_v1  fw=1.1  unit=<unit id>  serial=<serial>

The announcement goes out through an `announcer` (an async context manager factory taking the
`ServiceSpec`): the firmware's own mDNS responder bound to one address (`mdns_announcer`), or
none. A simulator whose announcement the hub cannot hear (mDNS off) can hand the same spec to
the hub through `spec` instead; that is what `hub demo` does when multicast is off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Self

from firmware.sim.sensor_sim import Faults, RealClock, SimHardware, TankModel
from firmware.sim.tasks import cancel_and_wait
from firmware.tank_sensor.device import TankSensor
from firmware.tank_sensor.modbus_tcp import ProtocolError
from firmware.tank_sensor.registers import (
    COMMODITY_LP_GAS,
    COMMODITY_WATER,
    FIRMWARE_VERSION,
    VARIANT_WIFI,
    MemoryStore,
)

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_modbus._tcp.local."
PROFILE = "maderas_tank_v1"
MEASURE_PERIOD_S = 0.2  # as main_wifi.py: five samples a second
MAX_CONNECTIONS = 4  # an ESP32 has few sockets; the fifth is closed at once
IDLE_TIMEOUT_S = 120.0  # a connection silent this long is closed, as the device does
CLOSE_WAIT_S = 2.0  # how long stop() gives the connection handlers after closing their sockets


@dataclass(frozen=True)
class ServiceSpec:
    """What the device announces: instance name, type, port, address and TXT."""

    name: str
    type: str
    port: int
    address: str
    properties: dict[str, str] = field(default_factory=dict)


Announcer = Callable[[ServiceSpec], AbstractAsyncContextManager[object]]


def firmware_text(version: int = FIRMWARE_VERSION) -> str:
    """0x0101 -> "1.1"."""
    return f"{version >> 8}.{version & 0xFF}"


class WifiTankSimulator:
    """One Wi-Fi tank sensor: Modbus TCP on `host:port` (0 = any free port), announced while running."""

    def __init__(
        self,
        tank: TankModel,
        *,
        serial: str,
        pin: int,
        host: str = "127.0.0.1",
        port: int = 0,
        unit_id: int = 1,
        commodity: str = "water",
        capacity_l: float | None = None,
        tank_height_m: float | None = None,
        time_scale: float = 1.0,
        name: str | None = None,
        announcer: Announcer | None = None,
        temperature_c: float | None = 20.0,
    ) -> None:
        self.tank = tank
        self.host = host
        self.serial = serial
        self.name = name or f"Maderas tank {serial}"
        self.time_scale = time_scale
        self.faults = Faults()
        self.clock = RealClock()
        data: dict[str, object] = {
            "serial": serial, "pin": pin, "unit_id": unit_id, "mount_mm": round(tank.mount_height_m * 1000),
            "commodity": COMMODITY_LP_GAS if commodity == "lp_gas" else COMMODITY_WATER,
        }  # fmt: skip
        if capacity_l is not None:
            data["capacity_l"] = math.floor(capacity_l)
        if tank_height_m is not None:
            data["tank_height_mm"] = round(tank_height_m * 1000)
        self.store = MemoryStore(data)
        self.hw = SimHardware(tank, self.tank_time, self.faults, lambda _data: None, temperature_c)
        self.sensor = TankSensor(self.hw, self.store, self.clock, variant=VARIANT_WIFI)
        self._want_port = port
        self._announcer = announcer
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the measurement loop
        # Connection handlers are asyncio.start_server's tasks: ended by closing their socket, never
        # cancelled (Python 3.11's stream callback logs a cancelled handler as an error).
        self._clients: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._exit = contextlib.AsyncExitStack()
        self.connections = 0  # accepted so far
        self.refused = 0  # closed at once: too many open

    def tank_time(self) -> float:
        return self.clock.elapsed_s() * self.time_scale

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def unit_id(self) -> int:
        return int(self.sensor.registers.unit_id)

    def spec(self) -> ServiceSpec:
        """The announcement, as the device makes it."""
        return ServiceSpec(
            name=self.name, type=SERVICE_TYPE, port=self.port, address=self.host,
            properties={"vendor": "maderas", "model": PROFILE, "fw": firmware_text(), "unit": str(self.unit_id),
                        "serial": self.serial},
        )  # fmt: skip

    async def start(self) -> None:
        self.sensor.poll_measurement()
        self._server = await asyncio.start_server(self._client, self.host, self._want_port)
        self._spawn(self._measure())
        try:
            if self._announcer is not None:
                await self._exit.enter_async_context(self._announcer(self.spec()))
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self._exit.aclose()  # the goodbye first, while the port still answers
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._clients:
            _done, stuck = await asyncio.wait(set(self._clients), timeout=CLOSE_WAIT_S)
            await cancel_and_wait(stuck)  # only a handler that ignored its closed socket
        await cancel_and_wait(list(self._tasks))
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _measure(self) -> None:
        while True:
            await asyncio.sleep(MEASURE_PERIOD_S)
            self.sensor.poll_measurement()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)
        if len(self._writers) >= MAX_CONNECTIONS:
            self.refused += 1
            writer.close()
            return
        self.connections += 1
        self._writers.add(writer)
        session = self.sensor.tcp_session()
        try:
            while True:
                data = await asyncio.wait_for(reader.read(512), IDLE_TIMEOUT_S)
                if not data:
                    break
                if self.faults.silent:
                    continue
                reply = session.feed(data)
                if reply:
                    if self.faults.reply_delay_s:
                        await asyncio.sleep(self.faults.reply_delay_s)
                    writer.write(reply)
                    await writer.drain()
        except ProtocolError as err:
            _LOGGER.info("tank %s: closed a connection that is not Modbus TCP: %s", self.serial, err)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def mdns_announcer(hostname: str) -> Announcer:
    """Announce with the firmware's own mDNS responder (firmware/mdns), bound to the spec's address only."""

    @contextlib.asynccontextmanager
    async def announce(spec: ServiceSpec) -> AsyncIterator[object]:
        from firmware.mdns.responder import Responder, Service
        from firmware.sim.mdns_host import HostResponder

        service = Service(spec.name, spec.type, spec.port, dict(spec.properties))
        async with HostResponder(Responder(hostname, spec.address, [service]), spec.address) as runner:
            yield runner

    return announce


async def _main(args: argparse.Namespace) -> None:
    from firmware.sim.tank_physics import SimulatedTank

    tank = SimulatedTank(args.capacity, args.height, args.height + args.mount_above, args.start, seed=args.seed,
                         noise_mm=1.0, spike_probability=0.0)  # fmt: skip
    announcer = mdns_announcer(f"maderas-tank-{args.serial.lower()}") if args.mdns else None
    sim = WifiTankSimulator(tank, serial=args.serial, pin=args.pin, host=args.host, port=args.port,
                            commodity=args.commodity, capacity_l=args.capacity, tank_height_m=args.height,
                            time_scale=args.time_scale, announcer=announcer)  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with sim:
        # The PIN is the label's: a person running this chose it, so it is not printed back.
        print(f"READY {sim.host}:{sim.port} serial {sim.serial}{' announced' if args.mdns else ''}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve one simulated Wi-Fi tank sensor until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m firmware.sim.tank_wifi", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="the IPv4 address to serve and announce on")
    parser.add_argument("--port", type=int, default=502)
    parser.add_argument("--serial", required=True)
    parser.add_argument("--pin", type=int, required=True, help="the PIN on the label (up to six digits)")
    parser.add_argument("--commodity", choices=("water", "lp_gas"), default="water")
    parser.add_argument("--capacity", type=float, default=1100.0, help="litres, stored in the sensor")
    parser.add_argument("--height", type=float, default=1.2, help="tank height in metres, stored in the sensor")
    parser.add_argument("--mount-above", type=float, default=0.2, help="sensor face above the tank's top, metres")
    parser.add_argument("--start", type=float, default=60.0, help="starting level in percent")
    parser.add_argument("--time-scale", type=float, default=1.0, help="tank seconds per real second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mdns", action="store_true", help="announce _modbus._tcp on --host with the firmware's responder")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
