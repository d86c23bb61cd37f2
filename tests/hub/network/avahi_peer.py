"""avahi as an independent mDNS peer inside a test's network namespace (tests/hub/network/netns.py).

avahi-browse and avahi-publish reach avahi-daemon only over D-Bus, and there is no system bus
here, so the peer starts a private dbus-daemon (allow-all, on a socket in the test's directory)
and an avahi-daemon inside the namespace with a private tmpfs over /run (its pid file and
socket) and /etc/avahi/services (no host service files), joined only to the namespace's veth end.
The tools run inside the namespace too, so the interface names they print are the namespace's.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pytest
from netns import Link
from private_bus import end, spawn, start_bus

START_TIMEOUT_S = 30.0  # generous: two cores shared by several test runs
STOP_TIMEOUT_S = 5.0
BROWSE_TIMEOUT_S = 20.0
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes
TOOLS = {
    "dbus-daemon": "dbus-daemon", "avahi-daemon": "avahi-daemon",
    "avahi-browse": "avahi-utils", "avahi-publish": "avahi-utils",
}  # fmt: skip


# IPv4 only and nothing of its own published but its host name's address: the tests see only what they ask for.
AVAHI_CONFIG = """[server]
host-name={host_name}
use-ipv4=yes
use-ipv6=no
allow-interfaces={interface}
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
[reflector]
[rlimits]
"""

# Runs inside `ip netns exec NS unshare --mount`: the tmpfs mounts stay in this process's own mount
# namespace. `mount -n` writes no utab entry on the host's /run.
_DAEMON_SCRIPT = 'mount -n -t tmpfs tmpfs /run && mount -n -t tmpfs tmpfs /etc/avahi/services && exec "$@"'


def require_avahi() -> None:
    """The daemons and tools must be installed: fail under CI=true, skip elsewhere (with the apt package)."""
    missing = sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})
    if not missing:
        return
    reason = f"avahi peer: apt-get install {' '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class Resolved:
    """One resolved service as avahi-browse printed it (the `=` lines of `-rpt`), unescaped."""

    interface: str
    protocol: str
    name: str
    type: str
    domain: str
    host: str
    address: str
    port: int
    txt: dict[str, str] = field(hash=False)
    txt_order: tuple[str, ...]  # the entries as printed (avahi prints them in reverse order)


def unescape(text: str) -> str:
    r"""avahi's printable form back to text: `\032` is a byte in decimal, `\;` a literal; then UTF-8."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\" and re.fullmatch(r"\d{3}", text[i + 1 : i + 4]):
            out.append(int(text[i + 1 : i + 4]))
            i += 4
        elif text[i] == "\\" and i + 1 < len(text):
            out += text[i + 1].encode()
            i += 2
        else:
            out += text[i].encode()
            i += 1
    return out.decode("utf-8")


def parse_txt(field_text: str) -> tuple[str, ...]:
    """`"a=1" "b=2"` into its entries, with `\\"`, `\\\\` and `\\DDD` undone."""
    return tuple(unescape(m) for m in re.findall(r'"((?:[^"\\]|\\.)*)"', field_text))


def parse_browse(output: str) -> list[Resolved]:
    """The resolved (`=`) lines of `avahi-browse -rpt`; `+` and `-` lines carry no address and are skipped."""
    found: list[Resolved] = []
    for line in output.splitlines():
        if not line.startswith("=;"):
            continue
        # Names escape `;` as `\059`, so the first nine separators are real; TXT (last) is not escaped for `;`.
        _, interface, proto, name, kind, domain, host, address, port, txt = line.split(";", 9)
        entries = parse_txt(txt)
        found.append(Resolved(
            interface, proto, unescape(name), unescape(kind), unescape(domain), unescape(host), address, int(port),
            dict(entry.partition("=")[::2] for entry in entries), entries,
        ))  # fmt: skip
    return found


class AvahiPeer:
    """A private system bus and an avahi-daemon in `link`'s namespace; browse and publish through them."""

    def __init__(self, link: Link, workdir: Path) -> None:
        self.link = link
        self.workdir = workdir
        self.host_name = f"avahi-{link.ns}"
        self.bus_address = ""
        self._socket_dir: str | None = None  # a short temporary directory when workdir's path is too long
        self._bus: subprocess.Popen[bytes] | None = None
        self._daemon: subprocess.Popen[bytes] | None = None
        self._published: list[Published] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment for the daemon and the tools: the private bus as the system bus."""
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.bus_address}

    async def __aenter__(self) -> Self:
        require_avahi()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start(self) -> None:
        socket_dir = str(self.workdir)
        if len(os.path.join(socket_dir, "bus")) > MAX_SOCKET_PATH:
            socket_dir = self._socket_dir = tempfile.mkdtemp(prefix="avahi-bus-")
        socket = os.path.join(socket_dir, "bus")
        self.bus_address = f"unix:path={socket}"
        self._bus = start_bus(self.workdir, self.bus_address, config_name="avahi-bus.conf")
        await self._wait(lambda: os.path.exists(socket), "the private dbus-daemon's socket", self._bus)
        conf = self.workdir / "avahi-daemon.conf"
        conf.write_text(AVAHI_CONFIG.format(host_name=self.host_name, interface=self.link.peer_if), encoding="utf-8")
        argv = ["ip", "netns", "exec", self.link.ns, "unshare", "--mount", "--propagation", "private",
                "sh", "-c", _DAEMON_SCRIPT, "avahi-daemon",
                "avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits", "--no-proc-title", "-f", str(conf)]  # fmt: skip
        self._daemon = spawn(argv, self.workdir / "avahi-daemon.log", self.env)
        await self._wait(lambda: "Server startup complete" in self.logs(), "avahi-daemon to start", self._daemon)

    async def stop(self) -> None:
        """End every publisher, the daemon and the bus; safe to call twice."""
        for published in list(self._published):
            await published.stop()
        for attr in ("_daemon", "_bus"):
            process = getattr(self, attr)
            setattr(self, attr, None)
            if process is not None:
                await end(process)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def logs(self) -> str:
        """What the bus and the daemon wrote: for assertion messages."""
        paths = [self.workdir / "dbus-daemon.log", self.workdir / "avahi-daemon.log"]
        return "\n".join(p.read_text(errors="replace") for p in paths if p.exists())

    async def browse(self, service_type: str) -> list[Resolved]:
        """`avahi-browse -rpt TYPE` in the namespace: what the daemon has cached and resolves now."""
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.link.ns, "avahi-browse", "-rpt", service_type,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), BROWSE_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"avahi-browse did not finish\n{self.logs()}") from None
        assert proc.returncode == 0, f"avahi-browse: {err.decode(errors='replace')}\n{self.logs()}"
        return parse_browse(out.decode())

    async def publish(self, name: str, service_type: str, port: int, txt: Sequence[str] = ()) -> Published:
        """`avahi-publish -s NAME TYPE PORT TXT...`, kept running until its `stop()` (or the peer's)."""
        published = Published(self, name, service_type, port, tuple(txt))
        self._published.append(published)
        await published.start()
        return published

    async def _wait(self, probe: Callable[[], object], what: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not probe():
            if process.poll() is not None:
                raise AssertionError(f"{what}: the process exited with {process.returncode}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            await asyncio.sleep(0.05)


class Published:
    """One avahi-publish process: announcing while it runs; stopping it withdraws the service (goodbye)."""

    def __init__(self, peer: AvahiPeer, name: str, service_type: str, port: int, txt: tuple[str, ...]) -> None:
        self.peer = peer
        self.name = name
        self.type = service_type
        self.port = port
        self.txt = txt
        self.log = peer.workdir / f"avahi-publish-{len(peer._published)}.log"
        self.established_as: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        argv = ["ip", "netns", "exec", self.peer.link.ns, "avahi-publish", "-s", self.name, self.type, str(self.port),
                *self.txt]  # fmt: skip
        self._process = spawn(argv, self.log, self.peer.env)
        pattern = re.compile(r"Established under name '(.*)'")
        await self.peer._wait(lambda: pattern.search(self._output()), f"avahi-publish of {self.name!r}", self._process)
        match = pattern.search(self._output())
        assert match is not None
        self.established_as = match.group(1)

    def _output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self) -> None:
        """End the publisher: its D-Bus client goes, so the daemon withdraws the entry group."""
        process, self._process = self._process, None
        if process is not None:
            await end(process)
        if self in self.peer._published:
            self.peer._published.remove(self)
