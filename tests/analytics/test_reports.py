"""The analytics endpoints over HTTP on both engines: sales per hour and per day in the
event's zone (India is 5:30 off UTC: a UTC day is two local days), revenue by ticket type
and gateway, the funnel from page views to payment, check-ins, the waiting list, promo codes
and the platform's figures; who may read them; bad ranges refused."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from boxoffice.core.booking.sweeper import sweep_until_done
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop
from tests.identity.helpers import auth, make_admin, organization, sign_in, sign_up
from tests.tickets.test_checkin import credentials

BOSS = "boss@example.org"


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_an_events_figures_in_its_own_zone(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        # 12:00 UTC is 17:30 in Kolkata.
        store, headers, base = await organizer_shop(
            client, platform, clock, timezone="Asia/Kolkata"
        )
        analytics = f"{base}/analytics"
        for _ in range(3):
            assert (await client.get(f"/api/v1/events/{store.event.id}")).status_code == 200
        assert (await client.get(f"/api/v1/events/{uuid.uuid4()}")).status_code == 404
        assert await platform.page_views.flush(platform.db) == 3, "a 404 is no view"

        first = await Buyer(client, store, "a@example.org").buy(Standard=2)
        paid = await client.post(f"{base}/orders/{first['number']}/mark-paid", headers=headers)
        assert paid.status_code == 200, paid.text
        lapsing = await Buyer(client, store, "b@example.org").hold(Standard=1)
        assert lapsing.status_code == 201
        checkin_list = await client.post(
            f"{base}/checkin-lists", json={"name": "Door"}, headers=headers
        )
        scanned = await client.post(
            f"{base}/checkin-lists/{checkin_list.json()['id']}/scans",
            json={"credential": (await credentials(client, first))[0]},
            headers=headers,
        )
        assert scanned.status_code == 200, scanned.text

        clock.advance(hours=6, minutes=45)  # 18:45 UTC: 00:15 the next day in Kolkata
        await sweep_until_done(platform.db, clock)
        headers = auth(await sign_in(client, BOSS))
        second = await Buyer(client, store, "c@example.org").buy(Standard=1)
        await client.post(f"{base}/orders/{second['number']}/mark-paid", headers=headers)
        await platform.dispatcher.run_until_idle()

        daily = await client.get(f"{analytics}/sales", params={"group": "day"}, headers=headers)
        assert daily.status_code == 200, daily.text
        days = daily.json()
        assert days["timezone"] == "Asia/Kolkata"
        assert [
            (p["start"], p["tickets_sold"], p["orders_paid"], p["views"]) for p in days["periods"]
        ] == [
            ("2030-01-01T00:00:00+05:30", 2, 1, 3),
            ("2030-01-02T00:00:00+05:30", 1, 1, 0),
        ]
        assert days["periods"][0]["gross"] == {"minor": 5000, "currency": "EUR"}
        hourly = (
            await client.get(f"{analytics}/sales", params={"group": "hour"}, headers=headers)
        ).json()["periods"]
        assert [p["start"][11:] for p in hourly] == [
            f"{h:02}:00:00+05:30" for h in (17, 18, 19, 20, 21, 22, 23, 0)
        ], "every hour, the quiet ones too"
        assert [p["tickets_sold"] for p in hourly] == [2, 0, 0, 0, 0, 0, 0, 1]
        morning = await client.get(
            f"{analytics}/sales",
            params={
                "group": "hour",
                "since": "2030-01-01T18:30:00Z",
                "until": "2030-01-01T19:00:00Z",
            },
            headers=headers,
        )
        assert [p["start"] for p in morning.json()["periods"]] == ["2030-01-02T00:00:00+05:30"]

        revenue = (await client.get(f"{analytics}/revenue", headers=headers)).json()
        assert revenue["total"]["gross"] == {"minor": 7500, "currency": "EUR"}
        assert revenue["total"]["tickets_sold"] == 3
        assert [(r["name"], r["tickets_sold"]) for r in revenue["by_ticket_type"]] == [
            ("Standard", 3)
        ]
        assert [r["name"] for r in revenue["by_gateway"]] == ["none (free or paid by hand)"]
        tax_kept = revenue["total"]["tax"]["minor"]
        assert revenue["total"]["net"]["minor"] == 7500 - tax_kept

        funnel = (await client.get(f"{analytics}/funnel", headers=headers)).json()
        assert funnel == {
            "views": 3,
            "holds": 3,
            "orders": 2,
            "paid": 2,
            "holds_percent": "100.0",
            "orders_percent": "66.7",
            "paid_percent": "100.0",
        }
        checkins = (await client.get(f"{analytics}/check-ins", headers=headers)).json()
        assert (checkins["valid_tickets"], checkins["checked_in"], checkins["percent"]) == (
            3,
            1,
            "33.3",
        )
        assert checkins["periods"] == [{"start": "2030-01-01T17:00:00+05:30", "scans": 1}]
        summary = (await client.get(f"{analytics}/summary", headers=headers)).json()
        assert (summary["capacity"], summary["revenue"]["tickets_sold"]) == (10, 3)
        assert summary["waitlist"] == []

        for params in (
            {"since": "2030-01-01T00:00:00"},  # no offset
            {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
            {"group": "week"},
            {"group": "hour", "since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
        ):
            refused = await client.get(f"{analytics}/sales", params=params, headers=headers)
            assert refused.status_code == 400, (params, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")

        assert (await client.get(f"{analytics}/revenue")).status_code == 401
        other = await sign_up(client, platform, "rival@example.org")
        await organization(client, other, "rival")
        assert (await client.get(f"{analytics}/revenue", headers=auth(other))).status_code in (
            403,
            404,
        )
        assert (await client.get("/api/v1/admin/analytics", headers=auth(other))).status_code == 403
        await make_admin(platform, "rival@example.org")
        figures = (await client.get("/api/v1/admin/analytics", headers=auth(other))).json()
        assert [(f["currency"], f["orders_paid"], f["gross"]["minor"]) for f in figures] == [
            ("EUR", 2, 7500)
        ]


async def test_promo_codes_and_the_waiting_list(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, quotas={"Hall": (2, ["Standard"])}
        )
        await client.post(
            f"{base}/promo-codes",
            json={"code": "FRIENDS", "kind": "fixed", "value": 500},
            headers=headers,
        )
        buyer = Buyer(client, store, "friend@example.org")
        held = await buyer.hold(promo_code="FRIENDS", Standard=2)
        order = (await buyer.order(held.json())).json()
        await client.post(f"{base}/orders/{order['number']}/mark-paid", headers=headers)
        joined = await client.post(
            f"/api/v1/events/{store.event.id}/waitlist",
            json={
                "ticket_type_id": str(store.types["Standard"]),
                "quantity": 3,
                "name": "Late",
                "email": "late@example.org",
            },
        )
        assert joined.status_code == 201, joined.text
        await platform.dispatcher.run_until_idle()
        promos = (await client.get(f"{base}/analytics/promo-codes", headers=headers)).json()
        assert [(p["code"], p["orders"], p["tickets"], p["discount"]["minor"]) for p in promos] == [
            ("FRIENDS", 1, 2, 1000)
        ]
        waiting = (await client.get(f"{base}/analytics/waiting-list", headers=headers)).json()
        assert [(w["name"], w["waiting"], w["tickets_wanted"], w["offered"]) for w in waiting] == [
            ("Standard", 1, 3, 0)
        ]


async def test_capacity_counts_a_nested_quota_once(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        _, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            types={"Standing": 2500, "Seated": 4000, "Workshop": 1000},
            quotas={
                "Hall": (300, ["Standing", "Seated"]),
                "Seats": (80, ["Seated"]),  # within the hall
                "Room": (20, ["Workshop"]),  # elsewhere
            },
        )
        summary = (await client.get(f"{base}/analytics/summary", headers=headers)).json()
    assert summary["capacity"] == 320
