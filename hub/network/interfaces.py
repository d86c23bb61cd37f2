"""Which IPv4 addresses the hub's mDNS may use, from the `network: interfaces:` setting."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence

import ifaddr

# name -> IPv4 addresses of that interface; injectable so tests need no real interfaces.
InterfaceLister = Callable[[], Mapping[str, Sequence[str]]]

ALL = "all"


class NoInterfaceError(Exception):
    """None of the configured interfaces has a usable IPv4 address (the message says why)."""


def host_interfaces() -> dict[str, tuple[str, ...]]:
    """Every interface of this machine with its IPv4 addresses (IPv6 is not announced yet)."""
    out: dict[str, tuple[str, ...]] = {}
    for adapter in ifaddr.get_adapters():
        v4 = tuple(ip.ip for ip in adapter.ips if ip.is_IPv4 and isinstance(ip.ip, str))
        out[adapter.nice_name or adapter.name] = v4
    return out


def resolve_interfaces(choice: str | Sequence[str], lister: InterfaceLister = host_interfaces) -> tuple[str, ...]:
    """`all` or a list of interface names / IPv4 addresses -> the addresses present now, in order.

    `all` leaves out loopback: announcing 127.0.0.1 tells the network nothing. An explicit
    address must belong to an interface of this machine, else binding it would fail later.
    """
    present = lister()
    owned = {address for addresses in present.values() for address in addresses}
    wanted = [ALL] if choice == ALL else list(choice)
    out: list[str] = []
    missing: list[str] = []
    for item in wanted:
        if item == ALL:
            found = [a for addrs in present.values() for a in addrs if not ipaddress.ip_address(a).is_loopback]
        elif _is_address(item):
            found = [item] if item in owned else []
        else:
            found = list(present.get(item, ()))
        if not found:
            missing.append(item)
        out.extend(a for a in found if a not in out)
    if not out:
        if wanted == [ALL]:
            raise NoInterfaceError("no interface has an IPv4 address besides loopback")
        raise NoInterfaceError(f"none of {', '.join(missing)} is an interface with an IPv4 address here")
    return tuple(out)


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
