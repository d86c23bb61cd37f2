"""A private, allow-all system D-Bus for tests (BlueZ mocked, avahi), and the child processes they run.

There is no system bus on this machine; tests that need one start `dbus-daemon` on a socket of their
own. Children are started with Popen (no asyncio child watcher thread) and ended without blocking
the loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

STOP_TIMEOUT_S = 5.0
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; pytest's tmp paths can be longer

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def socket_path(directory: Path, name: str) -> tuple[str, str | None]:
    """(a socket path in `directory`, or in a new short temporary folder if too long; that folder or None)."""
    path = os.path.join(str(directory), name)
    if len(path) <= MAX_SOCKET_PATH:
        return path, None
    folder = tempfile.mkdtemp(prefix="bus-")
    return os.path.join(folder, name), folder


def start_bus(workdir: Path, address: str, *, config_name: str = "system-bus.conf",
              log_name: str = "dbus-daemon.log") -> subprocess.Popen[bytes]:  # fmt: skip
    """Write an allow-all bus configuration listening on `address` and start dbus-daemon on it."""
    config = workdir / config_name
    config.write_text(BUS_CONFIG.format(address=address), encoding="utf-8")
    argv = ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", "--nosyslog"]
    return spawn(argv, workdir / log_name, dict(os.environ))


def spawn(argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child process writing to `log` (appended: a daemon may be started more than once); returns at once."""
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)


async def end(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after `timeout`; waits without blocking the loop (no child-watcher thread either)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if process.poll() is None:
            process.kill()
    while process.poll() is None:
        await asyncio.sleep(0.02)
