"""`/api/websocket`: auth handshake, subscriptions, one writer task and a bounded queue per client.

Bus callbacks only put pre-serialised bytes on the client's queue and never await: a state's
JSON is `State.as_json()` (made once, shared by every client) spliced into a small envelope.
A client whose queue is full is closed with 1008 "client too slow: N messages queued", so a
stalled client never delays the others or the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from .. import __version__
from ..bus import EVENT_STATE_CHANGED, MATCH_ALL, Event
from ..states import valid_entity_id
from .common import (
    ADMIN,
    HUB_KEY,
    MAX_BODY,
    PUBLIC,
    REQUEST_ID_KEY,
    ApiError,
    Route,
    dumps,
)
from .views_core import call_service

_LOGGER = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1024
AUTH_TIMEOUT = 10.0  # real seconds: this protects the server, so it does not follow the hub clock
CLOSE_TIMEOUT = 2.0  # a peer that does not take our close frame by then is cut off
MAX_ENTITY_IDS = 10_000
RESIDENT_EVENT_TYPES = frozenset({
    "alarm_raised", "alarm_restored", "alarm_acknowledged", "command_center_link", "state_changed",
    # resupply's lifecycle (docs/resupply.md)
    "order_created", "order_sent", "order_confirmed", "order_delivered", "order_failed", "order_cancelled",
})  # fmt: skip

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008


@dataclass(frozen=True, slots=True)
class Settings:
    """Per-app websocket settings (small values in tests)."""

    queue_size: int
    auth_timeout: float
    close_timeout: float


SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("ws_settings")
CLIENTS_KEY: web.AppKey[set[Client]] = web.AppKey("ws_clients")


def setup(app: web.Application, *, queue_size: int, auth_timeout: float, close_timeout: float) -> None:
    """Client registry, revocation listener and shutdown hook of one app."""
    app[SETTINGS_KEY] = Settings(queue_size, auth_timeout, close_timeout)
    app[CLIENTS_KEY] = set()
    app.cleanup_ctx.append(_revocations)
    app.on_shutdown.append(_on_shutdown)


async def _revocations(app: web.Application) -> AsyncIterator[None]:
    """Close the websockets of a token when it is revoked, for as long as the app runs."""
    auth = app[HUB_KEY].auth
    unsubscribe = auth.on_revoke(functools.partial(_token_revoked, app)) if auth is not None else None
    yield
    if unsubscribe is not None:
        unsubscribe()


def _token_revoked(app: web.Application, token_id: str) -> None:
    clients = app[CLIENTS_KEY]
    for client in list(clients):
        if client.token_id == token_id:
            client.close_soon(CLOSE_POLICY, "token revoked")


async def _on_shutdown(app: web.Application) -> None:
    await close_all(app, code=CLOSE_GOING_AWAY, message="hub stopping", timeout=app[SETTINGS_KEY].close_timeout)


async def close_all(app: web.Application, *, code: int, message: str, timeout: float) -> None:
    """Close every websocket of `app` and wait (at most `timeout`) until their handlers are done."""
    registered = app[CLIENTS_KEY]
    clients = list(registered)
    for client in clients:
        client.close_soon(code, message)
    waits = [asyncio.ensure_future(c.done.wait()) for c in clients]
    if waits:
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def websocket_view(request: web.Request) -> web.StreamResponse:
    """Upgrade and serve one client until it leaves or is closed."""
    settings = request.app[SETTINGS_KEY]
    # No permessage-deflate: on a home LAN bandwidth is plenty, and deflating every state once per
    # client cost more CPU than all the rest of the fan-out (bench/web.py --compress).
    ws = web.WebSocketResponse(max_msg_size=MAX_BODY, timeout=settings.close_timeout, compress=False)
    await ws.prepare(request)
    client = Client(request.app[HUB_KEY], ws, request.transport, settings, request[REQUEST_ID_KEY])
    clients = request.app[CLIENTS_KEY]
    clients.add(client)
    try:
        await client.run(settings.auth_timeout)
    except Exception:  # noqa: BLE001 - the response is already sent; log and close
        _LOGGER.exception("Websocket client failed (request id %s)", client.request_id)
    finally:
        clients.discard(client)
        await client.cleanup()
    return ws


class Client:
    """One authenticated websocket: its subscriptions, queue, writer and closing."""

    def __init__(self, hub: Any, ws: web.WebSocketResponse, transport: Any, settings: Settings, request_id: str) -> None:
        self.hub = hub
        self.ws = ws
        self.request_id = request_id
        self.principal: Any = None
        self.token_id: str | None = None
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(settings.queue_size)
        self._close_timeout = settings.close_timeout
        self.close_reason: str | None = None
        self.done = asyncio.Event()
        self._transport = transport
        self._state_subs: dict[int, frozenset[str] | None] = {}  # subscription id -> entity ids (None: all)
        self._state_unlisten: Callable[[], None] | None = None
        self._event_subs: dict[int, Callable[[], None]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._sending = False  # the writer is inside send_frame

    # -- life ------------------------------------------------------------------------------

    async def run(self, auth_timeout: float) -> None:
        """Handshake, then read commands until the socket closes."""
        await self.ws.send_frame(dumps({"type": "auth_required", "version": __version__}), WSMsgType.TEXT)
        if not await self._authenticate(auth_timeout):
            return
        self._writer = asyncio.get_running_loop().create_task(self._write(), name=f"ws:writer:{self.request_id}")
        async for msg in self.ws:
            if msg.type is WSMsgType.TEXT:
                self._handle(msg.data)
            elif msg.type is WSMsgType.BINARY:
                self._send_error(None, ApiError(400, "send JSON text frames"))
        if self._closer is not None:
            await asyncio.shield(self._closer)

    async def _authenticate(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                msg = await self.ws.receive()
        except TimeoutError:
            await self._refuse("authentication timed out")
            return False
        if msg.type is not WSMsgType.TEXT:
            return False  # closed or broken before authenticating
        try:
            data = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            data = None
        token = data.get("access_token") if isinstance(data, dict) and data.get("type") == "auth" else None
        auth = self.hub.auth
        principal = auth.validate_access_token(token) if isinstance(token, str) and auth is not None else None
        if principal is None:
            await self._refuse("invalid or expired access token")
            return False
        self.principal, self.token_id = principal, principal.token_id
        user = {"id": principal.user.id, "name": principal.user.name, "role": principal.role}
        await self.ws.send_frame(dumps({"type": "auth_ok", "user": user}), WSMsgType.TEXT)
        return True

    async def _refuse(self, message: str) -> None:
        self.close_reason = message
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_frame(dumps({"type": "auth_invalid", "message": message}), WSMsgType.TEXT)
            await self.ws.close(code=CLOSE_POLICY, message=message.encode())

    async def _write(self) -> None:
        """The only task that writes after the handshake: the queue's bytes, in order."""
        queue, ws = self.queue, self.ws
        try:
            while self._closer is None:
                data = await queue.get()
                self._sending = True
                await ws.send_frame(data, WSMsgType.TEXT)
                self._sending = False
        except (ConnectionError, RuntimeError):
            return  # the peer went away; the reader loop ends too

    def close_soon(self, code: int, reason: str) -> None:
        """Stop all subscriptions now and close the socket in the background (callable from a callback)."""
        if self._closer is not None or self.done.is_set():
            return
        self.close_reason = reason
        self._unsubscribe_all()
        self._closer = asyncio.get_running_loop().create_task(
            self._close(code, reason), name=f"ws:close:{self.request_id}"
        )

    async def _close(self, code: int, reason: str) -> None:
        if not self._sending:
            await _cancel(self._writer)  # it waits for the queue: nothing of aiohttp's is disturbed
        # Else it is inside send_frame, waiting for the peer to read: cancelling it would cancel
        # aiohttp's drain future, which our close frame waits on too. It stops after that frame.
        try:
            async with asyncio.timeout(self._close_timeout):
                await self.ws.close(code=code, message=reason.encode())
        except TimeoutError:
            # Our close frame is stuck behind data the peer does not read: cut the connection,
            # or the unsent buffer would hold the socket open for as long as the peer stalls.
            if self._transport is not None:
                self._transport.abort()
        except (ConnectionError, RuntimeError):
            pass

    async def cleanup(self) -> None:
        """Drop listeners and stop every task of this client (the handler's finally)."""
        self._unsubscribe_all()
        if self._closer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._closer
        await _cancel(self._writer)
        for task in list(self._calls):
            await _cancel(task)
        self.done.set()

    # -- commands --------------------------------------------------------------------------

    def _handle(self, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._send_error(None, ApiError(400, "message is not JSON"))
            return
        msg_id = msg.get("id") if isinstance(msg, dict) else None
        if type(msg_id) is not int or not isinstance(msg.get("type"), str):
            self._send_error(msg_id if type(msg_id) is int else None, ApiError(400, "a message needs an integer id and a type"))
            return
        command = _COMMANDS.get(msg["type"])
        try:
            if command is None:
                raise ApiError(400, f"unknown message type {msg['type']!r}")
            command(self, msg_id, msg)
        except ApiError as err:
            self._send_error(msg_id, err)

    def _check_new_id(self, msg_id: int) -> None:
        if msg_id in self._state_subs or msg_id in self._event_subs:
            raise ApiError(409, f"id {msg_id} is already used by a subscription")

    def _subscribe_states(self, msg_id: int, msg: dict[str, Any]) -> None:
        self._check_new_id(msg_id)
        wanted = msg.get("entity_ids")
        states = self.hub.states
        if wanted is None:
            subset, current = None, states.all()
        else:
            if not isinstance(wanted, list) or len(wanted) > MAX_ENTITY_IDS:
                raise ApiError(400, "entity_ids must be a list of entity ids")
            bad = next((e for e in wanted if not isinstance(e, str) or not valid_entity_id(e)), None)
            if bad is not None:
                raise ApiError(400, f"entity_ids: invalid entity id {bad!r}")
            subset = frozenset(wanted)
            current = [s for s in map(states.get, dict.fromkeys(wanted)) if s is not None]
        # Snapshot and subscription in one synchronous step: no change can fall between them.
        self._enqueue(b'{"id":%d,"type":"result","success":true,"result":{"states":[%s]}}'
                      % (msg_id, b",".join(s.as_json() for s in current)))  # fmt: skip
        self._state_subs[msg_id] = subset
        self._relisten()

    def _relisten(self) -> None:
        """One state listener per client: no filter when a subscription wants every state, else a set lookup.

        Measured in bench/web.py: a filter that walked the subscriptions per event cost 8 % of the
        loop with 50 clients; a frozen set of wanted ids is one hash lookup.
        """
        if self._state_unlisten is not None:
            self._state_unlisten()
            self._state_unlisten = None
        if not self._state_subs:
            return
        subsets = [s for s in self._state_subs.values() if s is not None]
        event_filter = None
        if len(subsets) == len(self._state_subs):
            wanted = frozenset[str]().union(*subsets)

            def event_filter(data: Any) -> bool:
                return data["entity_id"] in wanted

        self._state_unlisten = self.hub.bus.listen(
            EVENT_STATE_CHANGED, self._on_state_changed, event_filter=event_filter, owner="http.websocket"
        )

    def _on_state_changed(self, event: Event) -> None:
        data = event.data
        entity_id = data["entity_id"]
        new_state = data["new_state"]
        state_json = b"null" if new_state is None else new_state.as_json()
        # Entity ids are [a-z0-9_.] only (valid_entity_id), so they need no JSON escaping.
        raw_id = entity_id.encode()
        for sub_id, subset in list(self._state_subs.items()):
            if subset is None or entity_id in subset:
                self._enqueue(b'{"id":%d,"type":"state","entity_id":"%s","state":%s}' % (sub_id, raw_id, state_json))

    def _subscribe_events(self, msg_id: int, msg: dict[str, Any]) -> None:
        self._check_new_id(msg_id)
        event_type = msg.get("event_type")
        if event_type is not None and not isinstance(event_type, str):
            raise ApiError(400, "event_type must be a string")
        if self.principal.role != ADMIN and event_type not in RESIDENT_EVENT_TYPES:
            allowed = ", ".join(sorted(RESIDENT_EVENT_TYPES))
            raise ApiError(403, f"residents may subscribe to these event types only: {allowed}")
        listener = functools.partial(self._on_event, msg_id)
        self._event_subs[msg_id] = self.hub.bus.listen(event_type or MATCH_ALL, listener, owner="http.websocket")
        self._send_result(msg_id, None)

    def _on_event(self, sub_id: int, event: Event) -> None:
        self._enqueue(b'{"id":%d,"type":"event","event":%s}' % (sub_id, _event_json(event)))

    def _unsubscribe(self, msg_id: int, msg: dict[str, Any]) -> None:
        sub_id = msg.get("subscription")
        if sub_id in self._state_subs:
            del self._state_subs[sub_id]
            self._relisten()
        elif sub_id in self._event_subs:
            self._event_subs.pop(sub_id)()
        else:
            raise ApiError(404, f"no subscription {sub_id!r}")
        self._send_result(msg_id, None)

    def _call_service(self, msg_id: int, msg: dict[str, Any]) -> None:
        domain, service = msg.get("domain"), msg.get("service")
        if not isinstance(domain, str) or not isinstance(service, str):
            raise ApiError(400, "domain and service are required")
        task = asyncio.get_running_loop().create_task(
            self._run_call(msg_id, domain, service, msg.get("service_data", {}), bool(msg.get("return_response"))),
            name=f"ws:call:{self.request_id}:{msg_id}",
        )
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _run_call(self, msg_id: int, domain: str, service: str, data: Any, return_response: bool) -> None:
        try:
            result = await call_service(self.hub, self.principal, domain, service, data, return_response=return_response)
        except ApiError as err:
            self._send_error(msg_id, err)
        except Exception:  # noqa: BLE001 - a failing service must not end the connection
            _LOGGER.exception("Websocket call of %s.%s failed (request id %s)", domain, service, self.request_id)
            self._send_error(msg_id, ApiError(500, "internal error"))
        else:
            self._send_result(msg_id, result)

    def _ping(self, msg_id: int, msg: dict[str, Any]) -> None:
        self._enqueue(b'{"id":%d,"type":"pong"}' % msg_id)

    # -- output ----------------------------------------------------------------------------

    def _enqueue(self, data: bytes) -> None:
        if self._closer is not None:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.close_soon(CLOSE_POLICY, f"client too slow: {self.queue.maxsize} messages queued")

    def _send_result(self, msg_id: int, result: Any) -> None:
        self._enqueue(dumps({"id": msg_id, "type": "result", "success": True, "result": result}))

    def _send_error(self, msg_id: int | None, err: ApiError) -> None:
        error = err.body()["error"]
        self._enqueue(dumps({"id": msg_id, "type": "result", "success": False, "error": error}))

    def _unsubscribe_all(self) -> None:
        if self._state_unlisten is not None:
            self._state_unlisten()
            self._state_unlisten = None
        self._state_subs.clear()
        for unlisten in self._event_subs.values():
            unlisten()
        self._event_subs.clear()


_COMMANDS: dict[str, Callable[[Client, int, dict[str, Any]], None]] = {
    "subscribe_states": Client._subscribe_states,
    "subscribe_events": Client._subscribe_events,
    "unsubscribe": Client._unsubscribe,
    "call_service": Client._call_service,
    "ping": Client._ping,
}

_last_event: tuple[Event | None, bytes] = (None, b"")


def _event_json(event: Event) -> bytes:
    """An event's JSON, made once per event however many clients subscribed to it."""
    global _last_event
    cached, data = _last_event
    if cached is not event:
        data = dumps(event.as_dict())
        _last_event = (event, data)
    return data


async def _cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel and await `task`; an exception it already ended with is logged, not lost."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # noqa: BLE001 - a bug in a client's task must not break the others' cleanup
        _LOGGER.exception("Websocket task %s failed", task.get_name())


ROUTES = (
    Route(
        "GET", "/api/websocket", websocket_view, PUBLIC,
        "Websocket: live states, events and service calls (authenticates in its first message)",
        status=101, extra={"description": "See docs/http.md for the message protocol."},
    ),
)  # fmt: skip
