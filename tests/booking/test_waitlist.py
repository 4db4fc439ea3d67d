"""The waiting list on both engines: joining only when sold out, freed seats offered to the
head of the queue in the same transaction (with an e-mailed claim link), an offer that
lapses and passes on, a claimed offer, and leaving the queue."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, counts, shop
from tests.identity.helpers import mail_to


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_freed_seats_go_to_the_queue_in_turn_and_unclaimed_offers_pass_on(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Standard": 0},  # free: confirmed at once
        quotas={"Hall": (4, ["Standard"])},
        hold_ttl_seconds=120,
        refund_deadline_hours=1,
    )
    ticket = str(store.types["Standard"])
    url = f"/api/v1/events/{store.event.id}/waitlist"
    async with make_client(platform) as client:
        early = Buyer(client, store, email="early@example.org")

        def wait(name: str, quantity: int) -> Any:
            return client.post(
                url,
                json={
                    "ticket_type_id": ticket,
                    "quantity": quantity,
                    "name": name,
                    "email": f"{name}@example.org",
                },
            )

        not_yet = await wait("ann", 1)
        assert not_yet.status_code == 409
        assert not_yet.json()["rule"] == "not_sold_out"
        order = await early.buy(Standard=4)
        joined = await wait("ann", 2)
        assert joined.status_code == 201, joined.text
        ann = joined.json()
        bob = (await wait("bob", 2)).json()
        cid = (await wait("cid", 1)).json()
        assert [e["position"] for e in (ann, bob, cid)] == [1, 2, 3]

        # The early buyer cancels: 4 seats free. Ann (2) and Bob (2) get offers at once;
        # Cid still waits (nothing left), and nobody else can take those seats meanwhile.
        await client.post(
            f"/api/v1/orders/{order['number']}/cancel", json={"secret": order["secret"]}
        )
        assert await counts(platform.db, store.quotas["Hall"]) == (4, 0, 4), "all offered"
        assert (await Buyer(client, store).hold(Standard=1)).status_code == 409

        async def entry(e: dict[str, Any]) -> dict[str, Any]:
            seen = await client.get(f"/api/v1/waitlist/{e['id']}", params={"secret": e["secret"]})
            result: dict[str, Any] = seen.json()
            return result

        ann_now, bob_now, cid_now = await entry(ann), await entry(bob), await entry(cid)
        assert (ann_now["status"], bob_now["status"]) == ("offered", "offered")
        assert (cid_now["status"], cid_now["position"]) == ("waiting", 1)
        (mail,) = await mail_to(platform, "ann@example.org", "waitlist-offer")
        assert ann_now["offer"]["hold_id"] in mail["text"]
        assert ann_now["offer"]["secret"] in mail["text"]

        # Ann claims hers; Bob lets his lapse, so his seats pass to Cid (one of them).
        claimed = await early.order(
            {"id": ann_now["offer"]["hold_id"], "secret": ann_now["offer"]["secret"]}
        )
        assert claimed.status_code == 201, claimed.text
        assert (await entry(ann))["status"] == "claimed"
        clock.advance(seconds=120)
        await sweep_until_done(platform.db, platform.clock)
        assert (await entry(bob))["status"] == "lapsed"
        cid_offer = await entry(cid)
        assert cid_offer["status"] == "offered"
        assert cid_offer["offer"]["hold_id"] != bob_now["offer"]["hold_id"]
        assert await counts(platform.db, store.quotas["Hall"]) == (4, 2, 1)

        left = await client.post(
            f"/api/v1/waitlist/{cid['id']}/leave", json={"secret": cid["secret"]}
        )
        assert left.json()["status"] == "offered", "an offer stands until it lapses"
        stranger = await client.get(f"/api/v1/waitlist/{cid['id']}", params={"secret": "x"})
        assert stranger.status_code == 404
    await assert_books_balance(platform.db)


async def test_leaving_the_queue(platform: Platform, make_client: Any, clock: ManualClock) -> None:
    store = await shop(platform.db, clock, quotas={"Hall": (1, ["Standard"])})
    async with make_client(platform) as client:
        order = await Buyer(client, store).buy(Standard=1)
        joined = (
            await client.post(
                f"/api/v1/events/{store.event.id}/waitlist",
                json={
                    "ticket_type_id": str(store.types["Standard"]),
                    "quantity": 1,
                    "name": "Dee",
                    "email": "dee@example.org",
                },
            )
        ).json()
        left = await client.post(
            f"/api/v1/waitlist/{joined['id']}/leave", json={"secret": joined["secret"]}
        )
        assert left.json()["status"] == "left"
        await client.post(
            f"/api/v1/orders/{order['number']}/cancel", json={"secret": order["secret"]}
        )
        assert await counts(platform.db, store.quotas["Hall"]) == (1, 0, 0), "no offer made"
