"""`hub demo`'s newcomer: a Wi-Fi tank sensor on the patio cistern, announced but not paired.

It is our tank sensor firmware in its Wi-Fi variant (firmware/sim/tank_wifi.py): Modbus TCP with
the PIN lock, announced as `_modbus._tcp` by the firmware's own mDNS responder. The demo starts
with it waiting in the dashboard's Discovered list, so a newcomer can pair a device: the PIN is
the line `demo_wifi_tank_pin` in secrets.yaml (the sticker on a real sensor), and the log says it.

Where it is announced follows the hub: when the hub's mDNS runs, the sensor listens and announces
on the first address the hub browses (the hub finds it as it would find a real one). When mDNS is
off (`network: {mdns: false}`, MADERAS_MDNS=off as under the tests, or no network interface) the
sensor listens on loopback and hands its announcement to the hub's pairing directly, so the demo
still has a device waiting.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from firmware.sim.tank_physics import WATER_FAMILY, SimulatedTank
from firmware.sim.tank_wifi import ServiceSpec, WifiTankSimulator, mdns_announcer

from .config import SECRETS_FILE
from .demo_peer import DemoPeer, read_secret

_LOGGER = logging.getLogger(__name__)

PIN_SECRET = "demo_wifi_tank_pin"
SERIAL = "MT5EC0A7"
HOSTNAME = "maderas-tank-5ec0a7"
DOMAIN = "modbus_tank"
# A 1100-litre patio cistern (an upright cylinder 1.2 m high), its sensor 0.2 m above the top.
CAPACITY_L, HEIGHT_M, MOUNT_M, START_PCT = 1100.0, 1.2, 1.4, 64.0


def wifi_tank_secrets() -> str:
    """secrets.yaml lines: the PIN on the demo sensor's label, made for this directory."""
    return f"\n# hub demo: the PIN on the Wi-Fi tank sensor's label (pair it from Discovered).\n" \
        f"{PIN_SECRET}: \"{secrets.randbelow(900000) + 100000}\"\n"  # fmt: skip


def read_pin(config_dir: Path) -> int | None:
    """The demo sensor's PIN from secrets.yaml, or None (blocking file I/O)."""
    text = (read_secret(config_dir, PIN_SECRET) or "").strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def found_from(spec: ServiceSpec) -> Any:
    """What the hub's mDNS browser would report for this announcement (tests hand it over the same way)."""
    from .pairing import Found

    return Found(source="zeroconf", type=spec.type, name=spec.name, host=spec.address, addresses=(spec.address,),
                 port=spec.port, properties=dict(spec.properties),
                 origin=f"zeroconf:{spec.name}.{spec.type}")  # fmt: skip


class DemoWifiTank(DemoPeer):
    """The unpaired Wi-Fi tank sensor; `hub_started(hub)` starts it once the hub's mDNS decision is known."""

    def __init__(self, config_dir: Path, *, time_scale: float = 60.0) -> None:
        self.config_dir = config_dir
        self.time_scale = time_scale
        self.pin: int | None = None
        self.sim: WifiTankSimulator | None = None

    async def start(self) -> None:
        """Read the PIN from secrets.yaml; a directory from before the newcomer gets one written there."""
        self.pin = read_pin(self.config_dir)
        if self.pin is None:
            fd = os.open(self.config_dir / SECRETS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as secrets_file:  # 0600 when it is new, as the demo writes it
                secrets_file.write(wifi_tank_secrets())
            self.pin = read_pin(self.config_dir)
            _LOGGER.info("Made the demo tank sensor's PIN: %s in secrets.yaml", PIN_SECRET)
        if self.pin is None:
            raise RuntimeError(f"{PIN_SECRET} in secrets.yaml is not a PIN")

    async def hub_started(self, hub: Any) -> None:
        """Announce the sensor where the hub listens (or hand the announcement over); never fails the demo."""
        assert self.pin is not None
        mdns = getattr(hub, "mdns", None)
        interfaces = list(mdns.status.interfaces) if mdns is not None and mdns.status.state == "running" else []
        tank = SimulatedTank(CAPACITY_L, HEIGHT_M, MOUNT_M, START_PCT, usage_profile=WATER_FAMILY, seed=7,
                             noise_mm=1.0, spike_probability=0.0)  # fmt: skip
        common: dict[str, Any] = {"serial": SERIAL, "pin": self.pin, "capacity_l": CAPACITY_L,
                                  "tank_height_m": HEIGHT_M, "time_scale": self.time_scale}  # fmt: skip
        try:
            if interfaces:
                self.sim = WifiTankSimulator(tank, host=interfaces[0], announcer=mdns_announcer(HOSTNAME), **common)
                await self.sim.start()
                _LOGGER.info("Demo Wi-Fi tank sensor %s announced on %s by mDNS; pair it from Discovered with PIN "
                             "%s (secrets.yaml)", SERIAL, interfaces[0], PIN_SECRET)  # fmt: skip
            else:
                self.sim = WifiTankSimulator(tank, host="127.0.0.1", **common)
                await self.sim.start()
                await hub.pairing.found([DOMAIN], found_from(self.sim.spec()))
                _LOGGER.info("Demo Wi-Fi tank sensor %s on 127.0.0.1:%d (mDNS is off: handed to Discovered "
                             "directly); pair it with PIN %s (secrets.yaml)", SERIAL, self.sim.port, PIN_SECRET)  # fmt: skip
        except Exception as err:  # noqa: BLE001 - the rest of the demo runs without its newcomer
            _LOGGER.warning("The demo Wi-Fi tank sensor could not start: %s", err)
            await self.stop()

    async def stop(self) -> None:
        sim, self.sim = self.sim, None
        if sim is not None:
            await sim.stop()
