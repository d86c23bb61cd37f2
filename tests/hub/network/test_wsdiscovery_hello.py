"""WS-Discovery Hello and Bye: golden messages, hostile ones, and the `wsdiscovery` package's publisher in a
namespace announcing a camera on joining and leaving, heard by the listener and by the hub's poller."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import wsd_netns
from waiting import until

from hub.clock import ManualClock
from hub.loader import discovery_index
from hub.network.wsdiscovery import (
    NETWORK_VIDEO_TRANSMITTER,
    AnnouncementListener,
    parse_announcement,
)
from hub.pairing import Found
from hub.pairing.probing import WsDiscoveryPoller, wsdiscovery_origin
from hub.runtime import Hub

CAMERA = "urn:uuid:3f2b1c0d-9e8f-4a7b-b6c5-d4e3f2a1b0c9"
# A Hello as WS-Discovery 2005/04 section 4.1 shapes it, with an ONVIF camera's types and scopes
# (prefixes as a camera might choose them: `tdn` for the ONVIF network namespace).
HELLO = f"""<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
  xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
  xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
  xmlns:tdn="http://www.onvif.org/ver10/network/wsdl">
 <s:Header>
  <a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action>
  <a:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</a:MessageID>
  <a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
  <d:AppSequence InstanceId="1077004800" MessageNumber="1"/>
 </s:Header>
 <s:Body>
  <d:Hello>
   <a:EndpointReference><a:Address>{CAMERA}</a:Address></a:EndpointReference>
   <d:Types>tdn:NetworkVideoTransmitter</d:Types>
   <d:Scopes>onvif://www.onvif.org/name/Porton onvif://www.onvif.org/hardware/IPC-2</d:Scopes>
   <d:XAddrs>http://192.168.1.64/onvif/device_service</d:XAddrs>
   <d:MetadataVersion>2</d:MetadataVersion>
  </d:Hello>
 </s:Body>
</s:Envelope>""".encode()
BYE = HELLO.replace(b"/discovery/Hello", b"/discovery/Bye").replace(b"<d:Hello>", b"<d:Bye>").replace(
    b"</d:Hello>", b"</d:Bye>")


def test_hello_and_bye_parse_into_the_device() -> None:
    hello = parse_announcement(HELLO)
    assert hello is not None and hello.kind == "hello"
    device = hello.device
    assert (device.endpoint, device.types, device.xaddrs) == (
        CAMERA, (NETWORK_VIDEO_TRANSMITTER,), ("http://192.168.1.64/onvif/device_service",))
    assert (device.name, device.hardware, device.metadata_version) == ("Porton", "IPC-2", 2)
    bye = parse_announcement(BYE)
    assert bye is not None and bye.kind == "bye" and bye.device.endpoint == CAMERA


@pytest.mark.parametrize("data", [
    b"",
    b"garbage",
    HELLO.replace(b"/discovery/Hello<", b"/discovery/Probe<"),  # another action
    HELLO.replace(f"<a:Address>{CAMERA}</a:Address>".encode(), b"<a:Address></a:Address>"),  # no endpoint
    HELLO.replace(b"<d:Hello>", b"<d:Helo>").replace(b"</d:Hello>", b"</d:Helo>"),  # no Hello element
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + HELLO[HELLO.index(b"<s:Envelope"):],
    HELLO + b" " * 70000,  # over the datagram size
])
def test_anything_else_is_no_announcement(data: bytes) -> None:
    assert parse_announcement(data) is None


@pytest.mark.slow
async def test_the_listener_hears_a_camera_join_and_leave_on_its_interface_only(tmp_path: Path) -> None:
    wsd_netns.require_tools()
    heard: list[Any] = []
    with wsd_netns.veth_namespace() as ns:
        device = wsd_netns.Device(uuid.uuid4().urn, f"http://{ns.peer_address}/onvif/device_service",
                                  ("onvif://www.onvif.org/name/Patio",))  # fmt: skip
        listener = AnnouncementListener([ns.host_address], heard.append)
        await listener.start()
        try:
            async with wsd_netns.publisher(ns, device, tmp_path / "publisher.log"):
                await until(lambda: any(a.kind == "hello" for a in heard), "the Hello", 30)
            await until(lambda: any(a.kind == "bye" for a in heard), "the Bye", 30)
        finally:
            listener.close()
        assert not listener.listening
    hello = next(a for a in heard if a.kind == "hello")
    assert hello.device.endpoint == device.endpoint and hello.device.xaddrs == (device.xaddr,)
    assert hello.device.name == "Patio" and hello.device.is_video_transmitter
    assert next(a for a in heard if a.kind == "bye").device.endpoint == device.endpoint
    assert wsd_netns.leftovers(ns) == []


@pytest.mark.slow
async def test_the_poller_offers_a_camera_on_its_hello_and_marks_it_gone_on_its_bye(
    tmp_path: Path, clock: ManualClock
) -> None:
    wsd_netns.require_tools()
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    found: list[tuple[list[str], Found]] = []
    gone: list[str] = []

    async def on_found(domains: list[str], what: Found) -> None:
        found.append((domains, what))

    async def on_gone(origin: str) -> None:
        gone.append(origin)

    async def no_probe(addresses: list[str], *, types: tuple[str, ...]) -> list[Any]:
        return []  # only the Hello may find it here

    try:
        with wsd_netns.veth_namespace() as ns:
            index = discovery_index(hub.discovery.integrations)
            poller = WsDiscoveryPoller(hub.pairing.scoped, index, on_found, interfaces=[ns.host_address],
                                       probe=no_probe, on_gone=on_gone)  # fmt: skip
            poller.start()
            await until(lambda: poller.listener is not None and poller.listener.listening, "the listener", 30)
            assert poller.status()["listening"] is True
            device = wsd_netns.Device(uuid.uuid4().urn, f"http://{ns.peer_address}:8080/onvif/device_service",
                                      ("onvif://www.onvif.org/name/Patio",))  # fmt: skip
            async with wsd_netns.publisher(ns, device, tmp_path / "publisher.log"):
                [(domains, camera)] = await until(lambda: found, "the camera offered on its Hello", 30)
            await until(lambda: gone, "the Bye", 30)
            assert domains == ["rtsp_camera"] and camera.source == "wsdiscovery"
            assert (camera.host, camera.port, camera.name) == (ns.peer_address, 8080, "Patio")
            assert gone == [wsdiscovery_origin(device.endpoint)] == [camera.origin]
        assert wsd_netns.leftovers(ns) == []
    finally:
        await hub.stop()
    assert poller.listener is not None and not poller.listener.listening  # closed with the pairing scope


def test_repeats_of_one_message_are_handed_on_once() -> None:
    from hub.network.wsdiscovery import _Announcements

    heard: list[Any] = []
    protocol = _Announcements(heard.append)
    for _ in range(4):  # SOAP-over-UDP's repeats carry the same MessageID
        protocol.datagram_received(HELLO, ("192.168.1.64", 3702))
    protocol.datagram_received(BYE.replace(b"0a6dc791", b"1b7ed892"), ("192.168.1.64", 3702))
    protocol.datagram_received(b"noise", ("192.168.1.64", 3702))
    assert [a.kind for a in heard] == ["hello", "bye"]
