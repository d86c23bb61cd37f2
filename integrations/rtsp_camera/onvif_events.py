"""ONVIF PullPoint events: a camera's own motion, face, person and tamper detections as `CameraEvent`s.

Built on onvif-zeep-async (the client Home Assistant uses): connect with the camera's clock offset,
find the event service, CreatePullPointSubscription, long-poll PullMessages, Renew before the
termination time, resubscribe after a fault or expiry, reconnect with backoff when the camera goes
away, Unsubscribe on stop. Topics are mapped by our own table (see `TOPICS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import aiohttp
import zeep.exceptions

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

EventKind = Literal["motion", "face", "person", "tamper"]
StatusState = Literal["connecting", "subscribed", "unsupported", "auth_failed", "failed"]

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
PULLPOINT_NS = f"{EVENTS_NS}/PullPointSubscription"

# Topic path without namespace prefixes -> (kind, data item names that carry the state, in order).
TOPICS: dict[str, tuple[EventKind, tuple[str, ...]]] = {
    "RuleEngine/CellMotionDetector/Motion": ("motion", ("IsMotion",)),
    "VideoSource/MotionAlarm": ("motion", ("State",)),
    "RuleEngine/MotionRegionDetector/Motion": ("motion", ("State", "IsMotion")),
    # An intrusion area (Hikvision "field detection"): something moved into a zone.
    "RuleEngine/FieldDetector/ObjectsInside": ("motion", ("IsInside",)),
    "RuleEngine/MyRuleDetector/FaceDetect": ("face", ("State",)),
    "RuleEngine/MyRuleDetector/PeopleDetect": ("person", ("State",)),
    "RuleEngine/PeopleDetector/People": ("person", ("IsPeople",)),
    "RuleEngine/CellMotionDetector/People": ("person", ("IsPeople",)),
    "RuleEngine/TamperDetector/Tamper": ("tamper", ("IsTamper",)),
    "RuleEngine/CellMotionDetector/Tamper": ("tamper", ("IsTamper",)),
}
_TRUE = {"true", "1", "on", "active"}
_FALSE = {"false", "0", "off", "inactive"}
# Consecutive unreadable PullMessages replies tolerated before the session counts as failed.
_GARBAGE_LIMIT = 3
# Resubscriptions without one good pull in between before we back off instead.
_RESUBSCRIBE_LIMIT = 3


@dataclass(frozen=True)
class CameraEvent:
    """One detection state change reported by the camera (or its state at subscribe time)."""

    kind: EventKind
    active: bool
    topic: str
    time: float
    source: str = "onvif"
    data: Mapping[str, Any] = field(default_factory=dict)
    initial: bool = False


@dataclass(frozen=True)
class DeviceIdentity:
    """What GetDeviceInformation says about the camera."""

    manufacturer: str
    model: str
    serial: str
    firmware: str

    @property
    def unique_id(self) -> str:
        """A stable id for the camera across address changes."""
        return f"{self.manufacturer}-{self.model}-{self.serial}".lower().replace(" ", "_")


@dataclass(frozen=True)
class OnvifStatus:
    """Where the event subscription stands, with a reason a resident can read."""

    state: StatusState
    reason: str = ""
    device: DeviceIdentity | None = None


class MalformedMessage(ValueError):
    """A NotificationMessage we cannot read."""


class _AuthFailed(Exception):
    """The camera refused our credentials."""


class _SessionFailed(Exception):
    """The camera is unreachable or misbehaving; reconnect after the backoff."""


class _Resubscribe(Exception):
    """The subscription is gone (fault, expiry); subscribe again on the same connection."""


class _Stopped(Exception):
    """stop() was called; leave at the next point where waiting would begin."""


def topic_path(topic: str) -> str:
    """`tns1:RuleEngine/CellMotionDetector/Motion` -> `RuleEngine/CellMotionDetector/Motion` (any prefixes)."""
    return "/".join(part.rsplit(":", 1)[-1] for part in topic.strip().split("/"))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _items(container: Any) -> dict[str, str]:
    """Name -> Value of the SimpleItems in a zeep tt:ItemList or an lxml element."""
    if container is None:
        return {}
    if hasattr(container, "iter"):  # an lxml element zeep could not bind
        return {
            _text(el.get("Name")): _text(el.get("Value"))
            for el in container.iter()
            if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "SimpleItem"
        }
    return {_text(item.Name): _text(item.Value) for item in (getattr(container, "SimpleItem", None) or [])}


def _child(element: Any, name: str) -> Any:
    for child in element:
        if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == name:
            return child
    return None


def decode_notification(message: Any, now: float) -> CameraEvent | None:
    """Turn one wsnt:NotificationMessage into a CameraEvent; None for topics we do not map.

    Raises MalformedMessage when the message lacks a topic, a tt:Message or a readable state.
    """
    try:
        topic = _text(message.Topic._value_1).strip()
        payload = message.Message._value_1
    except AttributeError as err:
        raise MalformedMessage(f"no topic or message ({err})") from err
    if not topic or payload is None:
        raise MalformedMessage("no topic or message")
    entry = TOPICS.get(topic_path(topic))
    if entry is None:
        return None
    kind, names = entry
    if hasattr(payload, "iter"):
        operation = _text(payload.get("PropertyOperation"))
        utc: Any = payload.get("UtcTime")
        source, data = _items(_child(payload, "Source")), _items(_child(payload, "Data"))
    else:
        operation = _text(getattr(payload, "PropertyOperation", ""))
        utc = getattr(payload, "UtcTime", None)
        source, data = _items(getattr(payload, "Source", None)), _items(getattr(payload, "Data", None))
    value = next((data[name] for name in names if name in data), None)
    if value is None and len(data) == 1:
        value = next(iter(data.values()))  # vendors rename the item; a lone item is the state
    if value is None:
        raise MalformedMessage(f"{topic}: no state item in {sorted(data)}")
    if value.strip().lower() in _TRUE:
        active = operation != "Deleted"
    elif value.strip().lower() in _FALSE:
        active = False
    else:
        raise MalformedMessage(f"{topic}: state {value!r} is not a boolean")
    utc_text = utc.isoformat() if isinstance(utc, datetime) else (_text(utc) or None)
    return CameraEvent(
        kind=kind,
        active=active,
        topic=topic,
        time=now,
        data={"source": source, "data": data, "utc_time": utc_text, "operation": operation or None},
        initial=operation == "Initialized",
    )


def import_onvif() -> Any:
    """Import onvif.ONVIFCamera without its import-time logging.basicConfig touching the hub's logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from onvif import ONVIFCamera  # type: ignore[import-untyped]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return ONVIFCamera


def is_auth_error(err: BaseException) -> bool:
    """Whether an ONVIF error means the camera refused the credentials (SOAP NotAuthorized or HTTP 401)."""
    if isinstance(err, zeep.exceptions.Fault):
        subcodes = err.subcodes if isinstance(err.subcodes, list) else [err.subcodes] if err.subcodes else []
        codes = " ".join(_text(getattr(code, "text", code)) for code in subcodes)
        return "NotAuthorized" in codes or "auth" in _text(err.message).lower()
    if isinstance(err, zeep.exceptions.TransportError):
        return err.status_code in (401, 403)
    return type(err).__name__ == "ONVIFAuthError"


def _is_garbage(err: BaseException) -> bool:
    """An answer arrived but is not a readable SOAP reply (zeep reports invalid XML on a 200 as TransportError)."""
    if isinstance(err, zeep.exceptions.TransportError):
        return 200 <= err.status_code < 300
    # zeep's recovering parser hands back None for some non-XML bodies, then trips over it.
    readable = (zeep.exceptions.Error, ValueError, AttributeError)
    return isinstance(err, readable) and not isinstance(err, zeep.exceptions.Fault)


def describe_error(err: BaseException) -> str:
    """The first line of an error, without onvif's "Unknown error: " prefix (zeep appends whole bodies)."""
    if isinstance(err, zeep.exceptions.Fault):
        return _text(err.message) or "SOAP fault"
    text = (str(err) or type(err).__name__).strip().splitlines()[0]
    return text.removeprefix("Unknown error: ")


# What a camera that went away or answers nonsense raises through zeep and aiohttp.
_IO_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, zeep.exceptions.Error)


class OnvifEvents:
    """One camera's ONVIF PullPoint subscription, delivering `CameraEvent`s until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        on_event: Callable[[CameraEvent], None],
        on_status: Callable[[OnvifStatus], None],
        clock_time: Callable[[], float] = time.time,  # the hub's wall clock: CameraEvent.time
        pull_timeout: float = 30.0,  # PullMessages Timeout (the long-poll), seconds
        subscription_time: float = 60.0,  # termination time asked for on subscribe and Renew
        retry_initial: float = 5.0,  # reconnect backoff, doubling up to retry_max
        retry_max: float = 300.0,  # also the wait after a refused password
        stop_timeout: float = 5.0,  # bound on each step of stop(): leaving a connect step, Unsubscribe
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,  # backoff waits (e.g. the hub clock's sleep)
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._on_event = on_event
        self._on_status = on_status
        self._clock_time = clock_time
        self._pull_timeout = pull_timeout
        self._subscription_time = subscription_time
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._stop_timeout = stop_timeout
        self._sleep = sleep
        self._delay = retry_initial
        self._status = OnvifStatus("connecting")
        self._device: DeviceIdentity | None = None
        self._camera: Any = None
        self._subscription: Any = None
        self._pullpoint: Any = None
        self._deadline = 0.0
        self._pulled = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # True only while run() waits on a long-poll or a backoff: the points stop() may cancel at
        # without cutting onvif-zeep-async off half way through building a service (it would leak sockets).
        self._cancellable = False
        self._logged: set[str] = set()

    @property
    def status(self) -> OnvifStatus:
        """The latest status reported."""
        return self._status

    @property
    def device(self) -> DeviceIdentity | None:
        """The camera's identity once GetDeviceInformation answered."""
        return self._device

    async def run(self) -> None:
        """Subscribe and deliver events until `stop()`; returns by itself only if the camera has no events."""
        if self._stopping:
            return
        self._task = asyncio.current_task()
        self._set_status("connecting")
        try:
            while not self._stopping:
                try:
                    await self._session()
                    return  # no event service: nothing to retry
                except _Stopped:
                    return
                except _AuthFailed as err:
                    self._set_status("auth_failed", str(err))
                    # A wrong password does not fix itself quickly: wait the longest backoff.
                    wait = self._retry_max
                except _SessionFailed as err:
                    self._set_status("failed", str(err))
                    wait, self._delay = self._delay, min(self._delay * 2, self._retry_max)
                except Exception as err:  # a background subscription must outlive surprises; back off
                    _LOGGER.exception("%s: ONVIF events failed unexpectedly", self._host)
                    self._set_status("failed", f"unexpected error: {describe_error(err)}")
                    wait, self._delay = self._delay, min(self._delay * 2, self._retry_max)
                await self._close_camera()
                try:
                    await self._interruptible(functools.partial(self._sleep, wait))
                except _Stopped:
                    return
        finally:
            if not self._stopping:
                await self._close_camera()

    async def stop(self) -> None:
        """Stop polling, Unsubscribe (best effort, bounded) and release the connection."""
        self._stopping = True
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            if self._cancellable:
                task.cancel()
            done, _pending = await asyncio.wait([task], timeout=self._stop_timeout)
            if not done:  # a connect step that hangs: give up on it
                task.cancel()
                await asyncio.wait([task])
        if self._subscription is not None:
            try:
                async with asyncio.timeout(self._stop_timeout):
                    await self._subscription.Unsubscribe()
            except Exception as err:  # best effort: the subscription also expires by itself
                _LOGGER.debug("%s: Unsubscribe failed: %s", self._host, describe_error(err), exc_info=True)
        await self._close_camera()

    # -- one connection -----------------------------------------------------------------------

    async def _session(self) -> None:
        """Connect, find the event service, then subscribe and pull until something breaks."""
        camera = import_onvif()(
            self._host, self._port, self._username, self._password, adjust_time=True, no_cache=True
        )
        self._camera = camera
        async with self._guard("connect"):
            # Reads the camera clock first (GetSystemDateAndTime needs no auth) so WS-Security
            # timestamps carry the camera's time: a camera minutes off still accepts us.
            await camera.update_xaddrs()
            capabilities = await camera.get_capabilities() or {}
        events = capabilities.get("Events") or {}
        if EVENTS_NS not in camera.xaddrs and events.get("XAddr"):
            camera.xaddrs[EVENTS_NS] = events["XAddr"]
        if EVENTS_NS not in camera.xaddrs or events.get("WSPullPointSupport") is False:
            self._set_status("unsupported", "the camera has no ONVIF PullPoint event service")
            return
        async with self._guard("device information"):
            info = await (await camera.create_devicemgmt_service()).GetDeviceInformation()
            self._device = DeviceIdentity(
                manufacturer=_text(info.Manufacturer),
                model=_text(info.Model),
                serial=_text(info.SerialNumber),
                firmware=_text(info.FirmwareVersion),
            )
        failures = 0
        while True:
            await self._subscribe(camera)
            try:
                await self._pull_loop()
            except _Resubscribe as err:
                failures = failures + 1 if not self._pulled else 1
                _LOGGER.info("%s: subscription lost (%s), subscribing again", self._host, err)
                if failures >= _RESUBSCRIBE_LIMIT:
                    raise _SessionFailed(f"the camera keeps dropping the subscription: {err}") from err

    async def _subscribe(self, camera: Any) -> None:
        async with self._guard("subscribe"):
            events = await camera.create_events_service()
            result = await events.CreatePullPointSubscription(
                {"InitialTerminationTime": f"PT{int(self._subscription_time)}S"}
            )
            address = _text(result.SubscriptionReference.Address._value_1)
            if not address:
                raise _SessionFailed("CreatePullPointSubscription returned no address")
            camera.xaddrs[PULLPOINT_NS] = address
            self._subscription = await camera.create_subscription_service("PullPointSubscription")
            self._pullpoint = await camera.create_pullpoint_service()
        self._update_deadline(result)
        self._pulled = False
        self._set_status("subscribed")

    async def _pull_loop(self) -> None:
        """Long-poll PullMessages; renew when the termination time comes near."""
        garbage = 0
        # Renew when less than one poll plus this margin is left before termination.
        margin = max(2.0, 0.1 * self._subscription_time)
        loop = asyncio.get_running_loop()
        while True:
            if self._deadline - loop.time() < self._pull_timeout + margin:
                await self._renew()
            request = {"Timeout": timedelta(seconds=self._pull_timeout), "MessageLimit": 100}
            try:
                reply = await self._interruptible(functools.partial(self._pullpoint.PullMessages, request))
            except zeep.exceptions.Fault as err:
                if is_auth_error(err):
                    raise _AuthFailed(self._auth_reason(err)) from err
                raise _Resubscribe(describe_error(err)) from err
            except (*_IO_ERRORS, ValueError, AttributeError) as err:
                if not _is_garbage(err):
                    raise _SessionFailed(self._io_reason(err)) from err
                garbage += 1
                self._log_once("garbage", "%s: unreadable PullMessages reply skipped: %s", self._host, describe_error(err))
                if garbage >= _GARBAGE_LIMIT:
                    raise _SessionFailed(f"the camera answers PullMessages with garbage: {describe_error(err)}") from err
                continue
            garbage = 0
            self._pulled = True
            self._delay = self._retry_initial  # a working subscription resets the backoff
            self._update_deadline(reply)
            for message in getattr(reply, "NotificationMessage", None) or []:
                self._deliver(message)

    async def _renew(self) -> None:
        try:
            result = await self._subscription.Renew({"TerminationTime": f"PT{int(self._subscription_time)}S"})
        except zeep.exceptions.Fault as err:
            if is_auth_error(err):
                raise _AuthFailed(self._auth_reason(err)) from err
            raise _Resubscribe(f"Renew refused: {describe_error(err)}") from err
        except _IO_ERRORS as err:
            raise _SessionFailed(self._io_reason(err)) from err
        self._update_deadline(result)

    def _update_deadline(self, result: Any) -> None:
        """Track termination in our monotonic time: the camera's two stamps share its (maybe wrong) clock."""
        current = getattr(result, "CurrentTime", None)
        termination = getattr(result, "TerminationTime", None)
        if isinstance(current, datetime) and isinstance(termination, datetime):
            try:
                remaining = (termination - current).total_seconds()
            except TypeError:  # one naive, one aware
                remaining = self._subscription_time
        elif termination is None and current is None and self._deadline:
            return  # a reply without times (some PullMessages) leaves the deadline as it was
        else:
            remaining = self._subscription_time
        self._deadline = asyncio.get_running_loop().time() + remaining

    def _deliver(self, message: Any) -> None:
        try:
            event = decode_notification(message, self._clock_time())
        except MalformedMessage as err:
            self._log_once(f"malformed:{err}", "%s: malformed ONVIF message skipped: %s", self._host, err)
            return
        if event is None:
            topic = _text(getattr(getattr(message, "Topic", None), "_value_1", ""))
            _LOGGER.debug("%s: ONVIF topic %s not mapped", self._host, topic)
            return
        try:
            self._on_event(event)
        except Exception:  # a listener's bug must not end the subscription
            _LOGGER.exception("%s: ONVIF event listener failed", self._host)

    # -- helpers ------------------------------------------------------------------------------

    async def _interruptible(self, start: Callable[[], Awaitable[_T]]) -> _T:
        """Await `start()` where stop() may cancel us; raise _Stopped instead of starting once stopping."""
        if self._stopping:
            raise _Stopped
        self._cancellable = True
        try:
            return await start()
        finally:
            self._cancellable = False

    @contextlib.asynccontextmanager
    async def _guard(self, step: str) -> AsyncIterator[None]:
        """Turn zeep / aiohttp / onvif errors during `step` into auth or session failures."""
        try:
            yield
        except (_AuthFailed, _SessionFailed, _Resubscribe, _Stopped):
            raise
        except Exception as err:  # onvif wraps anything it meets in ONVIFError; classify, never leak
            if is_auth_error(err) or is_auth_error(err.__cause__ or err):
                raise _AuthFailed(self._auth_reason(err)) from err
            if isinstance(err, _IO_ERRORS):
                raise _SessionFailed(self._io_reason(err)) from err
            raise _SessionFailed(f"{step} failed: {describe_error(err)}") from err

    def _auth_reason(self, err: BaseException) -> str:
        return f"the camera refused user {self._username}: {describe_error(err)}"

    def _io_reason(self, err: BaseException) -> str:
        if isinstance(err, zeep.exceptions.TransportError):
            return f"camera answered HTTP {err.status_code}"
        if isinstance(err, zeep.exceptions.Error):
            return f"unreadable answer: {describe_error(err)}"
        return f"unreachable: {describe_error(err)}"

    def _set_status(self, state: StatusState, reason: str = "") -> None:
        status = OnvifStatus(state, reason, self._device)
        if status == self._status and state != "connecting":
            return
        self._status = status
        try:
            self._on_status(status)
        except Exception:
            _LOGGER.exception("%s: ONVIF status listener failed", self._host)

    def _log_once(self, key: str, msg: str, *args: Any) -> None:
        """Warn the first time a kind of trouble happens, then keep quiet (debug) about it."""
        level = logging.DEBUG if key in self._logged else logging.WARNING
        self._logged.add(key)
        _LOGGER.log(level, msg, *args)

    async def _close_camera(self) -> None:
        """Close every HTTP session of the camera, even when cancelled meanwhile (else sockets leak)."""
        camera, self._camera = self._camera, None
        self._subscription = self._pullpoint = None
        if camera is None:
            return
        closing = asyncio.ensure_future(self._release(camera))
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            await asyncio.wait([closing])
            raise

    @staticmethod
    async def _release(camera: Any) -> None:
        with contextlib.suppress(Exception):
            await camera.close()
        # camera.close() stops at the first service that fails to close; close each on its own too.
        for service in list(camera.services.values()):
            with contextlib.suppress(Exception):
                await service.close()
