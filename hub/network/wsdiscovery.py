"""ONVIF WS-Discovery: the Probe we multicast, the ProbeMatches cameras answer, the prober, and the
Hello / Bye devices multicast when they join or leave.

WS-Discovery 2005/04 (the version ONVIF cameras speak) is SOAP 1.2 over UDP: a client multicasts
a Probe to 239.255.255.250:3702 and each matching device answers with a unicast ProbeMatches to
the port the Probe came from; a device joining the network multicasts a Hello, one leaving a Bye.
The message functions are sans-IO so tests can feed them bytes; `probe()` and
`AnnouncementListener` are the only parts that touch sockets.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import unquote
from xml.parsers import expat
from xml.sax.saxutils import escape

_LOGGER = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
PORT = 3702
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)  # Linux's value; Python names it from 3.12
# A UDP datagram cannot be larger; anything claiming more is not a real answer.
MAX_DATAGRAM = 65536

NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_DISCOVERY = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
NS_ONVIF_NETWORK = "http://www.onvif.org/ver10/network/wsdl"
NS_ONVIF_DEVICE = "http://www.onvif.org/ver10/device/wsdl"

ACTION_PROBE = f"{NS_DISCOVERY}/Probe"
ACTION_PROBE_MATCHES = f"{NS_DISCOVERY}/ProbeMatches"
ACTION_HELLO = f"{NS_DISCOVERY}/Hello"
ACTION_BYE = f"{NS_DISCOVERY}/Bye"
TO_DISCOVERY = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
ANONYMOUS = f"{NS_ADDRESSING}/role/anonymous"

NETWORK_VIDEO_TRANSMITTER = f"{{{NS_ONVIF_NETWORK}}}NetworkVideoTransmitter"

# Prefixes a caller may use in `types`; the Probe declares each one it uses.
KNOWN_PREFIXES = {"dn": NS_ONVIF_NETWORK, "tds": NS_ONVIF_DEVICE}

_ONVIF_SCOPE = "onvif://www.onvif.org/"
# Caps so one hostile answer cannot make us keep thousands of strings.
_MAX_MATCHES = 32
_MAX_ITEMS = 64
_RECENT_MESSAGES = 128  # message ids remembered to drop the repeats of a Hello or Bye


@dataclass(frozen=True)
class ProbeMatch:
    """One device that answered our Probe: who it is and where its ONVIF services are."""

    endpoint: str
    types: tuple[str, ...]  # "{namespace}local" when the prefix was declared, else as written
    scopes: tuple[str, ...]  # as sent (still percent-encoded)
    xaddrs: tuple[str, ...]
    metadata_version: int | None
    name: str | None  # decoded from onvif://www.onvif.org/name/...
    hardware: str | None  # .../hardware/...
    location: str | None  # .../location/... (several are joined with ", ")

    @property
    def is_video_transmitter(self) -> bool:
        """Whether the device says it is an ONVIF camera or encoder."""
        return NETWORK_VIDEO_TRANSMITTER in self.types


def new_message_id() -> str:
    """A fresh WS-Addressing MessageID."""
    return uuid.uuid4().urn


def probe_message(message_id: str, types: Sequence[str] = ("dn:NetworkVideoTransmitter",)) -> bytes:
    """The SOAP 1.2 Probe for `types` ("dn:Local" with a known prefix, or "{namespace}Local")."""
    declared: dict[str, str] = {}
    names: list[str] = []
    for item in types:
        prefix, local = _type_prefix(item, declared)
        names.append(f"{prefix}:{local}")
    namespaces = "".join(f' xmlns:{prefix}="{escape(ns)}"' for prefix, ns in declared.items())
    types_element = f"<d:Types>{escape(' '.join(names))}</d:Types>" if names else ""
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS_SOAP12}" xmlns:a="{NS_ADDRESSING}" xmlns:d="{NS_DISCOVERY}"{namespaces}>'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{ACTION_PROBE}</a:Action>'
        f"<a:MessageID>{escape(message_id)}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{ANONYMOUS}</a:Address></a:ReplyTo>"
        f'<a:To s:mustUnderstand="1">{TO_DISCOVERY}</a:To>'
        "</s:Header>"
        f"<s:Body><d:Probe>{types_element}</d:Probe></s:Body>"
        "</s:Envelope>"
    )
    return text.encode("utf-8")


def _type_prefix(item: str, declared: dict[str, str]) -> tuple[str, str]:
    """The prefix and local name for one type, declaring its namespace in `declared`."""
    if item.startswith("{"):
        namespace, _, local = item[1:].partition("}")
        for prefix, known in declared.items():
            if known == namespace:
                return prefix, local
        prefix = f"t{len(declared)}"
        declared[prefix] = namespace
        return prefix, local
    prefix, sep, local = item.partition(":")
    if not sep or prefix not in KNOWN_PREFIXES:
        raise ValueError(f"type {item!r}: use one of the prefixes {sorted(KNOWN_PREFIXES)} or {{namespace}}Local")
    declared[prefix] = KNOWN_PREFIXES[prefix]
    return prefix, local


class _Refused(Exception):
    """The document declares a DTD or entities, which no discovery message needs."""


class _SafeTree:
    """Builds an ElementTree with expat, refusing DTDs and remembering the prefixes in scope of Types."""

    def __init__(self) -> None:
        self._builder = ET.TreeBuilder()
        self._prefixes: dict[str, list[str]] = {}
        # Types hold QNames in text, so their prefixes must be resolved against the declarations in scope.
        self.types_scope: dict[int, dict[str, str]] = {}

    def parse(self, data: bytes) -> ET.Element:
        parser = expat.ParserCreate(namespace_separator="}")
        parser.StartDoctypeDeclHandler = self._refuse
        parser.EntityDeclHandler = self._refuse
        parser.ExternalEntityRefHandler = self._refuse
        parser.StartNamespaceDeclHandler = self._start_ns
        parser.EndNamespaceDeclHandler = self._end_ns
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._builder.data
        parser.Parse(data, True)
        return self._builder.close()

    def _refuse(self, *_args: object) -> NoReturn:
        raise _Refused("DTDs and entities are not accepted")

    def _start_ns(self, prefix: str | None, uri: str) -> None:
        self._prefixes.setdefault(prefix or "", []).append(uri)

    def _end_ns(self, prefix: str | None) -> None:
        self._prefixes[prefix or ""].pop()

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        element = self._builder.start(_clark(tag), {_clark(k): v for k, v in attrs.items()})
        if tag == f"{NS_DISCOVERY}}}Types":
            self.types_scope[id(element)] = {p: uris[-1] for p, uris in self._prefixes.items() if uris}

    def _end(self, tag: str) -> None:
        self._builder.end(_clark(tag))


def _clark(name: str) -> str:
    """expat's "uri}local" as ElementTree's "{uri}local"."""
    return "{" + name if "}" in name else name


@dataclass(frozen=True)
class Announcement:
    """A Hello (a device joined) or a Bye (it left); a Bye may carry only the endpoint."""

    kind: str  # "hello" or "bye"
    device: ProbeMatch
    message_id: str = ""  # the same in each of SOAP-over-UDP's repeats of one message


def _envelope(data: bytes) -> tuple[str, ET.Element, ET.Element, _SafeTree] | None:
    """(Action, Header, Body, the tree's namespace scopes) of a SOAP envelope, or None for anything else."""
    if len(data) > MAX_DATAGRAM:
        _LOGGER.debug("WS-Discovery: dropped a %d-byte datagram", len(data))
        return None
    tree = _SafeTree()
    try:
        root = tree.parse(data)
    except (expat.ExpatError, _Refused, ValueError, IndexError, KeyError) as err:
        _LOGGER.debug("WS-Discovery: dropped a malformed datagram: %s", err)
        return None
    soap = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if soap not in (NS_SOAP12, NS_SOAP11) or root.tag != f"{{{soap}}}Envelope":
        return None
    header = root.find(f"{{{soap}}}Header")
    body = root.find(f"{{{soap}}}Body")
    if header is None or body is None:
        return None
    return _text(header.find(f"{{{NS_ADDRESSING}}}Action")), header, body, tree


def parse_probe_matches(data: bytes, relates_to: str) -> list[ProbeMatch]:
    """The devices in a ProbeMatches answering `relates_to`; [] for anything else, never an exception."""
    envelope = _envelope(data)
    if envelope is None:
        return []
    action, header, body, tree = envelope
    if action != ACTION_PROBE_MATCHES:
        return []
    if _text(header.find(f"{{{NS_ADDRESSING}}}RelatesTo")) != relates_to.strip():
        return []
    matches: list[ProbeMatch] = []
    container = body.find(f"{{{NS_DISCOVERY}}}ProbeMatches")
    if container is None:
        return []
    for element in container.findall(f"{{{NS_DISCOVERY}}}ProbeMatch")[:_MAX_MATCHES]:
        match = _probe_match(element, tree.types_scope)
        if match is not None:
            matches.append(match)
    return matches


def parse_announcement(data: bytes) -> Announcement | None:
    """A Hello or Bye multicast by a device; None for anything else (probes, answers, garbage), never an exception."""
    envelope = _envelope(data)
    if envelope is None:
        return None
    action, header, body, tree = envelope
    kind = {ACTION_HELLO: "hello", ACTION_BYE: "bye"}.get(action)
    if kind is None:
        return None
    element = body.find(f"{{{NS_DISCOVERY}}}{'Hello' if kind == 'hello' else 'Bye'}")
    device = _probe_match(element, tree.types_scope) if element is not None else None
    message_id = _text(header.find(f"{{{NS_ADDRESSING}}}MessageID"))
    return Announcement(kind, device, message_id) if device is not None else None


def _probe_match(element: ET.Element, types_scope: dict[int, dict[str, str]]) -> ProbeMatch | None:
    """One ProbeMatch element, or None when it has no endpoint address."""
    endpoint = _text(element.find(f"{{{NS_ADDRESSING}}}EndpointReference/{{{NS_ADDRESSING}}}Address"))
    if not endpoint:
        return None
    types_element = element.find(f"{{{NS_DISCOVERY}}}Types")
    scope = types_scope.get(id(types_element), {}) if types_element is not None else {}
    types = tuple(_resolve(name, scope) for name in _items(types_element))
    scopes = _items(element.find(f"{{{NS_DISCOVERY}}}Scopes"))
    version_text = _text(element.find(f"{{{NS_DISCOVERY}}}MetadataVersion"))
    version = int(version_text) if version_text.isdigit() else None
    return ProbeMatch(
        endpoint=endpoint,
        types=types,
        scopes=scopes,
        xaddrs=_items(element.find(f"{{{NS_DISCOVERY}}}XAddrs")),
        metadata_version=version,
        name=_scope_value(scopes, "name"),
        hardware=_scope_value(scopes, "hardware"),
        location=_scope_value(scopes, "location"),
    )


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _items(element: ET.Element | None) -> tuple[str, ...]:
    """A whitespace-separated list (Types, Scopes, XAddrs), capped."""
    return tuple(_text(element).split()[:_MAX_ITEMS])


def _resolve(qname: str, scope: dict[str, str]) -> str:
    """A QName from Types in "{namespace}local" form when its prefix is declared."""
    prefix, sep, local = qname.partition(":")
    if not sep:
        prefix, local = "", qname
    namespace = scope.get(prefix)
    return f"{{{namespace}}}{local}" if namespace else qname


def _scope_value(scopes: Iterable[str], kind: str) -> str | None:
    """The decoded values of the ONVIF scopes of one kind (name, hardware, location), joined."""
    prefix = f"{_ONVIF_SCOPE}{kind}/"
    values = [unquote(s[len(prefix):]) for s in scopes if s.lower().startswith(prefix) and len(s) > len(prefix)]
    return ", ".join(values) if values else None


class _Collector(asyncio.DatagramProtocol):
    """Hands every datagram on one probing socket to the parser."""

    def __init__(self, relates_to: str, found: dict[str, ProbeMatch]) -> None:
        self._relates_to = relates_to
        self._found = found

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        for match in parse_probe_matches(data, self._relates_to):
            # First answer wins: devices repeat theirs, and a camera on two networks is one camera.
            self._found.setdefault(match.endpoint, match)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("WS-Discovery: socket error: %s", exc)


def _probing_socket(address: str) -> socket.socket:
    """A UDP socket bound to one interface address that multicasts out of that interface only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        # WS-Discovery's multicast hop limit is 1: the Probe stays on the local link.
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind((address, 0))
    except OSError:
        sock.close()
        raise
    return sock


async def probe(
    interfaces: list[str],
    *,
    timeout: float = 3.0,
    types: Sequence[str] = ("dn:NetworkVideoTransmitter",),
    repeat: int = 2,
) -> list[ProbeMatch]:
    """Multicast a Probe from each interface address and collect the answers for `timeout` seconds."""
    message_id = new_message_id()
    message = probe_message(message_id, types)
    found: dict[str, ProbeMatch] = {}
    loop = asyncio.get_running_loop()
    transports: list[asyncio.DatagramTransport] = []
    try:
        for address in interfaces:
            try:
                sock = _probing_socket(address)
            except OSError as err:
                # One unusable interface (gone, IPv6, no multicast) must not stop the others.
                _LOGGER.warning("WS-Discovery: cannot probe from %s: %s", address, err)
                continue
            try:
                transport, _ = await loop.create_datagram_endpoint(lambda: _Collector(message_id, found), sock=sock)
            except BaseException:
                sock.close()
                raise
            transports.append(transport)
        if not transports:
            return []
        # UDP may drop one copy; SOAP-over-UDP allows repeats, and devices answer a MessageID once.
        gap = min(0.2, timeout / 4)
        for attempt in range(max(1, repeat)):
            if attempt:
                await asyncio.sleep(gap)
            for transport in transports:
                transport.sendto(message, (MULTICAST_GROUP, PORT))
        await asyncio.sleep(max(0.0, timeout - gap * (max(1, repeat) - 1)))
    finally:
        for transport in transports:
            transport.close()
        # Let the transports' close callbacks run so no socket outlives the call.
        await asyncio.sleep(0)
    return list(found.values())


def _listening_socket(addresses: Sequence[str]) -> socket.socket:
    """A UDP socket on the discovery port that receives the group's datagrams from these interfaces only."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # beside another WS-Discovery client
        # Linux hands a socket bound to the group every membership on the machine unless told not to.
        sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        sock.bind((MULTICAST_GROUP, PORT))
        for address in addresses:
            membership = socket.inet_aton(MULTICAST_GROUP) + socket.inet_aton(address)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    except OSError:
        sock.close()
        raise
    return sock


class _Announcements(asyncio.DatagramProtocol):
    def __init__(self, on_announcement: Callable[[Announcement], None]) -> None:
        self._on_announcement = on_announcement
        self._recent: deque[str] = deque(maxlen=_RECENT_MESSAGES)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        announcement = parse_announcement(data)
        if announcement is None:
            return
        if announcement.message_id:
            if announcement.message_id in self._recent:
                return  # a repeat: SOAP-over-UDP sends each multicast up to four times
            self._recent.append(announcement.message_id)
        try:
            self._on_announcement(announcement)
        except Exception:  # a consumer's bug must not close the socket
            _LOGGER.exception("WS-Discovery: a handler failed for %s", announcement.device.endpoint)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("WS-Discovery: listening socket error: %s", exc)


class AnnouncementListener:
    """Hears the Hello and Bye devices multicast, on the given interface addresses only (it sends nothing)."""

    def __init__(self, addresses: Sequence[str], on_announcement: Callable[[Announcement], None]) -> None:
        self.addresses = list(addresses)
        self._on_announcement = on_announcement
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def listening(self) -> bool:
        return self._transport is not None

    async def start(self) -> None:
        """Join the group on each address; OSError when the port cannot be had (the caller reports it)."""
        sock = _listening_socket(self.addresses)
        try:
            self._transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Announcements(self._on_announcement), sock=sock
            )
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        """Leave the group and close the socket; safe to call twice."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
