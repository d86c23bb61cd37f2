"""A private network namespace joined to the test by a veth pair, and a WS-Discovery device inside it.

The test keeps the host end of the veth (a private /30 with multicast on) and probes only from its
address, so no discovery packet reaches the host's real interfaces. The device is the `wsdiscovery`
package's publisher, run as `python wsd_netns.py ENDPOINT XADDR SCOPE...` inside the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VethNamespace:
    """A namespace `name` whose link `peer_if` (`peer_address`) faces `host_if` (`host_address`)."""

    name: str
    host_if: str
    peer_if: str
    host_address: str
    peer_address: str


def missing_tools() -> list[str]:
    """What this machine lacks for namespace tests (root, the `ip` tool); [] when all is there."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (ip netns needs CAP_SYS_ADMIN)")
    if shutil.which("ip") is None:
        missing.append("the `ip` tool (Debian package iproute2)")
    return missing


def require_tools() -> None:
    """Root and `ip` are required: a missing tool is a failure, never a skip (CI=true or not)."""
    missing = missing_tools()
    if missing:
        import pytest

        pytest.fail(f"WS-Discovery namespace test needs {', '.join(missing)} (CI={os.environ.get('CI')!r})")


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 in 10.250.0.0/16 that no route on the host overlaps (other tests make veths too)."""
    routes = []
    for line in _ip("-4", "-o", "route", "show", "table", "all").splitlines():
        first = line.split()[0] if line.split() else ""
        with contextlib.suppress(ValueError):
            routes.append(ipaddress.IPv4Network(first if first != "default" else "0.0.0.0/0", strict=False))
    for _ in range(100):
        subnet = ipaddress.IPv4Network(f"10.250.{random.randrange(256)}.{random.randrange(64) * 4}/30")
        if not any(subnet.overlaps(route) for route in routes if route.prefixlen > 0):
            return subnet
    raise RuntimeError("no free /30 in 10.250.0.0/16")


@contextlib.contextmanager
def veth_namespace() -> Iterator[VethNamespace]:
    """Create the namespace and veth pair; always remove both, whatever happened in between."""
    tag = f"{os.getpid() % 100000}{random.randrange(1000):03d}"
    name, host_if, peer_if = f"wsd-{tag}", f"wsdh{tag}", f"wsdp{tag}"
    subnet = _free_subnet()
    host_address, peer_address = (str(a) for a in subnet.hosts())
    try:
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", name)
        _ip("addr", "add", f"{host_address}/30", "dev", host_if)
        _ip("link", "set", host_if, "multicast", "on", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{peer_address}/30", "dev", peer_if)
        _ip("-n", name, "link", "set", peer_if, "multicast", "on", "up")
        yield VethNamespace(name, host_if, peer_if, host_address, peer_address)
    finally:
        # Deleting the namespace destroys its veth end, which takes the host end with it.
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", host_if], check=False, capture_output=True, timeout=30)


def leftovers(ns: VethNamespace) -> list[str]:
    """The parts of `ns` still present on the host (for asserting the cleanup)."""
    found = []
    if ns.name in _ip("netns", "list").split():
        found.append(ns.name)
    if subprocess.run(["ip", "link", "show", ns.host_if], check=False, capture_output=True, timeout=30).returncode == 0:
        found.append(ns.host_if)
    return found


@dataclass(frozen=True)
class Device:
    """What the publisher announces."""

    endpoint: str
    xaddr: str
    scopes: tuple[str, ...]


@contextlib.asynccontextmanager
async def publisher(ns: VethNamespace, device: Device, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run the `wsdiscovery` publisher for `device` in `ns` until the block ends."""
    with log.open("wb") as errors:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", ns.name, sys.executable, str(Path(__file__).resolve()),
            json.dumps({"endpoint": device.endpoint, "xaddr": device.xaddr, "scopes": list(device.scopes)}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        if line.strip() != b"ready":
            raise RuntimeError(f"publisher did not start: {line!r} {log.read_text(errors='replace')[-2000:]}")
        yield proc
    finally:
        # Closing stdin asks the publisher to stop; kill it if it does not.
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _publish(spec: dict[str, object]) -> None:
    """The device side: publish one NetworkVideoTransmitter until stdin closes."""
    from wsdiscovery import QName, Scope  # type: ignore[import-untyped]
    from wsdiscovery.publishing import ThreadedWSPublishing  # type: ignore[import-untyped]

    scopes = spec["scopes"]
    assert isinstance(scopes, list)
    wsd = ThreadedWSPublishing(uuid_=spec["endpoint"])
    wsd.start()
    try:
        wsd.publishService(
            types=[QName("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter", "dn")],
            scopes=[Scope(str(s)) for s in scopes],
            xAddrs=[spec["xaddr"]],
        )
        print("ready", flush=True)
        sys.stdin.read()
        # Leaving cleanly: the Bye goes out through the networking thread (SOAP-over-UDP repeats
        # multicasts with random delays), which stop() would end before it sent anything.
        wsd.clearLocalServices()
        time.sleep(1.5)
    finally:
        wsd.stop()


if __name__ == "__main__":
    _publish(json.loads(sys.argv[1]))
