"""A small ONVIF camera on aiohttp for the tests: device management, a media service and PullPoint events.

No installable package acts as an ONVIF camera with events, so this answers just enough SOAP for
onvif-zeep-async: clock, services, capabilities, device information, media profiles and their
stream URIs (GetProfiles, GetStreamUri), event properties, PullPoint subscriptions with long-poll
PullMessages, Renew and Unsubscribe, all behind WS-UsernameToken PasswordDigest. Switches let a
test make it vanish, expire subscriptions, send garbage, or leave out the media service.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"

_NAMESPACES = (
    f'xmlns:s="{SOAP_ENV}" xmlns:tds="{DEVICE_NS}" xmlns:tev="{EVENTS_NS}" xmlns:trt="{MEDIA_NS}"'
    ' xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
    ' xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wstop="http://docs.oasis-open.org/wsn/t-1"'
    ' xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:ter="http://www.onvif.org/ver10/error"'
)
# GetSystemDateAndTime is the one call ONVIF allows before authentication (clients need the clock).
_PRE_AUTH = {"GetSystemDateAndTime"}
# How far the Created stamp may stray from the device clock before the device refuses it.
CREATED_WINDOW = timedelta(seconds=60)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-UsernameToken PasswordDigest: Base64(SHA1(nonce + Created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_duration(text: str, default: float) -> float:
    """Seconds in an xs:duration like PT1S / PT1M30S / PT0.5S; `default` when unreadable."""
    match = re.fullmatch(r"P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text.strip())
    if not match:
        return default
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, name: str) -> ET.Element | None:
    """The first descendant with local name `name`, whatever its namespace."""
    for child in element.iter():
        if _local(child.tag) == name:
            return child
    return None


@dataclass(frozen=True)
class DeviceInfo:
    """What GetDeviceInformation answers."""

    manufacturer: str = "Maderas Test"
    model: str = "PullPoint-1"
    firmware: str = "1.0.0"
    serial: str = "MT-0001"


@dataclass(frozen=True)
class MediaProfile:
    """One media profile: what GetProfiles says of it and the URI GetStreamUri answers for it."""

    token: str
    width: int
    height: int
    uri: str
    name: str = ""
    encoding: str = "H264"


class _Fault(Exception):
    """A SOAP fault to send back: `subcode` is an ONVIF error QName like ter:NotAuthorized."""

    def __init__(self, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason
        self.status = status


class OnvifDevice:
    """The test camera: `await start()` -> port, `push(...)` events, `stop()` at the end."""

    def __init__(
        self,
        username: str = "admin",
        password: str = "secret",
        *,
        events: bool = True,
        clock_offset: timedelta = timedelta(0),
        max_termination: float | None = None,
        info: DeviceInfo = DeviceInfo(),
        media: bool = True,
        profiles: Sequence[MediaProfile] = (),
    ) -> None:
        self.username = username
        self.password = password
        self.events = events
        self.clock_offset = clock_offset
        # Caps the termination time a client asks for, so a test sees Renew within seconds.
        self.max_termination = max_termination
        self.info = info
        # Without a media service the camera lists none and faults every media call.
        self.media = media
        self.profiles = list(profiles)  # a test may set them after start(), once its RTSP port is known
        self.stream_requests: list[dict[str, str]] = []  # GetStreamUri: ProfileToken, Stream, Protocol
        self.port = 0
        self.calls: collections.Counter[str] = collections.Counter()
        self.auth_failures = 0
        self.unsubscribed: list[str] = []
        self.delivered: list[str] = []
        self._queue: collections.deque[str] = collections.deque()
        self._states: dict[tuple[str, str], str] = {}
        self._subscriptions: dict[str, datetime] = {}
        self._ids = itertools.count(1)
        self._wakeup = asyncio.Event()
        self._garbage_replies = 0
        self._gone = False
        self._runner: web.AppRunner | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    # -- test controls ------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on loopback (the same port again after `vanish()`); return the port."""
        app = web.Application()
        app.router.add_post("/onvif/device_service", self._handle)
        app.router.add_post("/onvif/events", self._handle)
        app.router.add_post("/onvif/media", self._handle)
        app.router.add_post("/onvif/subscription/{sid}", self._handle)
        # A short shutdown: a camera that vanishes does not wait for its clients.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # the bound port is only known from the server socket
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        self._gone = False
        return self.port

    async def stop(self) -> None:
        """Stop listening and drop open long-polls."""
        self._gone = True
        self._wakeup.set()
        # Drop keep-alive connections ourselves: an idle one can otherwise hold aiohttp's shutdown.
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def vanish(self) -> None:
        """Stop answering as a rebooting camera does: the port closes and subscriptions are lost."""
        await self.stop()
        self._subscriptions.clear()

    async def come_back(self) -> None:
        """Answer again on the same port."""
        await self.start()

    def push(self, topic: str, data: dict[str, str], source: dict[str, str] | None = None,
             *, operation: str = "Changed", utc_time: datetime | None = None) -> None:
        """Queue one notification; PullMessages hands queued messages out in order."""
        source = source or {"VideoSourceConfigurationToken": "VideoSourceToken"}
        message = self._notification(topic, data, source, operation, utc_time)
        self._states[(topic, repr(sorted(source.items())))] = self._notification(
            topic, data, source, "Initialized", None
        )
        self._queue.append(message)
        self._wakeup.set()

    def set_state(self, topic: str, data: dict[str, str], source: dict[str, str] | None = None) -> None:
        """Set a property's current state, sent as "Initialized" to each new subscription."""
        source = source or {"VideoSourceConfigurationToken": "VideoSourceToken"}
        self._states[(topic, repr(sorted(source.items())))] = self._notification(
            topic, data, source, "Initialized", None
        )

    def push_raw(self, notification_xml: str) -> None:
        """Queue a hand-written wsnt:NotificationMessage (e.g. a malformed one)."""
        self._queue.append(notification_xml)
        self._wakeup.set()

    def garbage_replies(self, count: int = 1) -> None:
        """Answer the next `count` PullMessages with bytes that are not XML."""
        self._garbage_replies += count

    @property
    def garbage_pending(self) -> int:
        """Garbage replies still to be sent."""
        return self._garbage_replies

    def expire_subscriptions(self) -> None:
        """End every subscription now, as a camera does when its clock passes termination time."""
        self._subscriptions.clear()

    @property
    def subscriptions(self) -> list[str]:
        """Ids of live subscriptions."""
        now = self.now()
        return [sid for sid, until in self._subscriptions.items() if until > now]

    def now(self) -> datetime:
        """The device clock: real time plus the configured offset."""
        return datetime.now(UTC) + self.clock_offset

    # -- SOAP -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            self._transports.add(request.transport)
        if self._gone:
            return self._hang_up(request)
        body = await request.read()
        try:
            envelope = ET.fromstring(body)
            soap_body = next(c for c in envelope if _local(c.tag) == "Body")
            operation = soap_body[0]
        except (ET.ParseError, StopIteration, IndexError):
            return self._fault_response(_Fault("ter:WellFormed", "request is not a SOAP envelope"))
        name = _local(operation.tag)
        self.calls[name] += 1
        try:
            if name not in _PRE_AUTH:
                self._authenticate(envelope)
            reply = await self._dispatch(name, operation, request)
        except _Fault as fault:
            return self._fault_response(fault)
        if reply is None:  # garbage on purpose
            return web.Response(body=b"\x00<<not xml at all", content_type="application/soap+xml")
        if self._gone:
            return self._hang_up(request)
        return web.Response(text=self._envelope(reply), content_type="application/soap+xml", charset="utf-8")

    @staticmethod
    def _hang_up(request: web.Request) -> web.Response:
        """A vanished camera answers nothing: the connection just closes."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=503)

    def _authenticate(self, envelope: ET.Element) -> None:
        token = _find(envelope, "UsernameToken")
        if token is None:
            self.auth_failures += 1
            raise _Fault("ter:NotAuthorized", "Sender not Authorized: no UsernameToken")
        username = _find(token, "Username")
        password = _find(token, "Password")
        nonce = _find(token, "Nonce")
        created = _find(token, "Created")
        if username is None or password is None or nonce is None or created is None:
            self.auth_failures += 1
            raise _Fault("ter:NotAuthorized", "Sender not Authorized: incomplete UsernameToken")
        expected = password_digest(base64.b64decode(nonce.text or ""), created.text or "", self.password)
        if (username.text or "") != self.username or (password.text or "") != expected:
            self.auth_failures += 1
            raise _Fault("ter:NotAuthorized", "Sender not Authorized")
        try:
            stamp = datetime.fromisoformat(created.text or "")
        except ValueError:
            self.auth_failures += 1
            raise _Fault("ter:NotAuthorized", "Sender not Authorized: unreadable Created") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        if abs(stamp - self.now()) > CREATED_WINDOW:
            self.auth_failures += 1
            raise _Fault("ter:NotAuthorized", "Sender not Authorized: Created is too far from the device clock")

    async def _dispatch(self, name: str, operation: ET.Element, request: web.Request) -> str | None:
        base = f"http://127.0.0.1:{self.port}"
        if name == "GetSystemDateAndTime":
            return self._system_date_and_time()
        if name == "GetServices":
            services = [(DEVICE_NS, f"{base}/onvif/device_service")]
            if self.events:
                services.append((EVENTS_NS, f"{base}/onvif/events"))
            if self.media:
                services.append((MEDIA_NS, f"{base}/onvif/media"))
            items = "".join(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{addr}</tds:XAddr>"
                "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
                for ns, addr in services
            )
            return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"
        if name == "GetCapabilities":
            events = (
                f"<tt:Events><tt:XAddr>{base}/onvif/events</tt:XAddr><tt:WSSubscriptionPolicySupport>false"
                "</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
                "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
                "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
                if self.events
                else ""
            )
            media = (
                f"<tt:Media><tt:XAddr>{base}/onvif/media</tt:XAddr><tt:StreamingCapabilities>"
                "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
                "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
                if self.media
                else ""
            )
            return (
                "<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device>{events}{media}"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>"
            )
        if name == "GetDeviceInformation":
            info = self.info
            return (
                f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(info.manufacturer)}</tds:Manufacturer>"
                f"<tds:Model>{escape(info.model)}</tds:Model><tds:FirmwareVersion>{escape(info.firmware)}"
                f"</tds:FirmwareVersion><tds:SerialNumber>{escape(info.serial)}</tds:SerialNumber>"
                "<tds:HardwareId>1</tds:HardwareId></tds:GetDeviceInformationResponse>"
            )
        if name in _MEDIA_OPERATIONS:
            if not self.media or request.path != "/onvif/media":
                raise _Fault("ter:ActionNotSupported", f"{name} is not supported here")
            return self._media(name, operation)
        if not self.events or name not in _EVENT_OPERATIONS:
            raise _Fault("ter:ActionNotSupported", f"{name} is not supported")
        if name == "GetEventProperties":
            return self._event_properties()
        if name == "CreatePullPointSubscription":
            return self._subscribe(operation, base)
        sid = request.match_info.get("sid")
        if sid is None or sid not in self.subscriptions:
            raise _Fault("wsrf-rw:ResourceUnknownFault", f"no subscription {sid}")
        if name == "PullMessages":
            return await self._pull(operation, sid)
        if name == "Renew":
            until = self._termination(_find(operation, "TerminationTime"))
            self._subscriptions[sid] = until
            return (
                f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(until)}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{_iso(self.now())}</wsnt:CurrentTime></wsnt:RenewResponse>"
            )
        # Unsubscribe
        del self._subscriptions[sid]
        self.unsubscribed.append(sid)
        return "<wsnt:UnsubscribeResponse/>"

    def _system_date_and_time(self) -> str:
        now = self.now()
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year>"
            f"<tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _media(self, name: str, operation: ET.Element) -> str:
        """GetProfiles and GetStreamUri (RTP-Unicast over RTSP only, as most cameras offer)."""
        if name == "GetProfiles":
            return f"<trt:GetProfilesResponse>{''.join(map(self._profile, self.profiles))}</trt:GetProfilesResponse>"
        token_element = _find(operation, "ProfileToken")
        token = (token_element.text or "").strip() if token_element is not None else ""
        stream_element, protocol_element = _find(operation, "Stream"), _find(operation, "Protocol")
        stream = (stream_element.text or "").strip() if stream_element is not None else ""
        protocol = (protocol_element.text or "").strip() if protocol_element is not None else ""
        self.stream_requests.append({"ProfileToken": token, "Stream": stream, "Protocol": protocol})
        profile = next((p for p in self.profiles if p.token == token), None)
        if profile is None:
            raise _Fault("ter:InvalidArgVal", f"no profile {token!r}")
        if stream != "RTP-Unicast" or protocol != "RTSP":
            raise _Fault("ter:InvalidArgVal", f"stream setup {stream}/{protocol} is not supported")
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(profile.uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
            "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        )

    @staticmethod
    def _profile(profile: MediaProfile) -> str:
        name = escape(profile.name or profile.token)
        return (
            f"<trt:Profiles token={quoteattr(profile.token)} fixed=\"true\"><tt:Name>{name}</tt:Name>"
            f"<tt:VideoEncoderConfiguration token={quoteattr(profile.token + '_enc')}><tt:Name>{name}</tt:Name>"
            f"<tt:UseCount>1</tt:UseCount><tt:Encoding>{escape(profile.encoding)}</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{profile.width}</tt:Width><tt:Height>{profile.height}</tt:Height>"
            "</tt:Resolution><tt:Quality>4</tt:Quality></tt:VideoEncoderConfiguration></trt:Profiles>"
        )

    def _event_properties(self) -> str:
        return (
            "<tev:GetEventPropertiesResponse>"
            "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
            "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
            "<wstop:TopicSet><tns1:RuleEngine><CellMotionDetector><Motion wstop:topic=\"true\"/>"
            "</CellMotionDetector><MyRuleDetector><FaceDetect wstop:topic=\"true\"/></MyRuleDetector>"
            "</tns1:RuleEngine></wstop:TopicSet>"
            "<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
            "</wsnt:TopicExpressionDialect>"
            "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
            "</tev:MessageContentFilterDialect>"
            "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
            "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
        )

    def _termination(self, element: ET.Element | None) -> datetime:
        """The termination time for a requested one (relative PT.. or absolute), capped by `max_termination`."""
        now = self.now()
        text = (element.text or "").strip() if element is not None else ""
        if text.startswith("P"):
            seconds = _parse_duration(text, 60.0)
        elif text:
            seconds = (datetime.fromisoformat(text) - now).total_seconds()
        else:
            seconds = 60.0
        if self.max_termination is not None:
            seconds = min(seconds, self.max_termination)
        return now + timedelta(seconds=seconds)

    def _subscribe(self, operation: ET.Element, base: str) -> str:
        sid = str(next(self._ids))
        until = self._termination(_find(operation, "InitialTerminationTime"))
        self._subscriptions[sid] = until
        # A new subscription first learns the current state of every property.
        self._queue.extendleft(reversed(list(self._states.values())))
        self._wakeup.set()
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{base}/onvif/subscription/{sid}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_iso(self.now())}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{_iso(until)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    async def _pull(self, operation: ET.Element, sid: str) -> str | None:
        timeout_element = _find(operation, "Timeout")
        limit_element = _find(operation, "MessageLimit")
        timeout = _parse_duration(timeout_element.text or "" if timeout_element is not None else "", 1.0)
        limit = int(limit_element.text or 1) if limit_element is not None else 1
        if self._garbage_replies:
            self._garbage_replies -= 1
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._queue and not self._gone and sid in self._subscriptions:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                break
        if self._gone:
            return ""
        if sid not in self.subscriptions:
            raise _Fault("wsrf-rw:ResourceUnknownFault", f"subscription {sid} ended")
        messages: list[str] = []
        while self._queue and len(messages) < limit:
            messages.append(self._queue.popleft())
        self.delivered.extend(messages)
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(self.now())}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_iso(self._subscriptions[sid])}</tev:TerminationTime>"
            f"{''.join(messages)}</tev:PullMessagesResponse>"
        )

    def _notification(self, topic: str, data: dict[str, str], source: dict[str, str], operation: str,
                      utc_time: datetime | None) -> str:
        def items(values: dict[str, str]) -> str:
            return "".join(f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in values.items())

        stamp = _iso(utc_time or self.now())
        return (
            "<wsnt:NotificationMessage>"
            '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
            f"{escape(topic)}</wsnt:Topic><wsnt:Message>"
            f'<tt:Message UtcTime="{stamp}" PropertyOperation={quoteattr(operation)}>'
            f"<tt:Source>{items(source)}</tt:Source><tt:Data>{items(data)}</tt:Data>"
            "</tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        )

    @staticmethod
    def _envelope(body: str) -> str:
        return f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {_NAMESPACES}><s:Body>{body}</s:Body></s:Envelope>'

    def _fault_response(self, fault: _Fault) -> web.Response:
        body = (
            "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode>"
            f"<s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>'
        )
        envelope = self._envelope(body).replace(
            "<s:Envelope ", '<s:Envelope xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2" ', 1
        )
        return web.Response(text=envelope, status=fault.status, content_type="application/soap+xml", charset="utf-8")


_MEDIA_OPERATIONS = {"GetProfiles", "GetStreamUri"}
_EVENT_OPERATIONS = {"GetEventProperties", "CreatePullPointSubscription", "PullMessages", "Renew", "Unsubscribe"}
