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

import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
import razorpay
import razorpay.errors

from boxoffice.core.errors import NotFound, RuleViolated, WebhookRejected
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
from boxoffice.core.providers import Bulkhead, HealthState, ProviderHealth

T = TypeVar("T")

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


class RazorpayGateway:
    id = "razorpay"
    capabilities = frozenset(
        {GatewayCapability.REFUND, GatewayCapability.PARTIAL_REFUND, GatewayCapability.WEBHOOKS}
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


@hookimpl
def register_payment_gateways(context: PluginContext) -> Sequence[RazorpayGateway]:
    if "razorpay" not in context.configured():
        return []
    return [RazorpayGateway(context.options("razorpay", RazorpayOptions))]
