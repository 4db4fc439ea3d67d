"""Every bundled region pack: registered through its own entry point, conformant, and right
on real examples (the issue's table: a ticket's price and the taxes in it or on it)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any

import pytest

from boxoffice.core.compliance.region import CULTURE, ComplianceRegion, TaxComponent
from boxoffice.core.money import Money
from boxoffice.testing import ComplianceRegionConformance, TaxExample

TODAY = date(2026, 11, 30)


def taxes(currency: str, *amounts: int) -> tuple[Money, ...]:
    return tuple(Money(amount, currency) for amount in amounts)


def example(
    country: str, price: int, currency: str, *amounts: int, on: date = TODAY, **more: Any
) -> TaxExample:
    return TaxExample(country, on, Money(price, currency), taxes(currency, *amounts), **more)


#: What an organizer sets for an event in New York City: the state's, the city's and the
#: transportation district's sales tax (8.875 % in all).
NEW_YORK_CITY = tuple(
    TaxComponent(name=name, jurisdiction="US-NY", percent=Decimal(percent))
    for name, percent in (("New York State", "4"), ("New York City", "4.5"), ("MCTD", "0.375"))
)

#: Region id -> real cases. Prices include the tax except in Canada and the United States.
EXAMPLES: dict[str, list[TaxExample]] = {
    "uk": [
        example("GB", 6000, "GBP", 1000),
        example("GB", 11750, "GBP", 1750, on=date(2010, 6, 1)),
    ],
    "au": [example("AU", 11000, "AUD", 1000), example("AU", 2500, "AUD", 227)],
    "nz": [
        example("NZ", 11500, "NZD", 1500),
        example("NZ", 11250, "NZD", 1250, on=date(2010, 9, 30)),
    ],
    "sg": [
        example("SG", 10900, "SGD", 900, on=date(2024, 1, 1)),
        example("SG", 10800, "SGD", 800, on=date(2023, 12, 31)),
        example("SG", 10700, "SGD", 700, on=date(2022, 12, 31)),
    ],
    "jp": [
        example("JP", 3300, "JPY", 300),
        example("JP", 1000, "JPY", 90),  # 90.9: fractions of a yen dropped
        example("JP", 1080, "JPY", 80, on=date(2019, 9, 30)),
    ],
    "za": [
        example("ZA", 11500, "ZAR", 1500),
        example("ZA", 11400, "ZAR", 1400, on=date(2018, 3, 31)),
    ],
    "ch": [
        example("CH", 10810, "CHF", 810),
        example("LI", 10810, "CHF", 810),
        example("CH", 10770, "CHF", 770, on=date(2023, 12, 31)),
        example("CH", 10000, "CHF", category=CULTURE),  # cultural admissions: exempt
        example("LI", 10000, "CHF", category=CULTURE),
    ],
    "mx": [example("MX", 11600, "MXN", 1600)],
    "ae": [example("AE", 10500, "AED", 500)],
    "waemu": [
        example("SN", 11800, "XOF", 1800),
        example("CI", 5000, "XOF", 763),  # 762.7
        example("NE", 11900, "XOF", 1900),
    ],
    "br": [example("BR", 10000, "BRL")],  # taxes the organizer owes, none itemized
    "us": [
        example("US", 10000, "USD", subdivision="US-OR"),  # no rates set: untaxed
        example(
            "US",
            10000,
            "USD",
            400,
            450,
            38,  # 0.375, half up
            subdivision="US-NY",
            organizer_rates=NEW_YORK_CITY,
        ),
    ],
}

BUNDLED = {
    ep.name: ep
    for ep in entry_points(group="boxoffice")
    if ep.value.startswith("boxoffice.regions.")
}


def pack(region_id: str) -> ComplianceRegion:
    [region] = BUNDLED[region_id].load().register_compliance_regions()
    assert isinstance(region, ComplianceRegion)
    return region


def test_fifteen_packs_each_its_own_entry_point() -> None:
    assert len(BUNDLED) >= 15, sorted(BUNDLED)
    regions = {name: pack(name) for name in BUNDLED}
    assert all(region.id == name for name, region in regions.items())
    claimed: dict[str, str] = {}
    for region in regions.values():
        for country in region.countries:
            assert claimed.setdefault(country, region.id) == region.id, (country, region.id)
    assert {"DE", "GB", "CA", "US", "IN", "BR", "JP", "SN"} <= set(claimed)


class TestBundledPack(ComplianceRegionConformance):
    """The conformance suite and the examples above, for every pack the table names (eu,
    ca and in have modules of their own with more)."""

    @pytest.fixture(params=sorted(EXAMPLES))
    def region(self, request: pytest.FixtureRequest) -> ComplianceRegion:
        return pack(str(request.param))

    @pytest.fixture
    def tax_examples(self, region: ComplianceRegion) -> list[TaxExample]:
        return EXAMPLES[region.id]
