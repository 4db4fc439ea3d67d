"""The ``ca`` region pack: taxes by province (the issue's table), an event's place checked
against its region over HTTP, and a Québec checkout with two taxes on both engines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from boxoffice.core.clock import ManualClock
from boxoffice.core.money import Money
from boxoffice.platform import Platform
from boxoffice.regions.canada import Canada
from boxoffice.testing import ComplianceRegionConformance, TaxExample
from tests import factories
from tests.booking.helpers import organizer_shop
from tests.booking.test_checkout import checkout
from tests.identity.helpers import auth, organization, sign_up

TODAY = date(2026, 11, 30)


def cad(*amounts: int) -> tuple[Money, ...]:
    return tuple(Money(amount, "CAD") for amount in amounts)


class TestCanada(ComplianceRegionConformance):
    @pytest.fixture
    def region(self) -> Canada:
        return Canada()

    @pytest.fixture
    def tax_examples(self) -> list[TaxExample]:
        """Prices before tax; each tax on that price, rounded half up once."""
        hundred = Money(10000, "CAD")
        return [
            TaxExample("CA", TODAY, hundred, cad(1300), "CA-ON"),  # HST 13.00
            TaxExample("CA", TODAY, hundred, cad(500, 998), "CA-QC"),  # GST 5.00, QST 9.975
            TaxExample("CA", TODAY, Money(2000, "CAD"), cad(100, 200), "CA-QC"),  # 1.995 up
            TaxExample("CA", TODAY, hundred, cad(500), "CA-AB"),
            TaxExample("CA", TODAY, hundred, cad(500), "CA-BC"),  # PST not on admissions
            TaxExample("CA", TODAY, hundred, cad(500), "CA-NU"),
            TaxExample("CA", TODAY, hundred, cad(1500), "CA-NB"),
            TaxExample("CA", date(2025, 3, 31), hundred, cad(1500), "CA-NS"),
            TaxExample("CA", date(2025, 4, 1), hundred, cad(1400), "CA-NS"),
            TaxExample("CA", date(2016, 9, 30), hundred, cad(1400), "CA-PE"),
            TaxExample("CA", date(2016, 10, 1), hundred, cad(1500), "CA-PE"),
            TaxExample("CA", date(2022, 9, 30), hundred, cad(500), "CA-SK"),
            TaxExample("CA", date(2022, 10, 1), hundred, cad(500, 600), "CA-SK"),
        ]

    def test_thirteen_provinces_and_territories_and_prices_before_tax(self, region: Canada) -> None:
        assert region.countries == {"CA"}
        assert len(region.subdivisions) == 13
        assert not region.inclusive


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_an_event_must_be_placed_in_its_region_and_province(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        owner = await sign_up(client, platform, "owner@example.org")
        org = await organization(client, owner, "maple")
        base = f"/api/v1/organizations/{org['id']}/events"
        montreal = {"timezone": "America/Toronto", "city": "Montréal", "currency": "CAD"}

        async def create(**place: str) -> Any:
            body = factories.event_body(clock, **montreal, **place)
            return await client.post(base, headers=auth(owner), json=body)

        refusals = {
            "country": await create(region="eu", country="CA"),
            "subdivision": await create(region="ca", country="CA"),
        }
        for field, refused in refusals.items():
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["type"].endswith("/place-not-in-region"), problem
            assert [e["field"] for e in problem["errors"]] == [field]
        assert "'eu'" in refusals["country"].json()["detail"]
        assert "CA-AB" in refusals["subdivision"].json()["detail"], "an example to follow"
        elsewhere = await create(region="ca", country="CA", subdivision="FR-IDF")
        assert elsewhere.status_code == 400, elsewhere.text  # not even self-consistent
        assert [e["field"] for e in elsewhere.json()["errors"]] == ["subdivision"]
        unknown = await create(region="ca", country="CA", subdivision="CA-ZZ")
        assert unknown.status_code == 422, unknown.text
        assert (await client.get(base, headers=auth(owner))).json() == [], "nothing created"

        created = await create(region="ca", country="ca", subdivision="ca-qc")
        assert created.status_code == 201, created.text
        assert (created.json()["country"], created.json()["subdivision"]) == ("CA", "CA-QC")
        moved = await client.put(
            f"{base}/{created.json()['id']}",
            headers=auth(owner),
            json=factories.event_body(clock, **montreal, region="eu", country="CA"),
        )
        assert moved.status_code == 422, moved.text
        event = await client.get(f"{base}/{created.json()['id']}", headers=auth(owner))
        assert (event.json()["region"], event.json()["subdivision"]) == ("ca", "CA-QC")


async def test_a_checkout_in_quebec_adds_gst_and_qst(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, _, _ = await organizer_shop(
            client,
            platform,
            clock,
            **factories.QUEBEC,
            types={"Standard": 10000},
        )
        sold = await checkout(client, store)  # two tickets at 100.00
        assert sold.status_code == 201, sold.text
        breakdown = sold.json()["breakdown"]
        taxes = [
            (t["name"], t["jurisdiction"], t["percent"], t["amount"]["minor"], t["inclusive"])
            for t in breakdown["taxes"]
        ]
        assert taxes == [("GST", "CA", "5", 1000, False), ("QST", "CA-QC", "9.975", 1995, False)]
        assert breakdown["tax"]["minor"] == 2995
        assert (breakdown["total"]["minor"], breakdown["total"]["currency"]) == (22995, "CAD")
