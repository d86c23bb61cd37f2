"""The `hub` command: run, demo, check-config, user, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, cli_user

if TYPE_CHECKING:
    from .runtime import Hub

_LOGGER = logging.getLogger("hub")

DEFAULT_CONFIG_DIR = Path(os.environ.get("MADERAS_CONFIG", "~/.config/maderas-hub")).expanduser()
STOP_DEADLINE = 5.0  # seconds between SIGTERM and the process exiting, whatever hangs


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run one sub-command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"maderas-hub {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    _setup_logging(args.log_level)
    handler = {"run": _cmd_run, "demo": _cmd_demo, "check-config": _cmd_check_config, "user": cli_user.run}[
        args.command
    ]
    return handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Maderas Hub: the home hub for Ciudad Maderas.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the hub on a configuration directory")
    run.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG_DIR, help="configuration directory")
    demo = sub.add_parser("demo", help="run the hub on its embedded demo configuration (no hardware)")
    demo.add_argument("--keep", type=Path, default=None, help="use this directory instead of a temporary one")
    check = sub.add_parser("check-config", help="validate the configuration and print every error")
    check.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG_DIR, help="configuration directory")
    cli_user.add_parser(sub, DEFAULT_CONFIG_DIR)
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _cmd_check_config(args: argparse.Namespace) -> int:
    from .check import check_configuration

    errors = check_configuration(args.config)
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} error(s) in {args.config}", file=sys.stderr)
        return 1
    print(f"configuration in {args.config} is valid")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .config import write_default_config

    config_dir: Path = args.config
    if write_default_config(config_dir):
        _LOGGER.info("Wrote a default configuration to %s", config_dir / "configuration.yaml")
    return asyncio.run(_run_hub(config_dir))


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.keep is not None:
        return _run_demo(args.keep)
    with tempfile.TemporaryDirectory(prefix="maderas-demo-") as tmp:
        _LOGGER.info("Demo configuration in %s (deleted on exit)", tmp)
        return _run_demo(Path(tmp))


def _run_demo(config_dir: Path) -> int:
    """Write the demo configuration, start its simulated peers, run the hub on it, stop them after it."""
    from .demo import DemoDevices, DemoSuppliers, configured_camera_port, write_demo_config
    from .demo_camera import DemoCamera
    from .demo_climate import DemoClimate
    from .demo_receiver import DemoReceiver
    from .demo_wifi_tank import DemoWifiTank

    write_demo_config(config_dir, alarms=True, climate=True, camera=True, wifi_tank=True)
    camera_port = configured_camera_port(config_dir)
    with DemoDevices(config_dir) as devices:
        _LOGGER.info("Simulated tank sensors (firmware, units 1-3) on %s, tank time x%g",
                     devices.link, devices.time.factor)  # fmt: skip

        async def hub_with_peers() -> int:  # suppliers, receiver, beacons and camera share the hub's loop, stop after it
            async with (
                DemoSuppliers(config_dir, devices), DemoReceiver(config_dir), DemoClimate(config_dir) as climate,
                DemoCamera(config_dir, port=camera_port or 0), DemoWifiTank(config_dir) as newcomer,
            ):  # fmt: skip
                return await _run_hub(config_dir, prepare=climate.attach, started=newcomer.hub_started)

        return asyncio.run(hub_with_peers())


async def _run_hub(
    config_dir: Path,
    *,
    prepare: Callable[[Hub], None] | None = None,
    started: Callable[[Hub], Awaitable[None]] | None = None,
) -> int:
    """Run a hub until SIGTERM / SIGINT; `prepare(hub)` runs before it starts, `started(hub)` after (demo stand-ins)."""
    from .runtime import Hub

    hub = Hub(config_dir)
    if prepare is not None:
        prepare(hub)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def request_stop(signame: str) -> None:
        if stopping:
            return
        _LOGGER.info("Received %s, stopping", signame)
        stopping.append(loop.create_task(hub.stop(), name="hub:stop"))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        try:
            await hub.start()
        except Exception as err:  # noqa: BLE001 - a clear message instead of a traceback for a person at a terminal
            _LOGGER.error("The hub could not start: %s", err)
            return 1
        for error in hub.config_errors:
            _LOGGER.error("Configuration: %s", error)
        _LOGGER.info("Hub ready in %s (%d integrations loaded)%s", config_dir, _loaded_count(hub), _where(hub))
        if started is not None:
            await started(hub)
        await hub.wait_stopped()
        return 0
    finally:
        # The demo's peers stop after the hub on this loop: a second Ctrl-C then interrupts them as usual.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _where(hub: object) -> str:
    """' on http://HOST:PORT', or why the dashboard is not served."""
    http = getattr(hub, "http", None)
    if http is None:
        return ""
    if not http.running:
        return f"; dashboard and API not available: {http.error}"
    return f" on {http.url}"


def _loaded_count(hub: object) -> int:
    manager = getattr(hub, "integrations", None)
    if manager is None:
        return 0
    return sum(1 for s in manager.statuses() if s.state == "loaded")
