"""EmailSupplier against aiosmtpd, a real SMTP server, running on the test's own event loop."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from hub.config.yaml_loader import SecretStr
from integrations.resupply.errors import SupplierRejected, SupplierUnavailable
from integrations.resupply.models import OrderRequest, SupplierStatus
from integrations.resupply.suppliers import EmailSupplier, build_supplier, email_text

TO, FROM = "pedidos@gas.example", "hub@casa.example"


class Handler:
    """Keeps every accepted message; `rcpt_reply` / `data_reply` make the server refuse instead."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


Smtpd = tuple[Handler, int]


@pytest.fixture
async def smtpd() -> AsyncIterator[Smtpd]:
    """aiosmtpd on loopback, served by this test's loop (no Controller thread)."""
    handler = Handler()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="smtp.test"), "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    yield handler, port
    server.close()
    await server.wait_closed()
    # Each session's task ends after QUIT; let them finish before the leak check looks.
    for _ in range(20):
        await asyncio.sleep(0.01)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def config(port: int | None, **smtp: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": port, "starttls": False, "tls": False, "from": FROM}
    settings.update(smtp)
    return {
        "id": "gas_express",
        "name": "Gas Express",
        "commodity": "lp_gas",
        "type": "email",
        "email": TO,
        "smtp": settings,
        "timeout": 5.0,
    }


def gas_order(**overrides: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "order_id": "01JH8Z6Q2W",
        "commodity": "lp_gas",
        "quantity_l": 180.0,
        "reference": "Tanque estacionario 2026-01-15",
        "customer_id": "G-7781",
        "household": "Casa Maderas",
        "price_estimate": 2070.0,
        "currency": "MXN",
        "notes": "Portón azul",
    }
    fields.update(overrides)
    return OrderRequest(**fields)


async def test_email_order_reaches_the_server(smtpd: Smtpd, session: aiohttp.ClientSession) -> None:
    handler, port = smtpd
    supplier = build_supplier(config(port), session=session, clock=lambda: 1768478400.0)
    assert isinstance(supplier, EmailSupplier) and not supplier.can_poll and not supplier.can_cancel
    assert await supplier.send(gas_order()) == SupplierStatus(supplier_ref=None, status="received")

    [(envelope, message)] = handler.messages
    assert envelope.mail_from == FROM and envelope.rcpt_tos == [TO]
    assert message["To"] == TO and message["From"] == FROM
    assert message["Subject"] == "Pedido de gas LP / LP gas order Tanque estacionario 2026-01-15"
    assert message["Message-ID"] == "<01JH8Z6Q2W@maderas-hub>"
    assert message["X-Maderas-Order-Id"] == "01JH8Z6Q2W"
    assert email.utils.parsedate_to_datetime(message["Date"]).timestamp() == 1768478400.0
    body = message.get_content()
    spanish, english = body.split("-- English --")
    for expected in ("Cantidad: 180 L", "Hogar: Casa Maderas", "Cliente: G-7781", "Número de pedido: 01JH8Z6Q2W",
                     "Precio estimado: $2,070.00 MXN", "Referencia: Tanque estacionario 2026-01-15",
                     "Notas: Portón azul"):
        assert expected in spanish
    for expected in ("Quantity: 180 L", "Household: Casa Maderas", "Order id: 01JH8Z6Q2W",
                     "Price estimate: $2,070.00 MXN", "Reference: Tanque estacionario 2026-01-15"):
        assert expected in english


async def test_resend_is_recognisable(smtpd: Smtpd, session: aiohttp.ClientSession) -> None:
    handler, port = smtpd
    supplier = build_supplier(config(port), session=session)
    await supplier.send(gas_order())
    await supplier.send(gas_order())
    first, second = (message for _, message in handler.messages)
    assert first["Message-ID"] == second["Message-ID"] == "<01JH8Z6Q2W@maderas-hub>"
    assert first.get_content() == second.get_content()


def test_water_subject_and_optional_fields() -> None:
    subject, body = email_text(
        OrderRequest(order_id="o-9", commodity="water", quantity_l=10000.0, reference="Cisterna")
    )
    assert subject == "Pedido de agua / Water order Cisterna"
    assert "Cantidad: 10,000 L" in body and "Quantity: 10,000 L" in body
    # Fields the order does not have are left out, not printed as None.
    assert "None" not in body and "Precio" not in body and "Household" not in body


async def test_refused_recipient_is_permanent(smtpd: Smtpd, session: aiohttp.ClientSession) -> None:
    handler, port = smtpd
    handler.rcpt_reply = "550 5.1.1 mailbox unavailable"
    supplier = build_supplier(config(port), session=session)
    with pytest.raises(SupplierRejected, match="550 5.1.1 mailbox unavailable"):
        await supplier.send(gas_order())
    assert handler.messages == []


async def test_greylisted_recipient_is_transient(smtpd: Smtpd, session: aiohttp.ClientSession) -> None:
    handler, port = smtpd
    handler.rcpt_reply = "450 4.2.0 greylisted, try again later"
    supplier = build_supplier(config(port), session=session)
    with pytest.raises(SupplierUnavailable, match="greylisted"):
        await supplier.send(gas_order())


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ("554 5.7.1 message refused as spam", SupplierRejected, 554),
        ("451 4.3.0 local error, try again later", SupplierUnavailable, 451),
    ],
)
async def test_data_answers(
    smtpd: Smtpd, session: aiohttp.ClientSession, reply: str, error: type[Exception], code: int
) -> None:
    handler, port = smtpd
    handler.data_reply = reply
    supplier = build_supplier(config(port), session=session)
    with pytest.raises(error, match=reply.split(" ", 1)[1]) as info:
        await supplier.send(gas_order())
    assert isinstance(info.value, (SupplierRejected, SupplierUnavailable)) and info.value.status == code


async def test_unreachable_server_is_transient(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    password = SecretStr("s3cret-password", name="smtp_password")
    supplier = build_supplier(config(port, username="hub", password=password), session=session)
    with pytest.raises(SupplierUnavailable, match=f"127.0.0.1:{port}") as info:
        await supplier.send(gas_order())
    assert "s3cret-password" not in str(info.value) and "s3cret-password" not in repr(supplier)


async def test_send_arguments_and_failure_paths(session: aiohttp.ClientSession) -> None:
    calls: list[dict[str, Any]] = []
    raised: list[BaseException] = []

    async def fake_send(message: EmailMessage, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if raised:
            raise raised.pop()
        return {}, "250 OK"

    password = SecretStr("pw-123")
    supplier = build_supplier(
        config(None, host="smtp.gas.example", starttls=True, username="hub", password=password),
        session=session,
        smtp_send=fake_send,
    )
    await supplier.send(gas_order())
    assert calls[0] == {
        "hostname": "smtp.gas.example", "port": 587, "username": "hub", "password": "pw-123",
        "use_tls": False, "start_tls": True, "timeout": 5.0,
    }
    tls = build_supplier(config(None, tls=True, starttls=True), session=session, smtp_send=fake_send)
    await tls.send(gas_order())
    assert (calls[1]["port"], calls[1]["use_tls"], calls[1]["start_tls"]) == (465, True, False)

    cases: list[tuple[BaseException, type[Exception]]] = [
        (aiosmtplib.SMTPAuthenticationError(535, "authentication failed"), SupplierRejected),
        (aiosmtplib.SMTPNotSupported("STARTTLS extension not supported by server"), SupplierRejected),
        (aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"), SupplierUnavailable),
        (aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"), SupplierUnavailable),
        (aiosmtplib.SMTPSenderRefused(421, "too many connections", FROM), SupplierUnavailable),
    ]
    for exc, expected in cases:
        raised.append(exc)
        with pytest.raises(expected) as info:
            await supplier.send(gas_order())
        assert "pw-123" not in str(info.value)
