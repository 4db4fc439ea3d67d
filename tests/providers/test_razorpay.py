"""The ``razorpay`` gateway through Razorpay's own SDK against a local fake of its API (shipped
in the plugin kit): the conformance suite, retries that never make a second order or refund,
Checkout's signature, and a purchase in INR over HTTP on both engines — started, paid in
Checkout, completed by the browser with a verified signature, the webhook after it changing
nothing more."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import pytest

from boxoffice.core.errors import WebhookRejected
from boxoffice.core.money import Money
from boxoffice.core.payments.gateway import (
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
)
from boxoffice.platform import Platform
from boxoffice.providers.razorpay import RazorpayOptions
from boxoffice.providers.razorpay.gateway import RazorpayGateway
from boxoffice.testing import PaymentGatewayConformance
from boxoffice.testing.fakes.razorpay import FakeRazorpay
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, shop

FAKES: dict[str, FakeRazorpay] = {}


@pytest.fixture
def fake() -> Iterator[FakeRazorpay]:
    server = FakeRazorpay()
    with server:
        FAKES[server.url] = server
        yield server
        FAKES.pop(server.url, None)


def gateway_for(fake: FakeRazorpay, **options: Any) -> RazorpayGateway:
    defaults = RazorpayOptions(
        key_id=fake.key_id,
        key_secret=fake.key_secret,
        webhook_secret=fake.webhook_secret,
        api_base=fake.url,
    )
    return RazorpayGateway(msgspec.structs.replace(defaults, **options))


class TestRazorpayConformance(PaymentGatewayConformance):
    @pytest.fixture
    def gateway(self, fake: FakeRazorpay) -> RazorpayGateway:
        return gateway_for(fake)

    @pytest.fixture
    def currency(self) -> str:
        return "INR"

    async def settle(self, gateway: Any, payment: PaymentResult) -> bool:
        FAKES[gateway.options.api_base].pay(payment.provider_reference)
        return True

    def signed_webhook(
        self, gateway: Any, payment: PaymentResult, status: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        fake = FAKES[gateway.options.api_base]
        order = fake.orders[payment.provider_reference]
        if status is PaymentStatus.SUCCEEDED:
            return fake.webhook("order.paid", {"order": {"entity": order}})
        return fake.webhook(
            "payment.failed" if status is PaymentStatus.FAILED else "refund.processed",
            {"payment": {"entity": {"id": "pay_x", "order_id": order["id"]}}},
        )


def request(payment_id: str = "01a2-p1", minor: int = 50000) -> PaymentRequest:
    return PaymentRequest(
        payment_id=payment_id,
        order_reference="K7Q2M9XW4T",
        amount=Money(minor, "INR"),
        idempotency_key=f"boxoffice-payment-{payment_id}",
    )


async def test_a_retry_never_makes_a_second_order_or_refund(fake: FakeRazorpay) -> None:
    gateway = gateway_for(fake)
    first = await gateway.create_payment(request())
    again = await gateway.create_payment(request())
    assert again.provider_reference == first.provider_reference
    assert len(fake.orders) == 1, "found by its receipt, not made again"
    order = fake.orders[first.provider_reference]
    assert (order["amount"], order["currency"], order["receipt"]) == (50000, "INR", "01a2p1")
    fake.pay(first.provider_reference)
    refund = RefundRequest(
        refund_id="r-1",
        provider_reference=first.provider_reference,
        amount=Money(20000, "INR"),
        idempotency_key="k",
    )
    one, two = await gateway.refund(refund), await gateway.refund(refund)
    assert one.provider_reference == two.provider_reference
    assert [r["amount"] for r in fake.refunds.values()] == [20000]


async def test_checkout_answers_are_verified(fake: FakeRazorpay) -> None:
    gateway = gateway_for(fake)
    created = await gateway.create_payment(request())
    payment = fake.pay(created.provider_reference)
    good = {
        "razorpay_order_id": created.provider_reference,
        "razorpay_payment_id": payment["id"],
        "razorpay_signature": fake.checkout_signature(created.provider_reference, payment["id"]),
    }
    assert await gateway.complete(created.provider_reference, good) is PaymentStatus.SUCCEEDED
    forged = good | {"razorpay_signature": "0" * 64}
    with pytest.raises(WebhookRejected):
        await gateway.complete(created.provider_reference, forged)
    other = await gateway.create_payment(request("01a2-p2"))
    with pytest.raises(WebhookRejected):  # a good answer, for another order
        await gateway.complete(other.provider_reference, good)


RAZORPAY_CONFIG = """
[providers.razorpay]
key_id = "env:RAZORPAY_KEY_ID"
key_secret = "env:RAZORPAY_KEY_SECRET"
webhook_secret = "env:RAZORPAY_WEBHOOK_SECRET"
api_base = "env:RAZORPAY_API_BASE"
currencies = ["INR"]
""" + factories.PLUGINS_TOML.replace(
    '[[routing.payments]]\nproviders = ["offline"]',
    '[[routing.payments]]\ncurrency = "INR"\nproviders = ["razorpay"]\n\n'
    '[[routing.payments]]\nproviders = ["offline"]',
)


@pytest.fixture
def platform(make_platform: factories.MakePlatform, fake: FakeRazorpay) -> Platform:
    environ = {
        "RAZORPAY_KEY_ID": fake.key_id,
        "RAZORPAY_KEY_SECRET": fake.key_secret,
        "RAZORPAY_WEBHOOK_SECRET": fake.webhook_secret,
        "RAZORPAY_API_BASE": fake.url,
    }
    return make_platform(config=RAZORPAY_CONFIG, entry_points=True, environ=environ)


async def test_a_purchase_in_rupees_paid_with_razorpay(
    platform: Platform, make_client: Any, clock: Any, fake: FakeRazorpay
) -> None:
    store = await shop(platform.db, clock, **factories.KARNATAKA)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base, secret = f"/api/v1/orders/{order['number']}", order["secret"]
        options = (await client.get(f"{base}/payment-options", params={"secret": secret})).json()
        assert [o["id"] for o in options] == ["razorpay"], "INR in the EU pack routes here"
        started = (
            await client.post(f"{base}/payments", json={"secret": secret, "gateway": "razorpay"})
        ).json()
        razorpay_order = started["client_secret"]
        assert fake.orders[razorpay_order]["amount"] == order["total"]["minor"]
        paid = fake.pay(razorpay_order)
        answer = {
            "razorpay_order_id": razorpay_order,
            "razorpay_payment_id": paid["id"],
            "razorpay_signature": fake.checkout_signature(razorpay_order, paid["id"]),
        }
        forged = await client.post(
            f"{base}/payments/{started['id']}/complete",
            json={"secret": secret, "params": answer | {"razorpay_signature": "f" * 64}},
        )
        assert forged.status_code == 400
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "pending"
        completed = await client.post(
            f"{base}/payments/{started['id']}/complete", json={"secret": secret, "params": answer}
        )
        assert completed.status_code == 200, completed.text
        assert completed.json()["status"] == "succeeded"
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
        headers, body = fake.webhook(
            "order.paid", {"order": {"entity": fake.orders[razorpay_order]}}
        )
        told = await client.post(
            "/api/v1/payments/webhooks/razorpay", content=body, headers=headers
        )
        assert told.json()["outcome"] == "applied"
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
    await assert_books_balance(platform.db)


async def test_razorpay_down_mid_flow_never_makes_a_second_order(
    platform: Platform, make_client: Any, clock: Any, fake: FakeRazorpay
) -> None:
    """Razorpay fails while the payment is created (every try): the attempt stays for the
    reconciliation, which finds or makes the order by its receipt — one Razorpay order."""
    store = await shop(platform.db, clock, **factories.KARNATAKA)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base, secret = f"/api/v1/orders/{order['number']}", order["secret"]
        fake.fail_next(3)
        lost = await client.post(f"{base}/payments", json={"secret": secret, "gateway": "razorpay"})
        assert lost.status_code == 503, lost.text
        clock.advance(minutes=3)
        assert await platform.payments.reconcile() == 1
        (razorpay_order,) = fake.orders
        fake.pay(razorpay_order)
        clock.advance(minutes=3)
        assert await platform.payments.reconcile() == 1
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
        assert len(fake.orders) == 1
