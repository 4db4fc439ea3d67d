"""Promo codes on both engines: organizer rules, discounts priced before tax, hidden ticket
types unlocked, windows and limits named in refusals, uses given back on cancellation, and
a code racing its usage limit under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from boxoffice.core.booking.models import PromoCode
from boxoffice.core.catalog.models import TicketType
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, assert_books_balance, organizer_shop


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def _hide(platform: Platform, ticket_type_id: Any) -> None:
    async with platform.db.transaction() as session:
        crew = await session.get(TicketType, ticket_type_id)
        assert crew is not None
        crew.visibility = "hidden"


async def test_discounts_unlocks_windows_and_per_buyer_limits(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Adult": 4000, "Child": 1500, "Crew": 1000},
            quotas={"Hall": (50, ["Adult", "Child", "Crew"])},
        )
        await _hide(platform, store.types["Crew"])
        adult, crew = str(store.types["Adult"]), str(store.types["Crew"])
        made = await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={
                "code": "early15",
                "kind": "percent",
                "value": 1500,
                "ticket_types": [adult],
                "max_uses_per_buyer": 1,
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["code"] == "EARLY15"
        starts = clock.now() + timedelta(days=1)
        await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={"code": "CREW", "kind": "fixed", "value": 1000, "unlocks": [crew]},
        )
        await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={"code": "LATER", "kind": "fixed", "value": 100, "valid_from": starts.isoformat()},
        )
        for body, field in (
            ({"code": "X1X", "kind": "percent", "value": 10001}, "value"),
            (
                {"code": "X2X", "kind": "fixed", "value": 5, "ticket_types": [str(store.event.id)]},
                "ticket_types",
            ),
        ):
            bad = await client.post(f"{base}/promo-codes", headers=headers, json=body)
            assert bad.status_code == 400
            assert bad.json()["errors"][0]["field"] == field
        twice = await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={"code": "Early15", "kind": "fixed", "value": 1},
        )
        assert twice.status_code == 409

        buyer = Buyer(client, store)
        hold = (await buyer.hold(promo_code="early15", Adult=2, Child=1)).json()
        assert hold["promo_code"] == "EARLY15"
        order = (await buyer.order(hold)).json()
        adult_line, child_line = order["breakdown"]["lines"]
        assert adult_line["discount"]["minor"] == 1200
        assert adult_line["tax"]["minor"] == 1086  # 19 % included in the 68.00 left
        assert child_line["discount"]["minor"] == 0
        assert order["total"]["minor"] == 6800 + 1500
        assert [t["price"]["minor"] for t in order["tickets"]] == [3400, 3400, 1500]

        async def refused(status: int, **kwargs: Any) -> str:
            response = await buyer.hold(**kwargs)
            assert response.status_code == status, response.text
            return str(response.json().get("rule") or response.json()["type"])

        assert await refused(422, promo_code="NOPE", Adult=1) == "promo_code_unknown"
        assert await refused(422, promo_code="LATER", Adult=1) == "promo_code_window"
        assert (await refused(400, Crew=1)).endswith("/validation")
        assert (await buyer.hold(promo_code="crew", Crew=2)).status_code == 201

        again = (await buyer.hold(promo_code="EARLY15", Adult=1)).json()
        second = await buyer.order(again)
        assert second.status_code == 422
        assert second.json()["rule"] == "promo_code_per_buyer"
        await client.post(
            f"/api/v1/orders/{order['number']}/cancel", json={"secret": order["secret"]}
        )
        assert (await buyer.order(again)).status_code == 201, "the cancelled order's use is back"
        listed = (await client.get(f"{base}/promo-codes", headers=headers)).json()
        assert {p["code"]: p["uses"] for p in listed} == {"CREW": 0, "EARLY15": 1, "LATER": 0}


async def test_a_promo_code_racing_its_usage_limit(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, quotas={"Hall": (50, ["Standard"])}
        )
        await client.post(
            f"{base}/promo-codes",
            headers=headers,
            json={"code": "FIRST3", "kind": "percent", "value": 5000, "max_uses": 3},
        )
        buyers = [Buyer(client, store, email=f"racer{i}@example.org") for i in range(8)]
        holds = [(await b.hold(promo_code="FIRST3", Standard=1)).json() for b in buyers]
        results = await asyncio.gather(*[b.order(h) for b, h in zip(buyers, holds, strict=True)])
    placed = [r for r in results if r.status_code == 201]
    assert len(placed) == 3
    assert all(r.json()["total"]["minor"] == 1250 for r in placed)
    refused = [r for r in results if r.status_code != 201]
    assert {(r.status_code, r.json()["rule"]) for r in refused} == {(422, "promo_code_used_up")}
    async with platform.db.read() as session:
        assert (await session.scalars(select(PromoCode.uses))).one() == 3
    await assert_books_balance(platform.db)
