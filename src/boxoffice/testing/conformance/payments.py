"""The payment gateway conformance suite."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest

from boxoffice.core.errors import BoxofficeError
from boxoffice.core.money import Money, is_currency
from boxoffice.core.payments.gateway import (
    GatewayCapability,
    PaymentGateway,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    WebhookEvent,
    supports,
)
from boxoffice.testing.conformance.base import ConformanceSuite, check_health, check_id

#: What a new payment may be: not yet paid, waiting for the buyer, or paid at once.
OPENING_STATUSES = frozenset(
    {
        PaymentStatus.PENDING,
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.AUTHORIZED,
        PaymentStatus.SUCCEEDED,
    }
)
#: A zero-decimal and a three-decimal currency: a gateway that takes any currency must take
#: these too (their minor units are not cents).
AWKWARD_CURRENCIES = ("JPY", "BHD")


class PaymentGatewayConformance(ConformanceSuite):
    """Every payment gateway passes these. Subclass it in a test module and provide:

    - a ``gateway`` fixture: the gateway, pointed at its sandbox or a local fake of it;
    - a ``currency`` fixture if the gateway does not take EUR (default: EUR);
    - :meth:`settle`, unless the gateway is ``DEFERRED``: make a sandbox payment succeed
      as a buyer would (confirm it with a test card, approve it...);
    - :meth:`signed_webhook` if it declares ``WEBHOOKS``: the request the provider sends
      when a payment reaches a status, signed as the provider signs it.

    What it checks, each by a test of its own: the declared id, currencies, countries and
    capabilities are well formed and true (an undeclared currency is refused; "any currency"
    includes JPY and BHD); creating a payment is idempotent per key and distinct per payment;
    ``fetch_status`` follows a payment and refuses references it never issued; refunds are
    idempotent and partial ones behave as ``PARTIAL_REFUND`` says; a gateway without
    ``REFUND`` refuses to refund; a signed webhook decodes to the right payment, status and a
    stable deduplication id, and a tampered or unsigned one is rejected
    (:class:`~boxoffice.core.errors.WebhookRejected`).
    """

    @pytest.fixture
    def currency(self) -> str:
        return "EUR"

    async def settle(self, gateway: PaymentGateway, payment: PaymentResult) -> bool:
        """Make ``payment`` succeed in the gateway's sandbox; ``False`` if nothing can (a
        ``DEFERRED`` gateway is paid outside, and confirmed by a person)."""
        return False

    def signed_webhook(
        self, gateway: PaymentGateway, payment: PaymentResult, status: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        """Headers and body of the provider's webhook for ``payment`` reaching ``status``."""
        raise NotImplementedError(
            f"{type(gateway).__name__} declares WEBHOOKS: override signed_webhook() in the "
            "conformance subclass to build the request its provider sends"
        )

    # ---- helpers

    @staticmethod
    def payment_request(amount: Money, *, key: str = "") -> PaymentRequest:
        payment_id = f"pay_{uuid.uuid4().hex[:16]}"
        return PaymentRequest(
            payment_id=payment_id,
            order_reference=f"CONF-{payment_id[-8:].upper()}",
            amount=amount,
            idempotency_key=key or f"idem-{payment_id}",
            buyer_email="buyer@example.org",
            buyer_country="DE",
            description="Conformance test",
            return_url="https://tickets.example.test/return",
            cancel_url="https://tickets.example.test/cancel",
        )

    async def _paid(self, gateway: PaymentGateway, currency: str) -> tuple[PaymentResult, bool]:
        result = await gateway.create_payment(self.payment_request(Money(3000, currency)))
        return result, await self.settle(gateway, result)

    # ---- what it declares

    def test_declares_what_it_is(self, gateway: PaymentGateway, currency: str) -> None:
        assert isinstance(gateway, PaymentGateway), "does not satisfy the PaymentGateway protocol"
        check_id(gateway.id)
        assert isinstance(gateway.display_name, str)
        assert gateway.display_name.strip(), "a gateway has a name buyers see"
        if gateway.currencies is not None:
            assert gateway.currencies, "an empty currency set takes nothing: use None for any"
            wrong = sorted(c for c in gateway.currencies if not is_currency(c))
            assert not wrong, f"not ISO 4217 currency codes: {wrong}"
        if gateway.countries is not None:
            wrong = sorted(c for c in gateway.countries if len(c) != 2 or not c.isupper())
            assert not wrong, f"not ISO 3166 alpha-2 country codes: {wrong}"
        assert gateway.capabilities <= set(GatewayCapability), "unknown capabilities"
        assert supports(gateway, currency, None), f"the test currency {currency} is not declared"

    async def test_health(self, gateway: PaymentGateway) -> None:
        await check_health(gateway)

    # ---- creating payments

    async def test_create_payment_is_idempotent_per_key(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        request = self.payment_request(Money(1500, currency))
        first = await gateway.create_payment(request)
        again = await gateway.create_payment(request)
        assert isinstance(first, PaymentResult)
        assert first.status in OPENING_STATUSES, f"a new payment cannot be {first.status}"
        assert first.provider_reference, "a payment needs the provider's reference"
        assert again.provider_reference == first.provider_reference, (
            "the same idempotency key must give the same payment, not a second charge"
        )
        other = await gateway.create_payment(self.payment_request(Money(1500, currency)))
        assert other.provider_reference != first.provider_reference, (
            "two payments got one provider reference"
        )

    async def test_says_how_the_buyer_pays(self, gateway: PaymentGateway, currency: str) -> None:
        result = await gateway.create_payment(self.payment_request(Money(2000, currency)))
        if GatewayCapability.REDIRECT in gateway.capabilities:
            assert result.redirect_url.startswith(("https://", "http://")), (
                "a REDIRECT gateway gives the URL to send the buyer to"
            )
        if GatewayCapability.DEFERRED in gateway.capabilities:
            assert result.instructions.strip(), "a DEFERRED gateway tells the buyer how to pay"
        if result.status is PaymentStatus.REQUIRES_ACTION:
            assert result.redirect_url or result.client_secret, (
                "a payment that requires the buyer's action says where or how"
            )

    async def test_declared_currencies_are_true(self, gateway: PaymentGateway) -> None:
        if gateway.currencies is None:
            for code in AWKWARD_CURRENCIES:
                result = await gateway.create_payment(self.payment_request(Money(1000, code)))
                assert result.provider_reference, f"declares any currency but not {code}"
            return
        undeclared = next(c for c in ("CHF", "SEK", "JPY", "NOK") if c not in gateway.currencies)
        with pytest.raises(BoxofficeError):
            await gateway.create_payment(self.payment_request(Money(1000, undeclared)))

    # ---- following a payment

    async def test_fetch_status_follows_the_payment(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        result, settled = await self._paid(gateway, currency)
        if not settled:
            assert GatewayCapability.DEFERRED in gateway.capabilities, (
                "override settle() to make a sandbox payment succeed (only DEFERRED gateways "
                "cannot)"
            )
        status = await gateway.fetch_status(result.provider_reference)
        assert isinstance(status, PaymentStatus)
        if settled:
            assert status is PaymentStatus.SUCCEEDED, f"a settled payment reads as {status}"
        else:
            assert status is result.status, f"created {result.status}, then reads as {status}"

    async def test_fetch_status_refuses_unknown_references(self, gateway: PaymentGateway) -> None:
        with pytest.raises(BoxofficeError):
            await gateway.fetch_status(f"never-issued-{uuid.uuid4().hex}")

    # ---- refunds

    def refund_request(self, payment: PaymentResult, amount: Money, key: str) -> RefundRequest:
        return RefundRequest(
            refund_id=f"ref_{uuid.uuid4().hex[:16]}",
            provider_reference=payment.provider_reference,
            amount=amount,
            idempotency_key=key,
            reason="requested_by_customer",
        )

    async def test_refunds_are_idempotent(self, gateway: PaymentGateway, currency: str) -> None:
        payment, _ = await self._paid(gateway, currency)
        request = self.refund_request(payment, Money(3000, currency), key="refund-1")
        if GatewayCapability.REFUND not in gateway.capabilities:
            with pytest.raises(BoxofficeError):
                await gateway.refund(request)
            return
        first = await gateway.refund(request)
        again = await gateway.refund(request)
        assert isinstance(first, RefundResult)
        assert first.succeeded or first.pending, "a refund succeeds, or waits for confirmation"
        assert first.provider_reference, "a refund needs the provider's reference"
        assert again.provider_reference == first.provider_reference, (
            "the same idempotency key must not refund twice"
        )

    async def test_partial_refunds_as_declared(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        if GatewayCapability.REFUND not in gateway.capabilities:
            return
        payment, _ = await self._paid(gateway, currency)
        part = self.refund_request(payment, Money(1000, currency), key="partial-1")
        if GatewayCapability.PARTIAL_REFUND in gateway.capabilities:
            result = await gateway.refund(part)
            assert result.succeeded or result.pending
            rest = await gateway.refund(
                self.refund_request(payment, Money(2000, currency), key="partial-2")
            )
            assert rest.provider_reference != result.provider_reference
        else:
            with pytest.raises(BoxofficeError):
                await gateway.refund(part)

    async def test_refunds_refuse_unknown_payments(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        unknown = PaymentResult(
            status=PaymentStatus.SUCCEEDED, provider_reference=f"never-{uuid.uuid4().hex}"
        )
        with pytest.raises(BoxofficeError):
            await gateway.refund(self.refund_request(unknown, Money(100, currency), "refund-x"))

    # ---- webhooks

    async def test_signed_webhooks_decode(self, gateway: PaymentGateway, currency: str) -> None:
        if GatewayCapability.WEBHOOKS not in gateway.capabilities:
            assert await gateway.parse_webhook({"content-type": "application/json"}, b"{}") is None
            return
        payment, _ = await self._paid(gateway, currency)
        headers, body = self.signed_webhook(gateway, payment, PaymentStatus.SUCCEEDED)
        event = await gateway.parse_webhook(headers, body)
        assert isinstance(event, WebhookEvent), "a signed webhook about a payment was ignored"
        assert event.provider_reference == payment.provider_reference
        assert event.status is PaymentStatus.SUCCEEDED
        assert event.provider_event_id, "the deduplication id is missing"
        again = await gateway.parse_webhook(headers, body)
        assert again is not None
        assert again.provider_event_id == event.provider_event_id, (
            "a redelivered webhook must carry the same deduplication id"
        )
        failed = await gateway.parse_webhook(
            *self.signed_webhook(gateway, payment, PaymentStatus.FAILED)
        )
        assert failed is not None
        assert failed.status is PaymentStatus.FAILED
        assert failed.provider_event_id != event.provider_event_id

    async def test_webhooks_without_a_valid_signature_are_rejected(
        self, gateway: PaymentGateway, currency: str
    ) -> None:
        if GatewayCapability.WEBHOOKS not in gateway.capabilities:
            return
        from boxoffice.core.errors import WebhookRejected

        payment, _ = await self._paid(gateway, currency)
        headers, body = self.signed_webhook(gateway, payment, PaymentStatus.SUCCEEDED)
        tampered = body.replace(payment.provider_reference.encode(), b"someone-elses-payment")
        assert tampered != body, "the webhook body should name the payment"
        with pytest.raises(WebhookRejected):
            await gateway.parse_webhook(headers, tampered)
        with pytest.raises(WebhookRejected):
            await gateway.parse_webhook({"content-type": "application/json"}, body)

    @pytest.mark.parametrize("body", [b"", b"\x00{", b"{}", b"[1, 2", "ünï".encode()])
    async def test_garbage_is_refused_not_crashing(
        self, gateway: PaymentGateway, body: bytes
    ) -> None:
        from boxoffice.core.errors import WebhookRejected

        headers = {"content-type": "application/json"}
        if GatewayCapability.WEBHOOKS not in gateway.capabilities:
            assert await gateway.parse_webhook(headers, body) is None
            return
        with pytest.raises(WebhookRejected):
            await gateway.parse_webhook(headers, body)
