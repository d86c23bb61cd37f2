"""An example supplier's order service: the "Supplier HTTP API" of docs/resupply.md, in memory.

Written the way a water or gas supplier would write it, from the spec alone: nothing here imports
the hub, and the callback signatures are made with hmac/hashlib directly, so the hub's tests against
this service cross-check both readings of the spec.

Orders move received -> confirmed -> dispatched -> delivered on timers counted from the order's
creation (a step whose delay is None waits for the control API), and every change is POSTed to the
order's callback_url, signed, with a few retries. `/_control/...` lets tests and the demo inject
failures and move orders by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

_LOGGER = logging.getLogger(__name__)

API_PREFIX = "/v1"
SIGNATURE_HEADER = "X-Supplier-Signature"
CONTROL_HEADER = "X-Control-Token"
FORWARD = ("received", "confirmed", "dispatched", "delivered")  # the only way an order moves by itself
RANK = {status: rank for rank, status in enumerate(FORWARD)}
FINAL = ("delivered", "rejected", "cancelled")
NOT_CANCELLABLE = ("dispatched", "delivered")  # the truck has left: too late
DEFAULT_PRICES = {"water": 0.12, "lp_gas": 11.5}
# What a misbehaving proxy sends: says JSON, is not.
GARBAGE = b'{"id": "SUP-00'
HOLD_STEP = 0.05  # seconds: how often a held answer checks whether its client is still there

OnDelivered = Callable[[dict[str, Any]], Awaitable[None] | None]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Supplier-Signature value: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def is_sum_of_loads(quantity: float, loads: Sequence[int]) -> bool:
    """Whether `quantity` litres is exactly a sum of whole loads (each load usable any number of times)."""
    if quantity <= 0 or quantity != int(quantity) or not loads:
        return False
    # Shortest sum reaching each residue modulo the smallest load; any larger sum with the same
    # residue is reachable by adding smallest loads (a Dijkstra over residues, exact and bounded).
    step = min(loads)
    best = [math.inf] * step
    best[0] = 0
    heap: list[tuple[int, int]] = [(0, 0)]
    while heap:
        total, residue = heapq.heappop(heap)
        if total > best[residue]:
            continue
        for load in loads:
            nxt = total + load
            if nxt < best[nxt % step]:
                best[nxt % step] = nxt
                heapq.heappush(heap, (nxt, nxt % step))
    return best[int(quantity) % step] <= quantity


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(eq=False)
class _Order:
    """One order as the supplier keeps it (mutable: its status moves)."""

    id: str
    customer_id: str
    reference: str
    commodity: str
    quantity_l: float
    price: float
    currency: str
    eta: float
    created: float
    idempotency_key: str
    callback_url: str | None
    notes: str | None
    status: str = "received"
    delivered_l: float | None = None
    message: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    # Callbacks of one order go out one at a time, in the order of the changes (the lock is FIFO).
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    def public(self) -> dict[str, Any]:
        """The `order` object of the API."""
        return {
            "id": self.id,
            "reference": self.reference,
            "status": self.status,
            "commodity": self.commodity,
            "quantity_l": self.quantity_l,
            "price": self.price,
            "currency": self.currency,
            "eta": _iso(self.eta),
            "delivered_l": self.delivered_l,
            "message": self.message,
        }

    def control(self) -> dict[str, Any]:
        """The order plus what only the control API shows."""
        return {
            **self.public(),
            "customer_id": self.customer_id,
            "idempotency_key": self.idempotency_key,
            "callback_url": self.callback_url,
            "notes": self.notes,
            "created": _iso(self.created),
            "history": [dict(h) for h in self.history],
            "callbacks": [dict(c) for c in self.callbacks],
        }


@dataclass
class _Faults:
    """Failures the control API asked for."""

    down: bool = False
    fail_status: int = 503
    fail_count: int = 0
    retry_after: float | None = None
    garbage_count: int = 0
    slow_seconds: float = 0.0
    slow_count: int = 0
    reject_messages: list[str] = field(default_factory=list)


class ApiError(Exception):
    """A request the service refuses; becomes `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SupplierService:
    """The supplier's orders, their timers and their callbacks; `create_app` puts HTTP in front."""

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str],
        callback_secret: str | None = None,
        prices: Mapping[str, float] | None = None,
        currency: str = "MXN",
        confirm_after: float | None = None,
        dispatch_after: float | None = None,
        deliver_after: float | None = None,
        eta_after: float = 86400.0,
        on_delivered: OnDelivered | None = None,
        loads: Mapping[str, Sequence[int]] | None = None,
        control_token: str | None = None,
        callback_attempts: int = 4,
        callback_backoff: float = 0.5,
        callback_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_keys = dict(api_keys)
        self.callback_secret = callback_secret
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        self.currency = currency
        self.delays = {"confirmed": confirm_after, "dispatched": dispatch_after, "delivered": deliver_after}
        self.eta_after = eta_after
        self.on_delivered = on_delivered
        self.loads = {commodity: sorted(int(x) for x in sizes) for commodity, sizes in (loads or {}).items()}
        self.control_token = control_token
        self.callback_attempts = max(1, callback_attempts)
        self.callback_backoff = callback_backoff
        self.callback_timeout = callback_timeout
        self.clock = clock  # wall time for eta and signatures; a test may pass the hub's clock
        self.faults = _Faults()
        self.counters = {"create_requests": 0, "distinct_orders": 0, "callbacks_sent": 0, "callbacks_failed": 0}
        self._orders: dict[str, _Order] = {}
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}  # (customer, key) -> (body fingerprint, order id)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None

    # ----- the API's operations (the HTTP handlers are thin wrappers) -----

    def customer_for(self, authorization: str | None) -> str:
        """The customer of a `Bearer <api key>` header; ApiError 401 otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            for key, customer in self.api_keys.items():
                if hmac.compare_digest(key.encode(), token.strip().encode()):
                    return customer
        raise ApiError(401, "invalid or missing API key")

    async def create(self, customer: str, idempotency_key: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        """Create an order, or return the one this key already created: (201 | 200, order)."""
        if not idempotency_key:
            raise ApiError(400, "Idempotency-Key header is required")
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object")
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        seen = self._keys.get((customer, idempotency_key))
        if seen is not None:
            if seen[0] != fingerprint:
                raise ApiError(409, "Idempotency-Key was already used with a different body")
            return 200, self._orders[seen[1]].public()
        if self.faults.reject_messages:
            raise ApiError(422, self.faults.reject_messages.pop(0))
        self._validate(customer, body)
        now = self.clock()
        self.counters["distinct_orders"] += 1
        order = _Order(
            id=f"SUP-{self.counters['distinct_orders']:05d}",
            customer_id=customer,
            reference=body["reference"],
            commodity=body["commodity"],
            quantity_l=body["quantity_l"],
            price=round(body["quantity_l"] * self.prices[body["commodity"]], 2),
            currency=self.currency,
            eta=now + self.eta_after,
            created=now,
            idempotency_key=idempotency_key,
            callback_url=body.get("callback_url"),
            notes=body.get("notes"),
        )
        order.history.append({"status": "received", "at": _iso(now)})
        self._orders[order.id] = order
        self._keys[(customer, idempotency_key)] = (fingerprint, order.id)
        _LOGGER.info("order %s: %s L of %s for %s", order.id, order.quantity_l, order.commodity, customer)
        if any(delay is not None for delay in self.delays.values()):
            self._spawn(self._run_timers(order), f"supplier-timers-{order.id}")
        return 201, order.public()

    def _validate(self, customer: str, body: dict[str, Any]) -> None:
        """Refuse (422) a body that the supplier cannot turn into an order."""
        customer_id = body.get("customer_id")
        if not isinstance(customer_id, str) or not customer_id:
            raise ApiError(422, "customer_id is required")
        if customer_id != customer:
            raise ApiError(422, f"unknown customer {customer_id!r} for this API key")
        commodity = body.get("commodity")
        if commodity not in self.prices:
            raise ApiError(422, f"unknown commodity {commodity!r}; we sell {', '.join(sorted(self.prices))}")
        quantity = body.get("quantity_l")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, float)):
            raise ApiError(422, "quantity_l is required and must be a number of litres")
        if not math.isfinite(quantity) or quantity <= 0:
            raise ApiError(422, f"quantity_l must be positive, got {quantity}")
        sizes = self.loads.get(commodity)
        if sizes and not is_sum_of_loads(quantity, sizes):
            listed = ", ".join(f"{s:g}" for s in sizes)
            raise ApiError(422, f"quantity_l {quantity:g} is not a whole number of loads ({listed} L)")
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            raise ApiError(422, "reference is required")
        callback_url = body.get("callback_url")
        if callback_url is not None and (
            not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://"))
        ):
            raise ApiError(422, "callback_url must be an http(s) URL")
        notes = body.get("notes")
        if notes is not None and not isinstance(notes, str):
            raise ApiError(422, "notes must be text")

    def get(self, customer: str | None, order_id: str) -> _Order:
        """The order `order_id` (of `customer` when given); ApiError 404 otherwise."""
        order = self._orders.get(order_id)
        if order is None or (customer is not None and order.customer_id != customer):
            raise ApiError(404, f"no order {order_id!r}")
        return order

    async def cancel(self, customer: str, order_id: str) -> dict[str, Any]:
        """Cancel an order that has not left yet; cancelling twice answers the cancelled order."""
        order = self.get(customer, order_id)
        if order.status == "cancelled":
            return order.public()
        if order.status in NOT_CANCELLABLE:
            raise ApiError(409, f"order {order_id} is already {order.status} and can no longer be cancelled")
        await self._change(order, "cancelled", message="cancelled by the customer")
        return order.public()

    async def advance(
        self, order_id: str, status: str, *, delivered_l: float | None = None, wait: bool = False
    ) -> dict[str, Any]:
        """Move an order forward now (control API); with `wait`, return once its callback is done."""
        order = self.get(None, order_id)
        if status not in FORWARD[1:]:
            raise ApiError(422, f"status must be one of {', '.join(FORWARD[1:])}")
        if order.status in FINAL or RANK[order.status] >= RANK[status]:
            raise ApiError(409, f"order {order_id} is {order.status}; cannot move it to {status}")
        task = await self._change(order, status, delivered_l=delivered_l)
        if wait and task is not None:
            await asyncio.wait({task})  # not cancelled with the request: the callback still goes out
        return order.public()

    # ----- failures on demand (control API) -----

    def fail_next(self, status: int = 503, count: int = 1, retry_after: float | None = None) -> None:
        """The next `count` API requests answer `status` without being processed."""
        self.faults.fail_status, self.faults.fail_count, self.faults.retry_after = status, count, retry_after

    def set_down(self, down: bool) -> None:
        """While down, every API request answers 503."""
        self.faults.down = down

    def garbage_next(self, count: int = 1) -> None:
        """The next `count` API requests are processed but answered 200 with a body that is not JSON."""
        self.faults.garbage_count = count

    def slow_next(self, seconds: float, count: int = 1) -> None:
        """The next `count` API requests are processed at once but answered only after `seconds`.

        The window a client can die in after the supplier has its order but before it hears so:
        its resend with the same Idempotency-Key must find the order, not make a second one.
        """
        self.faults.slow_seconds, self.faults.slow_count = seconds, count

    def reject_next(self, message: str) -> None:
        """The next new order is refused with 422 and `message`."""
        self.faults.reject_messages.append(message)

    def orders(self) -> list[dict[str, Any]]:
        """Every order as the control API shows it, oldest first."""
        return [order.control() for order in self._orders.values()]

    # ----- status changes, timers and callbacks -----

    async def _change(
        self, order: _Order, status: str, *, delivered_l: float | None = None, message: str | None = None
    ) -> asyncio.Task[None] | None:
        """Record a new status, run on_delivered, queue the callback; returns the callback's task."""
        order.status = status
        if message is not None:
            order.message = message
        if status == "delivered":
            order.delivered_l = order.quantity_l if delivered_l is None else delivered_l
        order.history.append({"status": status, "at": _iso(self.clock())})
        _LOGGER.info("order %s is %s", order.id, status)
        if status == "delivered" and self.on_delivered is not None:
            try:
                result = self.on_delivered(order.public())
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a broken demo hook must not stop the delivery being reported
                _LOGGER.exception("on_delivered failed for order %s", order.id)
        if order.callback_url is None:
            return None
        body = json.dumps(order.public()).encode()
        record: dict[str, Any] = {"status": status, "attempts": 0, "ok": False, "http_status": None, "error": None}
        order.callbacks.append(record)
        return self._spawn(self._send_callback(order, body, record), f"supplier-callback-{order.id}-{status}")

    async def _run_timers(self, order: _Order) -> None:
        """Move one order along its timed steps; a step someone already passed is skipped."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for status, delay in self.delays.items():
            if delay is None:
                continue
            await asyncio.sleep(max(0.0, start + delay - loop.time()))
            if order.status in FINAL:
                return
            if RANK[order.status] < RANK[status]:
                await self._change(order, status)

    async def _send_callback(self, order: _Order, body: bytes, record: dict[str, Any]) -> None:
        """POST one change to the order's callback_url; retry with backoff; never raise."""
        assert order.callback_url is not None
        async with order.sending:
            for attempt in range(self.callback_attempts):
                if attempt:
                    await asyncio.sleep(self.callback_backoff * 2 ** (attempt - 1))
                record["attempts"] += 1
                headers = {"Content-Type": "application/json"}
                if self.callback_secret:
                    # Signed at each attempt: a retry minutes later must not carry a stale timestamp.
                    headers[SIGNATURE_HEADER] = sign(self.callback_secret, body, int(self.clock()))
                try:
                    async with self._client().post(
                        order.callback_url,
                        data=body,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.callback_timeout),
                    ) as response:
                        record["http_status"] = response.status
                        if 200 <= response.status < 300:
                            record["ok"], record["error"] = True, None
                            self.counters["callbacks_sent"] += 1
                            return
                        record["error"] = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    record["error"] = f"{type(exc).__name__}: {exc}"
            self.counters["callbacks_failed"] += 1
            _LOGGER.warning(
                "callback for order %s (%s) failed after %d attempts: %s",
                order.id, record["status"], record["attempts"], record["error"],
            )

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending_tasks(self) -> int:
        """Timers and callbacks still running."""
        return sum(1 for task in self._tasks if not task.done())

    async def close(self) -> None:
        """Stop every timer and callback and close the callback client; safe to call twice."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._tasks.difference_update(tasks)
        if self._session is not None:
            await self._session.close()
            self._session = None


SERVICE = web.AppKey("supplier_service", SupplierService)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "the body is not valid JSON") from exc


@web.middleware
async def _errors_and_faults(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """ApiError -> JSON error; on the API (not /_control) the injected failures come first, slow answers last."""
    service = request.app[SERVICE]
    api = request.path.startswith(API_PREFIX + "/")
    if api:
        if request.method == "POST" and request.path == f"{API_PREFIX}/orders":
            service.counters["create_requests"] += 1
        faults = service.faults
        if faults.down:
            return _error(503, "service down for maintenance")
        if faults.fail_count > 0:
            faults.fail_count -= 1
            headers = {"Retry-After": f"{faults.retry_after:g}"} if faults.retry_after is not None else None
            return _error(faults.fail_status, "injected failure", headers)
    try:
        response = await handler(request)
    except ApiError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = _error(exc.status, exc.message, headers)
    if api and service.faults.garbage_count > 0:
        service.faults.garbage_count -= 1
        response = web.Response(status=200, body=GARBAGE, content_type="application/json")
    if api and service.faults.slow_count > 0:
        service.faults.slow_count -= 1
        await _hold(request, service.faults.slow_seconds)
    return response


async def _hold(request: web.Request, seconds: float) -> None:
    """Wait `seconds` before answering; stop early once the client hung up, as nobody is left to hear it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while request.transport is not None and (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(HOLD_STEP, left))


async def _create(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    customer = service.customer_for(request.headers.get("Authorization"))
    if not request.headers.get("Idempotency-Key"):
        raise ApiError(400, "Idempotency-Key header is required")
    status, order = await service.create(customer, request.headers["Idempotency-Key"], await _json_body(request))
    return web.json_response(order, status=status)


async def _get(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    customer = service.customer_for(request.headers.get("Authorization"))
    return web.json_response(service.get(customer, request.match_info["order_id"]).public())


async def _cancel(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    customer = service.customer_for(request.headers.get("Authorization"))
    return web.json_response(await service.cancel(customer, request.match_info["order_id"]))


def _control(request: web.Request) -> SupplierService:
    """The service, once the control token checks out."""
    service = request.app[SERVICE]
    if not service.control_token:
        raise ApiError(403, "the control API is disabled (no control token configured)")
    given = request.headers.get(CONTROL_HEADER, "")
    if not hmac.compare_digest(given.encode(), service.control_token.encode()):
        raise ApiError(401, f"missing or wrong {CONTROL_HEADER}")
    return service


async def _control_object(request: web.Request) -> dict[str, Any]:
    body = await _json_body(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    return body


def _count(body: Mapping[str, Any]) -> int:
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ApiError(422, "count must be a whole number >= 0")
    return count


async def _control_orders(request: web.Request) -> web.Response:
    service = _control(request)
    return web.json_response({"orders": service.orders(), "counters": dict(service.counters)})


async def _control_fail(request: web.Request) -> web.Response:
    service = _control(request)
    body = await _control_object(request)
    status = body.get("status", 503)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ApiError(422, "status must be an HTTP error status (400-599)")
    retry_after = body.get("retry_after")
    if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float))):
        raise ApiError(422, "retry_after must be a number of seconds")
    service.fail_next(status, _count(body), retry_after)
    return web.json_response({"status": status, "count": service.faults.fail_count})


async def _control_down(request: web.Request) -> web.Response:
    service = _control(request)
    down = (await _control_object(request)).get("down")
    if not isinstance(down, bool):
        raise ApiError(422, "down must be true or false")
    service.set_down(down)
    return web.json_response({"down": down})


async def _control_garbage(request: web.Request) -> web.Response:
    service = _control(request)
    service.garbage_next(_count(await _control_object(request)))
    return web.json_response({"count": service.faults.garbage_count})


async def _control_slow(request: web.Request) -> web.Response:
    service = _control(request)
    body = await _control_object(request)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
        raise ApiError(422, "seconds must be a number from 0 to 3600")
    service.slow_next(float(seconds), _count(body))
    return web.json_response({"seconds": service.faults.slow_seconds, "count": service.faults.slow_count})


async def _control_reject(request: web.Request) -> web.Response:
    service = _control(request)
    message = (await _control_object(request)).get("message")
    if not isinstance(message, str) or not message:
        raise ApiError(422, "message is required")
    service.reject_next(message)
    return web.json_response({"pending": len(service.faults.reject_messages)})


async def _control_advance(request: web.Request) -> web.Response:
    service = _control(request)
    body = await _control_object(request)
    delivered_l = body.get("delivered_l")
    if delivered_l is not None and (
        isinstance(delivered_l, bool) or not isinstance(delivered_l, (int, float)) or delivered_l < 0
    ):
        raise ApiError(422, "delivered_l must be a number of litres >= 0")
    order = await service.advance(
        request.match_info["order_id"], str(body.get("status")), delivered_l=delivered_l, wait=bool(body.get("wait"))
    )
    return web.json_response(order)


async def _close_service(app: web.Application) -> None:
    await app[SERVICE].close()


def create_app(service: SupplierService) -> web.Application:
    """The HTTP front of `service`: the API under /v1 and the control API under /_control."""
    app = web.Application(middlewares=[_errors_and_faults])
    app[SERVICE] = service
    app.router.add_post(f"{API_PREFIX}/orders", _create)
    app.router.add_get(f"{API_PREFIX}/orders/{{order_id}}", _get)
    app.router.add_post(f"{API_PREFIX}/orders/{{order_id}}/cancel", _cancel)
    app.router.add_get("/_control/orders", _control_orders)
    app.router.add_post("/_control/fail", _control_fail)
    app.router.add_post("/_control/down", _control_down)
    app.router.add_post("/_control/garbage", _control_garbage)
    app.router.add_post("/_control/slow", _control_slow)
    app.router.add_post("/_control/reject", _control_reject)
    app.router.add_post("/_control/orders/{order_id}/advance", _control_advance)
    app.on_cleanup.append(_close_service)
    return app


__all__ = ["SIGNATURE_HEADER", "ApiError", "SupplierService", "create_app", "is_sum_of_loads", "sign"]
