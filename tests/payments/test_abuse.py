"""Velocity limits and risk checks, on both engines: one client address cannot hold every
seat with many holds (also through several API processes on one database), a buyer cannot
try payment after payment, a plugin's risk check can refuse an attempt, and an exempt key
(a load test) is not counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select

from boxoffice.api.app import create_app
from boxoffice.core.clock import ManualClock
from boxoffice.core.hookspecs import hookimpl
from boxoffice.core.payments.gateway import PaymentAttempt
from boxoffice.core.payments.models import Payment
from boxoffice.platform import Platform
from boxoffice.testing.plugin import app_client
from tests import factories
from tests.booking.helpers import Shop, counts, shop
from tests.identity.helpers import client_addresses

EXEMPT = "a-load-test-key-that-is-long-enough-0123456789"


def limited(platform: Platform, **settings: Any) -> Platform:
    """Another API process on the same database, with these settings."""
    changed = msgspec.structs.replace(platform.settings, **settings)
    return Platform.build(changed, clock=platform.clock, extra_plugins=EXTRA)


EXTRA: list[tuple[str, object]] = []


@asynccontextmanager
async def client_of(platform: Platform) -> AsyncIterator[Any]:
    app = client_addresses(create_app(platform))
    async with app_client(app) as client:
        yield client


def hold_body(store: Shop) -> dict[str, Any]:
    return {"items": [{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}]}


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_one_client_cannot_hold_every_seat(platform: Platform, clock: ManualClock) -> None:
    store = await shop(platform.db, clock, quotas={"Hall": (50, ["Standard"])})
    holds = f"/api/v1/events/{store.event.id}/holds"
    checkout = f"/api/v1/events/{store.event.id}/orders"
    bot, someone = {"x-test-client": "198.51.100.7"}, {"x-test-client": "203.0.113.8"}
    one = limited(platform, holds_per_client=3, limit_exempt_keys=EXEMPT)
    two = limited(platform, holds_per_client=3, limit_exempt_keys=EXEMPT)
    try:
        async with client_of(one) as first, client_of(two) as second:
            assert (await first.post(holds, json=hold_body(store), headers=bot)).status_code == 201
            assert (await second.post(holds, json=hold_body(store), headers=bot)).status_code == 201
            bought = await first.post(
                checkout,
                json=hold_body(store) | {"buyer": {"name": "B", "email": "b@example.org"}},
                headers=bot,
            )
            assert bought.status_code == 201, "a checkout places a hold: it counts"
            spun = await second.post(holds, json=hold_body(store), headers=bot)
            assert spun.status_code == 429, "counted across both processes"
            assert spun.headers["content-type"].startswith("application/problem+json")
            assert int(spun.headers["retry-after"]) > 0
            assert (await counts(platform.db, store.quotas["Hall"])) == (50, 0, 3)
            other = await first.post(holds, json=hold_body(store), headers=someone)
            assert other.status_code == 201, "another client is not affected"
            exempt = await first.post(
                holds,
                json=hold_body(store),
                headers=bot | {"boxoffice-limit-exempt": EXEMPT},
            )
            assert exempt.status_code == 201, "an exempt key is not counted"
            wrong = await first.post(
                holds,
                json=hold_body(store),
                headers=bot | {"boxoffice-limit-exempt": EXEMPT[:-1] + "x"},
            )
            assert wrong.status_code == 429
            clock.advance(minutes=10)
            again = await second.post(holds, json=hold_body(store), headers=bot)
            assert again.status_code == 201, "the next window"
    finally:
        await one.close()
        await two.close()


class RiskCheck:
    def __init__(self) -> None:
        self.seen: list[PaymentAttempt] = []

    @hookimpl
    def assess_payment_risk(self, attempt: PaymentAttempt) -> str | None:
        self.seen.append(attempt)
        return "a country this shop does not serve" if attempt.buyer_country == "KP" else None


async def test_payment_attempts_are_limited_and_risk_checked(
    platform: Platform, clock: ManualClock
) -> None:
    check = RiskCheck()
    EXTRA[:] = [("riskcheck", check)]
    strict = limited(platform, payment_attempts_per_buyer=2, payment_attempts_per_client=50)
    EXTRA.clear()
    store = await shop(platform.db, clock)
    try:
        async with client_of(strict) as client:

            async def order(email: str, country: str) -> dict[str, Any]:
                placed = await client.post(
                    f"/api/v1/events/{store.event.id}/orders",
                    json=hold_body(store)
                    | {"buyer": {"name": "B", "email": email, "country": country}},
                )
                assert placed.status_code == 201, placed.text
                result: dict[str, Any] = placed.json()
                return result

            async def pay(placed: dict[str, Any]) -> Any:
                return await client.post(
                    f"/api/v1/orders/{placed['number']}/payments",
                    json={"secret": placed["secret"], "gateway": "offline"},
                    headers={"x-test-client": "192.0.2.44"},
                )

            tester = await order("tester@example.org", "DE")
            assert (await pay(tester)).status_code == 201
            assert (await pay(tester)).status_code == 201
            third = await pay(tester)
            assert third.status_code == 429, third.text
            assert third.json()["type"].endswith("/rate-limited")
            assert check.seen[-1].client_address == "192.0.2.44"
            assert [a.earlier_attempts for a in check.seen] == [0, 1]

            refused = await pay(await order("someone@example.org", "KP"))
            assert refused.status_code == 403
            assert refused.json()["type"].endswith("/payment-refused")
            assert "country" not in refused.text, "the buyer is not told the rule"
        async with platform.db.read() as session:
            made = await session.scalar(select(func.count()).select_from(Payment))
        assert made == 2, "refused attempts record nothing"
    finally:
        await strict.close()
