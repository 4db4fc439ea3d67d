"""The ``stripe`` payment gateway, through Stripe's official SDK: PaymentIntents with automatic
payment methods (cards, wallets, local methods, with Strong Customer Authentication handled
by Stripe.js: the buyer's browser gets the client secret), refunds full and partial, and
webhooks verified with the endpoint's signing secret. No card data touches the platform::

    [providers.stripe]
    secret_key = "env:STRIPE_SECRET_KEY"
    webhook_secret = "env:STRIPE_WEBHOOK_SECRET"   # the endpoint's whsec_...
    # currencies = ["EUR", "GBP"]                  # default: every currency Stripe takes

    [[routing.payments]]
    currency = "EUR"
    providers = ["stripe", "offline"]

Point the Stripe webhook endpoint at ``/api/v1/payments/webhooks/stripe`` with the events
``payment_intent.succeeded``, ``payment_intent.payment_failed``,
``payment_intent.processing``, ``payment_intent.canceled`` and ``charge.refunded``.

Amounts follow Stripe's rules: zero-decimal currencies (JPY, KRW, ...) are sent as they are,
three-decimal ones (BHD, JOD, KWD, OMR, TND) in thousandths whose last digit must be 0 (an
amount that is not is refused, so routing can offer another gateway), ISK as a two-decimal
amount. Every request carries the platform's idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from boxoffice.core.errors import RuleViolated
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.money import Money, minor_digits
from boxoffice.core.payments.gateway import PaymentGateway, PaymentStatus

#: Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
#: Three-decimal currencies: the amount in thousandths, its last digit 0.
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
#: Zero-decimal in ISO 4217 but two-decimal at Stripe (amounts divisible by 100).
TWO_DECIMAL_AT_STRIPE = frozenset({"ISK"})

#: PaymentIntent status -> what the platform is told.
INTENT_STATUS = {
    "requires_payment_method": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "processing": PaymentStatus.AUTHORIZED,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELLED,
}
#: Webhook event type -> status (``charge.refunded`` names the PaymentIntent in the charge).
EVENT_STATUS = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.processing": PaymentStatus.AUTHORIZED,
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.canceled": PaymentStatus.CANCELLED,
    "charge.refunded": PaymentStatus.REFUNDED,
}


def stripe_amount(money: Money) -> int:
    """``money`` as Stripe's ``amount`` for its currency, or a refusal."""
    currency = money.currency
    if currency in ZERO_DECIMAL:
        digits = 0
    elif currency in THREE_DECIMAL:
        digits = 3
    else:
        digits = 2
    iso = minor_digits(currency)
    if digits < iso:
        raise RuleViolated(f"Stripe does not take {currency}", extra={"rule": "gateway_currency"})
    amount = money.minor * int(10 ** (digits - iso))
    if currency in THREE_DECIMAL and amount % 10:
        raise RuleViolated(
            f"Stripe takes {currency} amounts only in multiples of 0.010 {currency}",
            extra={"rule": "gateway_amount", "currency": currency},
        )
    if currency in TWO_DECIMAL_AT_STRIPE and amount % 100:
        raise RuleViolated(
            f"Stripe takes {currency} amounts only in whole units",
            extra={"rule": "gateway_amount", "currency": currency},
        )
    return amount


class StripeOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    secret_key: str
    webhook_secret: str
    display_name: str = "Card, wallet or local method (Stripe)"
    #: Limit to these currencies; empty: any Stripe takes.
    currencies: list[str] = []
    #: Seconds a webhook's timestamp may be old (Stripe's default: 300).
    webhook_tolerance: int = 300
    #: For tests against a local fake; Stripe's own API otherwise.
    api_base: str = ""


@hookimpl
def register_payment_gateways(context: PluginContext) -> Sequence[PaymentGateway]:
    if "stripe" not in context.configured():
        return []
    from boxoffice.providers.stripe.gateway import StripeGateway  # the SDK, only when configured

    return [StripeGateway(context.options("stripe", StripeOptions))]
