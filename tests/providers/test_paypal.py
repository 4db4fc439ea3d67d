"""The ``paypal`` gateway through PayPal's maintained server SDK against a local fake of its
API (shipped in the plugin kit): the conformance suite, PayPal's amount rules, webhooks
verified by PayPal's verification API, and a purchase over HTTP on both engines — the buyer
sent to PayPal, approving, coming back, the order captured and confirmed once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
import pytest

from boxoffice.core.errors import RuleViolated, WebhookRejected
from boxoffice.core.money import Money
from boxoffice.core.payments.gateway import PaymentRequest, PaymentResult, PaymentStatus
from boxoffice.platform import Platform
from boxoffice.providers.paypal import PayPalOptions, paypal_value
from boxoffice.providers.paypal.gateway import PayPalGateway
from boxoffice.testing import PaymentGatewayConformance
from boxoffice.testing.fakes.paypal import FakePayPal
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, shop

FAKES: dict[str, FakePayPal] = {}


@pytest.fixture
def fake() -> Iterator[FakePayPal]:
    server = FakePayPal()
    with server:
        FAKES[server.url] = server
        yield server
        FAKES.pop(server.url, None)


def gateway_for(fake: FakePayPal, **options: Any) -> PayPalGateway:
    defaults = PayPalOptions(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        webhook_id=fake.webhook_id,
        environment="sandbox",
        api_base=fake.url,
    )
    return PayPalGateway(msgspec.structs.replace(defaults, **options))


class TestPayPalConformance(PaymentGatewayConformance):
    @pytest.fixture
    def gateway(self, fake: FakePayPal) -> PayPalGateway:
        return gateway_for(fake, currencies=["EUR", "USD"])

    async def settle(self, gateway: Any, payment: PaymentResult) -> bool:
        FAKES[gateway.options.api_base].pay(payment.provider_reference)
        return True

    def signed_webhook(
        self, gateway: Any, payment: PaymentResult, status: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        fake = FAKES[gateway.options.api_base]
        related = {"related_ids": {"order_id": payment.provider_reference}}
        kind = {
            PaymentStatus.SUCCEEDED: "PAYMENT.CAPTURE.COMPLETED",
            PaymentStatus.FAILED: "PAYMENT.CAPTURE.DENIED",
            PaymentStatus.REFUNDED: "PAYMENT.CAPTURE.REFUNDED",
        }[status]
        return fake.webhook(kind, {"id": "CAP-1", "supplementary_data": related})


def test_amounts_follow_paypals_rules() -> None:
    assert paypal_value(Money(2500, "EUR")) == "25.00"
    assert paypal_value(Money(1500, "JPY")) == "1500"
    assert paypal_value(Money(1500, "HUF")) == "1500"
    assert paypal_value(Money(150000, "TWD")) == "1500", "TWD in whole dollars at PayPal"
    with pytest.raises(RuleViolated, match="whole units"):
        paypal_value(Money(150050, "TWD"))


async def test_a_forged_or_foreign_webhook_is_rejected(fake: FakePayPal) -> None:
    gateway = gateway_for(fake)
    headers, body = fake.webhook("PAYMENT.CAPTURE.COMPLETED", {"id": "CAP-9"})
    other = gateway_for(fake, webhook_id="WH-SOMEONE-ELSE")
    with pytest.raises(WebhookRejected):
        await other.parse_webhook(headers, body)
    tampered = body.replace(b"CAP-9", b"CAP-8")
    with pytest.raises(WebhookRejected):
        await gateway.parse_webhook(headers, tampered)
    assert await gateway.parse_webhook(headers, body) is None, "names no order: nothing to do"


async def test_an_approved_order_is_captured_once(fake: FakePayPal) -> None:
    gateway = gateway_for(fake)
    request = PaymentRequest(
        payment_id="p-1",
        order_reference="K7Q2M9XW4T",
        amount=Money(2500, "EUR"),
        idempotency_key="boxoffice-payment-p-1",
        return_url="https://tickets.example.test/orders/K7Q2M9XW4T",
        cancel_url="https://tickets.example.test/orders/K7Q2M9XW4T",
    )
    created = await gateway.create_payment(request)
    assert created.status is PaymentStatus.REQUIRES_ACTION
    assert created.redirect_url.endswith(f"token={created.provider_reference}")
    fake.approve(created.provider_reference)
    back = {"token": created.provider_reference, "PayerID": "BUYER1"}
    assert await gateway.complete(created.provider_reference, back) is PaymentStatus.SUCCEEDED
    assert await gateway.complete(created.provider_reference, back) is PaymentStatus.SUCCEEDED
    captures = fake.orders[created.provider_reference]["purchase_units"][0]["payments"]
    assert len(captures["captures"]) == 1
    with pytest.raises(WebhookRejected):
        await gateway.complete(created.provider_reference, {"token": "ANOTHER"})


PAYPAL_CONFIG = """
[providers.paypal]
client_id = "env:PAYPAL_CLIENT_ID"
client_secret = "env:PAYPAL_CLIENT_SECRET"
webhook_id = "env:PAYPAL_WEBHOOK_ID"
api_base = "env:PAYPAL_API_BASE"
environment = "sandbox"
""" + factories.PLUGINS_TOML.replace(
    '[[routing.payments]]\nproviders = ["offline"]',
    '[[routing.payments]]\nproviders = ["paypal", "offline"]',
)


@pytest.fixture
def platform(make_platform: factories.MakePlatform, fake: FakePayPal) -> Platform:
    environ = {
        "PAYPAL_CLIENT_ID": fake.client_id,
        "PAYPAL_CLIENT_SECRET": fake.client_secret,
        "PAYPAL_WEBHOOK_ID": fake.webhook_id,
        "PAYPAL_API_BASE": fake.url,
    }
    return make_platform(config=PAYPAL_CONFIG, entry_points=True, environ=environ)


async def test_a_purchase_paid_with_paypal(
    platform: Platform, make_client: Any, clock: Any, fake: FakePayPal
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=2)
        base, secret = f"/api/v1/orders/{order['number']}", order["secret"]
        started = await client.post(
            f"{base}/payments", json={"secret": secret, "gateway": "paypal"}
        )
        assert started.status_code == 201, started.text
        payment = started.json()
        assert payment["status"] == "requires_action"
        paypal_order = payment["redirect_url"].rsplit("token=", 1)[1]
        sent = fake.orders[paypal_order]["purchase_units"][0]
        assert sent["amount"] == {"currency_code": "EUR", "value": "50.00"}
        assert sent["custom_id"] == payment["id"]

        fake.approve(paypal_order)  # on PayPal's page
        back = await client.post(
            f"{base}/payments/{payment['id']}/complete",
            json={"secret": secret, "params": {"token": paypal_order, "PayerID": "B1"}},
        )
        assert back.status_code == 200, back.text
        assert back.json()["status"] == "succeeded"
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"

        related = {"related_ids": {"order_id": paypal_order}}
        headers, body = fake.webhook(
            "PAYMENT.CAPTURE.COMPLETED", {"id": "CAP-X", "supplementary_data": related}
        )
        told = await client.post("/api/v1/payments/webhooks/paypal", content=body, headers=headers)
        assert told.json()["outcome"] == "applied"
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
        captures = fake.orders[paypal_order]["purchase_units"][0]["payments"]["captures"]
        assert len(captures) == 1, "captured once"
    await assert_books_balance(platform.db)


async def test_paypal_down_at_capture_is_captured_later_once(
    platform: Platform, make_client: Any, clock: Any, fake: FakePayPal
) -> None:
    """The buyer comes back while PayPal fails: no confirmation without the money; the
    reconciliation captures the approved order later, once."""
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base, secret = f"/api/v1/orders/{order['number']}", order["secret"]
        payment = (
            await client.post(f"{base}/payments", json={"secret": secret, "gateway": "paypal"})
        ).json()
        paypal_order = payment["redirect_url"].rsplit("token=", 1)[1]
        fake.approve(paypal_order)
        fake.fail_next(50)
        back = await client.post(
            f"{base}/payments/{payment['id']}/complete",
            json={"secret": secret, "params": {"token": paypal_order}},
        )
        assert back.status_code == 503, back.text
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "pending"
        related = {"related_ids": {"order_id": paypal_order}}
        headers, body = fake.webhook(
            "PAYMENT.CAPTURE.COMPLETED", {"id": "CAP-Y", "supplementary_data": related}
        )
        unverified = await client.post(
            "/api/v1/payments/webhooks/paypal", content=body, headers=headers
        )
        assert unverified.status_code == 503, "PayPal cannot verify it now: it retries later"
        fake.fail_next(0)
        clock.advance(minutes=3)
        assert await platform.payments.reconcile() == 1
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
        captures = fake.orders[paypal_order]["purchase_units"][0]["payments"]["captures"]
        assert len(captures) == 1


async def test_a_buyer_who_approved_and_never_came_back_is_captured_on_the_webhook(
    platform: Platform, make_client: Any, clock: Any, fake: FakePayPal
) -> None:
    """PayPal says the order was approved (the buyer closed the tab before coming back): the
    platform captures it at once, and the capture's own webhook changes nothing more."""
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base, secret = f"/api/v1/orders/{order['number']}", order["secret"]
        payment = (
            await client.post(f"{base}/payments", json={"secret": secret, "gateway": "paypal"})
        ).json()
        paypal_order = payment["redirect_url"].rsplit("token=", 1)[1]
        fake.approve(paypal_order)
        headers, body = fake.webhook("CHECKOUT.ORDER.APPROVED", {"id": paypal_order})
        told = await client.post("/api/v1/payments/webhooks/paypal", content=body, headers=headers)
        assert told.json()["outcome"] == "applied"
        assert (await client.get(base, params={"secret": secret})).json()["status"] == "confirmed"
        again = await client.post("/api/v1/payments/webhooks/paypal", content=body, headers=headers)
        assert again.json()["outcome"] == "duplicate"
        captures = fake.orders[paypal_order]["purchase_units"][0]["payments"]["captures"]
        assert len(captures) == 1, "captured once"
        assert await platform.payments.reconcile() == 0, "nothing left open"
    await assert_books_balance(platform.db)
