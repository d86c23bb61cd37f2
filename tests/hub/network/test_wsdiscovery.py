"""WS-Discovery: golden Probe / ProbeMatch messages, hostile datagrams, and a real publisher in a namespace."""

from __future__ import annotations

import uuid
from pathlib import Path

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
import pytest
import wsd_netns

from hub.network.wsdiscovery import (
    ACTION_PROBE,
    MAX_DATAGRAM,
    NETWORK_VIDEO_TRANSMITTER,
    NS_ADDRESSING,
    NS_DISCOVERY,
    NS_ONVIF_NETWORK,
    NS_SOAP12,
    TO_DISCOVERY,
    ProbeMatch,
    new_message_id,
    parse_probe_matches,
    probe,
    probe_message,
)

OUR_ID = "urn:uuid:6a1e2d3c-0b9f-4c77-8f21-5d0c9a7b3e41"
A = f"{{{NS_ADDRESSING}}}"
D = f"{{{NS_DISCOVERY}}}"
S = f"{{{NS_SOAP12}}}"

# Written from the WS-Discovery 2005/04 spec (Appendix: ProbeMatches) and the ONVIF Core spec
# (section 7.3.2, scopes): the prefixes differ from ours on purpose, as they do on real cameras.
GOLDEN_MATCH = f"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
    xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery"
    xmlns:tdn="http://www.onvif.org/ver10/network/wsdl"
    xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
  <SOAP-ENV:Header>
    <wsa:MessageID>urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</wsa:MessageID>
    <wsa:RelatesTo>{OUR_ID}</wsa:RelatesTo>
    <wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
    <wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
    <wsdd:AppSequence InstanceId="1700000000" MessageNumber="12"/>
  </SOAP-ENV:Header>
  <SOAP-ENV:Body>
    <wsdd:ProbeMatches>
      <wsdd:ProbeMatch>
        <wsa:EndpointReference>
          <wsa:Address>urn:uuid:11223344-5566-7788-99aa-bbccddeeff00</wsa:Address>
        </wsa:EndpointReference>
        <wsdd:Types>tdn:NetworkVideoTransmitter tds:Device</wsdd:Types>
        <wsdd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming
          onvif://www.onvif.org/name/Porch%20Camera onvif://www.onvif.org/hardware/DS-2CD2143G2-I
          onvif://www.onvif.org/location/city/Maderas onvif://www.onvif.org/location/Front%20door%2Fleft
        </wsdd:Scopes>
        <wsdd:XAddrs>http://192.168.1.64/onvif/device_service http://[fe80::1]/onvif/device_service</wsdd:XAddrs>
        <wsdd:MetadataVersion>10</wsdd:MetadataVersion>
      </wsdd:ProbeMatch>
    </wsdd:ProbeMatches>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>
""".encode()

NAME_SCOPE = "onvif://www.onvif.org/name/Camara Patio"  # the publisher sends the space as %20
HARDWARE_SCOPE = "onvif://www.onvif.org/hardware/MC-4000"
LOCATION_SCOPE = "onvif://www.onvif.org/location/Entrada%C3%B1a%2Fnorte"


def test_probe_is_a_soap12_probe_for_video_transmitters() -> None:
    message_id = new_message_id()
    root = SafeET.fromstring(probe_message(message_id))
    assert root.tag == f"{S}Envelope"
    header = root.find(f"{S}Header")
    assert header.findtext(f"{A}Action") == ACTION_PROBE == "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
    assert header.findtext(f"{A}To") == TO_DISCOVERY == "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
    assert header.findtext(f"{A}MessageID") == message_id
    assert uuid.UUID(message_id.removeprefix("urn:uuid:")).version == 4
    types = root.find(f"{S}Body/{D}Probe/{D}Types").text
    assert types == "dn:NetworkVideoTransmitter"
    # the prefix is declared with the ONVIF network namespace, so a device can resolve the QName
    assert f'xmlns:dn="{NS_ONVIF_NETWORK}"' in probe_message(message_id).decode()


def test_probe_types_in_clark_notation_and_unknown_prefixes() -> None:
    text = probe_message(OUR_ID, types=("{http://example.com/x}Thing", "dn:NetworkVideoTransmitter")).decode()
    assert 'xmlns:t0="http://example.com/x"' in text
    assert "<d:Types>t0:Thing dn:NetworkVideoTransmitter</d:Types>" in text
    assert "<d:Types>" not in probe_message(OUR_ID, types=()).decode()
    with pytest.raises(ValueError, match="prefix"):
        probe_message(OUR_ID, types=("zz:Thing",))


def test_golden_probe_match_parses_into_fields() -> None:
    [match] = parse_probe_matches(GOLDEN_MATCH, OUR_ID)
    assert match == ProbeMatch(
        endpoint="urn:uuid:11223344-5566-7788-99aa-bbccddeeff00",
        types=(NETWORK_VIDEO_TRANSMITTER, "{http://www.onvif.org/ver10/device/wsdl}Device"),
        scopes=(
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/name/Porch%20Camera",
            "onvif://www.onvif.org/hardware/DS-2CD2143G2-I",
            "onvif://www.onvif.org/location/city/Maderas",
            "onvif://www.onvif.org/location/Front%20door%2Fleft",
        ),
        xaddrs=("http://192.168.1.64/onvif/device_service", "http://[fe80::1]/onvif/device_service"),
        metadata_version=10,
        name="Porch Camera",
        hardware="DS-2CD2143G2-I",
        location="city/Maderas, Front door/left",
    )
    assert match.is_video_transmitter


def test_reply_to_another_probe_is_ignored() -> None:
    assert parse_probe_matches(GOLDEN_MATCH, "urn:uuid:00000000-0000-4000-8000-000000000000") == []


def test_other_actions_and_missing_parts_are_ignored() -> None:
    hello = GOLDEN_MATCH.replace(b"discovery/ProbeMatches</wsa:Action>", b"discovery/Hello</wsa:Action>")
    assert parse_probe_matches(hello, OUR_ID) == []
    no_address = GOLDEN_MATCH.replace(b"urn:uuid:11223344-5566-7788-99aa-bbccddeeff00", b"")
    assert parse_probe_matches(no_address, OUR_ID) == []
    soap11 = GOLDEN_MATCH.replace(b"http://www.w3.org/2003/05/soap-envelope", b"urn:not-soap")
    assert parse_probe_matches(soap11, OUR_ID) == []
    bad_version = GOLDEN_MATCH.replace(b">10<", b">ten<")
    assert parse_probe_matches(bad_version, OUR_ID)[0].metadata_version is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"<not-closed>",
        b"<?xml version='1.0'?><a:b/>",  # unbound prefix
        "<Envelope>\u00e9</Envelope>".encode("latin-1"),  # bytes that are not the UTF-8 it claims
        b"{\"json\": true}",
    ],
)
def test_garbage_is_ignored(data: bytes) -> None:
    assert parse_probe_matches(data, OUR_ID) == []


def test_entity_bomb_and_doctype_are_refused() -> None:
    levels = [b'<!ENTITY lol0 "' + b"&lol;" * 10 + b'">'] + [
        b'<!ENTITY lol%d "' % i + b"&lol%d;" % (i - 1) * 10 + b'">' for i in range(1, 9)
    ]
    bomb = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(levels) + b"]>"
    assert parse_probe_matches(bomb + GOLDEN_MATCH.split(b"?>", 1)[1].replace(b"Porch", b"&lol8;"), OUR_ID) == []
    external = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    assert parse_probe_matches(external + GOLDEN_MATCH.split(b"?>", 1)[1].replace(b"Porch", b"&e;"), OUR_ID) == []
    # even a harmless DOCTYPE is refused: no discovery message has one
    plain = b'<?xml version="1.0"?><!DOCTYPE Envelope>' + GOLDEN_MATCH.split(b"?>", 1)[1]
    assert parse_probe_matches(plain, OUR_ID) == []


def test_oversized_datagram_is_ignored() -> None:
    padding = b"<!--" + b"x" * MAX_DATAGRAM + b"-->"
    big = GOLDEN_MATCH.replace(b"<SOAP-ENV:Body>", b"<SOAP-ENV:Body>" + padding)
    assert len(big) > MAX_DATAGRAM
    assert parse_probe_matches(big, OUR_ID) == []
    # the same message under the cap is accepted, so the cap is what refused it
    assert len(parse_probe_matches(GOLDEN_MATCH.replace(b"<SOAP-ENV:Body>", b"<SOAP-ENV:Body><!--x-->"), OUR_ID)) == 1


def test_matches_per_message_and_list_items_are_capped() -> None:
    match = GOLDEN_MATCH.split(b"<wsdd:ProbeMatches>")[1].split(b"</wsdd:ProbeMatches>")[0]
    many = GOLDEN_MATCH.replace(match, match * 40)  # still under the 64 KiB cap
    assert len(parse_probe_matches(many, OUR_ID)) == 32
    scopes = b" ".join(b"onvif://www.onvif.org/x/%d" % i for i in range(500))
    flood = GOLDEN_MATCH.replace(b"onvif://www.onvif.org/type/video_encoder", scopes)
    assert len(parse_probe_matches(flood, OUR_ID)[0].scopes) == 64


async def test_unusable_interface_address_gives_no_matches_and_no_exception(caplog: pytest.LogCaptureFixture) -> None:
    # 203.0.113.0/24 is TEST-NET-3, never an address of ours; IPv6 is not probed (yet)
    assert await probe(["203.0.113.77", "fe80::1"], timeout=0.2) == []
    assert "cannot probe from 203.0.113.77" in caplog.text
    assert "cannot probe from fe80::1" in caplog.text


@pytest.mark.slow
async def test_probe_finds_wsdiscovery_publisher_in_a_namespace(tmp_path: Path) -> None:
    wsd_netns.require_tools()
    endpoint = uuid.uuid4().urn
    with wsd_netns.veth_namespace() as ns:
        device = wsd_netns.Device(
            endpoint=endpoint,
            xaddr=f"http://{ns.peer_address}/onvif/device_service",
            scopes=(NAME_SCOPE, HARDWARE_SCOPE, LOCATION_SCOPE),
        )
        async with wsd_netns.publisher(ns, device, tmp_path / "publisher.log"):
            matches: list[ProbeMatch] = []
            # The publisher answers after a random delay of up to 0.5 s; probe again if a packet was lost.
            for _ in range(5):
                matches = await probe([ns.host_address], timeout=2.0)
                if matches:
                    break
        assert [m.endpoint for m in matches] == [endpoint], (tmp_path / "publisher.log").read_text()
        [match] = matches
        assert match.xaddrs == (f"http://{ns.peer_address}/onvif/device_service",)
        assert match.is_video_transmitter
        assert match.name == "Camara Patio"
        assert match.hardware == "MC-4000"
        assert match.location == "Entradaña/norte"
        assert "onvif://www.onvif.org/name/Camara%20Patio" in match.scopes
        assert match.metadata_version == 1
    assert wsd_netns.leftovers(ns) == []


@pytest.mark.slow
async def test_probe_for_another_type_finds_nothing(tmp_path: Path) -> None:
    wsd_netns.require_tools()
    with wsd_netns.veth_namespace() as ns:
        device = wsd_netns.Device(uuid.uuid4().urn, f"http://{ns.peer_address}/onvif/device_service", (NAME_SCOPE,))
        async with wsd_netns.publisher(ns, device, tmp_path / "publisher.log"):
            # the publisher filters on Types, so this proves our Types QName is what it compares
            assert await probe([ns.host_address], timeout=1.5, types=("tds:Device",)) == []
            found = await probe([ns.host_address], timeout=2.0)
            for _ in range(4):
                if found:
                    break
                found = await probe([ns.host_address], timeout=2.0)
            assert [m.endpoint for m in found] == [device.endpoint]
    assert wsd_netns.leftovers(ns) == []
