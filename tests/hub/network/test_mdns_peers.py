"""The hub's mDNS against a python-zeroconf peer in a private network namespace, over a veth pair."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from mdns_index import INDEX, Recorder
from netns import Link, PeerProcess, link_fixture, namespace_exists, peer_fixture, private_link  # noqa: F401 - the link and peer fixtures
from waiting import until

from hub.clock import ManualClock
from hub.network import MdnsService

HUB_ID = "0123456789abcdef0123456789abcdef"
ESPHOME = "_esphomelib._tcp.local."
RTSP = "_rtsp._tcp.local."




def service(link: Link, seen: Recorder, clock: ManualClock, **kw: Any) -> MdnsService:
    kw.setdefault("interfaces", [link.host])
    return MdnsService(
        HUB_ID, "Casa Maderas", "1.2.3", 8123, index=INDEX, clock=clock,
        on_found=seen.found.append, on_updated=seen.updated.append, on_removed=seen.removed.append, **kw,
    )


async def test_peer_sees_the_hub_with_its_txt_on_the_veth_address_and_goodbye_on_stop(
    link: Link, peer: PeerProcess, clock: ManualClock
) -> None:
    await peer.send(op="browse", type="_maderas._tcp.local.")
    mdns = service(link, Recorder(), clock)
    await mdns.start()
    try:
        assert mdns.status.state == "running" and mdns.status.interfaces == (link.host,)
        assert mdns.status.name == "Casa Maderas"
        added = await until(lambda: [e for e in peer.events if e["event"] == "added"], "the peer to see the hub", 30)
        assert added[0]["name"] == "Casa Maderas._maderas._tcp.local."
        assert added[0]["properties"] == {"id": HUB_ID, "version": "1.2.3", "api_port": "8123", "path": "/"}
        assert added[0]["addresses"] == [link.host] and added[0]["port"] == 8123
        assert added[0]["server"] == "maderas-0123456789ab.local."
        _assert_bound_only_to(mdns, link.host)
    finally:
        await mdns.stop()
    assert mdns.status.state == "stopped"
    removed = await until(lambda: [e for e in peer.events if e["event"] == "removed"], "the goodbye", 30)
    assert removed[0]["name"] == "Casa Maderas._maderas._tcp.local."


def _assert_bound_only_to(mdns: MdnsService, address: str) -> None:
    """Every socket that sends is bound to the veth address and multicasts through it, nowhere else."""
    zc = mdns._zc
    assert zc is not None
    senders = zc.zeroconf.engine.senders
    assert senders
    for wrapped in senders:
        sock: socket.socket = wrapped.transport.get_extra_info("socket")
        assert sock.getsockname()[0] == address
        multicast_if = socket.inet_ntoa(sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, 4))
        assert multicast_if == address


async def test_hub_finds_matching_services_follows_txt_changes_and_removals(
    link: Link, peer: PeerProcess, clock: ManualClock
) -> None:
    seen = Recorder()
    mdns = service(link, seen, clock, announce=False)
    await mdns.start()
    try:
        assert mdns.service_types == [ESPHOME, RTSP]
        await peer.send(op="register", type=ESPHOME, name="kitchen", port=6053,
                        properties={"mac": "a4cf12b3c4d5", "version": "2024.6.1"})
        await peer.send(op="register", type=RTSP, name="cam-door", port=554, properties={})
        await peer.send(op="register", type="_http._tcp.local.", name="printer", port=80, properties={})
        await until(lambda: len(seen.found) == 2, "both devices found", 30)
        by_type = {f.type: f for f in seen.found}
        esp = by_type[ESPHOME]
        assert (esp.name, esp.host, esp.addresses, esp.port) == ("kitchen", "peer-kitchen.local.", (link.peer,), 6053)
        assert esp.properties == {"mac": "a4cf12b3c4d5", "version": "2024.6.1"} and esp.domains == ("esphome",)
        assert esp.full_name == "kitchen._esphomelib._tcp.local."
        cam = by_type[RTSP]
        assert cam.domains == ("cam_brand", "rtsp_camera") and cam.port == 554

        await peer.send(op="update", type=ESPHOME, name="kitchen", port=6053,
                        properties={"mac": "a4cf12b3c4d5", "version": "2024.7.0"})
        await until(lambda: seen.updated, "the TXT change", 30)
        assert seen.updated[-1].properties["version"] == "2024.7.0"

        await peer.send(op="unregister", type=RTSP, name="cam-door")
        await until(lambda: seen.removed, "the camera's goodbye", 30)
        assert [r.name for r in seen.removed] == ["cam-door"]
        assert set(mdns.found) == {"kitchen._esphomelib._tcp.local."}
        # the printer was never reported: nothing asks for _http._tcp
        assert all(f.type != "_http._tcp.local." for f in seen.found + seen.updated)
    finally:
        await mdns.stop()


async def test_malformed_txt_is_dropped_and_browsing_goes_on(
    link: Link, peer: PeerProcess, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Recorder()
    mdns = service(link, seen, clock, announce=False)
    await mdns.start()
    try:
        # a length byte of 0x40 with 3 bytes behind it, then a key that is not UTF-8
        await peer.send(op="raw", type=ESPHOME, name="broken", txt_hex="40" + b"mac".hex())
        await peer.send(op="raw", type=ESPHOME, name="latin", txt_hex=(b"\x06mac=\xe9\xe9\x05\xff\xfe=ab").hex())
        await peer.send(op="register", type=ESPHOME, name="good", properties={"mac": "01", "blob": b"x".decode()})
        await until(lambda: any(f.name == "good" for f in seen.found), "the good device after the broken ones", 30)
        assert all(f.name != "broken" for f in seen.found)
        # not UTF-8: the value is kept as bytes, the undecodable key dropped, and it still matches mac=*
        latin = await until(lambda: [f for f in seen.found if f.name == "latin"], "the non-UTF-8 device", 30)
        assert latin[0].properties == {"mac": b"\xe9\xe9"}
        assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    finally:
        await mdns.stop()


async def test_no_interface_is_a_status_retried_on_the_hub_clock(
    link: Link, peer: PeerProcess, clock: ManualClock
) -> None:
    await peer.send(op="browse", type="_maderas._tcp.local.")
    mdns = service(link, Recorder(), clock, interfaces=[link.spare])
    await mdns.start()
    try:
        assert mdns.status.state == "no_interface"
        assert mdns.status.reason == (
            f"no network interface for mDNS: none of {link.spare} is an interface with an IPv4 address here"
        )
        assert mdns.status.interfaces == ()
        from netns import ip

        ip("addr", "add", f"{link.spare}/29", "dev", link.host_if)
        await clock.advance(59)
        assert mdns.status.state == "no_interface"
        await clock.advance(1)
        await until(lambda: mdns.status.state == "running", "the retry to bind the new address", 30)
        assert mdns.status.interfaces == (link.spare,)
        added = await until(lambda: [e for e in peer.events if e["event"] == "added"], "the peer to see the hub", 30)
        assert link.spare in added[0]["addresses"]
    finally:
        await mdns.stop()
