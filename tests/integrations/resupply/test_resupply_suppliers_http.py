"""HttpApiSupplier against the real example supplier service, and WebhookSupplier against a receiver, on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import aiohttp
import pytest
from aiohttp import web

from examples.supplier_service import SupplierService, create_app
from hub.config.yaml_loader import SecretStr
from integrations.resupply import signing, supplier_api
from integrations.resupply.errors import SignatureError, SupplierRejected, SupplierUnavailable
from integrations.resupply.models import OrderRequest, SupplierStatus
from integrations.resupply.suppliers import HttpApiSupplier, Supplier, WebhookSupplier, build_supplier

API_KEY, CUSTOMER, TOKEN = "pipas-key-0042", "MAD-0042", "control"
WEBHOOK_SECRET = "webhook-secret"


def order(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "order_id": "ord-1",
        "commodity": "water",
        "quantity_l": 5000.0,
        "reference": "Cistern 2026-01-15",
        "household": "Casa Maderas",
        "price_estimate": 600.0,
        "currency": "MXN",
    }
    fields.update(overrides)
    return OrderRequest(**fields)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def service() -> AsyncIterator[tuple[SupplierService, str]]:
    """The example supplier on loopback: (service, base URL without /v1)."""
    supplier = SupplierService(
        api_keys={API_KEY: CUSTOMER},
        callback_secret="cb",
        prices={"water": 0.12},
        loads={"water": [5000, 10000]},
        control_token=TOKEN,
        eta_after=7200,
    )
    runner, base = await serve(create_app(supplier))
    yield supplier, base
    await runner.cleanup()
    await supplier.close()


def http_config(base: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "id": "pipas_marques",
        "name": "Pipas El Marqués",
        "commodity": "water",
        "type": "http_api",
        "url": f"{base}/v1",
        "api_key": SecretStr(API_KEY, name="pipas_api_key"),
        "customer_id": CUSTOMER,
        "callback_secret": SecretStr("cb"),
        "timeout": 5.0,
    }
    config.update(overrides)
    return config


async def control(session: aiohttp.ClientSession, base: str, path: str, body: Any) -> Any:
    async with session.post(f"{base}/_control/{path}", json=body, headers={"X-Control-Token": TOKEN}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_send_creates_an_order(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    example, base = service
    supplier = build_supplier(http_config(base), session=session)
    assert isinstance(supplier, HttpApiSupplier) and supplier.can_poll and supplier.can_cancel
    before = time.time()
    status = await supplier.send(order())
    assert status.supplier_ref == "SUP-00001" and status.status == "received"
    assert (status.price, status.currency, status.reference) == (600.0, "MXN", "Cistern 2026-01-15")
    assert status.eta is not None and abs(status.eta - (before + 7200)) < 5
    [stored] = example.orders()
    # The config's customer id was filled in; the order id is the idempotency key.
    assert stored["customer_id"] == CUSTOMER and stored["idempotency_key"] == "ord-1"
    assert stored["quantity_l"] == 5000
    assert not session.closed


async def test_resend_is_the_same_order(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    example, base = service
    supplier = build_supplier(http_config(base), session=session)
    first = await supplier.send(order())
    again = await supplier.send(order())
    assert again.supplier_ref == first.supplier_ref
    assert example.counters["create_requests"] == 2 and example.counters["distinct_orders"] == 1
    other = await supplier.send(order(order_id="ord-2"))
    assert other.supplier_ref != first.supplier_ref


async def test_garbage_answer_is_transient_and_resend_finds_the_order(
    service: tuple[SupplierService, str], session: aiohttp.ClientSession
) -> None:
    example, base = service
    supplier = build_supplier(http_config(base), session=session)
    await control(session, base, "garbage", {"count": 1})
    with pytest.raises(SupplierUnavailable, match="not JSON"):
        await supplier.send(order())
    status = await supplier.send(order())
    assert status.supplier_ref == "SUP-00001"
    assert example.counters["distinct_orders"] == 1


async def test_rejections_are_permanent(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    example, base = service
    supplier = build_supplier(http_config(base), session=session)
    await control(session, base, "reject", {"message": "no deliveries to Maderas this week"})
    with pytest.raises(SupplierRejected, match="no deliveries to Maderas this week") as info:
        await supplier.send(order())
    assert info.value.status == 422
    with pytest.raises(SupplierRejected, match=r"7,?000 is not a whole number of loads"):
        await supplier.send(order(order_id="ord-2", quantity_l=7000.0))
    assert example.orders() == []


async def test_bad_api_key_is_rejected_without_leaking_it(
    service: tuple[SupplierService, str], session: aiohttp.ClientSession
) -> None:
    _, base = service
    wrong = SecretStr("wrong-key-123", name="pipas_api_key")
    supplier = build_supplier(http_config(base, api_key=wrong), session=session)
    with pytest.raises(SupplierRejected, match="API key") as info:
        await supplier.send(order())
    assert info.value.status == 401
    assert "wrong-key-123" not in str(info.value) and "wrong-key-123" not in repr(supplier)


async def test_5xx_and_down_are_transient(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    example, base = service
    supplier = build_supplier(http_config(base), session=session)
    await control(session, base, "fail", {"status": 503, "count": 1, "retry_after": 30})
    with pytest.raises(SupplierUnavailable) as info:
        await supplier.send(order())
    assert info.value.status == 503 and info.value.retry_after == 30.0
    await control(session, base, "down", {"down": True})
    for _ in range(2):
        with pytest.raises(SupplierUnavailable, match="503"):
            await supplier.send(order())
    await control(session, base, "down", {"down": False})
    assert (await supplier.send(order())).status == "received"
    assert example.counters["distinct_orders"] == 1


async def test_connection_refused_is_transient(session: aiohttp.ClientSession) -> None:
    port = closed_port()
    supplier = build_supplier(http_config(f"http://127.0.0.1:{port}"), session=session)
    with pytest.raises(SupplierUnavailable, match=rf"cannot reach Pipas El Marqués \(127.0.0.1:{port}\)") as info:
        await supplier.send(order())
    assert API_KEY not in str(info.value)


class Silent(asyncio.Protocol):
    """Accepts a connection and never answers."""

    transports: ClassVar[list[asyncio.BaseTransport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transports.append(transport)


async def test_timeout_is_transient(session: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        supplier = build_supplier(http_config(f"http://127.0.0.1:{port}", timeout=0.2), session=session)
        started = time.monotonic()
        with pytest.raises(SupplierUnavailable, match=r"no answer within 0.2 s"):
            await supplier.poll("SUP-00001")
        assert time.monotonic() - started < 3
    finally:
        for transport in Silent.transports:
            transport.close()
        Silent.transports.clear()
        server.close()
        await server.wait_closed()


async def test_poll_after_advance(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    _, base = service
    supplier = build_supplier(http_config(base), session=session)
    ref = (await supplier.send(order())).supplier_ref
    assert ref is not None
    assert (await supplier.poll(ref)).status == "received"
    await control(session, base, f"orders/{ref}/advance", {"status": "confirmed"})
    assert (await supplier.poll(ref)).status == "confirmed"
    await control(session, base, f"orders/{ref}/advance", {"status": "delivered", "delivered_l": 4200})
    delivered = await supplier.poll(ref)
    assert (delivered.status, delivered.delivered_l) == ("delivered", 4200.0)
    with pytest.raises(SupplierRejected, match="404"):
        await supplier.poll("SUP-99999")


async def test_cancel(service: tuple[SupplierService, str], session: aiohttp.ClientSession) -> None:
    _, base = service
    supplier = build_supplier(http_config(base), session=session)
    ref = (await supplier.send(order())).supplier_ref
    assert ref is not None
    cancelled = await supplier.cancel(ref)
    assert cancelled.status == "cancelled" and cancelled.message == "cancelled by the customer"
    late = (await supplier.send(order(order_id="ord-2"))).supplier_ref
    await control(session, base, f"orders/{late}/advance", {"status": "dispatched"})
    with pytest.raises(SupplierRejected, match="409.*dispatched") as info:
        await supplier.cancel(str(late))
    assert info.value.status == 409


# ----- webhook -----


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[list[tuple[dict[str, str], bytes]], list[Handler], str]]:
    """A receiver that verifies signatures with signing.verify; (received, answer override, url)."""
    received: list[tuple[dict[str, str], bytes]] = []
    override: list[Handler] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if override:
            return await override[0](request)
        body = await request.read()
        try:
            signing.verify(WEBHOOK_SECRET, body, request.headers.get(signing.HEADER), now=time.time())
        except SignatureError as exc:
            return web.json_response({"error": str(exc)}, status=401)
        received.append((dict(request.headers), body))
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/orders-in", handle)
    runner, base = await serve(app)
    yield received, override, f"{base}/orders-in"
    await runner.cleanup()


def webhook_config(url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "id": "gas_hook",
        "name": "Gas Hook",
        "commodity": "lp_gas",
        "type": "webhook",
        "url": url,
        "webhook_secret": SecretStr(WEBHOOK_SECRET),
    }
    config.update(overrides)
    return config


async def test_webhook_sends_a_signed_order(
    webhook: tuple[list[tuple[dict[str, str], bytes]], list[Handler], str], session: aiohttp.ClientSession
) -> None:
    received, _, url = webhook
    supplier = build_supplier(webhook_config(url), session=session)
    assert isinstance(supplier, WebhookSupplier) and not supplier.can_poll and not supplier.can_cancel
    gas = order(commodity="lp_gas", quantity_l=120.0, customer_id="G-7", notes="tanque del techo")
    assert await supplier.send(gas) == SupplierStatus(supplier_ref=None, status="received")
    [(headers, body)] = received
    data = json.loads(body)
    assert {k: data[k] for k in supplier_api.create_body(gas)} == supplier_api.create_body(gas)
    assert data["order_id"] == "ord-1" and data["household"] == "Casa Maderas" and data["price_estimate"] == 600.0
    assert headers["Idempotency-Key"] == "ord-1"
    with pytest.raises(SupplierRejected):
        await supplier.poll("x")
    with pytest.raises(SupplierRejected):
        await supplier.cancel("x")


async def test_webhook_signature_uses_the_injected_clock(
    webhook: tuple[list[tuple[dict[str, str], bytes]], list[Handler], str], session: aiohttp.ClientSession
) -> None:
    _, _, url = webhook
    # Signed an hour ago: the receiver's verify refuses it as stale -> 401 -> permanent.
    supplier = build_supplier(webhook_config(url), session=session, clock=lambda: time.time() - 3600)
    with pytest.raises(SupplierRejected, match="refused the signature") as info:
        await supplier.send(order())
    assert info.value.status == 401


async def test_webhook_failures(
    webhook: tuple[list[tuple[dict[str, str], bytes]], list[Handler], str], session: aiohttp.ClientSession
) -> None:
    _, override, url = webhook
    supplier: Supplier = build_supplier(webhook_config(url), session=session)

    async def answer_500(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="boom")

    async def answer_400(request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": "unknown product"}, status=400)

    override.append(answer_500)
    with pytest.raises(SupplierUnavailable, match="500"):
        await supplier.send(order())
    override[0] = answer_400
    with pytest.raises(SupplierRejected, match="unknown product"):
        await supplier.send(order())
    port = closed_port()
    dead = build_supplier(webhook_config(f"http://127.0.0.1:{port}/in"), session=session)
    with pytest.raises(SupplierUnavailable, match=rf"cannot reach Gas Hook \(127.0.0.1:{port}\)") as info:
        await dead.send(order())
    assert WEBHOOK_SECRET not in str(info.value) and WEBHOOK_SECRET not in repr(dead)


async def test_unknown_type_is_refused(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="unknown type 'fax'"):
        build_supplier({"id": "x", "commodity": "water", "type": "fax"}, session=session)
