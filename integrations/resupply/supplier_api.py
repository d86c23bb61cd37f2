"""The supplier HTTP API's request and answer shapes (docs/resupply.md), without any HTTP client.

Answers are sorted into three outcomes: an order (`SupplierStatus`), a permanent refusal
(`SupplierRejected`: 4xx, the order fails with the supplier's words) or a transient failure
(`SupplierUnavailable`: 5xx, 408/425/429, or a 2xx we cannot read; the outbox tries again, since
a later answer may well be fine).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import quote

from integrations.resupply.errors import SupplierRejected, SupplierUnavailable
from integrations.resupply.models import SUPPLIER_STATUSES, OrderRequest, SupplierStatus

# 4xx answers that mean "not now" rather than "never".
TRANSIENT_4XX = frozenset({408, 425, 429})
_MESSAGE_CHARS = 200


def orders_url(base_url: str) -> str:
    """`POST` here to create an order; base_url is the configured API root, e.g. .../v1."""
    return f"{base_url.rstrip('/')}/orders"


def order_url(base_url: str, supplier_ref: str) -> str:
    """`GET` here for one order's status."""
    return f"{orders_url(base_url)}/{quote(supplier_ref, safe='')}"


def cancel_url(base_url: str, supplier_ref: str) -> str:
    """`POST` here to cancel an order that is not dispatched yet."""
    return f"{order_url(base_url, supplier_ref)}/cancel"


def _number(value: float) -> float | int:
    # 10000.0 goes out as 10000: some suppliers validate litres as integers.
    return int(value) if float(value).is_integer() else value


def create_body(order: OrderRequest) -> dict[str, Any]:
    """The JSON body of `POST /v1/orders`; identical for every resend of the same order."""
    body: dict[str, Any] = {
        "commodity": order.commodity,
        "quantity_l": _number(order.quantity_l),
        "reference": order.reference,
    }
    if order.customer_id is not None:
        body["customer_id"] = order.customer_id
    if order.callback_url is not None:
        body["callback_url"] = order.callback_url
    if order.notes is not None:
        body["notes"] = order.notes
    return body


def create_headers(order: OrderRequest, api_key: str) -> dict[str, str]:
    """Headers of `POST /v1/orders`: the order id is the idempotency key, so a resend is one order."""
    return {
        "Authorization": f"Bearer {api_key}",
        "Idempotency-Key": order.order_id,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def auth_headers(api_key: str) -> dict[str, str]:
    """Headers of the other requests (status, cancel)."""
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}


def _bad(what: str) -> SupplierUnavailable:
    return SupplierUnavailable(f"supplier answered {what}")


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _bad(f"an order whose {key} is not text: {value!r}")


def _optional_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(f"an order whose {key} is not a number: {value!r}")
    return float(value)


def _eta(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"an order whose eta is not text: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"an order whose eta is not ISO 8601: {value[:40]!r}") from None
    if moment.tzinfo is None:
        # Without an offset the supplier's local time is a guess hours off: refuse to guess.
        raise _bad(f"an order whose eta has no time zone: {value[:40]!r}")
    return moment.timestamp()


def parse_order(data: Any) -> SupplierStatus:
    """A supplier's `order` object, checked field by field; SupplierUnavailable names what is wrong."""
    if not isinstance(data, dict):
        raise _bad(f"{type(data).__name__} where an order object was expected")
    supplier_ref = data.get("id")
    if isinstance(supplier_ref, int) and not isinstance(supplier_ref, bool):
        supplier_ref = str(supplier_ref)  # a numeric id is still an id
    if not isinstance(supplier_ref, str) or not supplier_ref:
        raise _bad("an order without an id")
    status = data.get("status")
    if not isinstance(status, str):
        raise _bad(f"an order without a status (order {supplier_ref})")
    if status not in SUPPLIER_STATUSES:
        raise _bad(f"an unknown status {status[:40]!r}")
    return SupplierStatus(
        supplier_ref=supplier_ref,
        status=status,
        eta=_eta(data.get("eta")),
        price=_optional_number(data, "price"),
        currency=_optional_str(data, "currency"),
        delivered_l=_optional_number(data, "delivered_l"),
        message=_optional_str(data, "message"),
        reference=_optional_str(data, "reference"),
    )


def parse_order_json(body: bytes, *, status: int | None = None) -> SupplierStatus:
    """An order from raw JSON (an API answer or a callback body)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        where = f"{status} " if status is not None else ""
        raise SupplierUnavailable(f"supplier answered {where}with a body that is not JSON", status=status) from None
    try:
        return parse_order(data)
    except SupplierUnavailable as exc:
        raise SupplierUnavailable(str(exc), status=status) from None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its seconds form; None for a date or garbage."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():
        return None  # the HTTP-date form needs a clock; the outbox's own backoff applies then
    return float(int(text))


def _message(body: bytes) -> str:
    """The supplier's explanation: JSON {"error": ...} or the start of the text."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, str) and error.strip():
            return error.strip()[:_MESSAGE_CHARS]
    text = body.decode("utf-8", errors="replace").strip()
    return text[:_MESSAGE_CHARS] if text else "no explanation given"


def classify_answer(status: int, body: bytes, *, retry_after: str | None) -> None:
    """Nothing for 2xx; SupplierRejected for a permanent 4xx; SupplierUnavailable for the rest."""
    if 200 <= status < 300:
        return
    if status == 401:
        raise SupplierRejected("401: the supplier refused the API key", status=status)
    if 400 <= status < 500 and status not in TRANSIENT_4XX:
        raise SupplierRejected(f"{status}: {_message(body)}", status=status)
    wait = parse_retry_after(retry_after)
    if status in TRANSIENT_4XX or 500 <= status < 600:
        raise SupplierUnavailable(
            f"{status}: supplier unavailable: {_message(body)}", status=status, retry_after=wait
        )
    # 1xx/3xx reaching us means a redirect was not followed or a proxy misbehaves: try again later.
    raise SupplierUnavailable(f"{status}: unexpected answer from the supplier", status=status, retry_after=wait)


def parse_answer(status: int, body: bytes, *, retry_after: str | None = None) -> SupplierStatus:
    """The order in an answer, or the SupplierRejected / SupplierUnavailable the answer means."""
    classify_answer(status, body, retry_after=retry_after)
    return parse_order_json(body, status=status)


__all__ = [
    "TRANSIENT_4XX",
    "auth_headers",
    "cancel_url",
    "classify_answer",
    "create_body",
    "create_headers",
    "order_url",
    "orders_url",
    "parse_answer",
    "parse_order",
    "parse_order_json",
    "parse_retry_after",
]
