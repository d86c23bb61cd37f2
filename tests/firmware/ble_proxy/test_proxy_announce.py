"""The BLE proxy firmware announces itself with the firmware's mDNS responder once Wi-Fi is up.

The proxy's main loop runs on the fakes of test_proxy_main.py with an MdnsDevice over a fake
`socket` module (the board's lwIP stand-in); what it sends is read back with python-zeroconf's parser.
"""

from __future__ import annotations

from typing import Any

from test_proxy_main import FakeBluetooth, FakeNetwork, FakeTime, FakeWLAN, Opener, make_cfg
from zeroconf import DNSIncoming

from firmware.ble_proxy.main import announcement, host_label, run
from firmware.mdns.device import MdnsDevice, station_address
from firmware.mdns.responder import MDNS_ADDR, Responder, Service

ADDRESS = "192.168.1.23"


class WLANWithAddress(FakeWLAN):
    def ifconfig(self) -> tuple[str, str, str, str]:
        return (ADDRESS, "255.255.255.0", "192.168.1.1", "192.168.1.1")


class FakeSocket:
    def __init__(self, module: FakeSocketModule) -> None:
        self.module = module
        self.options: list[tuple[int, int, Any]] = []

    def setsockopt(self, level: int, option: int, value: Any) -> None:
        self.options.append((level, option, value))

    def bind(self, address: tuple[str, int]) -> None:
        self.module.bound.append(address)

    def setblocking(self, flag: bool) -> None:
        pass

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        raise OSError(11, "EAGAIN")  # nothing arrived: lwIP's non-blocking answer

    def sendto(self, data: bytes, dest: tuple[str, int]) -> int:
        self.module.sent.append((bytes(data), dest))
        return len(data)

    def close(self) -> None:
        pass


class FakeSocketModule:
    AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, IPPROTO_IP, IP_ADD_MEMBERSHIP = 2, 2, 1, 2, 0, 35

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.bound: list[tuple[str, int]] = []

    def socket(self, family: int, kind: int) -> FakeSocket:
        return FakeSocket(self)


def test_the_proxy_announces_after_wifi_comes_up_with_the_txt_the_hub_pairs_from() -> None:
    cfg = make_cfg(PROXY_ID="Roof 1", HUB_PORT=7700)
    wlan = WLANWithAddress()
    sockets = FakeSocketModule()
    service = announcement(Service, cfg.PROXY_ID, cfg.HUB_PORT)
    mdns = MdnsDevice(Responder(host_label(cfg.PROXY_ID), station_address(wlan), [service]), wlan, sockets)
    clock = FakeTime()
    run(cfg, FakeNetwork(wlan), FakeBluetooth(), clock, Opener(), steps=300, mdns=mdns)  # 3 s of 10 ms ticks
    assert sockets.bound == [("0.0.0.0", 5353)]
    assert sockets.sent and {dest for _, dest in sockets.sent} == {(MDNS_ADDR, 5353)}
    answers = [DNSIncoming(packet) for packet, _ in sockets.sent]
    announced = [a for a in answers if a.is_response()]
    assert announced, "no announcement after probing"
    records = {(r.name, r.type): r for r in announced[-1].answers()}
    srv = records[("Roof 1._maderas-proxy._tcp.local.", 33)]
    txt = records[("Roof 1._maderas-proxy._tcp.local.", 16)]
    assert srv.port == 0 and srv.server == "maderas-proxy-roof-1.local."  # type: ignore[attr-defined]
    assert b"id=Roof 1" in txt.text and b"hub_port=7700" in txt.text and b"proto=1" in txt.text  # type: ignore[attr-defined]
    assert records[("maderas-proxy-roof-1.local.", 1)].address == bytes([192, 168, 1, 23])  # type: ignore[attr-defined]


def test_no_announcement_without_wifi() -> None:
    class NeverUp(WLANWithAddress):
        def isconnected(self) -> bool:
            return False

    wlan = NeverUp()
    sockets = FakeSocketModule()
    cfg = make_cfg()
    mdns = MdnsDevice(Responder(host_label(cfg.PROXY_ID), station_address(wlan),
                                [announcement(Service, cfg.PROXY_ID, cfg.HUB_PORT)]), wlan, sockets)  # fmt: skip
    run(cfg, FakeNetwork(wlan), FakeBluetooth(), FakeTime(), Opener(), steps=100, mdns=mdns)
    assert sockets.sent == [] and sockets.bound == []
