"""The resupply runtime: watches tanks, applies the policy, sends orders through the outbox,
follows them at the supplier and checks each delivery against the tank's rise.

Data flow (docs/resupply.md): a state change of a tank's level sensor (or the minute tick, for
waits that end without a new reading) -> `evaluate` -> `policy.decide` -> an order row, and,
without approval, its outbox message in the same transaction -> the outbox worker calls
`_send` -> the supplier adapter -> the answer moves the order on. Status comes back by polling
or by a signed callback (`handle_callback`); the tank's `tank_refilled` event closes it.

Every transition is committed before its event (`order_<status>`) is fired, so an automation
triggered by `order_delivered` always finds the order delivered in the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from hub.bus import Context, Event, new_id
from hub.outbox import OutboxMessage
from hub.states import State

from . import orders as rows
from .delivery import check_delivery
from .errors import OrderStateError, SignatureError, SupplierRejected, SupplierUnavailable
from .models import OrderRequest, OrderStatus, SupplierStatus
from .orders import Order, OrderStore
from .policy import History, Policy, TankSnapshot, decide
from .quantity import ByLitre, Loads, SupplierTerms, format_litres
from .sensor import MonthSpendSensor, TankOrderSensor
from .signing import HEADER as SIGNATURE_HEADER
from .signing import verify
from .supplier_api import parse_order
from .suppliers import Supplier

_LOGGER = logging.getLogger(__name__)

EVENT_TANK_REFILLED = "tank_refilled"
EVALUATE_EVERY = 60.0  # seconds: waits (confirm_for, quiet hours, min_interval) end without a new reading
S = OrderStatus


@dataclass(frozen=True, slots=True)
class TankPlan:
    """One configured tank: its entity, supplier and policy."""

    entity_id: str
    supplier: str
    policy: Policy
    short_tolerance_pct: float
    delivery_window_s: float
    auto_order: bool


def supplier_terms(config: Mapping[str, Any]) -> SupplierTerms:
    sells = config["sells"]
    unit: Loads | ByLitre = (Loads(sizes_l=tuple(sells["loads"])) if "loads" in sells
                             else ByLitre(increment_l=sells["increment"], minimum_l=sells["minimum"]))  # fmt: skip
    return SupplierTerms(sells=unit, lead_time_s=config["lead_time"].total_seconds(),
                         price_per_litre=config.get("price_per_litre"), currency=config["currency"])  # fmt: skip


def tank_plan(config: Mapping[str, Any]) -> TankPlan:
    quiet = config.get("quiet_hours")
    policy = Policy(
        below_pct=config["below_pct"], days_margin_days=config["days_margin"], target_pct=config["target_pct"],
        hysteresis_pct=config["hysteresis_pct"], confirm_for_s=config["confirm_for"].total_seconds(),
        min_interval_s=config["min_interval"].total_seconds(),
        quiet_hours=(quiet["start"], quiet["end"]) if quiet else None,
        monthly_cap=config.get("monthly_cap"), approval=config["approval"],
    )  # fmt: skip
    return TankPlan(config["tank"], config["supplier"], policy, config["short_tolerance_pct"],
                    config["delivery_window"].total_seconds(), config["auto_order"])  # fmt: skip


def snapshot_of(state: State | None) -> TankSnapshot | None:
    """What the policy needs from a level sensor with the `tank` attribute; None if it has none."""
    if state is None or not isinstance(state.attributes.get("tank"), Mapping):
        return None
    tank = state.attributes["tank"]
    try:
        level: float | None = float(state.state)
    except ValueError:
        level = None  # unavailable / unknown
    if level is not None and not math.isfinite(level):
        level = None
    capacity = tank.get("capacity_l")
    if not isinstance(capacity, int | float) or capacity <= 0:
        return None
    volume = tank.get("volume_l")
    days = tank.get("days_until_empty")
    commodity = tank.get("commodity", "water")
    default_max = 85.0 if commodity == "lp_gas" else 100.0
    return TankSnapshot(
        level_pct=level, capacity_l=float(capacity),
        volume_l=float(volume) if isinstance(volume, int | float) and level is not None else None,
        days_until_empty=float(days) if isinstance(days, int | float) else None,
        max_pct=float(tank.get("usable_max_pct") or default_max), commodity=commodity,
    )  # fmt: skip


class ResupplyManager:
    """Everything resupply runs for one hub; built and started by the integration's setup."""

    def __init__(self, hub: Any, config: Mapping[str, Any], suppliers: Mapping[str, Supplier]) -> None:
        self._hub = hub
        self.store = OrderStore(hub.db, time=hub.clock.time)
        self.suppliers = dict(suppliers)
        self.supplier_config = {s["id"]: s for s in config["suppliers"]}
        self.terms = {s["id"]: supplier_terms(s) for s in config["suppliers"]}
        self.plans = {t["tank"]: tank_plan(t) for t in config["tanks"]}
        self.callback_base = config.get("callback_base_url")
        self.order_sensors: dict[str, TankOrderSensor] = {}
        self.spend_sensors: dict[str, MonthSpendSensor] = {}
        self._locks: dict[str, asyncio.Lock] = {tank: asyncio.Lock() for tank in self.plans}
        self._pending: set[asyncio.Task[Any]] = set()

    # -- start -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Tables, channels (which pick up what earlier runs left pending), listeners, timers."""
        hub = self._hub
        await self.store.start()
        for supplier_id in self.supplier_config:
            hub.on_unload(hub.outbox.register_channel(f"resupply.{supplier_id}", self._send,
                                                      base_backoff=5.0, max_backoff=1800.0))  # fmt: skip
        await self._recover_queued()
        hub.track_states(list(self.plans), self._on_tank_state)
        hub.bus.listen(EVENT_TANK_REFILLED, self._on_refilled)
        hub.clock.every(EVALUATE_EVERY, self._tick)
        for supplier_id, supplier in self.suppliers.items():
            if supplier.can_poll:
                interval = self.supplier_config[supplier_id]["poll_interval"].total_seconds()
                hub.clock.every(interval, self._poll_soon, supplier_id)

    async def refresh_sensors(self) -> None:
        """Show each tank's open order and each supplier's month spend (at start and after changes)."""
        for tank, sensor in self.order_sensors.items():
            sensor.show(await self.store.open_for(tank), keep=True)
            if sensor.order is None:
                sensor.write_state()
        since = self._month_start()
        for supplier_id, spend in self.spend_sensors.items():
            spend.show(await self.store.spent(since=since, supplier=supplier_id))

    async def _recover_queued(self) -> None:
        """A `queued` order always has its outbox message (one transaction); say so if not."""
        for order in await self.store.list("open", limit=1000):
            if order.status == S.QUEUED and await self._hub.outbox.get(order.id) is None:
                _LOGGER.error("Order %s is queued without an outbox message; queueing it again", order.id)
                await self._hub.outbox.enqueue(f"resupply.{order.supplier}", {"order_id": order.id},
                                               message_id=order.id)  # fmt: skip

    # -- policy ------------------------------------------------------------------------------------

    def _on_tank_state(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        self._spawn(self.evaluate(entity_id, context=event.context, now=event.time_fired), f"evaluate {entity_id}")

    def _tick(self) -> None:
        now = self._hub.clock.time()
        for tank in self.plans:
            self._spawn(self.evaluate(tank, now=now), f"evaluate {tank}")

    def _spawn(self, coro: Any, name: str) -> None:
        task = self._hub.create_task(coro, name=f"resupply {name}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait until every evaluation, delivery check and poll started so far has finished."""
        while self._pending:
            await asyncio.wait(set(self._pending))

    async def evaluate(self, tank: str, *, context: Context | None = None, now: float | None = None) -> Order | None:
        """Apply the tank's policy to its current state; returns the order it created, if any.

        `now` is when the reading arrived (or the tick fired): a decision that waited for the
        database must not date the reading later than it was, or confirm_for would drift.
        """
        plan = self.plans[tank]
        now = self._hub.clock.time() if now is None else now
        async with self._locks[tank]:  # two state changes at once must not both order
            snapshot = snapshot_of(self._hub.states.get(tank))
            if snapshot is None:
                self._show_reason(tank, "the tank sensor is missing or has no tank attribute")
                return None
            low_since, armed, last_order_at = await self.store.tank_memory(tank)
            open_order = await self.store.open_for(tank)
            history = History(open_order=open_order is not None, last_order_at=last_order_at, low_since=low_since,
                              armed=armed, spent_this_month=await self.store.spent(since=self._month_start(),
                                                                                   tank=tank))  # fmt: skip
            decision = decide(snapshot, plan.policy, self.terms[plan.supplier], history, now=now,
                              tz=self._hub.time_zone)  # fmt: skip
            new = decision.history
            if open_order is None:
                self._show_reason(tank, decision.reason)
            memory = (new.low_since, new.armed, new.last_order_at)
            if decision.action == "order" and plan.auto_order:
                assert decision.quantity_l is not None
                # The order row, its outbox message and the memory that the tank ordered commit in
                # one transaction: a crash never leaves a disarmed tank without an order, nor an
                # order whose tank forgot it (min_interval would not hold for the next one).
                return await self._create(tank, decision.quantity_l, decision.price_estimate, decision.reason,
                                          context=context, memory=memory)  # fmt: skip
            if memory != (low_since, armed, last_order_at):
                await self.store.remember(tank, low_since=new.low_since, armed=new.armed,
                                          last_order_at=new.last_order_at)  # fmt: skip
            return None

    async def order_now(self, tank: str, quantity_l: float | None = None, *, context: Context | None = None) -> Order:
        """A resident's order, outside the policy (still one open order per tank, still approval if set)."""
        plan = self.plans.get(tank)
        if plan is None:
            raise OrderStateError(f"{tank} is not configured for resupply")
        terms = self.terms[plan.supplier]
        if quantity_l is None:
            snapshot = snapshot_of(self._hub.states.get(tank))
            if snapshot is None or snapshot.level_pct is None:
                raise OrderStateError(f"{tank} has no level to compute a quantity from; give quantity_l")
            from .quantity import order_quantity

            result = order_quantity(capacity_l=snapshot.capacity_l, volume_l=snapshot.litres or 0.0,
                                    target_pct=min(plan.policy.target_pct, snapshot.max_pct),
                                    max_pct=snapshot.max_pct, terms=terms)  # fmt: skip
            if result.quantity_l <= 0:
                raise OrderStateError(f"not ordering: {result.reason}")
            quantity_l = result.quantity_l
        price = quantity_l * terms.price_per_litre if terms.price_per_litre is not None else None
        async with self._locks[tank]:
            return await self._create(tank, quantity_l, price, f"ordered by hand: {format_litres(quantity_l)}",
                                      context=context, memory=(None, False, self._hub.clock.time()))  # fmt: skip

    async def _create(self, tank: str, quantity_l: float, price: float | None, reason: str, *,
                      context: Context | None, memory: tuple[float | None, bool, float | None]) -> Order:  # fmt: skip
        """Store a new order with the tank's memory (low since, armed, last order) in one transaction."""
        plan = self.plans[tank]
        supplier = self.supplier_config[plan.supplier]
        state = self._hub.states.get(tank)
        tank_name = str(state.attributes.get("friendly_name", tank)) if state is not None else tank
        commodity = state.attributes.get("tank", {}).get("commodity") if state is not None else None
        now = self._hub.clock.time()
        status = S.AWAITING_APPROVAL if plan.policy.approval else S.QUEUED
        order = Order(
            id=new_id(), tank=tank, tank_name=tank_name, supplier=supplier["id"], supplier_name=supplier["name"],
            commodity=commodity or supplier["commodity"], status=status.value, quantity_l=quantity_l,
            currency=supplier["currency"], created=now, reason=reason, price_estimate=price,
            context_id=context.id if context is not None else None, updated=now,
        )  # fmt: skip
        low_since, armed, last_order_at = memory

        def write(db: Any) -> None:
            rows.insert(db, order)
            rows.remember(db, tank, low_since=low_since, armed=armed, last_order_at=last_order_at)

        if status is S.QUEUED:
            await self._hub.outbox.enqueue(f"resupply.{order.supplier}", {"order_id": order.id}, context=context,
                                           message_id=order.id, also=write)  # fmt: skip
        else:
            await self._hub.db.run(write)
        _LOGGER.info("Order %s for %s: %s (%s)", order.id, tank, format_litres(quantity_l), status.value)
        await self._changed(None, order, context)
        return order

    # -- resident actions --------------------------------------------------------------------------

    async def approve(self, order_id: str, *, context: Context | None = None) -> Order:
        order = await self._require(order_id)
        if order.status != S.AWAITING_APPROVAL:
            raise OrderStateError(f"order {order_id} is {order.status}; only an order awaiting approval is approved")
        now = self._hub.clock.time()
        user = context.user_id if context is not None else None
        result: list[tuple[Order, Order]] = []

        def queue(db: Any) -> None:
            result.append(rows.transition(db, order_id, S.QUEUED, now=now, note="approved", approved_by=user))

        await self._hub.outbox.enqueue(f"resupply.{order.supplier}", {"order_id": order_id}, context=context,
                                       message_id=order_id, also=queue)  # fmt: skip
        before, after = result[0]
        await self._changed(before, after, context)
        return after

    async def cancel(self, order_id: str, *, context: Context | None = None, note: str = "cancelled") -> Order:
        order = await self._require(order_id)
        if not order.is_open:
            raise OrderStateError(f"order {order_id} is {order.status}; it cannot be cancelled")
        if order.status == S.QUEUED:
            message = await self._hub.outbox.get(order_id)
            if message is not None and message.state.value == "pending":
                await self._hub.outbox.cancel(order_id)
        before, after = await self.store.transition(
            order_id, S.CANCELLED, note=note, cancelled_by=context.user_id if context is not None else None
        )
        supplier = self.suppliers.get(order.supplier)
        if order.supplier_ref and supplier is not None and supplier.can_cancel:
            try:
                status = await supplier.cancel(order.supplier_ref)
                await self.store.transition(order_id, None, supplier_status=status.status,
                                            supplier_message=status.message)  # fmt: skip
            except (SupplierRejected, SupplierUnavailable) as err:
                # Cancelled here either way; the resident must hear that the supplier may still come.
                _, after = await self.store.transition(
                    order_id, None, last_error=f"the supplier did not take the cancellation: {err}")
        await self._changed(before, after, context)
        return after

    async def _require(self, order_id: str) -> Order:
        order = await self.store.get(order_id)
        if order is None:
            raise OrderStateError(f"no order {order_id}")
        return order

    # -- sending (the outbox worker of channel resupply.<supplier>) -------------------------------

    async def _send(self, message: OutboxMessage) -> None:
        order = await self.store.get(message.payload["order_id"])
        if order is None or order.status != S.QUEUED:
            return  # cancelled, or sent before a crash that kept the message pending: nothing to do
        supplier = self.suppliers[order.supplier]
        request = OrderRequest(
            order_id=order.id, commodity=order.commodity, quantity_l=order.quantity_l,
            reference=f"{order.tank_name} {datetime.fromtimestamp(order.created, self._hub.time_zone):%Y-%m-%d}",
            customer_id=self.supplier_config[order.supplier].get("customer_id"),
            callback_url=self._callback_url(order.supplier), price_estimate=order.price_estimate,
            currency=order.currency, household=self._hub.name,
        )  # fmt: skip
        context = Context(origin="resupply", parent_id=order.context_id)
        try:
            status = await supplier.send(request)
        except SupplierRejected as err:
            before, after = await self.store.transition(order.id, S.FAILED, note=str(err), last_error=str(err),
                                                        supplier_message=str(err))  # fmt: skip
            _LOGGER.warning("Order %s refused by %s: %s", order.id, order.supplier_name, err)
            await self._changed(before, after, context)
            raise
        except SupplierUnavailable as err:
            since = self._since_text(message.created)
            _, after = await self.store.transition(order.id, None, last_error=str(err))
            self._show(after, link_error=f"{order.supplier_name} unreachable since {since}: {err}")
            raise
        try:
            before, after = await self.store.transition(order.id, S.SENT, note="accepted by the supplier",
                                                        supplier_ref=status.supplier_ref, last_error=None)  # fmt: skip
        except OrderStateError:
            await self._cancelled_while_sending(order, status)
            return
        self._show(after, link_error="")
        await self._changed(before, after, context)
        await self.apply_status(order.supplier, status, context=context, order=after)

    async def _cancelled_while_sending(self, order: Order, status: SupplierStatus) -> None:
        """The resident cancelled while the request was in flight: cancel at the supplier too."""
        supplier = self.suppliers[order.supplier]
        note = "cancelled while it was being sent; the supplier has it"
        if status.supplier_ref and supplier.can_cancel:
            try:
                await supplier.cancel(status.supplier_ref)
                note = "cancelled while it was being sent; cancelled at the supplier too"
            except (SupplierRejected, SupplierUnavailable) as err:
                note = f"cancelled while it was being sent; the supplier did not take the cancellation: {err}"
        await self.store.transition(order.id, None, supplier_ref=status.supplier_ref, last_error=note)
        _LOGGER.warning("Order %s: %s", order.id, note)

    def _callback_url(self, supplier_id: str) -> str | None:
        if not self.callback_base or not self.supplier_config[supplier_id].get("callback_secret"):
            return None
        return f"{self.callback_base.rstrip('/')}/api/resupply/callback/{supplier_id}"

    # -- what the supplier says ----------------------------------------------------------------------

    async def apply_status(self, supplier_id: str, status: SupplierStatus, *, context: Context | None = None,
                           order: Order | None = None) -> Order | None:  # fmt: skip
        """Move the order on from the supplier's view of it (an answer, a poll or a callback)."""
        if order is None:
            ref = status.supplier_ref or status.reference
            order = await self.store.by_supplier_ref(supplier_id, ref) if ref else None
            if order is None:
                _LOGGER.warning("Supplier %s reported order %s, which this hub does not know", supplier_id, ref)
                return None
        if not order.is_open:
            return order
        fields: dict[str, Any] = {"supplier_status": status.status}
        for key, value in (("eta", status.eta), ("price", status.price), ("supplier_message", status.message),
                           ("supplier_delivered_l", status.delivered_l)):  # fmt: skip
            if value is not None:
                fields[key] = value
        if status.supplier_ref and not order.supplier_ref:
            fields["supplier_ref"] = status.supplier_ref
        target: OrderStatus | None = None
        note = None
        if status.status in ("confirmed", "dispatched") and order.status in (S.QUEUED, S.SENT):
            target, note = S.CONFIRMED, f"confirmed by the supplier ({status.status})"
        elif status.status == "delivered":
            if order.status in (S.QUEUED, S.SENT):
                target = S.CONFIRMED
            if order.delivery_note is None:
                fields["delivery_note"] = "the supplier reports it delivered; waiting for the tank to rise"
        elif status.status == "rejected":
            target, note = S.FAILED, f"rejected by the supplier: {status.message or 'no reason given'}"
            fields["last_error"] = note
        elif status.status == "cancelled":
            target, note = S.CANCELLED, "cancelled by the supplier"
        unchanged = target is None and all(getattr(order, k) == v for k, v in fields.items())
        if unchanged:
            return order
        before, after = await self.store.transition(order.id, target, note=note, **fields)
        if status.status == "delivered" and after.status == S.CONFIRMED:
            plan = self.plans.get(after.tank)
            window = plan.delivery_window_s if plan is not None else 48 * 3600.0
            self._hub.clock.call_later(window, self._check_delivery_seen, after.id)
        await self._changed(before, after, context)
        return after

    def _check_delivery_seen(self, order_id: str) -> None:
        self._spawn(self._delivery_not_seen(order_id), f"delivery check {order_id}")

    async def _delivery_not_seen(self, order_id: str) -> None:
        order = await self.store.get(order_id)
        if order is None or order.status != S.CONFIRMED:
            return
        reported = format_litres(order.supplier_delivered_l) if order.supplier_delivered_l else "a delivery"
        note = f"not seen at the tank: the supplier reported {reported} but the tank did not rise"
        before, after = await self.store.transition(order_id, S.DELIVERED, note=note, short=True, delivery_note=note)
        _LOGGER.warning("Order %s: %s", order_id, note)
        await self._changed(before, after, None)

    async def handle_callback(self, supplier_id: str, body: bytes, signature: str | None) -> Order | None:
        """A supplier's signed status callback; SignatureError (401) when the signature does not hold."""
        config = self.supplier_config.get(supplier_id)
        secret = config.get("callback_secret") if config is not None else None
        if secret is None:
            raise SignatureError(f"supplier '{supplier_id}' has no callback secret configured")
        verify(secret, body, signature, now=self._hub.clock.time())
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise SupplierUnavailable(f"callback body is not JSON: {err}") from None
        status = parse_order(data.get("order", data) if isinstance(data, dict) else data)
        return await self.apply_status(supplier_id, status, context=Context(origin="resupply"))

    def _poll_soon(self, supplier_id: str) -> None:
        self._spawn(self.poll(supplier_id), f"poll {supplier_id}")

    async def poll(self, supplier_id: str) -> None:
        """Ask the supplier about each open order it has accepted."""
        supplier = self.suppliers[supplier_id]
        for order in await self.store.list("open", limit=1000):
            if order.supplier != supplier_id or not order.supplier_ref or order.status not in (S.SENT, S.CONFIRMED):
                continue
            try:
                status = await supplier.poll(order.supplier_ref)
            except (SupplierRejected, SupplierUnavailable) as err:
                _LOGGER.info("Polling %s for order %s: %s", supplier_id, order.id, err)
                continue
            await self.apply_status(supplier_id, status, order=order)

    # -- delivery --------------------------------------------------------------------------------------

    def _on_refilled(self, event: Event) -> None:
        tank = event.data.get("entity_id")
        if isinstance(tank, str) and tank in self.plans:
            litres = float(event.data.get("litres_delivered", 0.0))
            self._spawn(self.record_delivery(tank, litres, context=event.context), f"delivery {tank}")

    async def record_delivery(self, tank: str, litres: float, *, context: Context | None = None) -> Order | None:
        """The tank rose by `litres`: the open order is delivered (short when under tolerance)."""
        async with self._locks[tank]:
            order = await self.store.open_for(tank)
            if order is None:
                return None
            if order.status == S.AWAITING_APPROVAL:
                before, after = await self.store.transition(order.id, S.CANCELLED,
                                                            note="the tank was refilled before the order was approved")  # fmt: skip
                await self._changed(before, after, context)
                return after
            plan = self.plans[tank]
            check = check_delivery(ordered_l=order.quantity_l, measured_l=litres, tolerance_pct=plan.short_tolerance_pct)
            note = (f"short delivery: {format_litres(litres)} of {format_litres(order.quantity_l)} "
                    f"({check.shortfall_pct:.0f} % missing)") if check.short else (
                    f"delivered {format_litres(litres)} of {format_litres(order.quantity_l)}")  # fmt: skip
            price = order.price if order.price is not None else order.price_estimate
            before, after = await self.store.transition(order.id, S.DELIVERED, note=note, delivered_l=litres,
                                                        short=check.short, delivery_note=note, price=price)  # fmt: skip
            # Re-armed by the delivery itself: a short fill that leaves the tank still low must be
            # able to order again (hysteresis alone would wait for a rise that never came).
            _, _, last_order_at = await self.store.tank_memory(tank)
            await self.store.remember(tank, low_since=None, armed=True, last_order_at=last_order_at)
            if check.short:
                _LOGGER.warning("Order %s: %s", order.id, note)
            await self._changed(before, after, context)
            return after

    # -- bookkeeping -------------------------------------------------------------------------------------

    async def _changed(self, before: Order | None, after: Order, context: Context | None) -> None:
        """Sensors and the `order_<status>` event after a committed change."""
        self._show(after)
        if before is None:
            self._hub.bus.fire("order_created", after.as_api(), context=context)
        if before is None or before.status != after.status:
            event = {"queued": None, "awaiting_approval": None}.get(after.status, f"order_{after.status}")
            if event is not None:
                self._hub.bus.fire(event, after.as_api(), context=context)
        spend = self.spend_sensors.get(after.supplier)
        if spend is not None:
            spend.show(await self.store.spent(since=self._month_start(), supplier=after.supplier))

    def _show(self, order: Order, *, link_error: str | None = None) -> None:
        sensor = self.order_sensors.get(order.tank)
        if sensor is not None:
            sensor.show(order, link_error=link_error, reason=order.reason if order.is_open else None)

    def _show_reason(self, tank: str, reason: str) -> None:
        sensor = self.order_sensors.get(tank)
        if sensor is not None and sensor.reason != reason:
            sensor.show(reason=reason)

    def _month_start(self) -> float:
        now = datetime.fromtimestamp(self._hub.clock.time(), self._hub.time_zone)
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()

    def _since_text(self, when: float) -> str:
        return datetime.fromtimestamp(when, self._hub.time_zone).strftime("%Y-%m-%d %H:%M")


__all__ = ["SIGNATURE_HEADER", "ResupplyManager", "TankPlan", "snapshot_of", "supplier_terms", "tank_plan"]
