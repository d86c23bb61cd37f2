"""Private network links for mDNS tests: a namespace joined to the test process by a veth pair.

The host end of the veth gets a random 10.200-249.x.x/29 address; the hub's mDNS in the test process
binds only that address, so nothing it sends leaves on the host's real interfaces. Peers run as
subprocesses inside the namespace. Everything is removed afterwards, also when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pytest

PEER_SCRIPT = Path(__file__).with_name("mdns_peer.py")


def require_tools() -> None:
    """Root and `ip` are needed; without them skip locally, fail under CI=true (conftest turns skips into failures)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("`ip` (iproute2) is not installed")


def ip(*args: str, ns: str | None = None) -> str:
    """Run `ip ARGS` (inside namespace `ns` if given); raise with its stderr on failure."""
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Link:
    """A namespace `ns` whose `peer_if` (address `peer`) is wired to `host_if` (address `host`) here."""

    ns: str
    host_if: str
    peer_if: str
    host: str
    peer: str
    spare: str  # a third address of the /30 nobody has (until a test adds it)


def _new_link(prefix: str, host_side: str, peer_side: str) -> Link:
    """Names and a random /29 for a veth link (host .1, peer .2, .3 left free for tests that add it later)."""
    tag = f"{random.getrandbits(24):06x}"
    net = f"10.{random.randint(200, 249)}.{random.randint(0, 255)}"  # 10.250/16 is the WS-Discovery tests'
    base = random.randrange(0, 256, 8)
    return Link(f"{prefix}-{tag}", f"{host_side}{tag}", f"{peer_side}{tag}", f"{net}.{base + 1}", f"{net}.{base + 2}",
                f"{net}.{base + 3}")  # fmt: skip


def _wire(link: Link, host_ns: str | None) -> None:
    """Make `link.ns` and the veth pair from `host_ns` (None: this process's namespace) into it."""
    ip("netns", "add", link.ns)
    ip("link", "add", link.host_if, "type", "veth", "peer", "name", link.peer_if, "netns", link.ns, ns=host_ns)
    ip("addr", "add", f"{link.host}/29", "dev", link.host_if, ns=host_ns)
    ip("link", "set", link.host_if, "up", "multicast", "on", ns=host_ns)
    ip("link", "set", "lo", "up", ns=link.ns)
    ip("addr", "add", f"{link.peer}/29", "dev", link.peer_if, ns=link.ns)
    ip("link", "set", link.peer_if, "up", "multicast", "on", ns=link.ns)


@contextlib.contextmanager
def private_link() -> Iterator[Link]:
    """Make the namespace and veth pair; always delete both."""
    require_tools()
    link = _new_link("mdns", "mh", "mp")
    try:
        _wire(link, None)
        yield link
    finally:
        with contextlib.suppress(RuntimeError):
            ip("link", "del", link.host_if)
        with contextlib.suppress(RuntimeError):
            ip("netns", "del", link.ns)


@contextlib.contextmanager
def second_namespace(link: Link) -> Iterator[Link]:
    """Another namespace joined to `link.ns` (not to this process) by its own veth pair; always deleted.

    The Link it gives has `ns` the new namespace with address `peer`, and `host`/`host_if` the end
    inside `link.ns`: hub and device on two network stacks, none of them the test process's.
    """
    hop = _new_link("mdnb", "ma", "mb")
    try:
        _wire(hop, link.ns)
        yield hop
    finally:
        with contextlib.suppress(RuntimeError):
            ip("netns", "del", hop.ns)  # takes its veth end and so the pair with it


async def stop_child(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> int:
    """Ask a child to stop with `sig`, kill it after 30 s; its exit code."""
    if proc.returncode is None:
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


def namespace_exists(name: str) -> bool:
    """Whether `ip netns` still lists the namespace (for the cleanup check)."""
    return any(line.split()[0] == name for line in ip("netns", "list").splitlines() if line.strip())


class PeerProcess:
    """tests/hub/network/mdns_peer.py running inside the namespace; commands and events as JSON lines."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.events: list[dict[str, Any]] = []
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.stderr = b""

    async def __aenter__(self) -> Self:
        self._proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.link.ns, sys.executable, str(PEER_SCRIPT), self.link.peer,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="mdns peer reader")
        ready = await self._reply()
        assert ready == {"ok": "ready", "host": ready.get("host")}, ready
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            if proc.returncode is None:
                proc.stdin.write(b'{"op": "quit"}\n')
                await proc.stdin.drain()
                await asyncio.wait_for(proc.wait(), 15)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if self._reader is not None:
                await asyncio.wait_for(self._reader, 5)
            assert proc.stderr is not None
            self.stderr = await proc.stderr.read()
            proc.stdin.close()

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            (self.events.append if "event" in message else self._replies.put_nowait)(message)

    async def _reply(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self._replies.get(), 30)
        except TimeoutError:
            raise AssertionError(f"the peer did not answer; stderr: {await self._stderr_now()}") from None

    async def _stderr_now(self) -> str:
        assert self._proc is not None and self._proc.stderr is not None
        if self._proc.returncode is None:
            return "(still running)"
        return (await self._proc.stderr.read()).decode(errors="replace")

    async def send(self, **cmd: Any) -> dict[str, Any]:
        """Send one command and return the peer's reply; a peer-side error fails the test."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self._proc.stdin.drain()
        reply = await self._reply()
        assert "error" not in reply, reply
        return reply


@pytest.fixture(name="link")
def link_fixture() -> Iterator[Link]:
    """A fresh namespace and veth pair for one test (import it into the test module); checked gone after."""
    with private_link() as made:
        yield made
    assert not namespace_exists(made.ns)


@pytest.fixture(name="peer")
async def peer_fixture(link: Link) -> AsyncIterator[PeerProcess]:
    """python-zeroconf (mdns_peer.py) running inside the test's namespace."""
    async with PeerProcess(link) as running:
        yield running
