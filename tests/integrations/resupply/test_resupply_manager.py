"""ResupplyManager against the real example supplier on loopback, on the hub's manual clock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from resupply_helpers import TANK, Setup, until

from hub.clock import ManualClock
from hub.http import create_app
from integrations.resupply.errors import OrderStateError, SignatureError
from integrations.resupply.signing import HEADER, sign


def opened(setup: Setup) -> Any:
    return setup.manager.store.open_for(TANK)


async def low_for_a_while(setup: Setup, clock: ManualClock, pct: float = 20.0) -> None:
    setup.level(pct)
    await setup.run_for(11 * 60)  # past confirm_for (10 min); the minute tick re-evaluates


async def test_low_tank_orders_once_and_the_delivery_is_measured(resupply_setup: Setup, clock: ManualClock) -> None:
    setup, events = resupply_setup, []
    for kind in ("order_created", "order_sent", "order_confirmed", "order_delivered"):
        setup.hub.bus.listen(kind, lambda e: events.append((e.event_type, e.data["status"])))
    await setup.start()
    setup.level(60)
    await setup.run_for(120)
    assert await opened(setup) is None
    await low_for_a_while(setup, clock)
    order = await until(lambda: setup.manager.store.open_for(TANK), what="an order")
    # 90 % of 10,000 L minus 2,000 L = 7,000 L, in 1,000 / 2,000 L loads: 7,000 L.
    assert order.quantity_l == 7000 and order.price_estimate == pytest.approx(840.0)
    await until(lambda: len(setup.service.orders()) == 1 and events[-1][0] == "order_sent", what="sent")
    sent = await opened(setup)
    assert sent.status == "sent" and sent.supplier_ref == setup.service.orders()[0]["id"]
    assert setup.service.orders()[0]["idempotency_key"] == order.id
    # More low readings and ticks: still one order (one open order per tank, hysteresis).
    for pct in (19, 18, 17):
        setup.level(pct)
        await setup.run_for(3600)
    assert len(setup.service.orders()) == 1
    # The supplier confirms (polled on the manual clock), then the tank rises.
    await setup.service.advance(sent.supplier_ref, "confirmed")
    await setup.run_for(600)
    await until(lambda: events[-1][0] == "order_confirmed", what="confirmed")
    setup.refilled(6900)
    await until(lambda: events[-1][0] == "order_delivered", what="delivered")
    [done] = await setup.manager.store.list("closed")
    assert (done.status, done.delivered_l, done.short) == ("delivered", 6900, False)
    assert [e[0] for e in events] == ["order_created", "order_sent", "order_confirmed", "order_delivered"]
    state = setup.hub.states.get("sensor.cistern_level_order")
    assert state is not None and state.state == "none"


async def test_a_glitch_never_orders(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    await setup.start()
    setup.level(60)
    await setup.run_for(60)
    setup.level(3)  # one wild reading
    await setup.run_for(120)
    setup.level(61)
    await setup.run_for(3 * 3600)
    assert await opened(setup) is None and setup.service.orders() == []
    assert "not under 25 %" in setup.hub.states.get("sensor.cistern_level_order").attributes["reason"]


async def test_short_delivery_is_flagged_and_rearms(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    await setup.start()
    await low_for_a_while(setup, clock)
    order = await until(lambda: setup.manager.store.open_for(TANK))
    await until(lambda: setup.service.orders())
    setup.refilled(5000)  # 7,000 L ordered: 29 % missing
    done = await until(lambda: _closed(setup, order.id))
    assert done.short and "short delivery: 5,000 L of 7,000 L" in done.delivery_note
    assert (await setup.manager.store.tank_memory(TANK))[1] is True


async def _closed(setup: Setup, order_id: str) -> Any:
    order = await setup.manager.store.get(order_id)
    return order if order is not None and not order.is_open else None


async def test_approval_then_cancel_and_quiet_hours(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    await clock.advance_to(datetime(2026, 1, 16, 5, 0, tzinfo=UTC))  # 23:00 in Querétaro
    await setup.start(approval=True, quiet_hours={"start": "22:00", "end": "07:00"})
    await low_for_a_while(setup, clock)
    assert await opened(setup) is None
    assert "quiet hours until 07:00" in setup.hub.states.get("sensor.cistern_level_order").attributes["reason"]
    await clock.advance_to(datetime(2026, 1, 16, 13, 1, tzinfo=UTC))  # 07:01
    order = await until(lambda: setup.manager.store.open_for(TANK))
    assert order.status == "awaiting_approval" and setup.service.orders() == []
    assert setup.hub.states.get("sensor.cistern_level_order").state == "awaiting_approval"
    approved = await setup.manager.approve(order.id)
    assert approved.status == "queued"
    await until(lambda: setup.service.orders(), what="sent after approval")
    with pytest.raises(OrderStateError, match="only an order awaiting approval"):
        await setup.manager.approve(order.id)
    cancelled = await setup.manager.cancel(order.id)
    assert cancelled.status == "cancelled"
    assert setup.service.orders()[0]["status"] == "cancelled"  # cancelled at the supplier too


async def test_supplier_down_for_hours_then_exactly_one_order(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    setup.service.set_down(True)
    await setup.start()
    await low_for_a_while(setup, clock)
    order = await until(lambda: setup.manager.store.open_for(TANK))
    await setup.run_for(6 * 3600, step=600)  # six hours of retries with backoff
    queued = await opened(setup)
    assert queued.status == "queued" and "503" in (queued.last_error or "")
    assert "unreachable since" in setup.hub.states.get("sensor.cistern_level_order").attributes["last_error"]
    setup.service.set_down(False)
    await setup.run_for(1800)
    await until(lambda: setup.service.orders(), what="the order after the outage")
    await until(lambda: _status(setup, order.id, "sent"))
    assert setup.service.counters["distinct_orders"] == 1


async def _status(setup: Setup, order_id: str, status: str) -> bool:
    order = await setup.manager.store.get(order_id)
    return order is not None and order.status == status


async def test_rejected_order_fails_with_the_suppliers_message(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    setup.service.reject_next("no trucks to Ciudad Maderas this week")
    await setup.start()
    await low_for_a_while(setup, clock)
    [failed] = await until(lambda: setup.manager.store.list("closed"), what="a failed order")
    assert failed.status == "failed" and "no trucks to Ciudad Maderas this week" in failed.supplier_message
    outbox = await setup.hub.outbox.get(failed.id)
    assert outbox.state.value == "failed"


async def test_signed_callback_confirms_and_a_bad_one_is_refused(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    await setup.start()
    await low_for_a_while(setup, clock)
    order = await until(lambda: setup.manager.store.open_for(TANK))
    await until(lambda: _status(setup, order.id, "sent"))
    ref = (await setup.manager.store.get(order.id)).supplier_ref
    body = json.dumps({"id": ref, "reference": "x", "status": "confirmed", "commodity": "water", "quantity_l": 7000,
                       "price": 840, "currency": "MXN", "eta": "2026-01-16T18:00:00Z"}).encode()  # fmt: skip
    now = int(clock.time())
    async with TestClient(TestServer(create_app(setup.hub))) as client:
        path = "/api/resupply/callback/pipas"
        bad = await client.post(path, data=body, headers={HEADER: sign("wrong", body, timestamp=now)})
        assert bad.status == 401 and "signature" in (await bad.json())["error"]["message"]
        stale = await client.post(path, data=body, headers={HEADER: sign(b"callback-secret", body, timestamp=now - 900)})
        assert stale.status == 401
        good = await client.post(path, data=body, headers={HEADER: sign("callback-secret", body, timestamp=now)})
        assert good.status == 200 and (await good.json()) == {"accepted": True}
        confirmed = await setup.manager.store.get(order.id)
        assert confirmed.status == "confirmed" and confirmed.price == 840
        assert confirmed.eta == datetime(2026, 1, 16, 18, tzinfo=UTC).timestamp()
        listing = await client.get("/api/resupply/orders?status=open")
        assert listing.status == 401  # everything but the callback needs a token
    with pytest.raises(SignatureError):
        await setup.manager.handle_callback("pipas", body, None)


async def test_concurrent_triggers_make_one_order(resupply_setup: Setup, clock: ManualClock) -> None:
    setup = resupply_setup
    await setup.start(confirm_for=0)
    setup.level(10)
    results = [setup.manager.evaluate(TANK) for _ in range(5)]
    created = [r for r in await asyncio.gather(*results) if r is not None]
    assert len(created) <= 1
    await until(lambda: setup.service.orders())
    assert len(await setup.manager.store.list()) == 1


async def test_unreadable_answer_is_retried_and_the_supplier_keeps_one_order(
    resupply_setup: Setup, clock: ManualClock
) -> None:
    """The supplier took the order but answered garbage: the resend (same key) finds the same order."""
    setup = resupply_setup
    setup.service.garbage_next(1)
    await setup.start()
    await low_for_a_while(setup, clock)
    order = await until(lambda: setup.manager.store.open_for(TANK))
    await setup.run_for(600)  # the outbox's backoff (5 s, doubling) runs on the manual clock
    await until(lambda: _status(setup, order.id, "sent"), what="sent on the retry")
    # Two requests with the same key (the garbled answer and the retry), one order at the supplier.
    assert setup.service.counters["create_requests"] == 2
    assert setup.service.counters["distinct_orders"] == 1 and len(setup.service.orders()) == 1
    assert setup.service.orders()[0]["idempotency_key"] == order.id


async def _last_error(setup: Setup, order_id: str) -> Any:
    order = await setup.manager.store.get(order_id)
    return order if order is not None and order.last_error else None
