"""The embedded demo: a configuration directory that runs with no hardware.

`write_demo_config(dir)` writes configuration.yaml: the default configuration, the demo
integration (climate sensors, a door), a `modbus_tank:` bus with three tanks and, when the
example supplier service (examples/, a source checkout) can be imported, a `resupply:` block
with a water and a gas supplier whose keys go into secrets.yaml.
`DemoDevices(dir)` serves those tanks: three of our firmware slaves (`firmware.sim`, units 1-3)
on a pseudo-terminal line with real 9600-baud timing, reached through the stable symlink
`<dir>/demo-rs485`, which is pointed at a new pty on every start (so `hub demo --keep DIR`
works across runs). Tank time runs `DEMO_TIME_FACTOR` times faster than the wall clock.
`DemoSuppliers(dir, devices)` plays the suppliers in the hub's event loop: the example service on
the configured loopback ports, each delivered order a truck into the simulated tank.
With `alarms=True` (as `hub demo` writes it) the configuration also has an `alarm_panel:` (the
front door, a gas and a water-leak detector of the demo integration) and a `command_center:` whose
receiver is `DemoReceiver(dir)` (hub/demo_receiver.py): a SIA DC-09 receiver over TCP on loopback, in the hub's event
loop, standing in for the monitoring centre. With `climate=True` it has a `ble_climate:` block
whose beacons, Bluetooth adapter and proxy `DemoClimate(dir)` (hub/demo_climate.py) simulates.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import math
import os
import secrets
import socket
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import (
    LP_GAS_HOUSEHOLD,
    WATER_FAMILY,
    DemoTime,
    SimulatedTank,
    UsageProfile,
)

from .config import CONFIG_FILE, SECRETS_FILE, ConfigErrors, load_configuration, write_default_config
from .config.core_schema import DEFAULT_SERVER_PORT
from .demo_camera import camera_block, camera_secrets
from .demo_climate import climate_block, climate_secrets
from .demo_peer import DemoPeer
from .demo_receiver import RECEIVER_HOST
from .demo_wifi_tank import wifi_tank_secrets
from .registry import slugify

_LOGGER = logging.getLogger(__name__)

BAUD = 9600
DEMO_TIME_FACTOR = 60.0  # one real minute is an hour of the household's day
REFILL_SETTLE_S = 15.0  # real seconds a rise must hold still: fifteen tank minutes at x60
SERIAL_LINK = "demo-rs485"  # in the config dir; a symlink to the current pty
SCAN_INTERVAL_S = 5
MOUNT_ABOVE_TOP_M = 0.25  # sensor face above the tank's top: clear of the 0.2 m dead band


@dataclass(frozen=True)
class DemoTank:
    """One tank of the demo household: what the hub is told, and how the simulator behaves."""

    unit_id: int
    name: str
    commodity: str
    shape: str
    dimensions: dict[str, float]
    height_m: float
    capacity_l: float
    profile: UsageProfile
    start_pct: float
    refill_below_pct: float
    refill_to_pct: float
    usable: tuple[float, float] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    area: str | None = None

    @property
    def mount_height_m(self) -> float:
        return round(self.height_m + MOUNT_ABOVE_TOP_M, 3)


# LP-gas tank: horizontal cylinder with 2:1 ellipsoidal heads, Ø 0.593 m, shell 0.889 m = 300 L.
_LP_D, _LP_L = 0.593, 0.889


def _lp_volume_l(level_m: float, d: float = _LP_D, length: float = _LP_L) -> float:
    """Litres below `level_m` in the LP tank (the hub's HorizontalCylinder, ellipsoidal_2to1 heads)."""
    r = d / 2
    h = min(max(level_m, 0.0), d)
    segment = r * r * math.acos((r - h) / r) - (r - h) * math.sqrt(max(0.0, 2 * r * h - h * h))
    heads = 0.5 * math.pi * h * h * (3 * r - h) / 3
    return (segment * length + heads) * 1000.0


# The cistern starts a little above its supplier's 30 %: the morning's water use takes it under
# within the first real minutes, so `hub demo` orders water early. The LP tank starts under its
# 25 % (gas goes down by 1 % a tank day): its order waits for a resident's approval from the start.
TANKS = (
    DemoTank(1, "Cistern", "water", "rectangular", {"length_m": 1.1, "width_m": 1.0, "height_m": 1.0},
             height_m=1.0, capacity_l=1100.0, profile=WATER_FAMILY, start_pct=34.0,
             refill_below_pct=20.0, refill_to_pct=95.0, area="Patio"),
    # A 450 L tinaco: Ø 0.80 m x 0.895 m.
    DemoTank(2, "Rooftop tank", "water", "vertical_cylinder", {"diameter_m": 0.8, "height_m": 0.895},
             height_m=0.895, capacity_l=math.pi * 0.4**2 * 0.895 * 1000, profile=WATER_FAMILY, start_pct=60.0,
             refill_below_pct=20.0, refill_to_pct=95.0, area="Azotea"),
    DemoTank(3, "LP gas tank", "lp_gas", "horizontal_cylinder", {"diameter_m": _LP_D, "length_m": _LP_L},
             height_m=_LP_D, capacity_l=_lp_volume_l(_LP_D), profile=LP_GAS_HOUSEHOLD, start_pct=23.0,
             refill_below_pct=20.0, refill_to_pct=80.0, usable=(5.0, 85.0), extra={"head": "ellipsoidal_2to1"},
             area="Azotea"),
)


@dataclass
class _ShapedTank(SimulatedTank):
    """A SimulatedTank whose level follows a non-prismatic shape (the simulator's own is linear)."""

    shape_volume_l: Callable[[float], float] | None = None  # litres below a level in metres

    def level_m_at(self, t: float) -> float:
        volume = self.volume_l_at(t)
        if self.shape_volume_l is None:
            return super().level_m_at(t)
        lo, hi = 0.0, self.height_m
        for _ in range(40):  # bisection to well under a micrometre
            mid = (lo + hi) / 2
            if self.shape_volume_l(mid) < volume:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2


def simulated_tank(tank: DemoTank, seed: int) -> SimulatedTank:
    """The household tank the firmware simulator measures, sized like the hub's model of it."""
    common = {
        "capacity_l": tank.capacity_l, "height_m": tank.height_m, "mount_height_m": tank.mount_height_m,
        "start_pct": tank.start_pct, "usage_profile": tank.profile, "seed": seed, "start_hour": 6.0,
        "auto_refill_below_pct": tank.refill_below_pct,
        "auto_refill_litres": tank.capacity_l * (tank.refill_to_pct - tank.refill_below_pct) / 100,
        "truck_delay_s": 2 * 3600.0,
        "truck_duration_s": 2 * 3600.0,  # two real minutes at x60: the level climbs, it does not jump
    }
    if tank.shape == "horizontal_cylinder":
        return _ShapedTank(**common, shape_volume_l=_lp_volume_l)  # type: ignore[arg-type]
    return SimulatedTank(**common)  # type: ignore[arg-type]


def _modbus_block(port: str) -> str:
    lines = [
        "modbus_tank:",
        "  buses:",
        "    - name: demo_rs485",
        "      type: serial",
        f"      port: {port}",
        f"      baudrate: {BAUD}",
        "      parity: N",
        "      stopbits: 2",
        "      timeout: 0.5",
        "      tanks:",
    ]
    for tank in TANKS:
        dims = ", ".join(f"{k}: {v}" for k, v in tank.dimensions.items())
        lines += [
            f"        - name: {tank.name}",
            f"          unit_id: {tank.unit_id}",
            "          profile: maderas_tank_v1",
            f"          scan_interval: {SCAN_INTERVAL_S}",
            # Tank time runs x60: five real minutes of settling would be five hours of the family's
            # water use after the truck, and the measured delivery would read short.
            f"          refill_settle: {REFILL_SETTLE_S:g}",
            *([f"          area: {tank.area}"] if tank.area else []),
            "          tank:",
            f"            shape: {tank.shape}",
            f"            dimensions: {{{dims}}}",
            *(f"            {k}: {v}" for k, v in tank.extra.items()),
            f"            commodity: {tank.commodity}",
            f"            mounting: {{type: ultrasonic, mount_height_m: {tank.mount_height_m}}}",
        ]
        if tank.usable is not None:
            lines += [f"            usable_min_pct: {tank.usable[0]}", f"            usable_max_pct: {tank.usable[1]}"]
    return "\n".join(lines) + "\n"


DEMO_BLOCK = """
# --- hub demo -------------------------------------------------------------
# A simulated household so the dashboard has something to show: climate sensors and a
# door (the demo integration), and three tanks (cistern, rooftop tank, LP gas) measured by
# our firmware running in a simulator on a pseudo-terminal ({link}, re-created by
# `hub demo` on every start). Tank time runs x{factor:g}: an hour of the household's day
# passes every real minute.
demo:
  update_interval: 5

{modbus}"""


@dataclass(frozen=True)
class DemoSupplier:
    """A supplier of the demo household: the example service plays it; its trucks fill one simulated tank."""

    id: str
    name: str
    commodity: str
    unit_id: int
    sells: str  # the `sells:` mapping in YAML flow style
    price_per_litre: float
    below_pct: float
    target_pct: float
    approval: bool = False
    short_tolerance_pct: float = 5.0


SUPPLIERS = (
    # By the litre from 200 L: the 1,100 L cistern takes 600-700 L from 30 % to 90 %.
    # The gauge measures the net rise: the household keeps drawing water while the truck pumps and
    # the rise settles, which at x60 is half an hour of its morning use (tens of litres) in half a
    # minute. 10 % keeps that from reading as a short delivery; a real cistern keeps the default 5 %.
    DemoSupplier("demo_pipas", "Pipas del Fraccionamiento", "water", 1, "{increment: 10, minimum: 200}", 0.12,
                 below_pct=30.0, target_pct=90.0, short_tolerance_pct=10.0),
    DemoSupplier("demo_gas", "Gas del Fraccionamiento", "lp_gas", 3, "{increment: 1, minimum: 20}", 11.5,
                 below_pct=25.0, target_pct=85.0, approval=True),
)
SUPPLIER_HOST = "127.0.0.1"
CUSTOMER_ID = "DEMO-0001"
# Real seconds after the order; the service moves it on by itself (examples/supplier_service).
CONFIRM_AFTER_S, DISPATCH_AFTER_S, DELIVER_AFTER_S = 5.0, 10.0, 20.0
TRUCK_MINUTES = 15.0  # tank minutes the truck pumps (a quarter of a real minute at x60): the level climbs
TRUCK_LEAD_S = 0.5  # real seconds from "delivered" to the first litre: the simulator may be past "now"
API_PATH = "/v1"
SUPPLIER_MODULE = "examples.supplier_service"

RESUPPLY_HEADER = """
# Resupply: the hub orders water and gas before the tanks run out. Both suppliers are the example
# supplier service (examples/supplier_service) that `hub demo` runs on this machine; a delivered
# order sends a truck into the simulated tank. The gas order waits for a resident's approval.
"""


def level_entity(tank: DemoTank) -> str:
    """The entity id of a demo tank's Level sensor (the device name plus "Level")."""
    return f"sensor.{slugify(tank.name + ' level')}"


def _resupply_block(server_port: int, ports: dict[str, int]) -> str:
    tanks = {t.unit_id: t for t in TANKS}
    lines = ["resupply:"]
    if server_port:  # 0 (tests): the port is not known yet, so no callbacks; the hub polls
        lines.append(f"  callback_base_url: http://127.0.0.1:{server_port}")
    lines.append("  suppliers:")
    for s in SUPPLIERS:
        lines += [
            f"    - id: {s.id}",
            f"      name: {s.name}",
            f"      commodity: {s.commodity}",
            "      type: http_api",
            f"      url: http://{SUPPLIER_HOST}:{ports[s.id]}{API_PATH}",
            f"      api_key: !secret {s.id}_api_key",
            f"      callback_secret: !secret {s.id}_callback_secret",
            f"      customer_id: {CUSTOMER_ID}",
            "      lead_time: {hours: 1}",
            f"      sells: {s.sells}",
            f"      price_per_litre: {s.price_per_litre:g}",
            "      currency: MXN",
            "      poll_interval: {seconds: 30}",
        ]
    lines.append("  tanks:")
    for s in SUPPLIERS:
        lines += [
            f"    - tank: {level_entity(tanks[s.unit_id])}",
            f"      supplier: {s.id}",
            f"      below_pct: {s.below_pct:g}",
            f"      target_pct: {s.target_pct:g}",
            "      confirm_for: {seconds: 30}",
            "      min_interval: {minutes: 10}",
            f"      approval: {'true' if s.approval else 'false'}",
            f"      short_tolerance_pct: {s.short_tolerance_pct:g}",
            "      delivery_window: {minutes: 30}",
        ]
    return "\n".join(lines) + "\n"


def _free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all bound at once, so none is handed out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((SUPPLIER_HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _demo_secrets() -> str:
    lines = ["", "# hub demo: the example suppliers' API keys and callback secrets, made for this directory."]
    for s in SUPPLIERS:
        lines += [f"{s.id}_api_key: {secrets.token_urlsafe(24)}", f"{s.id}_callback_secret: {secrets.token_urlsafe(24)}"]
    return "\n".join(lines) + "\n"


def load_supplier_service() -> Any | None:
    """The example supplier service's module (`examples.supplier_service`), or None when it is not there.

    examples/ is not an installed package. It imports in a source checkout run with `python -m hub`
    and in the tests; an editable install (`pip install -e .`) maps only the installed packages,
    so there it is loaded from the checkout beside the hub package. A non-editable install has none.
    """
    try:
        return importlib.import_module(SUPPLIER_MODULE)
    except ImportError:
        pass
    package = Path(__file__).resolve().parent.parent / "examples" / "supplier_service"
    if not (package / "__init__.py").is_file():
        return None
    spec = importlib.util.spec_from_file_location(SUPPLIER_MODULE, package / "__init__.py",
                                                  submodule_search_locations=[str(package)])  # fmt: skip
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[SUPPLIER_MODULE] = module  # before running it: its relative imports look for it there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(SUPPLIER_MODULE, None)
        raise
    return module


# The alarm side of the demo household: entities of the demo integration (integrations/demo).
FRONT_DOOR, KITCHEN_GAS, LAUNDRY_LEAK = "binary_sensor.front_door", "binary_sensor.kitchen_gas", "binary_sensor.laundry_leak"
ALARM_ACCOUNT = "1234"
DC09_KEY_SECRET = "command_center_key"
DC09_KEY_CHARS = string.ascii_letters + string.digits  # an ASCII key never holds DC-09's `|`, `[` or `]`
SUPERVISION_S = 60

ALARMS_BLOCK = """
# Alarms. The panel "Casa" watches the front door (entry/exit, zone 1; the demo door opens for a
# minute every ten: armed, that starts the entry delay) and two detectors that alarm in every mode:
# kitchen gas (zone 10) and laundry leak (zone 11), tripped with the demo.trip service. Arming needs
# an alarm PIN: set yours in Settings. The command centre is a local SIA DC-09 receiver that
# `hub demo` runs on {host}:{port}: Contact ID over TCP, AES-128 with the key in secrets.yaml.
alarm_panel:
  name: Casa
  exit_delay: 20
  entry_delay: 15
  trigger_time: 60
  zones:
    - {{id: front_door, name: Puerta principal, number: 1, type: entry_exit, entities: [{door}]}}
    - {{id: kitchen_gas, name: Gas cocina, number: 10, type: gas, entities: [{gas}]}}
    - {{id: laundry_leak, name: Fuga lavandería, number: 11, type: water_leak, entities: [{leak}]}}
{camera_zone}
command_center:
  account: "{account}"
  format: ADM-CID
  key: !secret {secret}
  receivers:
    - {{name: primary, host: {host}, port: {port}, protocol: tcp}}
  supervision_interval: {supervision}
"""


# An unknown face at the front door while armed is an alarm (face_detected from rtsp_camera).
CAMERA_ZONE = ("    - {id: front_door_camera, name: Cámara entrada, number: 20, type: camera, events: [face_unknown],"
               " cameras: [camera.front_door]}\n")  # fmt: skip


def _alarms_block(port: int, *, camera_zone: bool = False) -> str:
    return ALARMS_BLOCK.format(host=RECEIVER_HOST, port=port, door=FRONT_DOOR, gas=KITCHEN_GAS, leak=LAUNDRY_LEAK,
                               account=ALARM_ACCOUNT, secret=DC09_KEY_SECRET, supervision=SUPERVISION_S,
                               camera_zone=CAMERA_ZONE if camera_zone else "")  # fmt: skip


def _alarm_secrets() -> str:
    key = "".join(secrets.choice(DC09_KEY_CHARS) for _ in range(16))  # 16 ASCII characters: AES-128
    return f"\n# hub demo: the command centre's DC-09 key (AES-128), made for this directory.\n{DC09_KEY_SECRET}: {key}\n"


def write_demo_config(
    config_dir: Path, *, server_port: int | None = None, resupply: bool | None = None, alarms: bool = False,
    climate: bool = False, camera: bool = False, wifi_tank: bool = False,
) -> None:
    """Write the demo configuration into `config_dir` (an existing one is kept as it is).

    `server_port` replaces the dashboard's port (0: any free port, for tests). `resupply` adds the
    suppliers (default: when the example supplier service can be imported); `alarms` the alarm
    panel and the command centre with its demo receiver; `climate` the BLE climate sensors with
    their proxy endpoint (hub/demo_climate.py); `camera` the front-door camera (hub/demo_camera.py),
    with a camera zone on the alarm panel when both are on; `wifi_tank` the PIN of the unpaired Wi-Fi
    tank sensor (hub/demo_wifi_tank.py). `hub demo` asks for all of them; they are
    off by default so a test of the tanks or suppliers gets a configuration without them. Their
    loopback ports are picked now, all at once (never one twice), and their keys written to
    secrets.yaml.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    if not write_default_config(config_dir):
        return
    path = config_dir / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    if server_port is not None:
        text = text.replace(f"  server_port: {DEFAULT_SERVER_PORT}\n", f"  server_port: {server_port}\n", 1)
    link = serial_link(config_dir)
    text += DEMO_BLOCK.format(link=link, factor=DEMO_TIME_FACTOR, modbus=_modbus_block(str(link)))
    with_resupply = load_supplier_service() is not None if resupply is None else resupply
    free = _free_ports((len(SUPPLIERS) if with_resupply else 0) + alarms + climate + camera)
    added = ""
    if with_resupply:
        ports = dict(zip((s.id for s in SUPPLIERS), free[: len(SUPPLIERS)], strict=True))
        del free[: len(SUPPLIERS)]
        port = DEFAULT_SERVER_PORT if server_port is None else server_port
        text += RESUPPLY_HEADER + _resupply_block(port, ports)
        added += _demo_secrets()
    if alarms:
        text += _alarms_block(free.pop(), camera_zone=camera)
        added += _alarm_secrets()
    if climate:
        text += climate_block(free.pop())
        added += climate_secrets()
    if camera:
        text += camera_block(free.pop())
        added += camera_secrets()
    if wifi_tank:
        added += wifi_tank_secrets()
    if added:
        with (config_dir / SECRETS_FILE).open("a", encoding="utf-8") as secrets_file:  # written 0600 above
            secrets_file.write(added)
    path.write_text(text, encoding="utf-8")


def serial_link(config_dir: Path) -> Path:
    """The stable path the demo's modbus_tank bus opens."""
    return config_dir.resolve() / SERIAL_LINK


class DemoDevices:
    """The demo's simulated hardware: a PtyLine with three firmware slaves behind `<dir>/demo-rs485`.

    `start()` creates the line, points the link at it and starts the slaves; `stop()` joins
    every thread and closes the line (the link is left dangling until the next start).
    """

    def __init__(self, config_dir: Path, *, time_factor: float = DEMO_TIME_FACTOR, seed: int = 1) -> None:
        self.link = serial_link(config_dir)
        self.time = DemoTime(time_factor)
        self.tanks = {t.unit_id: simulated_tank(t, seed + t.unit_id) for t in TANKS}
        self.line: PtyLine | None = None
        self.bus: MultiSensorBus | None = None

    def start(self) -> None:
        line = PtyLine(BAUD, bits_per_char=11, enforce_timing=True)
        try:
            tmp = self.link.with_name(self.link.name + ".new")
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(line.link_a, tmp)  # through the line's own link: an unplug shows here too
            os.replace(tmp, self.link)
            bus = MultiSensorBus(line.device_path_b, self.tanks, baud=BAUD, time_scale=self.time.factor)
            bus.start()
        except BaseException:
            line.close()
            raise
        self.line, self.bus = line, bus

    @property
    def error(self) -> BaseException | None:
        """Why the simulator thread stopped, if it did."""
        return None if self.bus is None else self.bus.error

    def hand_over(self, unit_id: int) -> None:
        """Orders fill this tank from now on: the simulator's own truck (below 20 %) no longer comes."""
        self.tanks[unit_id].auto_refill_below_pct = None

    def refill(self, unit_id: int, litres: float, minutes: float = TRUCK_MINUTES) -> None:
        """A truck pumps `litres` into the tank over `minutes` of tank time, starting in a moment."""
        bus = self.bus
        if bus is None:
            raise RuntimeError("the demo devices are not running")
        start = bus.tank_time() + TRUCK_LEAD_S * self.time.factor
        self.tanks[unit_id].schedule_refill(start, litres, minutes * 60.0)

    def stop(self) -> None:
        bus, line = self.bus, self.line
        self.bus = self.line = None
        try:
            if bus is not None:
                bus.stop()
        finally:
            if line is not None:
                line.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _demo_suppliers_configured(config_dir: Path) -> list[dict[str, str]]:
    """The demo suppliers of the `resupply:` block, secrets resolved (blocking file I/O)."""
    try:
        config = load_configuration(config_dir)
    except ConfigErrors:
        return []  # the hub reports them with file and line
    block = config.get("resupply")
    suppliers = block.get("suppliers") if isinstance(block, dict) else None
    known = {s.id for s in SUPPLIERS}
    found = []
    for entry in suppliers if isinstance(suppliers, list) else []:
        if isinstance(entry, dict) and entry.get("id") in known and entry.get("type") == "http_api":
            found.append({str(k): str(v) for k, v in entry.items() if isinstance(v, str | int | float)})
    return found


class DemoSuppliers(DemoPeer):
    """The demo's suppliers: the example supplier service on loopback, in the hub's event loop.

    `start()` serves each demo supplier of the configuration's `resupply:` block on its port and
    hands its tank over to it (the simulator's own truck no longer comes); a delivered order
    sends a truck of the delivered litres into the simulated tank of that commodity. `stop()`
    closes the servers with their timers and callbacks. Without examples/ (an installed,
    non-editable hub) `start()` logs one line and serves nothing.
    """

    def __init__(self, config_dir: Path, devices: DemoDevices,
                 *, load: Callable[[], Any | None] = load_supplier_service) -> None:  # fmt: skip
        self.config_dir = config_dir
        self.devices = devices
        self._load = load
        self.services: dict[str, Any] = {}  # supplier id -> examples.supplier_service.SupplierService
        self.urls: dict[str, str] = {}  # supplier id -> API base URL
        self.trucks: list[tuple[int, float]] = []  # (unit, litres) sent so far
        self._units: dict[str, int] = {}  # commodity -> the simulated tank its trucks fill
        self._runners: list[Any] = []

    async def start(self) -> None:
        from aiohttp import web

        module = self._load()
        if module is None:
            _LOGGER.warning("Resupply is off in this demo: the example supplier service (examples/) is only in "
                            "a source checkout; install the hub from one with `pip install -e .`")  # fmt: skip
            return
        specs = {s.id: s for s in SUPPLIERS}
        for conf in await asyncio.to_thread(_demo_suppliers_configured, self.config_dir):
            spec = specs[conf["id"]]
            url = urlsplit(conf.get("url", ""))
            if url.hostname is None or url.port is None or "api_key" not in conf:
                _LOGGER.error("Demo supplier %s needs a loopback url with a port and an api_key", spec.id)
                continue
            service = module.SupplierService(
                api_keys={conf["api_key"]: conf.get("customer_id", CUSTOMER_ID)},
                callback_secret=conf.get("callback_secret"),
                prices={spec.commodity: float(conf.get("price_per_litre", spec.price_per_litre))},
                currency=conf.get("currency", "MXN"), confirm_after=CONFIRM_AFTER_S, dispatch_after=DISPATCH_AFTER_S,
                deliver_after=DELIVER_AFTER_S, eta_after=DELIVER_AFTER_S, on_delivered=self._deliver,
            )  # fmt: skip
            runner = web.AppRunner(module.create_app(service), access_log=None)  # one line per poll is noise here
            await runner.setup()
            try:
                await web.TCPSite(runner, url.hostname, url.port).start()
            except OSError as err:
                await runner.cleanup()
                _LOGGER.error("Demo supplier %s cannot listen on %s:%d (%s); its orders wait in the outbox",
                              spec.id, url.hostname, url.port, err.strerror or err)  # fmt: skip
                continue
            self._runners.append(runner)
            self.services[spec.id] = service
            self.urls[spec.id] = f"http://{url.hostname}:{url.port}{API_PATH}"
            self._units[spec.commodity] = spec.unit_id
            self.devices.hand_over(spec.unit_id)
            _LOGGER.info("Demo supplier %s (%s) on %s", spec.name, spec.commodity, self.urls[spec.id])

    def _deliver(self, order: dict[str, Any]) -> None:
        """The service's on_delivered: the truck brings what the supplier delivered."""
        unit = self._units.get(str(order.get("commodity")))
        litres = order.get("delivered_l")
        if unit is None or not isinstance(litres, int | float) or litres <= 0 or self.devices.bus is None:
            return
        self.devices.refill(unit, float(litres))
        self.trucks.append((unit, float(litres)))
        _LOGGER.info("Demo supplier delivered order %s: %g L into unit %d over %g tank minutes",
                     order.get("id"), litres, unit, TRUCK_MINUTES)  # fmt: skip

    async def stop(self) -> None:
        """Close every server, timer and callback (each runner's cleanup closes its service)."""
        runners, self._runners = self._runners, []
        for runner in reversed(runners):
            await runner.cleanup()
        self.services.clear()
        self._units.clear()


def configured_camera_port(config_dir: Path) -> int | None:
    """The loopback port the configuration's demo camera is at (a kept directory keeps its port); None if none."""
    try:
        config = load_configuration(config_dir)
    except ConfigErrors:
        return None  # the hub reports them with file and line
    block = config.get("rtsp_camera")
    cameras = block.get("cameras") if isinstance(block, dict) else None
    for camera in cameras if isinstance(cameras, list) else []:
        url = camera.get("sub_url") if isinstance(camera, dict) else None
        if isinstance(url, str) and url.startswith("rtsp://127.0.0.1:"):
            return urlsplit(url).port
    return None
