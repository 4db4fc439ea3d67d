"""One-request checkout (``POST /events/{id}/orders``) on both engines: the same order the
two-step flow makes, all or nothing, refused cheaply when sold out, safe to retry with an
Idempotency-Key, and never oversold by many buyers at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from boxoffice.core.booking import orders
from boxoffice.core.booking.models import Hold, Order
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, Shop, assert_books_balance, counts, shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def checkout(
    client: Any,
    store: Shop,
    email: str = "fan@example.org",
    headers: dict[str, str] | None = None,
    **body: Any,
) -> Any:
    items = body.pop("items", None) or [
        {"ticket_type_id": str(store.types["Standard"]), "quantity": 2}
    ]
    return await client.post(
        f"/api/v1/events/{store.event.id}/orders",
        headers=headers or {},
        json={"items": items, "buyer": {"name": "Fan", "email": email}, **body},
    )


async def rows(platform: Platform) -> tuple[int, int]:
    """(holds, orders) stored."""
    async with platform.db.read() as session:
        holds = await session.scalar(select(func.count()).select_from(Hold))
        orders = await session.scalar(select(func.count()).select_from(Order))
    return int(holds or 0), int(orders or 0)


async def test_checkout_places_the_same_order_as_a_hold_then_its_order(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        two_step = await Buyer(client, store, email="two@example.org").buy(Standard=2)
        placed = await checkout(client, store, attendees=[{"name": "Ada"}, {"name": "Bob"}])
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "pending"
        assert order["breakdown"] == two_step["breakdown"], "priced the same way"
        assert [t["attendee_name"] for t in order["tickets"]] == ["Ada", "Bob"]
        seen = await client.get(
            f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
        )
        assert seen.json()["tickets"] == order["tickets"]
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 4)
    async with platform.db.read() as session:
        statuses = list(await session.scalars(select(Hold.status)))
    assert statuses == ["ordered", "ordered"], "the checkout's hold was taken by its order"
    await assert_books_balance(platform.db)


async def test_a_free_checkout_is_confirmed_at_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, types={"Standard": 0})
    async with make_client(platform) as client:
        placed = await checkout(client, store)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "confirmed"
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 0)
    await assert_books_balance(platform.db)


async def test_a_refused_checkout_changes_nothing(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, quotas={"Hall": (3, ["Standard"])})
    async with make_client(platform) as client:
        assert (await checkout(client, store)).status_code == 201
        sold_out = await checkout(client, store)
        assert sold_out.status_code == 409
        problem = sold_out.json()
        assert problem["rule"] == "capacity"
        assert problem["available"] == {str(store.types["Standard"]): 1}
        wrong_attendees = await checkout(
            client,
            store,
            items=[{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}],
            attendees=[{"name": "A"}, {"name": "B"}],
        )
        assert wrong_attendees.status_code == 422
        assert wrong_attendees.json()["rule"] == "one_attendee_per_ticket"
        bad_email = await checkout(
            client,
            store,
            email="not-an-address",
            items=[{"ticket_type_id": str(store.types["Standard"]), "quantity": 1}],
        )
        assert bad_email.status_code == 400
        assert bad_email.headers["content-type"].startswith("application/problem+json")
    assert await counts(platform.db, store.quotas["Hall"]) == (3, 0, 2)
    assert await rows(platform) == (1, 1), "refusals left no hold and no order behind"


async def test_a_retried_checkout_places_one_order(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    headers = {"Idempotency-Key": "checkout-retry-1"}
    async with make_client(platform) as client:
        first = await checkout(client, store, headers=headers)
        again = await checkout(client, store, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["number"] == first.json()["number"]
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 2)
    assert await rows(platform) == (1, 1)


async def test_many_buyers_checking_out_at_once_never_oversell(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, quotas={"Hall": (12, ["Standard"])})
    async with make_client(platform) as client:
        results = await asyncio.gather(
            *[checkout(client, store, email=f"fan{i}@example.org") for i in range(20)]
        )
    placed = [r for r in results if r.status_code == 201]
    refused = [r for r in results if r.status_code != 201]
    assert len(placed) == 6, "2 tickets each: exactly 6 buyers fit 12 seats"
    assert all(r.status_code == 409 and r.json()["rule"] == "capacity" for r in refused)
    assert (await assert_books_balance(platform.db))[str(store.quotas["Hall"])] == (12, 0, 12)


async def test_an_order_number_drawn_twice_is_a_conflict_to_retry_that_changes_nothing(
    platform: Platform, make_client: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writes of a checkout go to the database together at the end (one statement on
    PostgreSQL): a number already taken fails the whole transaction, hold and seats too."""
    store = await shop(platform.db, clock)
    monkeypatch.setattr(orders, "new_order_number", lambda: "SAMENUMBER")
    async with make_client(platform) as client:
        assert (await checkout(client, store)).status_code == 201
        collided = await checkout(client, store, email="other@example.org")
        assert collided.status_code == 409, collided.text
        assert collided.headers["content-type"].startswith("application/problem+json")
        assert collided.json()["rule"] == "concurrent_change"
        monkeypatch.setattr(orders, "new_order_number", lambda: "OTHERNUMBR")
        assert (await checkout(client, store, email="other@example.org")).status_code == 201
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 4)
    assert await rows(platform) == (2, 2), "the collided checkout left nothing behind"
    await assert_books_balance(platform.db)


async def test_large_answers_are_gzipped_and_the_hot_routes_answer_plainly(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    """A client that accepts gzip gets large responses compressed; a checkout's answer (an
    order, ~1.6 KB) skips the compression middleware, which would build a gzip stream even
    for a response too small to compress."""
    store = await shop(platform.db, clock)
    gzip = {"Accept-Encoding": "gzip"}
    async with make_client(platform) as client:
        placed = await checkout(client, store, headers=gzip)
        assert placed.status_code == 201
        assert "content-encoding" not in placed.headers
        schema = await client.get("/schema/openapi.json", headers=gzip)
        assert schema.status_code == 200
        assert schema.headers["content-encoding"] == "gzip"
        assert schema.json()["paths"], "decoded by the client"
