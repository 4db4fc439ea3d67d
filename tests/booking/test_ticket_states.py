"""What the API says of tickets and who may keep a copy: a ticket follows its order (pending
until paid, valid, cancelled, expired, refunded), and every buyer's and organizer's response
is ``Cache-Control: no-store``."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def ticket_states(order: dict[str, Any]) -> set[str]:
    return {ticket["status"] for ticket in order["tickets"]}


async def test_tickets_follow_their_order(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, hold_ttl_seconds=120, types={"Standard": 2500, "Free": 0}
        )
        buyer = Buyer(client, store)

        async def seen(order: dict[str, Any]) -> dict[str, Any]:
            got = await client.get(
                f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
            )
            body: dict[str, Any] = got.json()
            return body

        unpaid = await buyer.buy(Standard=2)
        assert ticket_states(unpaid) == {"pending"}, "not valid before it is paid"
        paid = await client.post(f"{base}/orders/{unpaid['number']}/mark-paid", headers=headers)
        assert ticket_states(paid.json()) == {"valid"}
        cancelled = await client.post(
            f"{base}/orders/{unpaid['number']}/cancel", headers=headers, json={}
        )
        assert cancelled.json()["status"] == "cancelled"
        assert ticket_states(cancelled.json()) == {"cancelled"}
        assert ticket_states(await seen(unpaid)) == {"cancelled"}

        free = await Buyer(client, store, email="free@example.org").buy(Free=1)
        assert free["status"] == "confirmed"
        assert ticket_states(free) == {"valid"}

        lapsing = await Buyer(client, store, email="late@example.org").buy(Standard=1)
        clock.advance(minutes=3)
        assert await sweep_until_done(platform.db, platform.clock) >= 1
        assert ticket_states(await seen(lapsing)) == {"expired"}
        revived = await client.post(f"{base}/orders/{lapsing['number']}/mark-paid", headers=headers)
        assert ticket_states(revived.json()) == {"valid"}, "paid late while seats were free"


async def test_private_responses_are_never_stored(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        buyer = Buyer(client, store)
        held = await buyer.hold(Standard=1)
        hold = held.json()
        placed = await buyer.order(hold)
        order = placed.json()
        responses = {
            "hold": held,
            "order": placed,
            "hold link": await client.get(
                f"/api/v1/holds/{hold['id']}", params={"secret": hold["secret"]}
            ),
            "order link": await client.get(
                f"/api/v1/orders/{order['number']}", params={"secret": order["secret"]}
            ),
            "organizer order": await client.get(
                f"{base}/orders/{order['number']}", headers=headers
            ),
            "organizer event": await client.get(base, headers=headers),
            "profile": await client.get("/api/v1/me", headers=headers),
        }
        for name, response in responses.items():
            assert response.status_code in (200, 201), (name, response.text)
            assert response.headers.get("cache-control") == "no-store", name
        public = await client.get(f"/api/v1/events/{store.event.id}")
        assert "public" in public.headers["cache-control"], "public pages stay cacheable"
