"""The ``paypal`` payment gateway, through PayPal's maintained server SDK
(``paypal-server-sdk``; the older ``paypalrestsdk`` is deprecated): Orders v2 — an order per
payment, the buyer approving it on PayPal's page, the platform capturing it — webhooks
verified by PayPal's verification API, and refunds of the capture, full or partial::

    [providers.paypal]
    client_id = "env:PAYPAL_CLIENT_ID"
    client_secret = "env:PAYPAL_CLIENT_SECRET"
    webhook_id = "env:PAYPAL_WEBHOOK_ID"      # the id PayPal gave the webhook
    environment = "live"                      # or "sandbox"

The buyer is sent to the payment's ``redirect_url``; PayPal sends them back to the order page
with ``token`` (the PayPal order id), which the page posts to
``/api/v1/orders/{number}/payments/{id}/complete``: the platform then captures the order. A
buyer who approved but never came back is captured when the ``CHECKOUT.ORDER.APPROVED``
webhook arrives (the engine fetches the status of a payment a webhook calls authorized, and
an approved order is captured when its status is fetched), or else by the reconciliation.
Webhook events used: ``PAYMENT.CAPTURE.COMPLETED``, ``PAYMENT.CAPTURE.DENIED``,
``PAYMENT.CAPTURE.REFUNDED``, ``CHECKOUT.ORDER.APPROVED``.

The SDK is synchronous: calls run in worker threads behind a per-provider limit, with the
SDK's timeout. Every create, capture and refund carries ``PayPal-Request-Id`` (PayPal's
idempotency key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from boxoffice.core.errors import RuleViolated
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.money import Money, minor_digits
from boxoffice.core.payments.gateway import PaymentGateway, PaymentStatus

#: The currencies PayPal takes for payments (its REST API's list).
CURRENCIES = frozenset(
    {"AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR"}
    | {"MXN", "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD"}
)
#: Currencies PayPal takes in whole units only.
WHOLE_UNITS = frozenset({"HUF", "JPY", "TWD"})
BASE_URLS = {"live": "https://api-m.paypal.com", "sandbox": "https://api-m.sandbox.paypal.com"}

ORDER_STATUS = {
    "CREATED": PaymentStatus.REQUIRES_ACTION,
    "SAVED": PaymentStatus.REQUIRES_ACTION,
    "PAYER_ACTION_REQUIRED": PaymentStatus.REQUIRES_ACTION,
    "APPROVED": PaymentStatus.AUTHORIZED,
    "VOIDED": PaymentStatus.CANCELLED,
}
CAPTURE_STATUS = {
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": PaymentStatus.SUCCEEDED,
    "REFUNDED": PaymentStatus.REFUNDED,
    "PENDING": PaymentStatus.AUTHORIZED,
    "DECLINED": PaymentStatus.FAILED,
    "FAILED": PaymentStatus.FAILED,
}
#: Webhook event -> status.
EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED": PaymentStatus.SUCCEEDED,
    "PAYMENT.CAPTURE.DENIED": PaymentStatus.FAILED,
    "PAYMENT.CAPTURE.REFUNDED": PaymentStatus.REFUNDED,
    "CHECKOUT.ORDER.APPROVED": PaymentStatus.AUTHORIZED,
}
TRANSMISSION_HEADERS = (
    "transmission-id",
    "transmission-time",
    "transmission-sig",
    "cert-url",
    "auth-algo",
)


def paypal_value(money: Money) -> str:
    """``money`` as PayPal's decimal ``value`` string, or a refusal."""
    digits = minor_digits(money.currency)
    value = money.to_decimal()
    if money.currency in WHOLE_UNITS:
        if value != value.to_integral_value():
            raise RuleViolated(
                f"PayPal takes {money.currency} in whole units only",
                extra={"rule": "gateway_amount", "currency": money.currency},
            )
        return str(int(value))
    return f"{value:.{digits}f}"


class PayPalOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    client_id: str
    client_secret: str
    webhook_id: str
    environment: Literal["live", "sandbox"] = "live"
    display_name: str = "PayPal"
    #: Limit to these currencies; empty: every currency PayPal takes.
    currencies: list[str] = []
    timeout: float = 15.0
    max_concurrency: int = 8
    #: For tests against a local fake; PayPal's own API (by ``environment``) otherwise.
    api_base: str = ""


@hookimpl
def register_payment_gateways(context: PluginContext) -> Sequence[PaymentGateway]:
    if "paypal" not in context.configured():
        return []
    from boxoffice.providers.paypal.gateway import PayPalGateway  # the SDK, only when configured

    return [PayPalGateway(context.options("paypal", PayPalOptions))]
