"""The payment gateway protocol: what a payment provider plugin implements.

A gateway never touches the database. It is handed what it needs (amount, order reference,
idempotency key, return URLs) and returns what happened. The core owns the payment state
machine, deduplicates webhooks by ``WebhookEvent.provider_event_id`` and never lets an
out-of-order webhook move a payment backwards.
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


class PaymentStatus(StrEnum):
    """Ordered: a payment only moves forward (see ``PAYMENT_STATUS_RANK``)."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentRequest(msgspec.Struct, frozen=True):
    payment_id: str  # our id; gateways pass it to the provider as metadata
    order_reference: str
    amount: Money
    idempotency_key: str
    buyer_email: str = ""
    buyer_country: str = ""
    description: str = ""
    return_url: str = ""
    cancel_url: str = ""


class PaymentResult(msgspec.Struct, frozen=True):
    status: PaymentStatus
    provider_reference: str = ""
    redirect_url: str = ""
    instructions: str = ""  # shown to the buyer, e.g. bank details for a transfer


class RefundRequest(msgspec.Struct, frozen=True):
    refund_id: str
    provider_reference: str
    amount: Money
    idempotency_key: str
    reason: str = ""


class RefundResult(msgspec.Struct, frozen=True):
    succeeded: bool
    provider_reference: str = ""
    pending: bool = False  # accepted, confirmation comes later (webhook or a person)


class WebhookEvent(msgspec.Struct, frozen=True):
    provider_event_id: str  # the deduplication key
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


def supports(gateway: PaymentGateway, currency: str, country: str | None) -> bool:
    """Whether ``gateway`` accepts ``currency`` for a buyer in ``country`` (``None``: unknown)."""
    if gateway.currencies is not None and currency not in gateway.currencies:
        return False
    return not (country and gateway.countries is not None and country not in gateway.countries)
