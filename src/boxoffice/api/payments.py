"""Paying for an order: the gateways the buyer may choose, starting a payment, and the
gateways' webhooks.

The buyer proves the order with its secret (as for every buyer's route). A payment started
twice with the same ``Idempotency-Key`` is the same payment. Webhooks are verified by the
gateway's plugin (a bad signature is a 400 and changes nothing) and answered 200 once
applied, redelivered, or about a payment the platform does not know (logged)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.auth import client_ip, limits_apply
from boxoffice.api.booking import Secret, require_secret
from boxoffice.api.caching import PRIVATE
from boxoffice.api.middleware import SMALL_RESPONSE
from boxoffice.core.booking import orders
from boxoffice.core.idempotency import check_key
from boxoffice.core.payments.engine import Client, GatewayOption, PaymentOut
from boxoffice.logs import get_logger
from boxoffice.platform import Platform

log = get_logger(__name__)
GatewayId = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=r"^[a-z0-9_.-]+$")]


class PaymentIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The order's secret (from its link).
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    #: One of the order's payment options; without it, the first that takes the payment
    #: (one that refuses it or cannot be reached passes it to the next).
    gateway: GatewayId | None = None


class CompleteIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The order's secret (from its link).
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    #: What the gateway handed the buyer's browser (e.g. Razorpay Checkout's
    #: ``razorpay_payment_id``, ``razorpay_order_id`` and ``razorpay_signature``).
    params: Annotated[
        dict[
            Annotated[str, msgspec.Meta(max_length=100)],
            Annotated[str, msgspec.Meta(max_length=2000)],
        ],
        msgspec.Meta(max_length=20),
    ] = {}


class WebhookOut(msgspec.Struct, frozen=True):
    #: "applied", "ignored", "duplicate" or "unknown_payment" (the last three change nothing).
    outcome: str


class PaymentsController(Controller):
    cache_control = PRIVATE
    path = "/"
    tags = ["payments"]

    @get("/orders/{number:str}/payment-options", summary="The ways the buyer may pay, best first")
    async def payment_options(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        secret: Secret,
    ) -> list[GatewayOption]:
        order = await orders.get_order_by_number(session, number, secret=require_secret(secret))
        return await platform.payments.options(session, order)

    @get("/orders/{number:str}/payments", summary="The order's payment attempts")
    async def payments(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        secret: Secret,
    ) -> list[PaymentOut]:
        order = await orders.get_order_by_number(session, number, secret=require_secret(secret))
        return await platform.payments.payments_of(session, order)

    @post(
        "/orders/{number:str}/payments",
        status_code=201,
        opt=SMALL_RESPONSE,
        summary="Pay what is due through one of the payment options",
    )
    async def start_payment(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        data: JSONBody[PaymentIn],
    ) -> PaymentOut:
        key = request.headers.get("idempotency-key")
        async with platform.db.read() as session:
            order = await orders.get_order_by_number(session, number, secret=data.secret)
        limited = limits_apply(request, platform)
        client = Client(
            address=client_ip(request),
            per_buyer=platform.settings.payment_attempts_per_buyer if limited else None,
            per_address=platform.settings.payment_attempts_per_client if limited else None,
        )
        return await platform.payments.start(
            order.id, data.gateway, check_key(key) if key is not None else None, client
        )

    @post(
        "/orders/{number:str}/payments/{payment_id:uuid}/complete",
        status_code=200,
        summary="The buyer is back from the gateway: verify and finish the payment",
    )
    async def complete_payment(
        self,
        platform: NamedDependency[Platform],
        number: FromPath[str],
        payment_id: FromPath[uuid.UUID],
        data: JSONBody[CompleteIn],
    ) -> PaymentOut:
        async with platform.db.read() as session:
            order = await orders.get_order_by_number(session, number, secret=data.secret)
        return await platform.payments.complete(order.id, payment_id, data.params)

    @post(
        "/payments/webhooks/{gateway:str}",
        status_code=200,
        opt=SMALL_RESPONSE,
        summary="A payment gateway's notification (verified by its plugin)",
    )
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        gateway: FromPath[str],
    ) -> WebhookOut:
        outcome = await platform.payments.webhook(gateway, request.headers, await request.body())
        log.info("payments.webhook", gateway=gateway, outcome=outcome)
        return WebhookOut(outcome)
