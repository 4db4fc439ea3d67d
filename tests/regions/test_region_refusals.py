"""A missing region pack never means no tax: an event whose region no enabled pack provides
is refused at creation, at publication and at checkout, and ``plugins check`` names it."""

from __future__ import annotations

from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import counts, organizer_shop
from tests.booking.test_checkout import checkout, rows
from tests.identity.helpers import auth, organization, sign_up


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def assert_region_refused(response: Any, region: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/region-not-provided"), problem
    assert region in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == ["region"]


async def test_an_event_in_a_region_no_pack_provides_is_not_created(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "owner@example.org")
        org = await organization(client, owner, "regions")
        base = f"/api/v1/organizations/{org['id']}/events"
        refused = await client.post(
            base, headers=auth(owner), json=factories.event_body(clock, region="atlantis")
        )
        assert_region_refused(refused, "atlantis")
        assert (await client.get(base, headers=auth(owner))).json() == []
        created = await client.post(base, headers=auth(owner), json=factories.event_body(clock))
        assert created.status_code == 201, created.text
        moved = await client.put(
            f"{base}/{created.json()['id']}",
            headers=auth(owner),
            json=factories.event_body(clock, region="mars"),
        )
        assert_region_refused(moved, "mars")


async def test_a_disabled_pack_stops_publication_and_sales(
    platform: Platform,
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        sold = await checkout(client, store)
        assert sold.status_code == 201, sold.text
        assert sold.json()["breakdown"]["taxes"], "taxed while the pack is on"
    without_eu = make_platform(config=factories.WITHOUT_EU, entry_points=True)
    before = await rows(without_eu), await counts(without_eu.db, store.quotas["Hall"])
    async with make_client(without_eu) as client:
        refused = await checkout(client, store, email="late@example.org")
        assert_region_refused(refused, "eu")
        assert (await rows(without_eu), await counts(without_eu.db, store.quotas["Hall"])) == (
            before
        ), "a refused checkout changes nothing"
        postponed = await client.post(
            f"{base}/status", headers=headers, json={"status": "postponed"}
        )
        assert postponed.status_code == 200, postponed.text
        republished = await client.post(
            f"{base}/status", headers=headers, json={"status": "published"}
        )
        assert republished.status_code == 422, republished.text
        assert "region" in [e["field"] for e in republished.json()["errors"]]
