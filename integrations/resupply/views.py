"""/api/resupply: orders for the dashboard (approve, cancel) and the suppliers' signed callbacks."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hub.bus import Context
from hub.http.common import PRINCIPAL_KEY, PUBLIC, RESIDENT, ApiError, Param, Route, json_response
from hub.http.openapi import ANY_OBJECT, BOOLEAN, NUMBER, STRING, array, nullable, obj

from .errors import OrderStateError, SignatureError, SupplierError
from .signing import HEADER

_LOGGER = logging.getLogger(__name__)

_NUM = nullable(NUMBER)
_TEXT = nullable(STRING)
ORDER_SCHEMA = obj(
    {"id": STRING, "tank": STRING, "tank_name": STRING, "supplier": STRING, "supplier_name": STRING,
     "commodity": STRING, "status": STRING, "quantity_l": NUMBER, "price_estimate": _NUM, "price": _NUM,
     "currency": STRING, "created": NUMBER, "sent": _NUM, "confirmed": _NUM, "eta": _NUM, "delivered": _NUM,
     "delivered_l": _NUM, "supplier_delivered_l": _NUM, "short": BOOLEAN, "reason": STRING, "last_error": _TEXT,
     "supplier_message": _TEXT, "supplier_ref": _TEXT, "supplier_status": _TEXT, "approved_by": _TEXT,
     "delivery_note": _TEXT},
    "id", "tank", "status", "quantity_l", extra=True,
)  # fmt: skip


def routes(manager: Any) -> tuple[Route, ...]:
    """The routes, bound to one ResupplyManager (registered by setup, released on unload)."""

    def context(request: web.Request) -> Context:
        principal = request.get(PRINCIPAL_KEY)
        return Context(user_id=principal.user.id if principal is not None else None, origin="http")

    async def list_orders(request: web.Request) -> web.Response:
        status = request.query.get("status", "all")
        if status not in ("open", "closed", "all"):
            raise ApiError(400, "status must be open, closed or all", field="status")
        orders = await manager.store.list(status, limit=200)
        return json_response({"orders": [o.as_api() for o in orders]})

    async def approve(request: web.Request) -> web.Response:
        try:
            order = await manager.approve(request.match_info["order_id"], context=context(request))
        except OrderStateError as err:
            raise _state_error(err) from None
        return json_response(order.as_api())

    async def cancel(request: web.Request) -> web.Response:
        try:
            order = await manager.cancel(request.match_info["order_id"], context=context(request))
        except OrderStateError as err:
            raise _state_error(err) from None
        return json_response(order.as_api())

    async def callback(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            order = await manager.handle_callback(request.match_info["supplier"], body, request.headers.get(HEADER))
        except SignatureError as err:
            _LOGGER.warning("Refused a callback for supplier %s from %s: %s",
                            request.match_info["supplier"], request.remote, err)
            raise ApiError(401, str(err)) from None
        except SupplierError as err:
            raise ApiError(400, str(err)) from None
        return json_response({"accepted": order is not None})

    order_id = "/api/resupply/orders/{order_id}"
    return (
        Route("GET", "/api/resupply/orders", list_orders, RESIDENT, "Water and gas orders, newest first",
              response=obj({"orders": array(ORDER_SCHEMA)}, "orders"),
              query=(Param("status", {"type": "string", "enum": ["open", "closed", "all"]}, "default all"),)),
        Route("POST", f"{order_id}/approve", approve, RESIDENT, "Approve an order that awaits approval",
              response=ORDER_SCHEMA, errors=(409,)),
        Route("POST", f"{order_id}/cancel", cancel, RESIDENT, "Cancel an open order", response=ORDER_SCHEMA,
              errors=(409,)),
        Route("POST", "/api/resupply/callback/{supplier}", callback, PUBLIC,
              f"A supplier's status callback, authenticated by the {HEADER} signature",
              request=ANY_OBJECT, response=obj({"accepted": BOOLEAN}, "accepted"), errors=(400, 401)),
    )  # fmt: skip


def _state_error(err: OrderStateError) -> ApiError:
    return ApiError(404 if str(err).startswith("no order") else 409, str(err))


__all__ = ["ORDER_SCHEMA", "routes"]
