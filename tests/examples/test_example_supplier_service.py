"""The example supplier service over a real loopback socket: the API, timers, signed callbacks, control."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from examples.supplier_service import SupplierService, create_app, is_sum_of_loads

ROOT = Path(__file__).resolve().parents[2]
KEY, CUSTOMER, SECRET, TOKEN = "key-42", "MAD-0042", "callback-secret", "control-token"
AUTH = {"Authorization": f"Bearer {KEY}"}
CONTROL = {"X-Control-Token": TOKEN}


def check_signature(header: str, body: bytes, secret: str = SECRET) -> int:
    """Verify `t=..,v1=..` with hmac directly (not with the service's own code); returns t."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"]), "bad signature"
    return int(parts["t"])


@dataclass
class Receiver:
    """A small hub stand-in that records callbacks; `fail_next` answers 500 that many times."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    queue: asyncio.Queue[tuple[dict[str, str], bytes]] = field(default_factory=asyncio.Queue)
    fail_next: int = 0
    attempts: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.Response(status=500)
        item = (dict(request.headers), await request.read())
        self.received.append(item)
        self.queue.put_nowait(item)
        return web.json_response({"ok": True})

    async def next(self) -> tuple[dict[str, Any], dict[str, str], bytes]:
        headers, body = await asyncio.wait_for(self.queue.get(), 5)
        return json.loads(body), headers, body


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/callback", rec.handle)
    runner, base = await serve(app)
    rec.url = f"{base}/callback"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Start = Callable[..., Awaitable[tuple[SupplierService, str]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start a service with keywords on top of the defaults; returns (service, base URL)."""
    started: list[tuple[SupplierService, web.AppRunner]] = []

    async def _start(**kwargs: Any) -> tuple[SupplierService, str]:
        options: dict[str, Any] = {
            "api_keys": {KEY: CUSTOMER, "other-key": "MAD-0099"},
            "callback_secret": SECRET,
            "prices": {"water": 0.12, "lp_gas": 11.5},
            "control_token": TOKEN,
            "callback_backoff": 0.01,
        }
        options.update(kwargs)
        service = SupplierService(**options)
        runner, base = await serve(create_app(service))
        started.append((service, runner))
        return service, base

    yield _start
    for service, runner in started:
        await runner.cleanup()
        await service.close()


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_id": CUSTOMER, "commodity": "water", "quantity_l": 5000, "reference": "Cistern"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def create(
    http: aiohttp.ClientSession, base: str, body: Any, key: str | None = "order-1", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    sent = dict(AUTH if headers is None else headers)
    if key is not None:
        sent["Idempotency-Key"] = key
    async with http.post(f"{base}/v1/orders", json=body, headers=sent) as response:
        return response.status, await response.json()


async def control(http: aiohttp.ClientSession, base: str, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    async with http.request(method, f"{base}/_control/{path}", json=body, headers=CONTROL) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_create_then_get(start: Start, http: aiohttp.ClientSession) -> None:
    _, base = await start(eta_after=3600)
    before = time.time()
    status, order = await create(http, base, order_body(notes="gate code 1234"))
    assert status == 201
    assert set(order) == {
        "id", "reference", "status", "commodity", "quantity_l", "price", "currency", "eta", "delivered_l", "message"
    }
    assert order["status"] == "received" and order["reference"] == "Cistern" and order["quantity_l"] == 5000
    assert order["price"] == 600.0 and order["currency"] == "MXN" and order["delivered_l"] is None
    assert abs(datetime.fromisoformat(order["eta"]).timestamp() - (before + 3600)) < 5
    async with http.get(f"{base}/v1/orders/{order['id']}", headers=AUTH) as response:
        assert response.status == 200
        assert await response.json() == order
    async with http.get(f"{base}/v1/orders/nope", headers=AUTH) as response:
        assert response.status == 404
    # Another customer's order is not found, not shown.
    async with http.get(f"{base}/v1/orders/{order['id']}", headers={"Authorization": "Bearer other-key"}) as response:
        assert response.status == 404


async def test_idempotent_resend_and_conflict(start: Start, http: aiohttp.ClientSession) -> None:
    service, base = await start()
    status, first = await create(http, base, order_body())
    assert status == 201
    status, again = await create(http, base, order_body())
    assert (status, again) == (200, first)
    status, error = await create(http, base, order_body(quantity_l=10000))
    assert status == 409 and "different body" in error["error"]
    status, error = await create(http, base, order_body(), key=None)
    assert status == 400 and "Idempotency-Key" in error["error"]
    status, other = await create(http, base, order_body(), key="order-2")
    assert status == 201 and other["id"] != first["id"]
    listing = await control(http, base, "orders")
    assert listing["counters"]["create_requests"] == 5
    assert listing["counters"]["distinct_orders"] == 2
    assert [o["idempotency_key"] for o in listing["orders"]] == ["order-1", "order-2"]
    assert service.orders()[0]["customer_id"] == CUSTOMER


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer"}]
)
async def test_bad_auth_is_401(start: Start, http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    service, base = await start()
    status, error = await create(http, base, order_body(), headers=headers)
    assert status == 401 and "API key" in error["error"]
    async with http.get(f"{base}/v1/orders/SUP-00001", headers=headers) as response:
        assert response.status == 401
    assert service.orders() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (order_body(quantity_l=None), "quantity_l is required"),
        (order_body(quantity_l=-5), "must be positive"),
        (order_body(quantity_l=0), "must be positive"),
        (order_body(quantity_l="5000"), "must be a number"),
        (order_body(quantity_l=True), "must be a number"),
        (order_body(commodity="diesel"), "unknown commodity 'diesel'"),
        (order_body(customer_id="MAD-0099"), "unknown customer 'MAD-0099'"),
        (order_body(customer_id=None), "customer_id is required"),
        (order_body(reference=None), "reference is required"),
        (order_body(quantity_l=7000), "not a whole number of loads (5000, 10000 L)"),
        (order_body(callback_url="ftp://x"), "callback_url"),
        ([1, 2], "JSON object"),
    ],
)
async def test_invalid_body_is_422(start: Start, http: aiohttp.ClientSession, body: Any, fragment: str) -> None:
    service, base = await start(loads={"water": [5000, 10000]})
    status, error = await create(http, base, body)
    assert status == 422
    assert fragment in error["error"]
    assert service.counters["distinct_orders"] == 0


async def test_loads_accept_sums(start: Start, http: aiohttp.ClientSession) -> None:
    _, base = await start(loads={"water": [5000, 10000]})
    assert (await create(http, base, order_body(quantity_l=15000)))[0] == 201
    # Gas has no loads configured: any positive quantity.
    assert (await create(http, base, order_body(commodity="lp_gas", quantity_l=37.5), key="gas"))[0] == 201


def test_is_sum_of_loads() -> None:
    assert is_sum_of_loads(5000, [5000, 10000])
    assert is_sum_of_loads(25000, [5000, 10000])
    assert not is_sum_of_loads(7000, [5000, 10000])
    assert not is_sum_of_loads(0, [5000])
    assert not is_sum_of_loads(5000.5, [5000])
    assert is_sum_of_loads(13, [3, 5])  # 3 + 5 + 5
    assert not is_sum_of_loads(7, [3, 5])
    assert is_sum_of_loads(10**9 + 1, [3, 5])


async def test_cancel_rules(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    _, base = await start()
    _, order = await create(http, base, order_body(callback_url=receiver.url))
    url = f"{base}/v1/orders/{order['id']}/cancel"
    async with http.post(url, headers=AUTH) as response:
        assert response.status == 200
        cancelled = await response.json()
    assert cancelled["status"] == "cancelled" and cancelled["message"] == "cancelled by the customer"
    async with http.post(url, headers=AUTH) as response:  # twice: same answer
        assert response.status == 200 and (await response.json())["status"] == "cancelled"
    callback, _, _ = await receiver.next()
    assert callback["status"] == "cancelled"
    async with http.post(f"{base}/v1/orders/nope/cancel", headers=AUTH) as response:
        assert response.status == 404
    async with http.post(f"{base}/v1/orders/{order['id']}/cancel", headers={"Authorization": "Bearer bad"}) as response:
        assert response.status == 401

    for status in ("dispatched", "delivered"):
        _, other = await create(http, base, order_body(), key=f"key-{status}")
        await control(http, base, f"orders/{other['id']}/advance", {"status": status})
        async with http.post(f"{base}/v1/orders/{other['id']}/cancel", headers=AUTH) as response:
            assert response.status == 409
            assert status in (await response.json())["error"]


async def test_timers_send_signed_callbacks(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    delivered: list[dict[str, Any]] = []
    service, base = await start(
        confirm_after=0.05, dispatch_after=0.1, deliver_after=0.15, on_delivered=delivered.append
    )
    _, order = await create(http, base, order_body(callback_url=receiver.url))
    seen = []
    for expected in ("confirmed", "dispatched", "delivered"):
        data, headers, body = await receiver.next()
        assert data["status"] == expected and data["id"] == order["id"]
        assert headers["Content-Type"] == "application/json"
        assert abs(check_signature(headers["X-Supplier-Signature"], body) - time.time()) < 5
        seen.append(data)
    assert seen[-1]["delivered_l"] == 5000
    assert delivered == [seen[-1]]
    record = service.orders()[0]
    assert [h["status"] for h in record["history"]] == ["received", "confirmed", "dispatched", "delivered"]
    assert all(c["ok"] and c["attempts"] == 1 for c in record["callbacks"])
    assert service.pending_tasks == 0


async def test_signature_fails_with_another_secret(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    _, base = await start(confirm_after=0.01)
    await create(http, base, order_body(callback_url=receiver.url))
    _, headers, body = await receiver.next()
    with pytest.raises(AssertionError, match="bad signature"):
        check_signature(headers["X-Supplier-Signature"], body, secret="another-secret")
    with pytest.raises(AssertionError, match="bad signature"):
        check_signature(headers["X-Supplier-Signature"], body + b" ")


async def test_skipped_step_and_async_on_delivered(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    refills: list[float] = []

    async def refill(order: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        refills.append(order["delivered_l"])

    # No dispatch timer: the order goes confirmed -> delivered, one callback per change.
    _, base = await start(confirm_after=0.02, deliver_after=0.05, on_delivered=refill)
    await create(http, base, order_body(callback_url=receiver.url))
    assert (await receiver.next())[0]["status"] == "confirmed"
    assert (await receiver.next())[0]["status"] == "delivered"
    assert refills == [5000]


async def test_callback_retried_then_given_up(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    service, base = await start(callback_attempts=3)
    receiver.fail_next = 2
    _, order = await create(http, base, order_body(callback_url=receiver.url))
    await control(http, base, f"orders/{order['id']}/advance", {"status": "confirmed", "wait": True})
    assert receiver.attempts == 3 and len(receiver.received) == 1
    callback = service.orders()[0]["callbacks"][0]
    assert callback["ok"] and callback["attempts"] == 3 and callback["http_status"] == 200

    # A dead hub (nothing listens) costs a logged failure, never the service.
    dead = socket_port_closed()
    _, lost = await create(http, base, order_body(callback_url=f"http://127.0.0.1:{dead}/cb"), key="order-2")
    answer = await control(http, base, f"orders/{lost['id']}/advance", {"status": "confirmed", "wait": True})
    assert answer["status"] == "confirmed"
    record = service.orders()[1]["callbacks"][0]
    assert not record["ok"] and record["attempts"] == 3 and "Error" in record["error"]
    assert service.counters["callbacks_failed"] == 1 and service.counters["callbacks_sent"] == 1
    assert (await create(http, base, order_body(), key="order-3"))[0] == 201


def socket_port_closed() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_control_requires_token(start: Start, http: aiohttp.ClientSession) -> None:
    _, base = await start()
    async with http.get(f"{base}/_control/orders") as response:
        assert response.status == 401
    async with http.post(f"{base}/_control/down", json={"down": True}, headers={"X-Control-Token": "x"}) as response:
        assert response.status == 401
    assert (await create(http, base, order_body()))[0] == 201  # not down
    _, closed = await start(control_token=None)
    async with http.get(f"{closed}/_control/orders", headers=CONTROL) as response:
        assert response.status == 403


async def test_control_fail_and_down(start: Start, http: aiohttp.ClientSession) -> None:
    service, base = await start()
    await control(http, base, "fail", {"status": 503, "count": 2, "retry_after": 7})
    for _ in range(2):
        async with http.post(f"{base}/v1/orders", json=order_body(), headers={**AUTH, "Idempotency-Key": "k"}) as r:
            assert r.status == 503 and r.headers["Retry-After"] == "7"
    assert service.orders() == []  # failed requests were not processed
    assert (await create(http, base, order_body()))[0] == 201
    await control(http, base, "down", {"down": True})
    for _ in range(3):
        async with http.get(f"{base}/v1/orders/SUP-00001", headers=AUTH) as response:
            assert response.status == 503
    await control(http, base, "down", {"down": False})
    async with http.get(f"{base}/v1/orders/SUP-00001", headers=AUTH) as response:
        assert response.status == 200
    await control(http, base, "fail", {"status": 429, "count": 1})
    async with http.get(f"{base}/v1/orders/SUP-00001", headers=AUTH) as response:
        assert response.status == 429 and "Retry-After" not in response.headers
    async with http.post(f"{base}/_control/fail", json={"status": 200}, headers=CONTROL) as response:
        assert response.status == 422
    assert service.counters["create_requests"] == 3


async def test_control_garbage_processes_but_mangles(start: Start, http: aiohttp.ClientSession) -> None:
    service, base = await start()
    await control(http, base, "garbage", {"count": 1})
    async with http.post(f"{base}/v1/orders", json=order_body(), headers={**AUTH, "Idempotency-Key": "g"}) as r:
        assert r.status == 200
        raw = await r.read()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    # The order was taken; the resend with the same key finds it.
    status, order = await create(http, base, order_body(), key="g")
    assert status == 200 and order["id"] == service.orders()[0]["id"]
    assert service.counters["distinct_orders"] == 1


async def test_control_slow_processes_first_and_answers_late(start: Start, http: aiohttp.ClientSession) -> None:
    service, base = await start()
    assert await control(http, base, "slow", {"seconds": 0.4, "count": 1}) == {"seconds": 0.4, "count": 1}
    began = time.monotonic()
    answer = asyncio.ensure_future(create(http, base, order_body(), key="s"))
    try:
        while not service.orders():  # the order exists while its answer is still held back
            assert time.monotonic() - began < 2.0, "the held request was never processed"
            await asyncio.sleep(0.01)
        assert not answer.done()
    finally:
        status, order = await answer
    assert status == 201 and order["id"] == service.orders()[0]["id"]
    assert time.monotonic() - began >= 0.4
    began = time.monotonic()
    assert (await create(http, base, order_body(), key="s"))[0] == 200  # only the next one was slow
    assert time.monotonic() - began < 0.3
    for bad in ({"seconds": -1}, {"seconds": "5"}, {"seconds": True}, {}, {"seconds": 1, "count": -1}):
        async with http.post(f"{base}/_control/slow", json=bad, headers=CONTROL) as response:
            assert response.status == 422, bad
    assert service.faults.slow_count == 0


async def test_control_slow_stops_holding_when_the_client_hangs_up(start: Start) -> None:
    service, base = await start()
    service.slow_next(30)  # the Python side of /_control/slow
    before = asyncio.all_tasks()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as impatient:
        with pytest.raises(TimeoutError):
            await create(impatient, base, order_body(), key="gone")
    assert service.counters["distinct_orders"] == 1  # processed before the client gave up
    deadline = time.monotonic() + 2.0
    while [t for t in asyncio.all_tasks() if t not in before and not t.done() and t is not asyncio.current_task()]:
        assert time.monotonic() < deadline, "the held answer outlived its client"
        await asyncio.sleep(0.02)


async def test_control_reject(start: Start, http: aiohttp.ClientSession) -> None:
    _, base = await start()
    await control(http, base, "reject", {"message": "no deliveries to this area"})
    status, error = await create(http, base, order_body())
    assert (status, error) == (422, {"error": "no deliveries to this area"})
    assert (await create(http, base, order_body()))[0] == 201  # only the next one


async def test_control_advance(start: Start, http: aiohttp.ClientSession, receiver: Receiver) -> None:
    delivered: list[dict[str, Any]] = []
    _, base = await start(on_delivered=delivered.append)
    _, order = await create(http, base, order_body(callback_url=receiver.url))
    path = f"orders/{order['id']}/advance"
    moved = await control(http, base, path, {"status": "delivered", "delivered_l": 4200, "wait": True})
    assert moved["status"] == "delivered" and moved["delivered_l"] == 4200
    data, headers, body = await receiver.next()
    assert data == moved
    check_signature(headers["X-Supplier-Signature"], body)
    assert delivered == [moved]
    for bad, code in (({"status": "confirmed"}, 409), ({"status": "lost"}, 422), ({"status": "x", "delivered_l": -1}, 422)):
        async with http.post(f"{base}/_control/{path}", json=bad, headers=CONTROL) as response:
            assert response.status == code
    async with http.post(f"{base}/_control/orders/nope/advance", json={"status": "confirmed"}, headers=CONTROL) as r:
        assert r.status == 404


async def test_close_leaves_no_task(start: Start, http: aiohttp.ClientSession) -> None:
    service, base = await start(confirm_after=3600, callback_backoff=3600, callback_attempts=5)
    dead = socket_port_closed()
    _, order = await create(http, base, order_body(callback_url=f"http://127.0.0.1:{dead}/cb"))
    await control(http, base, f"orders/{order['id']}/advance", {"status": "dispatched"})
    await asyncio.sleep(0.05)  # the first callback attempt fails; the retry now sleeps an hour
    assert service.pending_tasks == 2  # the timer and the callback retry
    await service.close()
    assert service.pending_tasks == 0
    names = [t.get_name() for t in asyncio.all_tasks() if not t.done()]
    assert not [n for n in names if n.startswith("supplier-")]
    await service.close()  # twice is fine


def test_cli_serves_and_stops_on_sigterm() -> None:
    command = [
        sys.executable, "-m", "examples.supplier_service", "--port", "0", "--api-key", f"{KEY}={CUSTOMER}",
        "--callback-secret", SECRET, "--loads", "water=5000,10000", "--control-token", TOKEN,
    ]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            first = process.stdout.readline()
            assert first.startswith("Supplier API: http://127.0.0.1:"), first + process.stderr.read()
            base = first.split(": ", 1)[1].strip()
            assert process.stdout.readline().strip() == f"control token: {TOKEN}"
            request = urllib.request.Request(
                f"{base}/orders",
                data=json.dumps(order_body(quantity_l=10000)).encode(),
                headers={**AUTH, "Idempotency-Key": "cli", "Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 201
                assert json.loads(response.read())["price"] == 1200.0
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped")
