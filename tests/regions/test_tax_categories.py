"""A ticket type's tax category, over HTTP on both engines: the organizer says a ticket
admits to a concert ("culture"), the event's region pack taxes it by its law, and one order
of a concert ticket and a standard one carries both rates."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.booking.test_checkout import checkout, rows


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_a_concert_ticket_is_taxed_at_the_reduced_rate_beside_a_standard_one(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        # Hamburg: a workshop ticket (standard, 19 %) at 119.00.
        store, headers, base = await organizer_shop(
            client, platform, clock, types={"Workshop": 11900}
        )
        concert = {"name": "Concert", "price": {"minor": 10700, "currency": "EUR"}}
        refused = await client.post(
            f"{base}/ticket-types", headers=headers, json={**concert, "tax_category": "opera"}
        )
        assert refused.status_code == 400, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["body.tax_category"]
        before = await rows(platform)

        created = await client.post(
            f"{base}/ticket-types", headers=headers, json={**concert, "tax_category": "culture"}
        )
        assert created.status_code == 201, created.text
        assert created.json()["tax_category"] == "culture"
        concert_id = created.json()["id"]
        quota = await client.post(
            f"{base}/quotas",
            headers=headers,
            json={"name": "Concert hall", "capacity": 50, "ticket_types": [concert_id]},
        )
        assert quota.status_code == 201, quota.text
        listed = (await client.get(f"/api/v1/events/{store.event.id}/ticket-types")).json()
        assert {t["name"]: t["tax_category"] for t in listed} == {
            "Workshop": "standard",
            "Concert": "culture",
        }

        items = [
            {"ticket_type_id": concert_id, "quantity": 2},
            {"ticket_type_id": str(store.types["Workshop"]), "quantity": 1},
        ]
        sold = await checkout(client, store, items=items)
        assert sold.status_code == 201, sold.text
        breakdown = sold.json()["breakdown"]
        assert [(t["name"], t["percent"], t["amount"]["minor"]) for t in breakdown["taxes"]] == [
            ("VAT", "7", 1400),  # 7 % of 214.00 included
            ("VAT", "19", 1900),  # 19 % of 119.00 included
        ]
        assert [line["tax"]["minor"] for line in breakdown["lines"]] == [1400, 1900]
        assert sold.json()["total"]["minor"] == 2 * 10700 + 11900
        assert (await rows(platform))[1] == before[1] + 1
