"""The embedded demo: a configuration directory that runs with no hardware."""

from __future__ import annotations

from pathlib import Path

from .config import write_default_config

DEMO_MARKER = "# Maderas Hub demo configuration"


def write_demo_config(config_dir: Path) -> None:
    """Write the demo configuration into `config_dir` (kept if it is already there)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    # The demo starts from the same default a new home gets; later parts add their
    # simulated devices (tank sensors, BLE beacons, a camera, a supplier, a receiver).
    write_default_config(config_dir)
