"""The embedded demo: a configuration directory that runs with no hardware.

`write_demo_config(dir)` writes configuration.yaml: the default configuration, the demo
integration (climate sensors, a door) and a `modbus_tank:` bus with three tanks.
`DemoDevices(dir)` serves those tanks: three of our firmware slaves (`firmware.sim`, units 1-3)
on a pseudo-terminal line with real 9600-baud timing, reached through the stable symlink
`<dir>/demo-rs485`, which is pointed at a new pty on every start (so `hub demo --keep DIR`
works across runs). Tank time runs `DEMO_TIME_FACTOR` times faster than the wall clock.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from firmware.sim.pty_line import PtyLine
from firmware.sim.sensor_sim import MultiSensorBus
from firmware.sim.tank_physics import (
    LP_GAS_HOUSEHOLD,
    WATER_FAMILY,
    DemoTime,
    SimulatedTank,
    UsageProfile,
)

from .config import CONFIG_FILE, write_default_config

BAUD = 9600
DEMO_TIME_FACTOR = 60.0  # one real minute is an hour of the household's day
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


TANKS = (
    DemoTank(1, "Cistern", "water", "rectangular", {"length_m": 1.1, "width_m": 1.0, "height_m": 1.0},
             height_m=1.0, capacity_l=1100.0, profile=WATER_FAMILY, start_pct=72.0,
             refill_below_pct=20.0, refill_to_pct=95.0, area="Patio"),
    # A 450 L tinaco: Ø 0.80 m x 0.895 m.
    DemoTank(2, "Rooftop tank", "water", "vertical_cylinder", {"diameter_m": 0.8, "height_m": 0.895},
             height_m=0.895, capacity_l=math.pi * 0.4**2 * 0.895 * 1000, profile=WATER_FAMILY, start_pct=60.0,
             refill_below_pct=20.0, refill_to_pct=95.0, area="Azotea"),
    DemoTank(3, "LP gas tank", "lp_gas", "horizontal_cylinder", {"diameter_m": _LP_D, "length_m": _LP_L},
             height_m=_LP_D, capacity_l=_lp_volume_l(_LP_D), profile=LP_GAS_HOUSEHOLD, start_pct=41.0,
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


def write_demo_config(config_dir: Path, *, server_port: int | None = None) -> None:
    """Write the demo configuration into `config_dir` (an existing one is kept as it is).

    `server_port` replaces the dashboard's port (0: any free port, for tests).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    if not write_default_config(config_dir):
        return
    path = config_dir / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    if server_port is not None:
        text = text.replace("  server_port: 8123\n", f"  server_port: {server_port}\n", 1)
    link = serial_link(config_dir)
    text += DEMO_BLOCK.format(link=link, factor=DEMO_TIME_FACTOR, modbus=_modbus_block(str(link)))
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
