"""The payment engine over HTTP on both engines, against AcmePay (the reference gateway of
the plugin kit: redirects, refunds, HMAC-signed webhooks, an in-memory sandbox): an order
is confirmed only by money that covers it, a webhook applies once whatever its order or
repetition, money that arrives too late or twice goes back automatically, a repeated start
is one payment, and an unanswered creation is reconciled."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.core.errors import RuleViolated
from boxoffice.core.hookspecs import hookimpl
from boxoffice.core.payments.gateway import PaymentRequest, PaymentResult
from boxoffice.core.payments.models import Payment, Refund
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, counts, organizer_shop, shop
from tests.identity.helpers import mail_to
from tests.testing.reference import AcmePay

CONFIG = factories.PLUGINS_TOML.replace(
    '[[routing.payments]]\nproviders = ["offline"]',
    '[[routing.payments]]\ncurrency = "EUR"\nproviders = ["acmepay", "offline"]\n\n'
    '[[routing.payments]]\nproviders = ["offline"]',
)


class AcmePayPlugin:
    def __init__(self) -> None:
        self.gateway = AcmePay()

    @hookimpl
    def register_payment_gateways(self) -> list[AcmePay]:
        return [self.gateway]


@pytest.fixture
def acme() -> AcmePayPlugin:
    return AcmePayPlugin()


@pytest.fixture
def platform(make_platform: factories.MakePlatform, acme: AcmePayPlugin) -> Platform:
    return make_platform([("acmepay", acme)], config=CONFIG, entry_points=True)


def webhook(
    reference: str, status: str, event_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": event_id or f"evt_{reference}_{status}", "payment": reference, "status": status}
    ).encode()
    return body, {"content-type": "application/json", "acme-signature": AcmePay.sign(body)}


class Paying:
    """A buyer with an order, paying it over HTTP."""

    def __init__(self, client: Any, order: dict[str, Any]) -> None:
        self.client, self.order = client, order
        self.base = f"/api/v1/orders/{order['number']}"

    async def options(self) -> Any:
        return await self.client.get(
            f"{self.base}/payment-options", params={"secret": self.order["secret"]}
        )

    async def start(self, gateway: str | None = "acmepay", key: str | None = None) -> Any:
        body = {"secret": self.order["secret"]} | ({"gateway": gateway} if gateway else {})
        return await self.client.post(
            f"{self.base}/payments",
            json=body,
            headers={"idempotency-key": key} if key else {},
        )

    async def status(self) -> str:
        seen = await self.client.get(self.base, params={"secret": self.order["secret"]})
        result: str = seen.json()["status"]
        return result

    async def notify(self, reference: str, status: str, event_id: str | None = None) -> Any:
        body, headers = webhook(reference, status, event_id)
        return await self.client.post(
            "/api/v1/payments/webhooks/acmepay", content=body, headers=headers
        )


async def refunds(platform: Platform) -> list[tuple[str, int, str]]:
    await platform.dispatcher.run_until_idle()
    async with platform.db.read() as session:
        rows = await session.scalars(select(Refund).order_by(Refund.created_at))
        return [(r.reason, r.amount_minor, r.status) for r in rows]


async def test_an_order_is_confirmed_by_its_payment_once_whatever_the_webhooks_do(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=2)
        paying = Paying(client, order)
        options = (await paying.options()).json()
        assert [o["id"] for o in options] == ["acmepay", "offline"]
        started = await paying.start()
        assert started.status_code == 201, started.text
        payment = started.json()
        assert payment["status"] == "requires_action"
        assert payment["amount"] == {"minor": 5000, "currency": "EUR"}
        assert payment["redirect_url"].startswith("https://pay.acme.test/")
        reference = payment["redirect_url"].rsplit("/", 1)[1]
        assert await paying.status() == "pending"

        forged_body, headers = webhook(reference, "succeeded")
        headers["acme-signature"] = "0" * 64
        forged = await client.post(
            "/api/v1/payments/webhooks/acmepay", content=forged_body, headers=headers
        )
        assert forged.status_code == 400
        assert forged.headers["content-type"].startswith("application/problem+json")
        assert await paying.status() == "pending", "a forged webhook changes nothing"

        acme.gateway.sandbox_pay(reference)
        both = await asyncio.gather(
            paying.notify(reference, "succeeded"), paying.notify(reference, "succeeded")
        )
        assert sorted(r.json()["outcome"] for r in both) == ["applied", "duplicate"]
        again = await paying.notify(reference, "succeeded")
        assert again.json()["outcome"] == "duplicate"
        late = await paying.notify(reference, "requires_action", event_id="evt_late")
        assert late.json()["outcome"] == "applied"
        assert await paying.status() == "confirmed", "a late, older status moves nothing back"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)
        unknown = await paying.notify("acme_nobody", "succeeded")
        assert unknown.json()["outcome"] == "unknown_payment"
        listed = await client.get(f"{paying.base}/payments", params={"secret": order["secret"]})
        assert [p["status"] for p in listed.json()] == ["succeeded"]
        (mail,) = await mail_to(platform, "buyer@example.org", "order-confirmed")
        assert order["link"] in mail["text"]
        assert await refunds(platform) == []
        paid_again = await paying.start()
        assert paid_again.status_code == 409
        assert paid_again.json()["type"].endswith("/order-not-payable")
    await assert_books_balance(platform.db)


async def test_a_refund_notified_before_the_capture_still_ends_refunded(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        reference = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        acme.gateway.sandbox_pay(reference)
        assert (await paying.notify(reference, "refunded")).json()["outcome"] == "applied"
        assert (await paying.notify(reference, "succeeded")).json()["outcome"] == "applied"
        assert await paying.status() == "refunded"
        assert await refunds(platform) == [("gateway", 2500, "succeeded")]
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
    await assert_books_balance(platform.db)


async def test_money_that_arrives_after_the_seats_were_sold_goes_back(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock, quotas={"Hall": (1, ["Standard"])})
    async with make_client(platform) as client:
        late = await Buyer(client, store, email="late@example.org").buy(Standard=1)
        paying = Paying(client, late)
        reference = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        clock.advance(minutes=30)  # past the hold's deadline: the order expires
        await sweep_until_done(platform.db, clock)
        assert await paying.status() == "expired"
        await Buyer(client, store, email="quick@example.org").buy(Standard=1)
        acme.gateway.sandbox_pay(reference)
        assert (await paying.notify(reference, "succeeded")).json()["outcome"] == "applied"
        assert await paying.status() == "expired", "never oversold"
        assert await refunds(platform) == [("seats_gone", 2500, "succeeded")]
        assert acme.gateway.payments[reference]["refunded"] == 2500, "refunded at the gateway"
        (told,) = await mail_to(platform, "late@example.org", "payment-refunded")
        assert "sold meanwhile" in told["text"]
        assert await counts(platform.db, store.quotas["Hall"]) == (1, 0, 1), "quick holds it"
    await assert_books_balance(platform.db)


async def test_money_that_arrives_after_expiry_retakes_free_seats(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        reference = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        clock.advance(minutes=30)
        await sweep_until_done(platform.db, clock)
        acme.gateway.sandbox_pay(reference)
        await paying.notify(reference, "succeeded")
        assert await paying.status() == "confirmed"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 1, 0)
        assert await refunds(platform) == []


async def test_a_second_payment_of_a_paid_order_is_refunded(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        first = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        second = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        assert first != second, "two attempts (two tabs): two payments at the gateway"
        for reference in (first, second):
            acme.gateway.sandbox_pay(reference)
            await paying.notify(reference, "succeeded")
        assert await paying.status() == "confirmed"
        assert await refunds(platform) == [("duplicate", 2500, "succeeded")]
        assert acme.gateway.payments[second]["refunded"] == 2500


async def test_the_same_start_twice_is_one_payment(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        one, two = await asyncio.gather(paying.start(key="pay-1"), paying.start(key="pay-1"))
        assert (one.status_code, two.status_code) == (201, 201), one.text + two.text
        assert one.json()["id"] == two.json()["id"]
        assert one.json()["redirect_url"] == two.json()["redirect_url"]
        other = await paying.start(gateway="offline", key="pay-1")
        assert other.status_code == 422
    async with platform.db.read() as session:
        assert len((await session.scalars(select(Payment))).all()) == 1


async def test_no_gateway_for_the_currency_is_a_clear_conflict(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    config = factories.PLUGINS_TOML.replace(
        '[[routing.payments]]\nproviders = ["offline"]',
        '[[routing.payments]]\ncurrency = "INR"\nproviders = ["offline"]',
    )
    platform = make_platform(config=config, entry_points=True)
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        options = await Paying(client, order).options()
        assert options.status_code == 409
        problem = options.json()
        assert problem["type"].endswith("/no-payment-gateway")
        assert (problem["currency"], problem["region"]) == ("EUR", "eu")
        assert "EUR" in problem["detail"]


class Silent(AcmePay):
    """Creates the payment, then the answer is lost (a timeout on the way back)."""

    answer_lost = True

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        result = await super().create_payment(request)
        if self.answer_lost:
            raise TimeoutError("the answer never came")
        return result


async def test_a_payment_whose_creation_got_no_answer_is_reconciled(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    plugin = AcmePayPlugin()
    plugin.gateway = Silent()
    platform = make_platform([("acmepay", plugin)], config=CONFIG, entry_points=True)
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        lost = await paying.start()
        assert lost.status_code == 503
        assert lost.headers["retry-after"] == "5"
        (reference,) = plugin.gateway.payments  # it exists at the gateway
        plugin.gateway.sandbox_pay(reference)  # and the buyer paid it somehow
        plugin.gateway.answer_lost = False
        assert await platform.payments.reconcile() == 0, "not stale yet"
        clock.advance(minutes=3)
        assert await platform.payments.reconcile() == 1, "learned the reference (same key)"
        clock.advance(minutes=3)
        assert await platform.payments.reconcile() == 1, "fetched the status: succeeded"
        assert await paying.status() == "confirmed"
        assert len(plugin.gateway.created) == 1, "asked again with the same key: one payment"


async def test_a_refused_currency_fails_the_attempt_and_changes_nothing_else(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    acme.gateway.currencies = None  # routing offers it; the gateway itself refuses
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)

        async def refuse(request: PaymentRequest) -> PaymentResult:
            raise RuleViolated("AcmePay does not take EUR today")

        acme.gateway.create_payment = refuse  # type: ignore[method-assign]
        refused = await paying.start()
        assert refused.status_code == 422, refused.text
        listed = await client.get(f"{paying.base}/payments", params={"secret": order["secret"]})
        assert [(p["status"], p["failure_reason"]) for p in listed.json()] == [
            ("failed", "AcmePay does not take EUR today")
        ]
        assert await paying.status() == "pending"


async def test_a_deferred_payment_keeps_the_seats_longer(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        started = (await paying.start(gateway="offline")).json()
        assert started["status"] == "requires_action"
        assert order["number"] in started["instructions"]
        clock.advance(timedelta(days=2))
        await sweep_until_done(platform.db, clock)
        assert await paying.status() == "pending", "a bank transfer takes days"
        clock.advance(timedelta(days=2))
        await sweep_until_done(platform.db, clock)
        assert await paying.status() == "expired"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)


class Down(AcmePay):
    """A gateway whose API fails every call (an outage)."""

    calls = 0

    async def create_payment(self, request: PaymentRequest) -> PaymentResult:
        self.calls += 1
        raise ConnectionError("connection refused")


async def test_an_outage_opens_the_breaker_and_the_next_gateway_takes_over(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    plugin = AcmePayPlugin()
    plugin.gateway = Down()
    platform = make_platform([("acmepay", plugin)], config=CONFIG, entry_points=True)
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        for _ in range(2):  # three tries each: the fifth failure opens the breaker
            assert (await paying.start()).status_code == 503
        assert plugin.gateway.calls == 5, "tried until the breaker opened, then not again"
        assert platform.calls.state("acmepay") == "opened"
        options = (await paying.options()).json()
        assert [o["id"] for o in options] == ["offline"], "routing skips an open breaker"
        fallback = await paying.start(gateway=None)
        assert fallback.status_code == 201, fallback.text
        assert fallback.json()["gateway"] == "offline"
        assert plugin.gateway.calls == 5
        ready = (await client.get("/health/ready")).json()
        assert ready["providers"]["payment:acmepay"] == {
            "state": "down",
            "detail": "",
            "breaker": "opened",
        }
        assert await paying.status() == "pending", "no money, no confirmation"
    async with platform.db.read() as session:
        attempts = (await session.scalars(select(Payment).order_by(Payment.created_at))).all()
    assert [(p.gateway, p.status) for p in attempts] == [
        ("acmepay", "created"),
        ("acmepay", "created"),
        ("offline", "requires_action"),
    ], "unanswered attempts stay for reconciliation"


async def test_an_organizer_marking_a_transfer_paid_settles_its_payment(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        order = await Buyer(client, store).buy(Standard=1)
        paying = Paying(client, order)
        assert (await paying.start(gateway="offline")).status_code == 201
        paid = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "confirmed"
        listed = await client.get(f"{paying.base}/payments", params={"secret": order["secret"]})
        assert [(p["gateway"], p["status"]) for p in listed.json()] == [("offline", "succeeded")]
        again = await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        assert again.json()["status"] == "confirmed", "marking it twice changes nothing"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 1, 0)
        assert await refunds(platform) == []


@pytest.mark.parametrize(
    ("event_hours", "starts_in", "kept_for"),
    [
        (None, timedelta(days=10), timedelta(hours=72)),  # the offline gateway's own deadline
        (24, timedelta(days=10), timedelta(hours=24)),  # the event's, when it sets one
        (None, timedelta(hours=30), timedelta(hours=30)),  # never past the start
    ],
)
async def test_a_deferred_payment_keeps_the_seats_until_its_deadline_then_returns_them_once(
    platform: Platform,
    make_client: Any,
    clock: ManualClock,
    event_hours: int | None,
    starts_in: timedelta,
    kept_for: timedelta,
) -> None:
    starts = clock.now() + starts_in
    store = await shop(
        platform.db,
        clock,
        deferred_payment_hours=event_hours,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
    )
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=2)
        paying = Paying(client, order)
        started = await paying.start(gateway="offline")
        assert started.status_code == 201, started.text
        assert started.json()["instructions"], "how to pay by transfer"
        seen = await client.get(paying.base, params={"secret": order["secret"]})
        expires = seen.json()["expires_at"]
        assert expires == (clock.now() + kept_for).isoformat().replace("+00:00", "Z")
        clock.advance(kept_for - timedelta(minutes=1))
        await sweep_until_done(platform.db, clock)
        assert await paying.status() == "pending", "the seats wait for the transfer"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 2)
        clock.advance(minutes=2)
        await sweep_until_done(platform.db, clock)
        await sweep_until_done(platform.db, clock)
        assert await paying.status() == "expired"
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0), "returned once"
    await assert_books_balance(platform.db)


async def test_an_event_deferred_payment_deadline_is_bounded_and_shown(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        _, headers, base = await organizer_shop(client, platform, clock, deferred_payment_hours=48)
        seen = await client.get(base, headers=headers)
        assert seen.json()["deferred_payment_hours"] == 48
        keep = set(factories.draft(clock).__struct_fields__)
        body = {k: v for k, v in seen.json().items() if k in keep and v is not None}
        refused = await client.put(base, json=body | {"deferred_payment_hours": 0}, headers=headers)
        assert refused.status_code == 400, refused.text
        assert "deferred_payment_hours" in refused.text
        changed = await client.put(
            base, json=body | {"deferred_payment_hours": 12}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["deferred_payment_hours"] == 12


async def test_a_failed_payment_tells_the_buyer_once_with_the_link_to_try_again(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        order = await Buyer(client, store, email="declined@example.org").buy(Standard=1)
        paying = Paying(client, order)
        reference = (await paying.start()).json()["redirect_url"].rsplit("/", 1)[1]
        assert (await paying.notify(reference, "failed")).json()["outcome"] == "applied"
        again = await paying.notify(reference, "failed", event_id="evt-again")
        assert again.json()["outcome"] in ("applied", "duplicate", "ignored")
        assert await paying.status() == "pending", "the seats wait for another try"
    (told,) = await mail_to(platform, "declined@example.org", "payment-failed")
    assert told["subject"] == f"Your payment for order {order['number']} did not go through"
    assert order["link"] in told["text"]
    assert "no money was taken" in told["text"]
