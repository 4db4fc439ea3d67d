"""The analytics projection on both engines: its figures follow the sales, refunds and
cancellations that happened, each entry counts once although delivered at least once, and a
projection rebuilt from the first journal entry equals the live one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from boxoffice.core.analytics.models import OrderSlot, PaidOrder, PromoUse, SalesSlot
from boxoffice.core.analytics.projection import ANALYTICS
from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.core.journal import operations
from boxoffice.core.journal.models import JournalSubscriberRow
from boxoffice.core.storage import Database
from boxoffice.platform import PROJECTIONS, Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop
from tests.payments.test_engine import CONFIG, AcmePayPlugin, Paying


@pytest.fixture
def acme() -> AcmePayPlugin:
    return AcmePayPlugin()


@pytest.fixture
def platform(make_platform: factories.MakePlatform, acme: AcmePayPlugin) -> Platform:
    return make_platform([("acmepay", acme)], config=CONFIG, entry_points=True)


async def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the projection's tables, in a stable order."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with db.read() as session:
        for model in (SalesSlot, OrderSlot, PromoUse, PaidOrder):
            columns = list(model.__table__.columns)
            rows = (await session.execute(select(*columns).order_by(*columns))).all()
            result[model.__tablename__] = [tuple(r) for r in rows]
    return result


async def pay_with_acme(client: Any, order: dict[str, Any], acme: AcmePayPlugin) -> None:
    paying = Paying(client, order)
    started = await paying.start()
    assert started.status_code == 201, started.text
    reference = started.json()["redirect_url"].rsplit("/", 1)[1]
    acme.gateway.sandbox_pay(reference)
    assert (await paying.notify(reference, "succeeded")).json()["outcome"] == "applied"


async def sell_and_refund(
    platform: Platform, client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    """A day of sales: paid by gateway, paid by hand, a partial refund, a cancellation, an
    expiry, and a promo code."""
    store, headers, base = await organizer_shop(client, platform, clock)
    promo = await client.post(
        f"{base}/promo-codes",
        json={"code": "HALF", "kind": "percent", "value": 5000},
        headers=headers,
    )
    assert promo.status_code == 201, promo.text
    by_card = await Buyer(client, store, "card@example.org").buy(Standard=3)
    await pay_with_acme(client, by_card, acme)
    clock.advance(minutes=5)
    by_hand = await Buyer(client, store, "hand@example.org").buy(Standard=2)
    marked = await client.post(f"{base}/orders/{by_hand['number']}/mark-paid", headers=headers)
    assert marked.status_code == 200, marked.text
    promo_buyer = Buyer(client, store, "promo@example.org")
    held = await promo_buyer.hold(promo_code="HALF", Standard=2)
    assert held.status_code == 201, held.text
    halved = await promo_buyer.order(held.json())
    assert halved.status_code == 201, halved.text
    await pay_with_acme(client, halved.json(), acme)
    clock.advance(minutes=8)  # access tokens last 15 minutes
    first_ticket = (await client.get(f"{base}/orders/{by_card['number']}", headers=headers)).json()[
        "tickets"
    ][0]["id"]
    refunded = await client.post(
        f"{base}/orders/{by_card['number']}/refund",
        json={"ticket_ids": [first_ticket]},
        headers=headers,
    )
    assert refunded.status_code == 200, refunded.text
    cancelled = await client.post(
        f"{base}/orders/{by_hand['number']}/cancel", json={"reason": "ops"}, headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    await Buyer(client, store, "late@example.org").buy(Standard=1)
    clock.advance(hours=6)
    await sweep_until_done(platform.db, clock)
    await platform.dispatcher.run_until_idle()


async def test_figures_follow_the_sales_and_a_rebuild_equals_the_live_projection(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    async with make_client(platform) as client:
        await sell_and_refund(platform, client, clock, acme)
    live = await snapshot(platform.db)
    sales = live["analytics_sales"]
    by_gateway: dict[str, tuple[int, int, int]] = {}
    for row in sales:
        record = dict(zip([c.name for c in SalesSlot.__table__.columns], row, strict=True))
        tickets, gross, refunded = by_gateway.get(record["gateway"], (0, 0, 0))
        by_gateway[record["gateway"]] = (
            tickets + record["tickets"],
            gross + record["gross_minor"],
            refunded + record["refunded_minor"],
        )
    # Standard is 25.00 EUR: 3 by card, 2 at half price by card; 2 by hand, all cancelled.
    assert by_gateway == {"acmepay": (5, 7500 + 2500, 2500), "": (2, 5000, 5000)}
    names = [c.name for c in OrderSlot.__table__.columns]
    orders = [dict(zip(names, row, strict=True)) for row in live["analytics_orders"]]
    totals = {k: sum(o[k] for o in orders) for k in ("placed", "paid", "cancelled", "expired")}
    assert totals == {"placed": 4, "paid": 3, "cancelled": 1, "expired": 1}
    names = [c.name for c in PromoUse.__table__.columns]
    (promo,) = [dict(zip(names, row, strict=True)) for row in live["analytics_promo"]]
    assert (promo["orders"], promo["tickets"], promo["discount_minor"]) == (1, 2, 2500)

    replayed = await operations.replay(
        platform.db, clock, platform.dispatcher, "analytics", projections=PROJECTIONS
    )
    assert replayed.delivered > 0
    assert await snapshot(platform.db) == live, "a rebuild from the first entry equals live"


async def test_an_entry_delivered_again_is_counted_once(
    platform: Platform, make_client: Any, clock: ManualClock, acme: AcmePayPlugin
) -> None:
    async with make_client(platform) as client:
        await sell_and_refund(platform, client, clock, acme)
    live = await snapshot(platform.db)
    # A crash after the projection committed but before the cursor moved: the cursor is
    # back where it was and the entries come again.
    async with platform.db.transaction() as session:
        cursor = await session.get(JournalSubscriberRow, ANALYTICS.subscriber_name)
        assert cursor is not None
        cursor.position, cursor.txid = 0, 0
    assert await platform.dispatcher.run_until_idle() > 0
    assert await snapshot(platform.db) == live
