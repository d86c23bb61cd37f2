"""The hub's supplier adapters: the HTTP API, a signed webhook, or an email to the supplier.

Thin on purpose: request and answer shapes come from `supplier_api`, signatures from `signing`.
Each adapter turns what went wrong into SupplierRejected (permanent: the order fails with the
supplier's words) or SupplierUnavailable (transient: the outbox retries). Secrets (API keys, SMTP
passwords, webhook secrets) never reach a log line, an exception message or a repr.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import aiohttp
import aiosmtplib
from yarl import URL

from integrations.resupply import signing, supplier_api
from integrations.resupply.errors import SupplierRejected, SupplierUnavailable
from integrations.resupply.models import OrderRequest, SupplierStatus

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
SMTP_PORTS = {"tls": 465, "starttls": 587, "plain": 25}
# (Spanish, English) names of what is ordered, for the email's subject and body.
COMMODITY_NAMES = {"water": ("agua", "water"), "lp_gas": ("gas LP", "LP gas")}

SmtpSend = Callable[..., Awaitable[Any]]


class Supplier(Protocol):
    """Where orders of one commodity go; `poll` and `cancel` are only called when can_poll / can_cancel."""

    id: str
    name: str
    commodity: str
    can_poll: bool
    can_cancel: bool

    async def send(self, order: OrderRequest) -> SupplierStatus:
        """Place `order` (a resend of the same order_id must not make a second one)."""
        ...

    async def poll(self, supplier_ref: str) -> SupplierStatus:
        """The supplier's current view of one order."""
        ...

    async def cancel(self, supplier_ref: str) -> SupplierStatus:
        """Cancel one order before it is dispatched."""
        ...


def _reason(error: BaseException, timeout: float) -> str:
    """A short cause for a failed connection, without request headers (they carry the API key)."""
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _endpoint(url: str) -> str:
    """host:port of a URL, for messages (never the URL's userinfo or query)."""
    parsed = URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port is not None else str(parsed.host)


class _OneWay:
    """What webhook and email suppliers share: they take orders and never answer about them later."""

    can_poll = False
    can_cancel = False
    id: str
    name: str

    async def poll(self, supplier_ref: str) -> SupplierStatus:
        """Never called by the manager (can_poll is False); refuses rather than pretends."""
        raise SupplierRejected(f"{self.name} cannot be asked about an order's status")

    async def cancel(self, supplier_ref: str) -> SupplierStatus:
        """Never called by the manager (can_cancel is False); a resident contacts the supplier."""
        raise SupplierRejected(f"{self.name} cannot cancel through the hub; contact them directly")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r})"


class HttpApiSupplier:
    """A supplier that implements the Supplier HTTP API (docs/resupply.md)."""

    can_poll = True
    can_cancel = True

    def __init__(
        self,
        *,
        id: str,
        name: str,
        commodity: str,
        url: str,
        api_key: str,
        customer_id: str | None,
        session: aiohttp.ClientSession,
        timeout: float = DEFAULT_TIMEOUT_S,
        callback_secret: str | None = None,
    ) -> None:
        self.id, self.name, self.commodity = id, name, commodity
        self.url = url
        self.customer_id = customer_id
        self.callback_secret = callback_secret  # checked by the callback view, not used here
        self.timeout = timeout
        self._api_key = api_key
        self._session = session  # owned by the caller
        self._where = _endpoint(url)

    def __repr__(self) -> str:
        return f"HttpApiSupplier(id={self.id!r}, url={self.url!r})"

    async def send(self, order: OrderRequest) -> SupplierStatus:
        """POST /orders with the order id as Idempotency-Key: a resend returns the same supplier order."""
        if order.customer_id is None and self.customer_id is not None:
            order = dataclasses.replace(order, customer_id=self.customer_id)
        body = json.dumps(supplier_api.create_body(order)).encode()
        headers = supplier_api.create_headers(order, self._api_key)
        _LOGGER.debug("sending order %s to %s", order.order_id, self.id)
        return await self._request("POST", supplier_api.orders_url(self.url), headers, body)

    async def poll(self, supplier_ref: str) -> SupplierStatus:
        """GET /orders/{ref}."""
        url = supplier_api.order_url(self.url, supplier_ref)
        return await self._request("GET", url, supplier_api.auth_headers(self._api_key))

    async def cancel(self, supplier_ref: str) -> SupplierStatus:
        """POST /orders/{ref}/cancel; a dispatched order answers 409 (SupplierRejected)."""
        url = supplier_api.cancel_url(self.url, supplier_ref)
        return await self._request("POST", url, supplier_api.auth_headers(self._api_key))

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> SupplierStatus:
        status, raw, retry_after = await _exchange(self, method, url, headers, body)
        return supplier_api.parse_answer(status, raw, retry_after=retry_after)


class WebhookSupplier(_OneWay):
    """A supplier that takes the order as a signed JSON POST; any 2xx means it has it."""

    def __init__(
        self,
        *,
        id: str,
        name: str,
        commodity: str,
        url: str,
        secret: str,
        session: aiohttp.ClientSession,
        timeout: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError(f"supplier {id}: webhook_secret is empty")
        self.id, self.name, self.commodity = id, name, commodity
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._session = session
        self._clock = clock
        self._where = _endpoint(url)

    def body(self, order: OrderRequest) -> dict[str, Any]:
        """The API's create body plus what a webhook receiver has no other way to learn."""
        body = supplier_api.create_body(order)
        body["order_id"] = order.order_id  # the receiver's key to recognise a resend
        for key in ("household", "price_estimate", "currency"):
            value = getattr(order, key)
            if value is not None:
                body[key] = value
        return body

    async def send(self, order: OrderRequest) -> SupplierStatus:
        """POST the signed order; 2xx -> received, 4xx -> rejected, the rest -> unavailable."""
        raw = json.dumps(self.body(order)).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": order.order_id,
            signing.HEADER: signing.sign(self._secret, raw, timestamp=int(self._clock())),
        }
        status, answer, retry_after = await _exchange(self, "POST", self.url, headers, raw)
        if status == 401:  # a webhook has no API key: what it refused is our signature
            raise SupplierRejected(
                f"401: {self.name} refused the signature (check webhook_secret and the hub's clock)", status=401
            )
        supplier_api.classify_answer(status, answer, retry_after=retry_after)
        return SupplierStatus(supplier_ref=None, status="received")


async def _exchange(
    supplier: Any, method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[int, bytes, str | None]:
    """One HTTP request of an HTTP supplier: (status, body, Retry-After); unreachable -> SupplierUnavailable."""
    try:
        async with supplier._session.request(
            method, url, data=body, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=supplier.timeout),
            # A redirected order could be placed twice or carry the key elsewhere: report it instead.
            allow_redirects=False,
        ) as response:  # fmt: skip
            return response.status, await response.read(), response.headers.get("Retry-After")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SupplierUnavailable(
            f"cannot reach {supplier.name} ({supplier._where}): {_reason(exc, supplier.timeout)}"
        ) from None


def _litres(value: float) -> str:
    """5000 -> '5,000'; 37.5 -> '37.5' (the same digits read right in es-MX and English)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def email_text(order: OrderRequest) -> tuple[str, str]:
    """(subject, body) of an order email: Spanish (es-MX) first, then English."""
    es_name, en_name = COMMODITY_NAMES.get(order.commodity, (order.commodity, order.commodity))
    subject = f"Pedido de {es_name} / {en_name[:1].upper()}{en_name[1:]} order {order.reference}"
    quantity = f"{_litres(order.quantity_l)} L"
    price = None
    if order.price_estimate is not None:
        price = f"${order.price_estimate:,.2f} {order.currency or ''}".rstrip()
    # (Spanish label, English label, value): one table, printed once per language.
    rows = [
        ("Cantidad", "Quantity", quantity),
        ("Hogar", "Household", order.household),
        ("Cliente", "Customer", order.customer_id),
        ("Referencia", "Reference", order.reference),
        ("Número de pedido", "Order id", order.order_id),
        ("Precio estimado", "Price estimate", price),
        ("Notas", "Notes", order.notes),
    ]

    def table(language: int) -> str:
        return "\n".join(f"  {row[language]}: {row[2]}" for row in rows if row[2])

    body = (
        f"Buen día:\n\nLes pedimos {es_name}:\n\n{table(0)}\n\n"
        "Por favor confirmen respondiendo a este correo con el número de pedido. "
        "Si reciben este pedido dos veces con el mismo número, es el mismo pedido.\n"
        "Pedido enviado automáticamente por Maderas Hub.\n\n"
        "-- English --\n\n"
        f"Hello,\n\nWe would like to order {en_name}:\n\n{table(1)}\n\n"
        "Please confirm by replying to this email with the order id. "
        "If this order reaches you twice with the same order id, it is the same order.\n"
        "Sent automatically by Maderas Hub.\n"
    )
    return subject, body


def _smtp_error(error: BaseException, where: str, timeout: float) -> SupplierRejected | SupplierUnavailable:
    """SMTP 5xx and refused recipients are permanent; connection trouble, timeouts and 4xx are not."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
        if codes and all(code < 500 for code in codes):  # greylisting: come back later
            return SupplierUnavailable(f"mail server {where} deferred the recipient: {text}")
        return SupplierRejected(f"mail server {where} refused the recipient: {text}")
    if isinstance(error, aiosmtplib.SMTPResponseException) and 400 <= error.code < 600:
        text = f"mail server {where} answered {error.code} {error.message}".strip()
        if error.code >= 500:
            return SupplierRejected(text, status=error.code)
        return SupplierUnavailable(text, status=error.code)
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        # e.g. STARTTLS configured but not offered: only a configuration change helps.
        return SupplierRejected(f"mail server {where}: {error}")
    return SupplierUnavailable(f"cannot send mail through {where}: {_reason(error, timeout)}")


class EmailSupplier(_OneWay):
    """A supplier that takes orders by email; accepted by the SMTP server counts as sent."""

    def __init__(
        self,
        *,
        id: str,
        name: str,
        commodity: str,
        to: str,
        smtp: Mapping[str, Any],
        timeout: float = DEFAULT_TIMEOUT_S,
        smtp_send: SmtpSend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id, self.name, self.commodity = id, name, commodity
        self.to = to
        self.timeout = timeout
        self.host: str = smtp["host"]
        self.tls = bool(smtp.get("tls", False))
        self.starttls = bool(smtp.get("starttls", False)) and not self.tls
        mode = "tls" if self.tls else "starttls" if self.starttls else "plain"
        self.port = int(smtp.get("port") or SMTP_PORTS[mode])
        self.sender: str | None = smtp.get("from") or smtp.get("username")
        if not self.sender:
            raise ValueError(f"supplier {id}: smtp needs a from address")
        self._username: str | None = smtp.get("username")
        self._password: str | None = smtp.get("password")
        self._send = smtp_send if smtp_send is not None else aiosmtplib.send
        self._clock = clock

    def message(self, order: OrderRequest) -> EmailMessage:
        """The order email; Message-ID and X-Maderas-Order-Id make a resend recognisable."""
        subject, body = email_text(order)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.to
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(self._clock(), usegmt=True)
        message["Message-ID"] = f"<{order.order_id}@maderas-hub>"
        message["X-Maderas-Order-Id"] = order.order_id
        message["Content-Language"] = "es-MX, en"
        message.set_content(body)
        return message

    async def send(self, order: OrderRequest) -> SupplierStatus:
        """Hand the order email to the SMTP server."""
        where = f"{self.host}:{self.port}"
        _LOGGER.debug("emailing order %s to %s through %s", order.order_id, self.id, where)
        try:
            result = await self._send(
                self.message(order),
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password,
                use_tls=self.tls,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, TimeoutError, OSError) as exc:
            raise _smtp_error(exc, where, self.timeout) from None
        # aiosmtplib answers (refused recipients, server reply); refused ones only when others were taken.
        refused = result[0] if isinstance(result, tuple) and result and isinstance(result[0], dict) else {}
        if refused:
            text = "; ".join(f"{to}: {getattr(r, 'code', '')} {getattr(r, 'message', r)}" for to, r in refused.items())
            raise SupplierRejected(f"mail server {where} refused the recipient: {text}")
        return SupplierStatus(supplier_ref=None, status="received")


def _seconds(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def build_supplier(
    config: Mapping[str, Any],
    *,
    session: aiohttp.ClientSession,
    smtp_send: SmtpSend | None = None,
    clock: Callable[[], float] | None = None,
) -> Supplier:
    """The adapter for one validated supplier config; `clock` (epoch s) signs webhooks (default: wall time)."""
    kind = config.get("type")
    common: dict[str, Any] = {
        "id": config["id"],
        "name": config.get("name") or config["id"],
        "commodity": config["commodity"],
        "timeout": _seconds(config.get("timeout")),
    }
    now = clock if clock is not None else time.time
    if kind == "http_api":
        return HttpApiSupplier(
            **common,
            url=config["url"],
            api_key=config["api_key"],
            customer_id=config.get("customer_id"),
            callback_secret=config.get("callback_secret"),
            session=session,
        )
    if kind == "webhook":
        return WebhookSupplier(**common, url=config["url"], secret=config["webhook_secret"], session=session, clock=now)
    if kind == "email":
        return EmailSupplier(**common, to=config["email"], smtp=config["smtp"], smtp_send=smtp_send, clock=now)
    raise ValueError(f"supplier {config['id']}: unknown type {kind!r}")


__all__ = [
    "EmailSupplier",
    "HttpApiSupplier",
    "Supplier",
    "WebhookSupplier",
    "build_supplier",
    "email_text",
]
