"""The compliance region conformance suite."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest

from boxoffice.core.booking.pricing import line_tax
from boxoffice.core.compliance.region import ComplianceRegion, TaxRate
from boxoffice.core.money import Money
from boxoffice.testing.conformance.base import ConformanceSuite, check_id

ROUNDING_MODES = frozenset(
    getattr(decimal, name) for name in dir(decimal) if name.startswith("ROUND_")
)


class TaxExample(NamedTuple):
    """A real case the pack must get right: a ticket ``price`` (as shown to the buyer) in
    ``country`` on ``on`` carries ``tax``."""

    country: str
    on: date
    price: Money
    tax: Money
    category: str = "standard"


class ComplianceRegionConformance(ConformanceSuite):
    """Every region pack passes these. Provide a ``region`` fixture and a ``tax_examples``
    fixture: real cases (with their rounding) the pack must get right, computed by the same
    code that prices orders.

    It checks: the declared countries; every country has a well-formed standard rate today
    and in two years (data that runs out fails here first); rates state a real rounding
    mode and a ``Decimal`` percentage; unknown countries and categories have no rate; and
    the examples come out to the minor unit.
    """

    @pytest.fixture
    def tax_examples(self) -> Sequence[TaxExample]:
        raise NotImplementedError(
            "give the region's real cases as a tax_examples fixture (a list of TaxExample): "
            "without them the suite cannot tell a right rate from a wrong one"
        )

    @staticmethod
    def today() -> date:
        return datetime.now(UTC).date()

    def test_declares_what_it_is(self, region: ComplianceRegion) -> None:
        assert isinstance(region, ComplianceRegion), "does not satisfy the protocol"
        check_id(region.id)
        assert isinstance(region.name, str)
        assert region.name.strip(), "a region has a name"
        assert region.countries, "a region covers at least one country"
        wrong = sorted(c for c in region.countries if len(c) != 2 or not c.isupper())
        assert not wrong, f"not ISO 3166 alpha-2 country codes: {wrong}"

    @pytest.mark.parametrize("years_ahead", [0, 2])
    def test_every_country_has_a_standard_rate(
        self, region: ComplianceRegion, years_ahead: int
    ) -> None:
        on = self.today() + timedelta(days=365 * years_ahead)
        for country in sorted(region.countries):
            rate = region.tax_rate(country, on)
            assert rate is not None, f"no standard rate for {country} on {on}"
            self.check_rate(rate, country)
            assert region.tax_rate(country, on) == rate, "the same question, another answer"

    @staticmethod
    def check_rate(rate: TaxRate, country: str) -> None:
        assert isinstance(rate, TaxRate)
        assert rate.country == country, f"asked for {country}, got a rate for {rate.country}"
        assert isinstance(rate.name, str)
        assert rate.name.strip(), "a tax has a name (VAT, GST)"
        assert isinstance(rate.percent, Decimal), f"{country}: percent must be a Decimal"
        assert 0 <= rate.percent < 100, f"{country}: {rate.percent} %"
        assert isinstance(rate.inclusive, bool)
        assert rate.rounding in ROUNDING_MODES, f"{country}: unknown rounding {rate.rounding!r}"

    def test_unknown_countries_and_categories_have_no_rate(self, region: ComplianceRegion) -> None:
        today = self.today()
        assert region.tax_rate("XX", today) is None
        some = sorted(region.countries)[0]
        assert region.tax_rate(some, today, category="no-such-category") is None

    def test_real_examples(
        self, region: ComplianceRegion, tax_examples: Sequence[TaxExample]
    ) -> None:
        assert tax_examples, "give at least one real example"
        for example in tax_examples:
            rate = region.tax_rate(example.country, example.on, example.category)
            assert rate is not None, f"no rate for {example}"
            self.check_rate(rate, example.country)
            tax = line_tax(example.price.minor, rate)
            assert Money(tax, example.price.currency) == example.tax, (
                f"{example.price} in {example.country} on {example.on}: tax "
                f"{Money(tax, example.price.currency)}, expected {example.tax}"
            )
