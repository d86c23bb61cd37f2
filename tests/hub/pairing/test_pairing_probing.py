"""The WS-Discovery feed with an injected prober: at start and every 5 minutes of hub clock, matched by type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pairing_fake import DOMAIN, write_fakecam
from waiting import until

from hub.clock import ManualClock
from hub.loader import discovery_index
from hub.network.wsdiscovery import NETWORK_VIDEO_TRANSMITTER, ProbeMatch
from hub.pairing import Found
from hub.pairing.probing import PROBE_EVERY_S, WsDiscoveryPoller, found_from_probe_match
from hub.runtime import Hub

CAMERA = ProbeMatch(
    endpoint="urn:uuid:5f5a69c2-e0ae-504f-829b-00fcc3ae6d5b", types=(NETWORK_VIDEO_TRANSMITTER,),
    scopes=("onvif://www.onvif.org/name/Patio%20Cam",), xaddrs=("http://10.0.0.40:8080/onvif/device_service",),
    metadata_version=1, name="Patio Cam", hardware="IPC-1", location="patio",
)  # fmt: skip
PRINTER = ProbeMatch(endpoint="urn:uuid:printer", types=("{urn:x}Printer",), scopes=(), xaddrs=(),
                     metadata_version=None, name=None, hardware=None, location=None)  # fmt: skip


def test_a_probe_match_becomes_a_found_with_the_xaddr_host_and_port() -> None:
    found = found_from_probe_match(CAMERA)
    assert (found.source, found.name, found.host, found.port) == ("wsdiscovery", "Patio Cam", "10.0.0.40", 8080)
    assert found.origin == f"wsdiscovery:{CAMERA.endpoint}" and found.extra["endpoint"] == CAMERA.endpoint
    assert found.extra["hardware"] == "IPC-1" and found.type == NETWORK_VIDEO_TRANSMITTER
    assert found_from_probe_match(PRINTER).host is None


async def test_the_poller_probes_at_start_and_every_five_minutes(tmp_path: Path, clock: ManualClock) -> None:
    write_fakecam(tmp_path)
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    probes: list[tuple[list[str], tuple[str, ...]]] = []
    handed: list[tuple[list[str], Found]] = []

    async def probe(addresses: list[str], *, types: tuple[str, ...]) -> list[ProbeMatch]:
        probes.append((addresses, types))
        return [CAMERA, PRINTER]

    async def on_found(domains: list[str], found: Found) -> Any:
        handed.append((domains, found))

    try:
        index = discovery_index(hub.discovery.integrations)
        poller = WsDiscoveryPoller(hub.pairing.scoped, index, on_found, interfaces=["10.0.0.2"], probe=probe,
                                   lister=lambda: {"eth0": ("10.0.0.2",)})  # fmt: skip
        poller.start()
        await until(lambda: poller.rounds == 1, "the first probe", 30)
        assert poller.status() == {"state": "running", "reason": None, "last_probe": clock.time(), "found": 1,
                                   "every": PROBE_EVERY_S, "listening": False, "listen_error": None}  # fmt: skip
        assert probes == [(["10.0.0.2"], (NETWORK_VIDEO_TRANSMITTER,))]  # rtsp_camera and fakecam ask the same
        assert sorted(handed[0][0]) == sorted([DOMAIN, "rtsp_camera"]) and len(handed) == 1  # not the printer
        await clock.advance(PROBE_EVERY_S - 1)
        assert poller.rounds == 1
        await clock.advance(1)
        await until(lambda: poller.rounds == 2, "the second probe", 30)

        gone = WsDiscoveryPoller(hub.pairing.scoped, index, on_found, interfaces=["10.0.0.2"], probe=probe,
                                 lister=lambda: {"eth0": ()})  # fmt: skip
        assert await gone.run_once() == 0 and len(probes) == 2  # no interface: no probe, no crash
        status = gone.status()
        assert status["state"] == "no_interface" and "10.0.0.2" in status["reason"]
        assert status["last_probe"] is None
        nothing_asks = WsDiscoveryPoller(hub.pairing.scoped, {}, on_found, probe=probe)
        assert nothing_asks.status()["state"] == "off"
    finally:
        await hub.stop()


async def test_a_found_onvif_camera_is_offered_by_the_fake_integration_only_with_a_serial(
    tmp_path: Path, clock: ManualClock
) -> None:
    write_fakecam(tmp_path)
    hub = Hub(tmp_path, clock=clock)
    await hub.start()
    try:
        # fakecam wants a TXT serial, which WS-Discovery has not: the manager lists nothing for it.
        assert await hub.pairing.found([DOMAIN], found_from_probe_match(CAMERA)) == []
    finally:
        await hub.stop()
