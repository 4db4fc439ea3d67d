"""The ``razorpay`` gateway itself: the part that needs the SDK, imported only when ops
configure ``[providers.razorpay]`` (the SDK costs a process tens of MB and a tenth of a second)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec
import razorpay
import razorpay.errors

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
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth
from boxoffice.providers.razorpay import (
    EVENTS,
    RazorpayOptions,
)

T = TypeVar("T")


class RazorpayGateway:
    id = "razorpay"
    capabilities = frozenset(
        {
            GatewayCapability.REFUND,
            GatewayCapability.PARTIAL_REFUND,
            GatewayCapability.WEBHOOKS,
            # Checkout runs the RBI's additional factor of authentication (and 3-D Secure).
            GatewayCapability.STRONG_AUTHENTICATION,
        }
    )
    countries: frozenset[str] | None = None

    def __init__(self, options: RazorpayOptions) -> None:
        self.options = options
        self.display_name = options.display_name
        self.currencies: frozenset[str] | None = frozenset(c.upper() for c in options.currencies)
        extra = {"base_url": options.api_base} if options.api_base else {}
        self._client = razorpay.Client(auth=(options.key_id, options.key_secret), **extra)
        self._bulkhead = Bulkhead(options.max_concurrency)

    async def _call(self, call: Callable[..., T], *args: Any) -> T:
        """A Razorpay SDK call in a worker thread, with the timeout; its refusals mapped."""
        timeout = self.options.timeout
        try:
            return await self._bulkhead.run(lambda: call(*args, timeout=timeout))
        except razorpay.errors.BadRequestError as error:
            message = str(error) or "bad request"
            if "does not exist" in message:
                raise NotFound(f"Razorpay: {message}") from error
            raise RuleViolated(
                f"Razorpay refused the request: {message}", extra={"rule": "gateway_refused"}
            ) from error

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        currency = request.amount.currency
        if self.currencies is not None and currency not in self.currencies:
            raise RuleViolated(
                f"Razorpay is not set up for {currency}", extra={"rule": "gateway_currency"}
            )
        receipt = request.payment_id.replace("-", "")[:40]
        found = await self._call(self._client.order.all, {"receipt": receipt})
        orders = [o for o in found.get("items", []) if o.get("receipt") == receipt]
        order = (
            orders[0]
            if orders
            else await self._call(
                self._client.order.create,
                {
                    "amount": request.amount.minor,
                    "currency": currency,
                    "receipt": receipt,
                    "notes": {
                        "boxoffice_payment_id": request.payment_id,
                        "order": request.order_reference,
                    },
                },
            )
        )
        return PaymentResult(
            status=_order_status(order), provider_reference=order["id"], client_secret=order["id"]
        )

    async def complete(self, provider_reference: str, params: Mapping[str, str]) -> PaymentStatus:
        """Checkout's answer: valid only with Razorpay's signature over this order's id and
        the payment id (with the key secret)."""
        try:
            self._client.utility.verify_payment_signature(
                {
                    "razorpay_order_id": provider_reference,
                    "razorpay_payment_id": params["razorpay_payment_id"],
                    "razorpay_signature": params["razorpay_signature"],
                }
            )
        except (KeyError, razorpay.errors.SignatureVerificationError) as error:
            raise WebhookRejected("the Razorpay Checkout signature does not match") from error
        if params.get("razorpay_order_id", provider_reference) != provider_reference:
            raise WebhookRejected("the answer is about another Razorpay order")
        return await self.fetch_status(provider_reference)

    async def fetch_status(self, provider_reference: str) -> PaymentStatus:
        order = await self._call(self._client.order.fetch, provider_reference)
        status = _order_status(order)
        if status is PaymentStatus.SUCCEEDED:
            payments = await self._call(self._client.order.payments, provider_reference)
            if any(p.get("status") == "refunded" for p in payments.get("items", [])):
                return PaymentStatus.REFUNDED
        return status

    async def refund(self, request: RefundRequest) -> RefundResult:
        payments = await self._call(self._client.order.payments, request.provider_reference)
        captured = [
            p for p in payments.get("items", []) if p.get("status") in ("captured", "refunded")
        ]
        if not captured:
            raise RuleViolated("Razorpay has no captured payment for this order")
        payment_id = captured[0]["id"]
        made = await self._call(self._client.payment.fetch_multiple_refund, payment_id)
        for refund in made.get("items", []):
            if (refund.get("notes") or {}).get("boxoffice_refund_id") == request.refund_id:
                return _refund_result(refund)
        refund = await self._call(
            self._client.payment.refund,
            payment_id,
            {
                "amount": request.amount.minor,
                "notes": {"boxoffice_refund_id": request.refund_id, "reason": request.reason[:200]},
            },
        )
        return _refund_result(refund)

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-razorpay-signature", "")
        expected = hmac.new(self.options.webhook_secret.encode(), body, "sha256").hexdigest()
        if not signature or not hmac.compare_digest(signature, expected):
            raise WebhookRejected("the Razorpay signature does not match")
        try:
            event = msgspec.json.decode(body)
            known = EVENTS.get(event["event"])
            if known is None:
                return None
            status, path = known
            reference: Any = event["payload"]
            for key in path:
                reference = reference[key]
        except (msgspec.DecodeError, KeyError, TypeError) as error:
            raise WebhookRejected("not a Razorpay event") from error
        event_id = lowered.get("x-razorpay-event-id") or f"{event['event']}:{reference}"
        return WebhookEvent(
            provider_event_id=event_id, provider_reference=str(reference), status=status
        )

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


def _order_status(order: Mapping[str, Any]) -> PaymentStatus:
    return (
        PaymentStatus.SUCCEEDED if order.get("status") == "paid" else PaymentStatus.REQUIRES_ACTION
    )


def _refund_result(refund: Mapping[str, Any]) -> RefundResult:
    if refund.get("status") == "failed":
        raise RuleViolated("Razorpay could not make the refund")
    return RefundResult(
        succeeded=refund.get("status") == "processed",
        pending=refund.get("status") == "pending",
        provider_reference=str(refund.get("id", "")),
    )
