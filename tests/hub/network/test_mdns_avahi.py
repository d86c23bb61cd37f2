"""The hub's mDNS against avahi, an independent implementation, in a private namespace over a veth pair."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from avahi_peer import AvahiPeer, Resolved, parse_browse, require_avahi
from mdns_index import INDEX, Recorder
from netns import Link, namespace_exists, private_link
from waiting import until

from hub.clock import ManualClock
from hub.network import FoundService, MdnsService

HUB_ID = "fedcba9876543210fedcba9876543210"
HUB_NAME = "Casa Ñandú; norte"  # a space, a ';' and non-ASCII: avahi escapes all three when it prints


@pytest.fixture
def link() -> Iterator[Link]:
    require_avahi()
    with private_link() as made:
        yield made
    assert not namespace_exists(made.ns)


@pytest.fixture
async def avahi(link: Link, tmp_path: Path) -> AsyncIterator[AvahiPeer]:
    async with AvahiPeer(link, tmp_path) as peer:
        yield peer
    assert "Server startup complete" in peer.logs()


def hub_service(link: Link, seen: Recorder, clock: ManualClock, *, announce: bool) -> MdnsService:
    return MdnsService(
        HUB_ID, HUB_NAME, "2.0.1", 8443, interfaces=[link.host], index=INDEX, clock=clock, announce=announce,
        on_found=seen.found.append, on_removed=seen.removed.append,
    )


def ipv4(found: FoundService) -> list[str]:
    return [a for a in found.addresses if ":" not in a]


def test_parse_browse_unescapes_names_and_reads_txt_in_any_order() -> None:
    line = ('=;mp1;IPv4;Casa\\032\\195\\145and\\195\\186\\059\\032norte;_maderas._tcp;local;maderas-x.local;'
            '10.0.0.1;8443;"path=/" "a=\\"q\\"" "api_port=8443" "id=ab"')  # fmt: skip
    [entry] = parse_browse("+;mp1;IPv4;x;_maderas._tcp;local\n" + line + "\n")
    assert entry.name == HUB_NAME and entry.host == "maderas-x.local" and entry.port == 8443
    assert entry.txt == {"id": "ab", "api_port": "8443", "a": '"q"', "path": "/"}
    assert entry.txt_order == ("path=/", 'a="q"', "api_port=8443", "id=ab")


async def test_avahi_browse_sees_the_hub_with_its_txt_on_the_veth_address(
    link: Link, avahi: AvahiPeer, clock: ManualClock
) -> None:
    mdns = hub_service(link, Recorder(), clock, announce=True)
    await mdns.start()
    try:
        assert mdns.status.state == "running" and mdns.status.name == HUB_NAME

        async def hub_seen() -> list[Resolved]:
            return [r for r in await avahi.browse("_maderas._tcp") if r.name == HUB_NAME]

        [entry] = await until(hub_seen, "avahi-browse to resolve the hub", 60)
        assert (entry.interface, entry.protocol, entry.type, entry.domain) == (
            link.peer_if, "IPv4", "_maderas._tcp", "local")
        assert entry.txt == {"id": HUB_ID, "version": "2.0.1", "api_port": "8443", "path": "/"}
        assert entry.address == link.host and entry.port == 8443
        assert entry.host == f"maderas-{HUB_ID[:12]}.local"
    finally:
        await mdns.stop()

    # the goodbye: avahi drops the hub from its cache, so a fresh browse no longer lists it
    async def hub_gone() -> bool:
        return not [r for r in await avahi.browse("_maderas._tcp") if r.name == HUB_NAME]

    assert await until(hub_gone, "avahi to drop the hub after its goodbye", 60)


async def test_avahi_publish_announces_devices_the_hub_finds_and_removes_on_goodbye(
    link: Link, avahi: AvahiPeer, clock: ManualClock
) -> None:
    seen = Recorder()
    mdns = hub_service(link, seen, clock, announce=False)
    await mdns.start()
    try:
        esp = await avahi.publish("kitchen node", "_esphomelib._tcp", 6053, ["mac=a4cf12b3c4d5", "version=2024.6.1"])
        cam = await avahi.publish("cam-door", "_rtsp._tcp", 554)
        await avahi.publish("printer", "_http._tcp", 80)  # nothing asks for _http._tcp
        assert (esp.established_as, cam.established_as) == ("kitchen node", "cam-door")
        await until(lambda: len(seen.found) == 2, "the hub to find both devices", 60)
        by_type = {f.type: f for f in seen.found}

        device = by_type["_esphomelib._tcp.local."]
        assert (device.name, device.port, ipv4(device)) == ("kitchen node", 6053, [link.peer])
        # avahi also announces its link-local IPv6 over IPv4 mDNS (publish-aaaa-on-ipv4, on by default)
        assert all(a.startswith("fe80:") for a in device.addresses if ":" in a)
        assert device.host == f"{avahi.host_name}.local."
        assert device.properties == {"mac": "a4cf12b3c4d5", "version": "2024.6.1"}
        assert device.domains == ("esphome",)
        camera = by_type["_rtsp._tcp.local."]
        assert (camera.name, camera.port, ipv4(camera)) == ("cam-door", 554, [link.peer])
        assert camera.domains == ("cam_brand", "rtsp_camera")
        # avahi sends "no TXT" as one empty string (RFC 6763 6.1; python-zeroconf sends zero bytes):
        # the hub reports it today as the key "" (decode_txt keeps it); no real key either way
        assert {key: value for key, value in camera.properties.items() if key} == {}

        await esp.stop()  # avahi withdraws the entry group: a goodbye (TTL 0) on the wire
        await until(lambda: seen.removed, "the hub to see the device's goodbye", 60)
        assert [r.full_name for r in seen.removed] == ["kitchen node._esphomelib._tcp.local."]
        assert set(mdns.found) == {"cam-door._rtsp._tcp.local."}
        assert all(f.type != "_http._tcp.local." for f in seen.found)
    finally:
        await mdns.stop()
