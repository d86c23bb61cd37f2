"""The firmware's mDNS responder on a real link: python-zeroconf and avahi find it, in a private namespace only."""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zeroconf import DNSOutgoing, DNSQuestion

from firmware.mdns import Responder, Service
from firmware.mdns.responder import ANNOUNCING, RUNNING
from firmware.sim.mdns_host import IP_UNICAST_IF, HostResponder

# The netns harness lives with the hub's mDNS tests; it is reused here, not copied.
sys.path.append(str(Path(__file__).resolve().parents[2] / "hub" / "network"))
from avahi_peer import AvahiPeer, Resolved, require_avahi
from netns import Link, PeerProcess, link_fixture, namespace_exists, peer_fixture, private_link  # noqa: F401 - the link and peer fixtures
from waiting import until

MODBUS = "_modbus._tcp.local."
TXT = {"vendor": "Maderas", "model": "MT-1", "fw": "1.0", "unit": "1", "serial": "00AB"}
INSTANCE = "Tank 00AB"
HOST = "maderas-tank-00ab"




def tank(link: Link) -> Responder:
    return Responder(HOST, link.host, [Service(INSTANCE, "_modbus._tcp", 502, TXT)])


def events(peer: PeerProcess, kind: str, name: str) -> list[dict[str, Any]]:
    return [e for e in peer.events if e["event"] == kind and e["name"] == name]


def assert_only_on(runner: HostResponder, link: Link) -> None:
    """Both sockets stay on the veth: bound there, multicasting through it, unicast pinned to it."""
    send, receive = runner.send_socket, runner.receive_socket
    assert send is not None and receive is not None
    assert send.getsockname() == (link.host, 5353)
    assert receive.getsockname() == ("224.0.0.251", 5353)
    assert socket.inet_ntoa(send.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4)) == link.host
    assert send.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 255
    index = socket.if_nametoindex(link.host_if)
    assert struct.unpack("!I", send.getsockopt(socket.IPPROTO_IP, IP_UNICAST_IF, 4)) == (index,)
    assert runner.interface is not None and runner.interface.name == link.host_if


async def test_zeroconf_resolves_the_announced_service_and_drops_it_on_goodbye(link: Link, peer: PeerProcess) -> None:
    await peer.send(op="browse", type=MODBUS)
    responder = tank(link)
    async with HostResponder(responder, link.host) as runner:
        assert responder.state in (ANNOUNCING, RUNNING)
        assert_only_on(runner, link)
        [added] = await until(lambda: events(peer, "added", f"{INSTANCE}.{MODBUS}"), "the peer to resolve us", 30)
        assert added["port"] == 502 and added["addresses"] == [link.host]
        assert added["properties"] == TXT and added["server"] == f"{HOST}.local."
    removed = await until(lambda: events(peer, "removed", f"{INSTANCE}.{MODBUS}"), "the goodbye", 30)
    assert len(removed) == 1 and responder.state == "stopped" and responder.errors == 0


async def test_a_browser_started_later_gets_our_answer_to_its_query(link: Link, peer: PeerProcess) -> None:
    responder = tank(link)
    async with HostResponder(responder, link.host):
        await until(lambda: responder.state == RUNNING, "the announcements to end", 30)
        # this browser missed the announcements: it must ask, and resolve from our answer's records
        await peer.send(op="browse", type=MODBUS)
        [added] = await until(lambda: events(peer, "added", f"{INSTANCE}.{MODBUS}"), "the answer to the query", 30)
        assert (added["port"], added["addresses"], added["properties"]) == (502, [link.host], TXT)
        assert responder.malformed == 0 and responder.errors == 0


async def test_a_taken_instance_and_host_name_make_our_probe_rename(link: Link, peer: PeerProcess) -> None:
    # python-zeroconf in the namespace owns both names already, with its own address and port
    await peer.send(op="register", type=MODBUS, name=INSTANCE, host=HOST, port=6053, properties={"x": "1"})
    await peer.send(op="browse", type=MODBUS)
    responder = tank(link)
    async with HostResponder(responder, link.host):
        service = responder.services[0]

        def renamed() -> bool:
            return responder.state == RUNNING and responder.hostname() == f"{HOST}-2.local."

        await until(renamed, "both renames", 60)
        assert service.name() == f"{INSTANCE} (2)" and responder.conflicts >= 1
        [ours] = await until(lambda: events(peer, "added", f"{INSTANCE} (2).{MODBUS}"), "the renamed service", 30)
        assert (ours["port"], ours["addresses"], ours["server"]) == (502, [link.host], f"{HOST}-2.local.")
        [theirs] = events(peer, "added", f"{INSTANCE}.{MODBUS}")
        assert theirs["port"] == 6053 and theirs["addresses"] == [link.peer]


async def test_unicast_replies_never_leave_for_an_address_off_the_link(link: Link) -> None:
    responder = tank(link)
    async with HostResponder(responder, link.host) as runner:
        await until(lambda: responder.state == RUNNING, "the announcements to end", 30)
        out = DNSOutgoing(0, multicast=False, id_=7)
        out.add_question(DNSQuestion(f"{HOST}.local.", 1, 1))
        [query] = out.packets()
        # the same legacy query, as if from an asker on the veth and from one behind a router
        runner.received(query, link.peer, 40000)
        assert runner.dropped == 0
        runner.received(query, "192.0.2.1", 40000)
        assert runner.dropped == 1 and responder.errors == 0


async def test_an_address_no_interface_has_is_refused_and_a_start_given_up_leaves_nothing_open(link: Link) -> None:
    with pytest.raises(ValueError, match=f"no network interface has the address {link.spare}"):
        await HostResponder(tank(link), link.spare).start()
    runner = HostResponder(tank(link), link.host)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(runner.start(), 0.05)  # probing takes at least 750 ms
    assert runner.send_socket is not None and runner.send_socket.fileno() == -1
    assert runner.receive_socket is not None and runner.receive_socket.fileno() == -1
    assert runner.responder.state == "stopped"


@pytest.fixture
def avahi_link() -> Iterator[Link]:
    require_avahi()
    with private_link() as made:
        yield made
    assert not namespace_exists(made.ns)


async def test_avahi_resolves_the_service_with_its_txt_and_drops_it_after_the_goodbye(
    avahi_link: Link, tmp_path: Path
) -> None:
    link = avahi_link
    async with AvahiPeer(link, tmp_path) as avahi:

        async def found() -> list[Resolved]:
            return [r for r in await avahi.browse("_modbus._tcp") if r.name == INSTANCE]

        responder = tank(link)
        async with HostResponder(responder, link.host):
            [entry] = await until(found, "avahi-browse to resolve the tank", 60)
            assert (entry.interface, entry.protocol, entry.type, entry.domain) == (
                link.peer_if,
                "IPv4",
                "_modbus._tcp",
                "local",
            )
            assert entry.txt == TXT and entry.port == 502
            assert entry.address == link.host and entry.host == f"{HOST}.local"

        async def gone() -> bool:
            return not await found()

        assert await until(gone, "avahi to drop the tank after its goodbye", 60)
