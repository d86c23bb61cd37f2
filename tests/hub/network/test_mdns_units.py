"""Interface choice, TXT decoding and the `network:` config block, without any socket."""

from __future__ import annotations

import pytest
import voluptuous as vol

from hub.config.core_schema import NETWORK_SCHEMA
from hub.network import NoInterfaceError, resolve_interfaces
from hub.network.mdns import _instance_name, decode_txt

MACHINE = {"lo": ("127.0.0.1",), "eth0": ("192.168.1.20",), "wlan0": ("192.168.7.5", "10.1.0.2"), "tun0": ()}


def test_all_means_every_ipv4_address_but_loopback() -> None:
    assert resolve_interfaces("all", lambda: MACHINE) == ("192.168.1.20", "192.168.7.5", "10.1.0.2")


def test_names_and_addresses_resolve_in_order_without_duplicates() -> None:
    assert resolve_interfaces(["wlan0", "192.168.1.20", "10.1.0.2"], lambda: MACHINE) == (
        "192.168.7.5", "10.1.0.2", "192.168.1.20",
    )
    assert resolve_interfaces(["eth0", "eth9"], lambda: MACHINE) == ("192.168.1.20",)  # one is enough
    assert resolve_interfaces(["127.0.0.1"], lambda: MACHINE) == ("127.0.0.1",)  # explicit loopback is allowed


def test_no_usable_interface_says_which() -> None:
    with pytest.raises(NoInterfaceError, match="none of eth9, tun0, 10.9.9.9 is an interface with an IPv4"):
        resolve_interfaces(["eth9", "tun0", "10.9.9.9"], lambda: MACHINE)
    with pytest.raises(NoInterfaceError, match="no interface has an IPv4 address besides loopback"):
        resolve_interfaces("all", lambda: {"lo": ("127.0.0.1",)})
    with pytest.raises(NoInterfaceError):
        resolve_interfaces("all", dict)


def test_txt_values_are_text_where_utf8_and_bytes_otherwise() -> None:
    raw = {b"mac": b"a4cf12", b"blob": b"\xff\xfe", b"flag": None, b"\xe9bad": b"x", b"name": "caf\u00e9".encode()}
    assert decode_txt(raw) == {"mac": "a4cf12", "blob": b"\xff\xfe", "flag": None, "name": "caf\u00e9"}
    assert decode_txt(None) == {}


def test_hub_name_becomes_one_dns_label() -> None:
    assert _instance_name("Casa.Norte") == "Casa Norte"
    assert len(_instance_name("ñ" * 40).encode()) <= 63 and _instance_name("ñ" * 40) == "ñ" * 31
    assert _instance_name("  ") == "Maderas Hub"


def test_network_block_defaults_and_errors() -> None:
    assert NETWORK_SCHEMA({}) == {"mdns": True, "interfaces": "all"}
    assert NETWORK_SCHEMA({"mdns": False, "interfaces": "eth0"}) == {"mdns": False, "interfaces": ["eth0"]}
    assert NETWORK_SCHEMA({"interfaces": ["eth0", "192.168.1.20"]})["interfaces"] == ["eth0", "192.168.1.20"]
    with pytest.raises(vol.Invalid, match="expected an interface name or IPv4 address, got 'not an interface!'"):
        NETWORK_SCHEMA({"interfaces": ["not an interface!"]})
    with pytest.raises(vol.Invalid, match="expected 'all' or a list"):
        NETWORK_SCHEMA({"interfaces": []})
    with pytest.raises(vol.Invalid):
        NETWORK_SCHEMA({"mdns": "maybe"})
