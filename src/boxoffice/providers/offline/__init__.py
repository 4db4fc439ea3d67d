"""The ``offline`` payment gateway: bank transfer or pay at the door.

Nothing is charged online: the buyer gets instructions, the order waits, and an organizer
marks it paid. Refunds are likewise made by a person and confirmed by the organizer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import msgspec

from boxoffice.core.errors import NotFound, RuleViolated
from boxoffice.core.hookspecs import PluginContext, hookimpl
from boxoffice.core.payments.gateway import (
    GatewayCapability,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from boxoffice.core.providers import HealthState, ProviderHealth

#: Every payment this gateway creates is named ``offline-<payment id>``.
REFERENCE_PREFIX = "offline-"


def _check_reference(provider_reference: str) -> None:
    if not provider_reference.startswith(REFERENCE_PREFIX):
        raise NotFound(f"the offline gateway issued no payment {provider_reference!r}")


class OfflineOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    display_name: str = "Bank transfer / pay at the door"
    #: Shown to the buyer; ``{reference}`` and ``{amount}`` are filled in.
    instructions: str = "Pay {amount} quoting the reference {reference}."
    #: Limit to these currencies; empty means any.
    currencies: list[str] = []
    #: How long an order paid this way keeps its seats after the payment is started.
    payment_deadline_hours: int = msgspec.field(default=72)


class OfflineGateway:
    id = "offline"
    capabilities = frozenset(
        {GatewayCapability.DEFERRED, GatewayCapability.REFUND, GatewayCapability.PARTIAL_REFUND}
    )
    countries: frozenset[str] | None = None

    def __init__(self, options: OfflineOptions | None = None) -> None:
        self.options = options or OfflineOptions()
        self.display_name = self.options.display_name
        self.currencies: frozenset[str] | None = (
            frozenset(self.options.currencies) if self.options.currencies else None
        )
        #: Read by the payment engine for deferred gateways.
        self.payment_deadline = timedelta(hours=self.options.payment_deadline_hours)

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        currency = request.amount.currency
        if self.currencies is not None and currency not in self.currencies:
            raise RuleViolated(
                f"the offline gateway is set up for {', '.join(sorted(self.currencies))}, "
                f"not {currency}",
                extra={"rule": "gateway_currency", "currency": currency},
            )
        return PaymentResult(
            status=PaymentStatus.PENDING,
            provider_reference=REFERENCE_PREFIX + request.payment_id,
            instructions=self.options.instructions.format(
                reference=request.order_reference, amount=request.amount.format()
            ),
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        # The organizer pays the money back by hand and then confirms it.
        _check_reference(request.provider_reference)
        return RefundResult(
            succeeded=False, pending=True, provider_reference=f"offline-refund-{request.refund_id}"
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        return None

    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        # Only a person knows; the platform's own record is the truth for this gateway.
        _check_reference(provider_reference)
        return PaymentStatus.PENDING

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


@hookimpl
def register_payment_gateways(context: PluginContext) -> Sequence[OfflineGateway]:
    return [OfflineGateway(context.options("offline", OfflineOptions))]
