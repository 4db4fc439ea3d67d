"""The ``stripe`` gateway itself: the part that needs the SDK, imported only when ops
configure ``[providers.stripe]`` (the SDK costs a process tens of MB and a tenth of a second)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import stripe

from boxoffice.core.errors import NotFound, RuleViolated, WebhookRejected
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
from boxoffice.providers.stripe import (
    EVENT_STATUS,
    INTENT_STATUS,
    StripeOptions,
    stripe_amount,
)

#: Stripe's async HTTP client posts its form with httpx's ``data=<bytes>``, which httpx
#: deprecates with a warning on every request; the request itself is right.
STRIPE_HTTPX_WARNING = r"Use 'content=<\.\.\.>' to upload raw bytes/text content\."
warnings.filterwarnings("ignore", message=STRIPE_HTTPX_WARNING, category=DeprecationWarning)


class StripeGateway:
    id = "stripe"
    capabilities = frozenset(
        {
            GatewayCapability.REFUND,
            GatewayCapability.PARTIAL_REFUND,
            GatewayCapability.WEBHOOKS,
            # PaymentIntents run 3-D Secure when required (status requires_action).
            GatewayCapability.STRONG_AUTHENTICATION,
        }
    )
    countries: frozenset[str] | None = None

    def __init__(self, options: StripeOptions) -> None:
        self.options = options
        self.display_name = options.display_name
        self.currencies: frozenset[str] | None = (
            frozenset(c.upper() for c in options.currencies) if options.currencies else None
        )
        self._client = stripe.StripeClient(
            options.secret_key,
            base_addresses={"api": options.api_base} if options.api_base else None,
            max_network_retries=0,  # the platform retries (boxoffice.core.resilience)
        )

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        currency = request.amount.currency
        if self.currencies is not None and currency not in self.currencies:
            raise RuleViolated(
                f"Stripe is not set up for {currency}", extra={"rule": "gateway_currency"}
            )
        params: dict[str, Any] = {
            "amount": stripe_amount(request.amount),
            "currency": currency.lower(),
            "automatic_payment_methods": {"enabled": True},
            "metadata": {
                "boxoffice_payment_id": request.payment_id,
                "order": request.order_reference,
            },
            "description": request.description or f"Order {request.order_reference}",
        }
        if request.buyer_email:
            params["receipt_email"] = request.buyer_email
        intent = await _calling(
            self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        )
        return PaymentResult(
            status=INTENT_STATUS.get(intent.status, PaymentStatus.PENDING),
            provider_reference=intent.id,
            client_secret=intent.client_secret or "",
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        refund = await _calling(
            self._client.v1.refunds.create_async(
                params={
                    "payment_intent": request.provider_reference,
                    "amount": stripe_amount(request.amount),
                    "metadata": {"boxoffice_refund_id": request.refund_id},
                },
                options={"idempotency_key": request.idempotency_key},
            )
        )
        if refund.status == "failed":
            raise RuleViolated(f"Stripe refused the refund: {refund.failure_reason or 'failed'}")
        return RefundResult(
            succeeded=refund.status == "succeeded",
            pending=refund.status in ("pending", "requires_action"),
            provider_reference=refund.id,
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        if not signature:
            raise WebhookRejected("no Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(
                body, signature, self.options.webhook_secret, self.options.webhook_tolerance
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected("the Stripe signature does not match") from error
        except ValueError as error:
            raise WebhookRejected("not a Stripe event") from error
        status = EVENT_STATUS.get(event.type)
        if status is None:
            return None
        obj = event.data.object.to_dict()
        reference = obj.get("payment_intent") if event.type.startswith("charge.") else obj.get("id")
        if not isinstance(reference, str) or not reference:
            raise WebhookRejected("the event names no PaymentIntent")
        return WebhookEvent(provider_event_id=event.id, provider_reference=reference, status=status)

    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        intent = await _calling(self._client.v1.payment_intents.retrieve_async(provider_reference))
        return INTENT_STATUS.get(intent.status, PaymentStatus.PENDING)

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


async def _calling(call: Any) -> Any:
    """Await a Stripe call, mapping Stripe's refusals to the platform's errors; network
    errors, rate limits and Stripe's own failures stay as they are (retried, counted by the
    breaker)."""
    try:
        return await call
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            raise NotFound(f"Stripe: {error.user_message or error.code}") from error
        raise RuleViolated(
            f"Stripe refused the request: {error.user_message or error.code or 'invalid'}",
            extra={"rule": "gateway_refused"},
        ) from error
    except stripe.CardError as error:
        raise RuleViolated(f"Stripe: {error.user_message or 'card declined'}") from error
    except stripe.IdempotencyError as error:
        raise RuleViolated("Stripe: an idempotency key was reused differently") from error
    except stripe.AuthenticationError as error:
        raise stripe.APIError("Stripe refused the API key") from error
