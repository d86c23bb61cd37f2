"""The embedded demo: a configuration directory that runs with no hardware."""

from __future__ import annotations

from pathlib import Path

from .config import CONFIG_FILE, write_default_config

DEMO_BLOCK = """
# --- hub demo -------------------------------------------------------------
# A simulated household (cistern, LP-gas tank, climate sensors, a door) so the
# dashboard has something to show. Later parts add their device simulators here.
demo:
  update_interval: 5
"""


def write_demo_config(config_dir: Path) -> None:
    """Write the demo configuration into `config_dir` (an existing one is kept as it is)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    if write_default_config(config_dir):
        with (config_dir / CONFIG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(DEMO_BLOCK)
