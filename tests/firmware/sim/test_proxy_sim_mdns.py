"""The BLE proxy simulator announces `_maderas-proxy._tcp` like the real proxy will, in a private namespace."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from firmware.ble_proxy import protocol
from firmware.sim.proxy_sim import FIRMWARE, PROXY_SERVICE_TYPE, SimulatedProxy
from hub.clock import ManualClock
from hub.loader import discovery_index
from hub.manifest import Integration, Source
from hub.network import FoundService, MdnsService

# The netns harness lives with the hub's mDNS tests; it is reused here, not copied.
sys.path.append(str(Path(__file__).resolve().parents[2] / "hub" / "network"))
from netns import Link, PeerProcess, link_fixture, namespace_exists, private_link  # noqa: F401 - the link and peer fixtures
from waiting import until

ROOT = Path(__file__).resolve().parents[3]



def closed_port() -> int:
    """A local TCP port nobody listens on: the simulator's hub connection is refused and retried."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_off_by_default_and_announced_with_its_txt_until_stopped(link: Link) -> None:
    quiet = SimulatedProxy("127.0.0.1", closed_port(), proxy_id="proxy-quiet", token="t")
    assert quiet.announcement is None

    port = closed_port()
    proxy = SimulatedProxy("127.0.0.1", port, proxy_id="proxy-roof", token="t", mdns_interfaces=[link.host])
    async with PeerProcess(link) as peer:
        await peer.send(op="browse", type=PROXY_SERVICE_TYPE)
        proxy.start()
        try:
            added = await until(lambda: [e for e in peer.events if e["event"] == "added"], "the peer to see the proxy", 30)
            assert proxy.announcement is not None and proxy.announcement.announcing
            assert added[0]["name"] == f"proxy-roof.{PROXY_SERVICE_TYPE}"
            assert added[0]["properties"] == {
                "id": "proxy-roof", "fw": FIRMWARE, "proto": str(protocol.VERSION), "hub_port": str(port)
            }
            assert added[0]["addresses"] == [link.host] and added[0]["port"] == 0
            assert added[0]["server"] == "maderas-proxy-proxy-roof.local."
            # announcing does not hold up the hub connection: it is being tried (and refused) meanwhile
            await until(lambda: proxy.last_error is not None, "the first connection attempt", 30)
        finally:
            await proxy.stop()
        assert not proxy.announcement.announcing
        removed = await until(lambda: [e for e in peer.events if e["event"] == "removed"], "the proxy's goodbye", 30)
        assert removed[0]["name"] == f"proxy-roof.{PROXY_SERVICE_TYPE}"


async def test_the_command_line_simulator_in_the_namespace_is_found_by_the_hub(
    link: Link, clock: ManualClock, tmp_path: Path
) -> None:
    index = discovery_index([Integration(
        domain="ble_proxy", name="BLE proxy", version="1", path=Path("nowhere"), module="x.ble_proxy",
        source=Source.custom, iot_class="local_push",
        zeroconf=({"type": "_maderas-proxy._tcp.local.", "properties": {"id": "*"}},),
    )])  # fmt: skip
    found: list[FoundService] = []
    removed: list[FoundService] = []
    mdns = MdnsService("0" * 32, "Hub", "1", 8123, interfaces=[link.host], index=index, clock=clock, announce=False,
                       on_found=found.append, on_removed=removed.append)  # fmt: skip
    await mdns.start()
    log = tmp_path / "proxy_sim.log"
    sim = _spawn_sim(link, log)
    try:
        await until(lambda: found or sim.poll() is not None, "the hub to find the simulator", 60)
        assert sim.poll() is None, log.read_text()
        [proxy] = found
        assert (proxy.type, proxy.name, proxy.addresses, proxy.port) == (
            PROXY_SERVICE_TYPE, "proxy-garage", (link.peer,), 0)
        assert proxy.properties == {
            "id": "proxy-garage", "fw": FIRMWARE, "proto": str(protocol.VERSION), "hub_port": str(protocol.DEFAULT_PORT)
        }
        assert proxy.domains == ("ble_proxy",) and proxy.host == "maderas-proxy-proxy-garage.local."

        sim.send_signal(signal.SIGINT)  # Ctrl-C: the simulator stops and says goodbye
        await until(lambda: removed, "the simulator's goodbye", 60)
        assert [r.full_name for r in removed] == [f"proxy-garage.{PROXY_SERVICE_TYPE}"]
        await until(lambda: sim.poll() is not None, "the simulator to exit", 30)
        assert sim.returncode == 0, log.read_text()
    finally:
        await mdns.stop()
        await _end(sim)


def _spawn_sim(link: Link, log: Path) -> subprocess.Popen[bytes]:
    """`python -m firmware.sim.proxy_sim --mdns PEER` inside the namespace, its output in `log`."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            ["ip", "netns", "exec", link.ns, sys.executable, "-m", "firmware.sim.proxy_sim", "--host", "127.0.0.1",
             "--id", "proxy-garage", "--token", "t", "--mdns", link.peer],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def _end(process: subprocess.Popen[bytes]) -> None:
    """Kill it if it is still running; wait without blocking the loop."""
    if process.poll() is None:
        process.kill()
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
