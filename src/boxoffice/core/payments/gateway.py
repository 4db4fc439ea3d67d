"""The payment gateway protocol: what a payment provider plugin implements.

A gateway never touches the database. It is handed what it needs (amount, order reference,
idempotency key, return URLs) and says what happened; the state of a payment is kept by the
caller. What a gateway promises, each checked by
:class:`boxoffice.testing.PaymentGatewayConformance`:

- ``create_payment`` is idempotent per ``idempotency_key`` (pass it to the provider as its
  idempotency key): a retry never charges twice;
- a currency outside ``currencies`` is refused with a :class:`~boxoffice.core.errors.
  BoxofficeError`, and ``currencies = None`` means every ISO 4217 currency, zero- and
  three-decimal ones included;
- ``fetch_status`` and ``refund`` refuse references the gateway never issued;
- ``refund`` is idempotent per key; without ``REFUND`` it refuses, without
  ``PARTIAL_REFUND`` it refuses less than the whole amount;
- ``parse_webhook`` verifies the provider's signature and raises
  :class:`~boxoffice.core.errors.WebhookRejected` for anything unsigned, tampered with or
  malformed; a gateway without ``WEBHOOKS`` returns ``None``. A redelivered webhook carries
  the same ``provider_event_id`` (the deduplication key).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.money import Money
from boxoffice.core.providers import ProviderHealth


class GatewayCapability(StrEnum):
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    WEBHOOKS = "webhooks"
    REDIRECT = "redirect"  # the buyer is sent to the provider's page
    DEFERRED = "deferred"  # paid later, confirmed by a person (bank transfer, pay at the door)
    #: Card payments go through the issuer's strong customer authentication (3-D Secure,
    #: the RBI's additional factor) when the law or the issuer asks: the payment stays
    #: ``requires_action`` until the buyer completes it. Regions whose law requires it
    #: (``BusinessRules.strong_customer_authentication``) route card payments only to
    #: gateways that declare it (``DEFERRED`` ones take no card and are exempt).
    STRONG_AUTHENTICATION = "strong_authentication"


class PaymentStatus(StrEnum):
    """Where a payment is at the provider. ``pending``, ``requires_action`` (the buyer must
    act: 3-D Secure, an approval page) and ``authorized`` come before the end; ``succeeded``,
    ``failed`` and ``cancelled`` end it; a succeeded payment may later be ``refunded``."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentRequest(msgspec.Struct, frozen=True):
    """A payment to create at the provider."""

    #: boxoffice's id for this attempt; pass it to the provider as metadata.
    payment_id: str
    #: The order number, for the buyer's statement and the provider's dashboard.
    order_reference: str
    #: What to charge, in minor units (convert with the provider's rules for the currency).
    amount: Money
    #: Pass it to the provider's own idempotency mechanism: a retry must not charge twice.
    idempotency_key: str
    buyer_email: str = ""
    #: ISO 3166 alpha-2, when known.
    buyer_country: str = ""
    description: str = ""
    #: Where the provider sends the buyer back after paying, or after giving up.
    return_url: str = ""
    cancel_url: str = ""


class PaymentResult(msgspec.Struct, frozen=True):
    """What creating a payment gave."""

    status: PaymentStatus
    #: The provider's id of the payment: later calls and webhooks name it.
    provider_reference: str = ""
    #: Where to send the buyer (an approval page), for ``REDIRECT`` gateways.
    redirect_url: str = ""
    #: What the buyer's browser needs to finish (e.g. a Stripe PaymentIntent client secret).
    client_secret: str = ""
    #: Shown to the buyer, e.g. bank details for a transfer (``DEFERRED`` gateways).
    instructions: str = ""


class RefundRequest(msgspec.Struct, frozen=True):
    """Money to give back for a payment."""

    refund_id: str
    #: The payment's ``PaymentResult.provider_reference``.
    provider_reference: str
    amount: Money
    idempotency_key: str
    reason: str = ""


class RefundResult(msgspec.Struct, frozen=True):
    succeeded: bool
    provider_reference: str = ""
    #: Accepted; the outcome comes later (a webhook, or a person confirming it).
    pending: bool = False


class WebhookEvent(msgspec.Struct, frozen=True):
    """A verified webhook about one payment."""

    #: The provider's id of this notification: the same on every redelivery.
    provider_event_id: str
    provider_reference: str
    status: PaymentStatus
    amount: Money | None = None


@runtime_checkable
class PaymentGateway(Protocol):
    id: str
    display_name: str
    #: ISO 4217 codes the gateway accepts; ``None`` means any currency.
    currencies: frozenset[str] | None
    #: ISO 3166 alpha-2 codes of buyer countries it serves; ``None`` means any country.
    countries: frozenset[str] | None
    capabilities: frozenset[GatewayCapability]

    async def create_payment(self, request: PaymentRequest) -> PaymentResult: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """Verify the signature and decode; ``None`` for events the core need not act on."""
        ...

    async def fetch_status(self, provider_reference: str) -> PaymentStatus: ...

    async def health(self) -> ProviderHealth: ...


@runtime_checkable
class CompletesPayments(Protocol):
    """A gateway whose buyer comes back to the platform with something to check or finish:
    Razorpay Checkout's signed payment id, PayPal's approval (the order is then captured).
    ``POST /orders/{number}/payments/{id}/complete`` hands ``params`` to it."""

    async def complete(self, provider_reference: str, params: Mapping[str, str]) -> PaymentStatus:
        """Verify ``params`` (a forgery raises :class:`~boxoffice.core.errors.WebhookRejected`),
        finish the payment if the provider needs it, and say where it is now."""
        ...


class PaymentAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """A payment about to be started, for risk checks (``assess_payment_risk``)."""

    order_reference: str
    amount: Money
    gateway: str
    buyer_email: str
    #: ISO 3166 alpha-2, when known.
    buyer_country: str
    #: The client's address as the platform sees it (behind trusted proxies: the real one).
    client_address: str
    #: Attempts already made for this order.
    earlier_attempts: int


def authenticates_strongly(gateway: PaymentGateway) -> bool:
    """Whether ``gateway`` may take payments where the law requires strong customer
    authentication: it runs it, or takes no card at all (a bank transfer)."""
    return bool(
        gateway.capabilities & {GatewayCapability.STRONG_AUTHENTICATION, GatewayCapability.DEFERRED}
    )


def supports(gateway: PaymentGateway, currency: str, country: str | None) -> bool:
    """Whether ``gateway`` accepts ``currency`` for a buyer in ``country`` (``None``: unknown)."""
    if gateway.currencies is not None and currency not in gateway.currencies:
        return False
    return not (country and gateway.countries is not None and country not in gateway.countries)
