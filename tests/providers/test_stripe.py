"""The ``stripe`` gateway through Stripe's own SDK against a local fake of its API (shipped in
the plugin kit): the conformance suite, Stripe's amount rules, the request it sends, webhook
verification, and a whole purchase over HTTP on both engines — started, paid in the buyer's
browser, confirmed by the signed webhook, a second payment refunded at Stripe."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import pytest
from sqlalchemy import text

from boxoffice.core.errors import NotFound, RuleViolated, WebhookRejected
from boxoffice.core.money import Money
from boxoffice.core.payments.gateway import PaymentRequest, PaymentResult, PaymentStatus
from boxoffice.platform import Platform
from boxoffice.providers.stripe import StripeOptions, stripe_amount
from boxoffice.providers.stripe.gateway import StripeGateway
from boxoffice.testing import PaymentGatewayConformance
from boxoffice.testing.fakes import FakeStripe
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, organizer_shop, shop
from tests.identity.helpers import mail_to


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        assert isinstance(server, FakeStripe)
        yield server


def gateway_for(fake: FakeStripe, **options: Any) -> StripeGateway:
    defaults = StripeOptions(
        secret_key=fake.api_key, webhook_secret=fake.webhook_secret, api_base=fake.url
    )
    return StripeGateway(msgspec.structs.replace(defaults, **options))


class TestStripeConformance(PaymentGatewayConformance):
    @pytest.fixture
    def gateway(self, fake: FakeStripe) -> StripeGateway:
        return gateway_for(fake)

    async def settle(self, gateway: Any, payment: PaymentResult) -> bool:
        self.fake_of(gateway).pay(payment.provider_reference)
        return True

    def signed_webhook(
        self, gateway: Any, payment: PaymentResult, status: PaymentStatus
    ) -> tuple[Mapping[str, str], bytes]:
        fake = self.fake_of(gateway)
        intent = fake.intents[payment.provider_reference]
        if status is PaymentStatus.REFUNDED:
            return fake.webhook("charge.refunded", {"id": "ch_1", "payment_intent": intent["id"]})
        kind = {
            PaymentStatus.SUCCEEDED: "payment_intent.succeeded",
            PaymentStatus.FAILED: "payment_intent.payment_failed",
            PaymentStatus.CANCELLED: "payment_intent.canceled",
        }[status]
        return fake.webhook(kind, intent)

    @staticmethod
    def fake_of(gateway: Any) -> FakeStripe:
        return FAKES[gateway.options.api_base]


#: The fakes by URL, for the suite's hooks that get only the gateway.
FAKES: dict[str, FakeStripe] = {}


@pytest.fixture(autouse=True)
def _known(fake: FakeStripe) -> Iterator[None]:
    FAKES[fake.url] = fake
    yield
    FAKES.pop(fake.url, None)


def test_amounts_follow_stripes_rules() -> None:
    assert stripe_amount(Money(2500, "EUR")) == 2500
    assert stripe_amount(Money(1500, "JPY")) == 1500, "zero-decimal: yen as they are"
    assert stripe_amount(Money(50000, "KRW")) == 50000
    assert stripe_amount(Money(12340, "BHD")) == 12340, "three-decimal: thousandths"
    with pytest.raises(RuleViolated, match=r"multiples of 0\.010"):
        stripe_amount(Money(12345, "BHD"))
    assert stripe_amount(Money(500, "ISK")) == 50000, "ISK: two decimals at Stripe"


async def test_what_it_sends_stripe(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    request = PaymentRequest(
        payment_id="p-1",
        order_reference="K7Q2M9XW4T",
        amount=Money(1500, "JPY"),
        idempotency_key="boxoffice-payment-p-1",
        buyer_email="ada@example.org",
        description="Gala: order K7Q2M9XW4T",
    )
    result = await gateway.create_payment(request)
    assert result.status is PaymentStatus.REQUIRES_ACTION
    assert result.client_secret.startswith(result.provider_reference + "_secret_")
    method, path, headers, body = fake.requests[-1]
    assert (method, path) == ("POST", "/v1/payment_intents")
    assert headers["authorization"] == f"Bearer {fake.api_key}"
    assert headers["idempotency-key"] == "boxoffice-payment-p-1"
    sent = dict(parse_qsl(body.decode()))
    assert (sent["amount"], sent["currency"]) == ("1500", "jpy")
    assert sent["automatic_payment_methods[enabled]"] == "True".lower()
    assert sent["metadata[boxoffice_payment_id]"] == "p-1"
    assert sent["receipt_email"] == "ada@example.org"
    again = await gateway.create_payment(request)
    assert again.provider_reference == result.provider_reference, "Stripe's idempotency"
    with pytest.raises(NotFound):
        await gateway.fetch_status("pi_never")


async def test_a_wrong_key_or_an_outage_is_a_failure_not_a_refusal(fake: FakeStripe) -> None:
    """Refusals (4xx about the request) are answers; a bad key or a 500 is the gateway
    failing: raised as Stripe's errors, so the platform retries and its breaker counts."""
    import stripe

    request = PaymentRequest(
        payment_id="p-2", order_reference="X", amount=Money(100, "EUR"), idempotency_key="k-2"
    )
    with pytest.raises(stripe.APIError):
        await gateway_for(fake, secret_key="sk_test_wrong").create_payment(request)
    fake.fail_next(1)
    with pytest.raises(stripe.APIError):
        await gateway_for(fake).create_payment(request)
    assert (await gateway_for(fake).create_payment(request)).provider_reference


async def test_webhooks_are_verified_with_the_tolerance(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    intent = {"id": "pi_1", "object": "payment_intent", "status": "succeeded"}
    body = fake.event("payment_intent.succeeded", intent)
    stale = fake.sign(body, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookRejected):
        await gateway.parse_webhook({"stripe-signature": stale}, body)
    other_secret = fake.sign(body, secret="whsec_someone_else")
    with pytest.raises(WebhookRejected):
        await gateway.parse_webhook({"stripe-signature": other_secret}, body)
    with pytest.raises(WebhookRejected):
        await gateway.parse_webhook({}, body)
    event = await gateway.parse_webhook({"Stripe-Signature": fake.sign(body)}, body)
    assert event is not None
    assert (event.provider_reference, event.status) == ("pi_1", PaymentStatus.SUCCEEDED)
    ignored = fake.event("customer.created", {"id": "cus_1"})
    assert await gateway.parse_webhook({"stripe-signature": fake.sign(ignored)}, ignored) is None


STRIPE_CONFIG = """
[providers.stripe]
secret_key = "env:STRIPE_SECRET_KEY"
webhook_secret = "env:STRIPE_WEBHOOK_SECRET"
api_base = "env:STRIPE_API_BASE"
""" + factories.PLUGINS_TOML.replace(
    '[[routing.payments]]\nproviders = ["offline"]',
    '[[routing.payments]]\nproviders = ["stripe", "offline"]',
)


@pytest.fixture
def platform(make_platform: factories.MakePlatform, fake: FakeStripe) -> Platform:
    environ = {
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
    }
    return make_platform(config=STRIPE_CONFIG, entry_points=True, environ=environ)


async def test_a_purchase_paid_with_stripe(
    platform: Platform, make_client: Any, clock: Any, fake: FakeStripe
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=2)
        base, secret = f"/api/v1/orders/{order['number']}", {"secret": order["secret"]}
        options = (await client.get(f"{base}/payment-options", params=secret)).json()
        assert [o["id"] for o in options] == ["stripe", "offline"]
        started = await client.post(
            f"{base}/payments",
            json={"secret": order["secret"], "gateway": "stripe"},
            headers={"idempotency-key": "pay-once"},
        )
        assert started.status_code == 201, started.text
        payment = started.json()
        intent_id = payment["client_secret"].split("_secret_")[0]
        assert fake.intents[intent_id]["amount"] == 5000
        assert payment["status"] == "requires_action"

        # Stripe.js in the buyer's browser confirms the card; Stripe tells the platform.
        intent = fake.pay(intent_id)
        headers, body = fake.webhook("payment_intent.succeeded", intent)
        for _ in range(2):  # Stripe may deliver an event more than once
            told = await client.post(
                "/api/v1/payments/webhooks/stripe", content=body, headers=headers
            )
            assert told.status_code == 200, told.text
        seen = (await client.get(base, params=secret)).json()
        assert seen["status"] == "confirmed"
        (mail,) = await mail_to(platform, "buyer@example.org", "order-confirmed")
        assert order["link"] in mail["text"]

        # The same payment request again (a double click): the same PaymentIntent.
        replay = await client.post(
            f"{base}/payments",
            json={"secret": order["secret"], "gateway": "stripe"},
            headers={"idempotency-key": "pay-once"},
        )
        assert replay.json()["id"] == payment["id"]
        assert len(fake.intents) == 1, "charged once"

        # A forged event changes nothing.
        forged = json.loads(body)
        forged["data"]["object"]["id"] = "pi_other"
        forged_body = json.dumps(forged).encode()
        refused = await client.post(
            "/api/v1/payments/webhooks/stripe",
            content=forged_body,
            headers={"stripe-signature": headers["stripe-signature"]},
        )
        assert refused.status_code == 400
    await assert_books_balance(platform.db)


async def test_a_second_stripe_payment_is_refunded_at_stripe(
    platform: Platform, make_client: Any, clock: Any, fake: FakeStripe
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base = f"/api/v1/orders/{order['number']}"
        intents = []
        for _ in range(2):  # two tabs, two attempts
            started = await client.post(
                f"{base}/payments", json={"secret": order["secret"], "gateway": "stripe"}
            )
            intents.append(started.json()["client_secret"].split("_secret_")[0])
        for intent_id in intents:
            headers, body = fake.webhook("payment_intent.succeeded", fake.pay(intent_id))
            await client.post("/api/v1/payments/webhooks/stripe", content=body, headers=headers)
        await platform.dispatcher.run_until_idle()
    assert [(r["payment_intent"], r["amount"]) for r in fake.refunds.values()] == [
        (intents[1], 2500)
    ]


async def test_a_refund_stripe_fails_to_make_is_made_later_and_once(
    platform: Platform, make_client: Any, clock: Any, fake: FakeStripe
) -> None:
    """Stripe down when the platform gives a second payment back: the refund waits (the
    dispatcher retries it with backoff) and is made exactly once when Stripe answers."""
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        base = f"/api/v1/orders/{order['number']}"
        intents = []
        for _ in range(2):
            started = await client.post(
                f"{base}/payments", json={"secret": order["secret"], "gateway": "stripe"}
            )
            intents.append(started.json()["client_secret"].split("_secret_")[0])
        for intent_id in intents:
            headers, body = fake.webhook("payment_intent.succeeded", fake.pay(intent_id))
            await client.post("/api/v1/payments/webhooks/stripe", content=body, headers=headers)
        fake.fail_next(3)  # every try of the first round
        await platform.dispatcher.run_until_idle()
        assert fake.refunds == {}, "Stripe was down: nothing refunded yet"
        clock.advance(minutes=5)
        await platform.dispatcher.run_until_idle()
        await platform.dispatcher.run_until_idle()
    assert [(r["payment_intent"], r["amount"]) for r in fake.refunds.values()] == [
        (intents[1], 2500)
    ]


async def test_an_organizers_refund_goes_back_through_stripe_once(
    platform: Platform, make_client: Any, clock: Any, fake: FakeStripe
) -> None:
    """The organizer refunds one ticket of a paid order, then cancels the rest: each amount
    is refunded at Stripe once, even when the journal delivers the entries again."""
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        order = await Buyer(client, store).buy(Standard=2)
        started = await client.post(
            f"/api/v1/orders/{order['number']}/payments",
            json={"secret": order["secret"], "gateway": "stripe"},
        )
        intent = started.json()["client_secret"].split("_secret_")[0]
        hook_headers, body = fake.webhook("payment_intent.succeeded", fake.pay(intent))
        await client.post("/api/v1/payments/webhooks/stripe", content=body, headers=hook_headers)
        first = order["tickets"][0]["id"]
        refunded = await client.post(
            f"{base}/orders/{order['number']}/refund", json={"ticket_ids": [first]}, headers=headers
        )
        assert refunded.status_code == 200, refunded.text
        await platform.dispatcher.run_until_idle()
        cancelled = await client.post(
            f"{base}/orders/{order['number']}/cancel", json={"reason": "ops"}, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        await platform.dispatcher.run_until_idle()
    assert sorted(r["amount"] for r in fake.refunds.values()) == [2500, 2500]
    assert {r["payment_intent"] for r in fake.refunds.values()} == {intent}
    async with platform.db.transaction() as session:  # the journal delivers them again
        await session.execute(
            text(
                "UPDATE journal_subscriber SET txid = 0, position = 0 "
                "WHERE name = 'payments:money-back'"
            )
        )
    await platform.dispatcher.run_until_idle()
    assert len(fake.refunds) == 2, "refunded once each"


@pytest.mark.parametrize("broken", ["create_down", "create_answer_lost", "status_down"])
async def test_stripe_failing_at_any_step_never_confirms_without_money_or_charges_twice(
    platform: Platform, make_client: Any, clock: Any, fake: FakeStripe, broken: str
) -> None:
    """Stripe fails at one step of a purchase — down when the payment is created, the
    PaymentIntent made but its answer lost, down when the platform asks how the payment
    went (the webhook never came) — and the buyer retries as a browser would, with the same
    Idempotency-Key. At every point: the order is confirmed only once Stripe holds its
    money; in the end exactly one PaymentIntent is charged, once, for the order's total."""
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=2)
        base, secret = f"/api/v1/orders/{order['number']}", {"secret": order["secret"]}

        async def start() -> Any:
            return await client.post(
                f"{base}/payments",
                json={"secret": order["secret"], "gateway": "stripe"},
                headers={"idempotency-key": "checkout-1"},
            )

        async def status() -> str:
            found: str = (await client.get(base, params=secret)).json()["status"]
            return found

        if broken == "create_down":
            fake.fail_next(100)
        if broken == "create_answer_lost":
            fake.lose_next_answers(3)  # every try of the first request
        first = await start()
        if broken in ("create_down", "create_answer_lost"):
            assert first.status_code == 503, first.text
            assert first.headers["retry-after"]
            assert await status() == "pending"
            fake.fail_next(0)
            first = await start()  # the buyer tries again
        assert first.status_code == 201, first.text
        intent = first.json()["client_secret"].split("_secret_")[0]
        assert len(fake.intents) == 1, "one PaymentIntent, however often it was asked for"

        fake.pay(intent)  # Stripe.js confirms the card in the browser
        assert await status() == "pending", "paid at Stripe, not yet heard of: not confirmed"
        if broken == "status_down":  # the webhook is lost; Stripe is down when asked
            fake.fail_next(100)
            clock.advance(minutes=3)
            assert await platform.payments.reconcile() == 0
            assert await status() == "pending"
            fake.fail_next(0)
            clock.advance(minutes=3)
            assert await platform.payments.reconcile() == 1
        else:
            headers, body = fake.webhook("payment_intent.succeeded", fake.intents[intent])
            told = await client.post(
                "/api/v1/payments/webhooks/stripe", content=body, headers=headers
            )
            assert told.status_code == 200, told.text
        assert await status() == "confirmed"
        assert (await start()).json()["id"] == first.json()["id"], "a late retry: the same one"
        await platform.dispatcher.run_until_idle()
        charged = [i for i in fake.intents.values() if i["status"] == "succeeded"]
        assert [(i["id"], i["amount_received"]) for i in charged] == [(intent, 5000)]
        assert fake.refunds == {}
    await assert_books_balance(platform.db)
