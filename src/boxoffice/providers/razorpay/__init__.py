"""The ``razorpay`` payment gateway, through Razorpay's official SDK: an Order per payment,
paid in Razorpay Checkout in the buyer's browser (UPI, cards, netbanking, wallets), whose
signed answer the platform verifies; webhooks verified with the webhook secret; refunds of
the captured payment, full or partial::

    [providers.razorpay]
    key_id = "env:RAZORPAY_KEY_ID"
    key_secret = "env:RAZORPAY_KEY_SECRET"
    webhook_secret = "env:RAZORPAY_WEBHOOK_SECRET"
    currencies = ["INR"]      # add the currencies your account has enabled (international)

    [[routing.payments]]
    currency = "INR"
    providers = ["razorpay", "offline"]

The buyer's browser opens Checkout with the public ``key_id`` and the payment's
``client_secret`` (the Razorpay order id), then posts Checkout's answer
(``razorpay_payment_id``, ``razorpay_order_id``, ``razorpay_signature``) to
``/api/v1/orders/{number}/payments/{id}/complete``. The webhook
(``/api/v1/payments/webhooks/razorpay``; events ``order.paid``, ``payment.captured``,
``payment.failed``, ``refund.processed``) confirms the order even when the browser never comes back.

Razorpay's SDK is synchronous: its calls run in worker threads behind a per-provider limit,
each with a timeout. Razorpay Orders take no idempotency key, so creating one first looks
for the order made with the same receipt (the payment's id); a refund first looks for the
refund made with the same id in its notes: a retry never makes a second one.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.payments.gateway import PaymentGateway, PaymentStatus

#: Webhook event -> (status, where the Razorpay order id is in the payload).
EVENTS: dict[str, tuple[PaymentStatus, tuple[str, ...]]] = {
    "order.paid": (PaymentStatus.SUCCEEDED, ("order", "entity", "id")),
    "payment.captured": (PaymentStatus.SUCCEEDED, ("payment", "entity", "order_id")),
    # A failed attempt; the buyer may still pay the same order (a later success counts).
    "payment.failed": (PaymentStatus.FAILED, ("payment", "entity", "order_id")),
    "refund.processed": (PaymentStatus.REFUNDED, ("payment", "entity", "order_id")),
}


class RazorpayOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key_id: str
    key_secret: str
    webhook_secret: str
    display_name: str = "UPI, cards, netbanking (Razorpay)"
    currencies: list[str] = msgspec.field(default_factory=lambda: ["INR"])
    #: Seconds one API call may take.
    timeout: float = 15.0
    max_concurrency: int = 8
    #: For tests against a local fake; Razorpay's own API otherwise.
    api_base: str = ""


@hookimpl
def register_payment_gateways(context: PluginContext) -> Sequence[PaymentGateway]:
    if "razorpay" not in context.configured():
        return []
    from boxoffice.providers.razorpay.gateway import (
        RazorpayGateway,  # the SDK, only when configured
    )

    return [RazorpayGateway(context.options("razorpay", RazorpayOptions))]
