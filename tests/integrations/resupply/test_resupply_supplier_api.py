"""Supplier HTTP API shapes: request bodies and headers, literal answers sorted into order / rejected / retry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from integrations.resupply.errors import SupplierRejected, SupplierUnavailable
from integrations.resupply.models import OrderRequest, SupplierStatus
from integrations.resupply.supplier_api import (
    cancel_url,
    classify_answer,
    create_body,
    create_headers,
    order_url,
    orders_url,
    parse_answer,
    parse_order,
    parse_retry_after,
)

ORDER = OrderRequest(
    order_id="01JD8Z6K3M", commodity="water", quantity_l=10000.0, reference="Cistern 2026-11-26",
    customer_id="MAD-0042", callback_url="https://hub.example/api/resupply/callback/pipas_marques",
    price_estimate=1200.0, currency="MXN",
)

CONFIRMED = b"""{
  "id": "sup-7781", "reference": "Cistern 2026-11-26", "status": "confirmed", "commodity": "water",
  "quantity_l": 10000, "price": 1200.5, "currency": "MXN", "eta": "2026-11-27T09:30:00-06:00",
  "delivered_l": null, "message": "Llegamos manana temprano"
}"""


def test_create_body_and_headers() -> None:
    assert create_body(ORDER) == {
        "customer_id": "MAD-0042",
        "commodity": "water",
        "quantity_l": 10000,
        "reference": "Cistern 2026-11-26",
        "callback_url": "https://hub.example/api/resupply/callback/pipas_marques",
    }
    assert isinstance(create_body(ORDER)["quantity_l"], int)
    assert create_headers(ORDER, "k-123") == {
        "Authorization": "Bearer k-123",
        "Idempotency-Key": "01JD8Z6K3M",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def test_create_body_minimal_keeps_fractional_litres() -> None:
    order = OrderRequest(order_id="o2", commodity="lp_gas", quantity_l=224.5, reference="Gas", notes="gate code 12")
    assert create_body(order) == {"commodity": "lp_gas", "quantity_l": 224.5, "reference": "Gas",
                                  "notes": "gate code 12"}


def test_urls() -> None:
    assert orders_url("https://api.pipas.example/v1/") == "https://api.pipas.example/v1/orders"
    assert order_url("https://api.pipas.example/v1", "a/b c") == "https://api.pipas.example/v1/orders/a%2Fb%20c"
    assert cancel_url("https://api.pipas.example/v1", "sup-1") == "https://api.pipas.example/v1/orders/sup-1/cancel"


def test_parse_answer_201() -> None:
    assert parse_answer(201, CONFIRMED) == SupplierStatus(
        supplier_ref="sup-7781",
        status="confirmed",
        eta=datetime(2026, 11, 27, 15, 30, tzinfo=UTC).timestamp(),
        price=1200.5,
        currency="MXN",
        delivered_l=None,
        message="Llegamos manana temprano",
        reference="Cistern 2026-11-26",
    )


def test_parse_order_minimal_and_z_suffix() -> None:
    status = parse_order({"id": 42, "status": "delivered", "eta": "2026-11-27T15:30:00Z", "delivered_l": 9800})
    assert status.supplier_ref == "42"
    assert status.delivered_l == 9800.0
    assert status.eta == datetime(2026, 11, 27, 15, 30, tzinfo=UTC).timestamp()
    assert status.price is None and status.message is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "supplier answered list where an order object was expected"),
        ({"status": "confirmed"}, "supplier answered an order without an id"),
        ({"id": "", "status": "confirmed"}, "supplier answered an order without an id"),
        ({"id": "x1"}, "without a status"),
        ({"id": "x1", "status": "lost_in_transit"}, "supplier answered an unknown status 'lost_in_transit'"),
        ({"id": "x1", "status": "confirmed", "price": "1200"}, "price is not a number"),
        ({"id": "x1", "status": "confirmed", "delivered_l": True}, "delivered_l is not a number"),
        ({"id": "x1", "status": "confirmed", "currency": 5}, "currency is not text"),
        ({"id": "x1", "status": "confirmed", "eta": "tomorrow"}, "eta is not ISO 8601"),
        ({"id": "x1", "status": "confirmed", "eta": "2026-11-27T09:30:00"}, "eta has no time zone"),
        ({"id": "x1", "status": "confirmed", "eta": 1764257400}, "eta is not text"),
    ],
)
def test_parse_order_refuses_what_it_cannot_read(data: object, message: str) -> None:
    with pytest.raises(SupplierUnavailable, match=message):
        parse_order(data)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (200, b"<html>ok</html>", "supplier answered 200 with a body that is not JSON"),
        (201, b"\xff\xfe", "supplier answered 201 with a body that is not JSON"),
        (200, b'{"order": {"id": "x"}}', "supplier answered an order without an id"),
        (200, b'{"id": "x", "status": "teleported"}', "unknown status 'teleported'"),
    ],
)
def test_unreadable_2xx_is_transient(status: int, body: bytes, message: str) -> None:
    with pytest.raises(SupplierUnavailable, match=message) as info:
        parse_answer(status, body)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, b'{"error": "bad token"}', "401: the supplier refused the API key"),
        (422, b'{"error": "quantity_l must be one of 5000, 10000"}', "422: quantity_l must be one of 5000, 10000"),
        (409, b'{"error": "idempotency key reused with a different body"}',
         "409: idempotency key reused with a different body"),
        (404, b"Not Found", "404: Not Found"),
        (400, b"", "400: no explanation given"),
        (400, b'{"detail": "x"}', '400: {"detail": "x"}'),
        (403, b"x" * 500, "403: " + "x" * 200),
    ],
)
def test_permanent_4xx(status: int, body: bytes, message: str) -> None:
    with pytest.raises(SupplierRejected) as info:
        parse_answer(status, body)
    assert str(info.value) == message
    assert info.value.status == status


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [(500, None, None), (502, "30", 30.0), (503, "120", 120.0), (429, "5", 5.0), (408, None, None),
     (425, "Wed, 21 Oct 2026 07:28:00 GMT", None), (302, None, None)],
)
def test_transient_answers(status: int, retry_after: str | None, wait: float | None) -> None:
    with pytest.raises(SupplierUnavailable) as info:
        classify_answer(status, b'{"error": "busy"}', retry_after=retry_after)
    assert info.value.status == status
    assert info.value.retry_after == wait
    assert str(info.value).startswith(f"{status}: ")


def test_2xx_raises_nothing_even_with_an_error_body() -> None:
    for status in (200, 201, 204):
        classify_answer(status, b'{"error": "ignored"}', retry_after="30")  # must not raise


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), (" 17 ", 17.0), ("-3", None), ("1.5", None), ("", None)])
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_a_rejected_order_is_an_order() -> None:
    body = json.dumps({"id": "s9", "status": "rejected", "message": "no trucks to that colonia"}).encode()
    status = parse_answer(200, body)
    assert (status.status, status.message) == ("rejected", "no trucks to that colonia")
