"""Holds over HTTP on both engines: all or nothing across shared quotas, the rules that
refuse them (each naming its rule), release, and expiry without any request arriving."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.catalog.models import TicketType
from boxoffice.core.clock import ManualClock
from boxoffice.core.links import LinkKind
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, counts, shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_a_hold_takes_seats_in_every_shared_quota_at_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Adult": 4000, "Child": 1500, "VIP": 9000},
        quotas={"Hall": (10, ["Adult", "Child", "VIP"]), "Boxes": (3, ["VIP"])},
    )
    async with make_client(platform) as client:
        buyer = Buyer(client, store)
        held = await buyer.hold(Adult=2, VIP=2)
        assert held.status_code == 201, held.text
        hold = held.json()
        assert hold["expires_at"].startswith((clock.now() + timedelta(minutes=10)).isoformat()[:16])
        assert [i["quantity"] for i in hold["items"]] == [2, 2]
        assert hold["items"][0]["unit_price"] == {"minor": 4000, "currency": "EUR"}
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 4)
        assert await counts(platform.db, store.quotas["Boxes"]) == (3, 0, 2)

        # Two more VIPs fit the hall but not the boxes: nothing is taken anywhere.
        refused = await buyer.hold(Adult=1, VIP=2)
        assert refused.status_code == 409
        problem = refused.json()
        assert problem["type"].endswith("/sold-out")
        assert problem["rule"] == "capacity"
        assert problem["available"] == {str(store.types["VIP"]): 1}
        assert "VIP" in problem["detail"]
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 4)
        assert await counts(platform.db, store.quotas["Boxes"]) == (3, 0, 2)

        listed = await client.get(f"/api/v1/events/{store.event.id}/ticket-types")
        left = {t["name"]: t["available"] for t in listed.json()}
        assert left == {"Adult": 6, "Child": 6, "VIP": 1}


async def test_each_refusal_names_its_rule(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db, clock, types={"Standard": 2500, "Crew": 0, "Later": 1000, "Secret": 500}
    )
    async with platform.db.transaction() as session:
        crew = await session.get(TicketType, store.types["Crew"])
        later = await session.get(TicketType, store.types["Later"])
        secret = await session.get(TicketType, store.types["Secret"])
        assert crew is not None
        assert later is not None
        assert secret is not None
        crew.visibility = "hidden"
        later.sales_start = clock.now() + timedelta(days=1)
        secret.visibility, secret.access_code = "code", "FRIENDS"
        standard = await session.get(TicketType, store.types["Standard"])
        assert standard
        standard.min_per_order, standard.max_per_order = 2, 4
    async with make_client(platform) as client:
        buyer = Buyer(client, store)

        async def refusal(status: int, **kwargs: Any) -> dict[str, Any]:
            response = await buyer.hold(**kwargs)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            body: dict[str, Any] = response.json()
            return body

        assert (await refusal(422, Standard=1))["rule"] == "min_per_order"
        too_many = await refusal(422, Standard=5)
        assert too_many["rule"] == "max_per_order"
        assert too_many["errors"][0]["field"] == "items[0].quantity"
        assert (await refusal(409, Later=1))["rule"] == "sales_window"
        assert (await refusal(400, Crew=1))["errors"][0]["field"] == "items[0].ticket_type_id"
        assert (await refusal(400, Secret=1))["type"].endswith("/validation")
        assert (await buyer.hold(Secret=1, access_code="friends")).status_code == 201

        bad = await client.post(f"/api/v1/events/{store.event.id}/holds", json={"items": []})
        assert bad.status_code == 400
        bad = await client.post(
            f"/api/v1/events/{store.event.id}/holds",
            json={"items": [{"ticket_type_id": "x", "quantity": -1}]},
        )
        assert bad.status_code == 400

        draft = await factories.event(platform.db, clock, publish=False)
        assert (
            await client.post(
                f"/api/v1/events/{draft.id}/holds",
                json={"items": [{"ticket_type_id": str(store.types["Standard"]), "quantity": 2}]},
            )
        ).status_code == 404

        clock.advance(days=11)  # the event (10 days ahead, 3 hours long) is over
        assert (await refusal(409, Standard=2))["rule"] == "event_over"
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 1)


async def test_release_is_idempotent_and_needs_the_secret(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        hold = (await Buyer(client, store).hold(Standard=3)).json()
        stranger = await client.post(
            f"/api/v1/holds/{hold['id']}/release", json={"secret": "guess"}
        )
        assert stranger.status_code == 404
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 3)
        for _ in range(2):
            released = await client.post(
                f"/api/v1/holds/{hold['id']}/release", json={"secret": hold["secret"]}
            )
            assert released.status_code == 200
            assert released.json()["status"] == "released"
            assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        seen = await client.get(f"/api/v1/holds/{hold['id']}", params={"secret": hold["secret"]})
        assert seen.json()["status"] == "released"
        assert (await client.get(f"/api/v1/holds/{hold['id']}")).status_code == 400


async def test_holds_expire_on_time_without_any_request(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, hold_ttl_seconds=300)
    async with make_client(platform) as client:
        buyer = Buyer(client, store)
        first = (await buyer.hold(Standard=4)).json()
        clock.advance(seconds=200)
        second = (await buyer.hold(Standard=5)).json()
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 9)

        clock.advance(seconds=99)
        assert await sweep_until_done(platform.db, platform.clock) == 0
        clock.advance(seconds=1)  # the first hold's TTL is up; the second has 200 s left
        assert await sweep_until_done(platform.db, platform.clock) == 1
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 5)
        assert await sweep_until_done(platform.db, platform.clock) == 0, "released once"

        late = await buyer.order(first)
        assert late.status_code == 409
        assert late.json()["rule"] == "hold_ttl"
        seen = await client.get(f"/api/v1/holds/{first['id']}", params={"secret": first["secret"]})
        assert seen.json()["status"] == "expired"
        # Releasing an expired hold changes nothing either.
        await client.post(f"/api/v1/holds/{first['id']}/release", json={"secret": first["secret"]})
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 5)

        clock.advance(seconds=200)
        assert await sweep_until_done(platform.db, platform.clock) == 1
        assert await counts(platform.db, store.quotas["Hall"]) == (10, 0, 0)
        assert (await buyer.order(second)).status_code == 409


async def test_only_what_moves_no_money_skips_the_wal_flush(
    platform: Platform, clock: ManualClock
) -> None:
    """A hold's, a checkout's or an unpaid order's transaction asks to commit without waiting
    for the WAL flush (PostgreSQL applies it; see test_prepared for how); one that confirms
    an order (a free checkout, a free order) waits."""
    import msgspec
    from sqlalchemy import Connection

    from boxoffice.core.booking import holds, orders
    from boxoffice.core.booking.records import Ordering
    from boxoffice.core.booking.schemas import CheckoutIn, HoldIn, OrderIn
    from boxoffice.core.storage.prepared import ASYNC_COMMIT

    store = await shop(
        platform.db,
        clock,
        types={"Standard": 2500, "Free": 0},
        quotas={"Hall": (10, ["Standard", "Free"])},
    )

    def asynchronous(connection: Connection) -> bool:
        return bool(connection.info.get(ASYNC_COMMIT))

    def items(name: str) -> list[dict[str, Any]]:
        return [{"ticket_type_id": str(store.types[name]), "quantity": 1}]

    def hold(connection: Connection) -> bool:
        selection = msgspec.convert({"items": items("Standard")}, HoldIn)
        holds.place_hold(
            connection, clock, store.event.id, selection, platform.links.new(LinkKind.HOLD)
        )
        return asynchronous(connection)

    def checkout(connection: Connection, name: str) -> tuple[str, bool]:
        data = msgspec.convert(
            {"items": items(name), "buyer": {"name": "A", "email": "a@b.org"}}, CheckoutIn
        )
        placed = orders.checkout(
            connection,
            clock,
            store.event.id,
            data,
            Ordering(
                regions=platform.region_or_none, public_url="https://x.test", links=platform.links
            ),
        )
        return placed.status, asynchronous(connection)

    def order_from_a_hold(connection: Connection, name: str) -> tuple[str, bool]:
        link = platform.links.new(LinkKind.HOLD)
        held = holds.place_hold(
            connection, clock, store.event.id, msgspec.convert({"items": items(name)}, HoldIn), link
        )
        connection.info.pop(ASYNC_COMMIT)  # the hold's own wish: the order's is asked here
        data = msgspec.convert(
            {"secret": held.secret, "buyer": {"name": "A", "email": "a@b.org"}}, OrderIn
        )
        placed = orders.place_order(
            connection,
            clock,
            held.id,
            data,
            Ordering(
                regions=platform.region_or_none, public_url="https://x.test", links=platform.links
            ),
        )
        return placed.status, asynchronous(connection)

    assert await platform.db.run(hold) is True
    assert await platform.db.run(lambda c: checkout(c, "Standard")) == ("pending", True)
    assert await platform.db.run(lambda c: checkout(c, "Free")) == ("confirmed", False)
    assert await platform.db.run(lambda c: order_from_a_hold(c, "Standard")) == ("pending", True)
    assert await platform.db.run(lambda c: order_from_a_hold(c, "Free")) == ("confirmed", False)
    assert await counts(platform.db, store.quotas["Hall"]) == (10, 2, 3)
