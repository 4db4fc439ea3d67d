"""The ``us`` pack over HTTP, on both engines: the organizer sets the sales tax rates of an
event (the platform knows none), the checkout adds them; rates are refused where a region
sets its own."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, organization, sign_up

NEW_YORK_CITY = [
    {"name": "New York State", "percent": "4"},
    {"name": "New York City", "percent": "4.5"},
    {"name": "MCTD", "percent": "0.375"},
]


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_an_organizer_sets_the_sales_tax_and_the_checkout_adds_it(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "owner@example.org")
        org = await organization(client, owner, "gotham")
        base = f"/api/v1/organizations/{org['id']}/events"
        new_york = {
            "timezone": "America/New_York",
            "city": "New York",
            "currency": "USD",
            "region": "us",
            "country": "US",
            "subdivision": "US-NY",
        }
        in_the_eu = await client.post(
            base, headers=auth(owner), json=factories.event_body(clock, tax_rates=NEW_YORK_CITY)
        )
        assert in_the_eu.status_code == 422, in_the_eu.text
        assert [e["field"] for e in in_the_eu.json()["errors"]] == ["tax_rates"]
        comma = await client.post(
            base,
            headers=auth(owner),
            json=factories.event_body(
                clock, **new_york, tax_rates=[{"name": "NY", "percent": "8,875"}]
            ),
        )
        assert comma.status_code == 400, comma.text
        assert "decimal string" in comma.json()["errors"][0]["message"]
        assert (await client.get(base, headers=auth(owner))).json() == [], "nothing created"

        created = await client.post(
            base,
            headers=auth(owner),
            json=factories.event_body(clock, **new_york, tax_rates=NEW_YORK_CITY),
        )
        assert created.status_code == 201, created.text
        event = created.json()
        assert event["tax_rates"] == NEW_YORK_CITY
        ticket_type = await client.post(
            f"{base}/{event['id']}/ticket-types",
            headers=auth(owner),
            json={"name": "Standard", "price": {"minor": 10000, "currency": "USD"}},
        )
        assert ticket_type.status_code == 201, ticket_type.text
        quota = await client.post(
            f"{base}/{event['id']}/quotas",
            headers=auth(owner),
            json={"name": "Hall", "capacity": 50, "ticket_types": [ticket_type.json()["id"]]},
        )
        assert quota.status_code == 201, quota.text
        published = await client.post(
            f"{base}/{event['id']}/status", headers=auth(owner), json={"status": "published"}
        )
        assert published.status_code == 200, published.text

        sold = await client.post(
            f"/api/v1/events/{event['id']}/orders",
            json={
                "items": [{"ticket_type_id": ticket_type.json()["id"], "quantity": 1}],
                "buyer": {"name": "Fan", "email": "fan@example.org"},
            },
        )
        assert sold.status_code == 201, sold.text
        breakdown = sold.json()["breakdown"]
        assert [
            (t["name"], t["jurisdiction"], t["amount"]["minor"]) for t in breakdown["taxes"]
        ] == [
            ("New York State", "US-NY", 400),
            ("New York City", "US-NY", 450),
            ("MCTD", "US-NY", 38),
        ]
        assert breakdown["total"]["minor"] == 10000 + 400 + 450 + 38
