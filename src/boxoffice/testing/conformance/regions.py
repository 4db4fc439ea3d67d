"""The compliance region conformance suite."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest
from stdnum import get_cc_module

from boxoffice.core.booking.pricing import line_taxes
from boxoffice.core.compliance.region import (
    STANDARD,
    TAX_CATEGORIES,
    BusinessRules,
    ComplianceRegion,
    PrivacyRegime,
    TaxComponent,
    TaxQuery,
    TaxTreatment,
    place_problems,
)
from boxoffice.core.money import Money
from boxoffice.testing.conformance.base import ConformanceSuite, check_id

#: What :attr:`BusinessRules.invoice_fields` may name.
INVOICE_FIELDS = frozenset(
    f"{party}.{field}" for party in ("seller", "buyer") for field in ("name", "address", "tax_id")
)
#: What :attr:`PrivacyRegime.retention_days` may name.
RECORD_KINDS = frozenset({"orders", "checkins", "messages", "sessions"})

ROUNDING_MODES = frozenset(
    getattr(decimal, name) for name in dir(decimal) if name.startswith("ROUND_")
)


class TaxExample(NamedTuple):
    """A real case the pack must get right: a ticket ``price`` (as the organizer sets it:
    tax included where prices include it, before tax where it is added) sold in ``country``
    (and ``subdivision``) on ``on`` carries these ``taxes``, one amount per tax in the order
    the pack gives them (Québec: GST, then QST)."""

    country: str
    on: date
    price: Money
    taxes: tuple[Money, ...]
    subdivision: str = ""
    category: str = STANDARD
    #: Rates the organizer set on the event, for a pack that applies them (US sales tax).
    organizer_rates: tuple[TaxComponent, ...] = ()


class ComplianceRegionConformance(ConformanceSuite):
    """Every region pack passes these. Provide a ``region`` fixture and a ``tax_examples``
    fixture: real cases (with their rounding) the pack must get right, computed by the same
    code that prices orders.

    It checks: the declared countries and subdivisions; every country (and each of its
    subdivisions, where it has them) has a well-formed treatment today and in two years
    (data that runs out fails here first); treatments state a real rounding mode and
    ``Decimal`` percentages; unknown places have none; a country whose taxes differ by
    subdivision asks for one; every tax category (``TAX_CATEGORIES``) has an answer; the
    examples come out to the minor unit; and the business rules and privacy regime name
    fields, tax id kinds and record kinds the core knows.
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

    @staticmethod
    def places(region: ComplianceRegion) -> list[tuple[str, str]]:
        """(country, subdivision) for every place the pack taxes on its own terms."""
        found = []
        for country in sorted(region.countries):
            subdivisions = sorted(s for s in region.subdivisions if s.startswith(f"{country}-"))
            found += [(country, s) for s in subdivisions] or [(country, "")]
        return found

    def test_declares_what_it_is(self, region: ComplianceRegion) -> None:
        assert isinstance(region, ComplianceRegion), "does not satisfy the protocol"
        check_id(region.id)
        assert isinstance(region.name, str)
        assert region.name.strip(), "a region has a name"
        assert region.countries, "a region covers at least one country"
        wrong = sorted(c for c in region.countries if len(c) != 2 or not c.isupper())
        assert not wrong, f"not ISO 3166 alpha-2 country codes: {wrong}"
        assert isinstance(region.subdivisions, frozenset)
        assert isinstance(region.organizer_sets_rates, bool)
        strays = sorted(s for s in region.subdivisions if s[:2] not in region.countries)
        assert not strays, f"subdivisions of countries the region does not cover: {strays}"

    def test_states_its_business_rules(self, region: ComplianceRegion) -> None:
        rules = region.business_rules
        assert isinstance(rules, BusinessRules), "business_rules is a BusinessRules"
        fields = rules.invoice_fields | rules.reverse_charge_fields
        unknown = sorted(fields - INVOICE_FIELDS)
        assert not unknown, f"invoice fields the core does not know: {unknown}"
        if rules.tax_id_kind:
            known = [c for c in region.countries if get_cc_module(c.lower(), rules.tax_id_kind)]
            assert known, f"python-stdnum knows no {rules.tax_id_kind!r} id of these countries"
        for place, languages in rules.languages.items():
            assert place[:2] in region.countries, f"languages for {place}, not in the region"
            assert all(isinstance(language, str) and language for language in languages)

    def test_states_its_privacy_regime(self, region: ComplianceRegion) -> None:
        regime = region.privacy
        assert isinstance(regime, PrivacyRegime), "privacy is a PrivacyRegime"
        assert regime.law.strip(), "name the law"
        assert "orders" in regime.retention_days, "how long orders (tax records) are kept"
        unknown = sorted(set(regime.retention_days) - RECORD_KINDS)
        assert not unknown, f"record kinds the core does not keep: {unknown}"
        assert all(days > 0 for days in regime.retention_days.values())

    @pytest.mark.parametrize("years_ahead", [0, 2])
    def test_every_place_has_a_treatment(self, region: ComplianceRegion, years_ahead: int) -> None:
        on = self.today() + timedelta(days=365 * years_ahead)
        for country, subdivision in self.places(region):
            for category in TAX_CATEGORIES:
                query = TaxQuery(country=country, subdivision=subdivision, on=on, category=category)
                treatment = region.tax_treatment(query)
                place = f"{country} {subdivision} ({category})"
                assert treatment is not None, f"no treatment for {place} on {on}"
                self.check_treatment(treatment, place)
                assert region.tax_treatment(query) == treatment, "the same question, another answer"

    @staticmethod
    def check_treatment(treatment: TaxTreatment, place: str) -> None:
        assert isinstance(treatment, TaxTreatment)
        for component in treatment.components:
            assert component.name.strip(), "a tax has a name (VAT, GST)"
            assert isinstance(component.percent, Decimal), f"{place}: percent must be a Decimal"
            assert 0 <= component.percent < 100, f"{place}: {component.percent} %"
            assert component.jurisdiction[:2] == place[:2], (
                f"{place}: a tax levied by {component.jurisdiction}"
            )
        assert isinstance(treatment.inclusive, bool)
        assert treatment.rounding in ROUNDING_MODES, f"{place}: unknown rounding"

    def test_unknown_places_have_no_treatment(self, region: ComplianceRegion) -> None:
        today = self.today()
        assert region.tax_treatment(TaxQuery(country="XX", on=today)) is None

    def test_a_place_outside_the_region_is_refused(self, region: ComplianceRegion) -> None:
        outside = next(c for c in ("AQ", "XK", "US", "DE") if c not in region.countries)
        assert [p.field for p in place_problems(region, outside, "")] == ["country"]
        for country, subdivision in self.places(region):
            assert place_problems(region, country, subdivision) == [], (country, subdivision)
            if subdivision:
                missing = place_problems(region, country, "")
                assert [p.field for p in missing] == ["subdivision"], country

    def test_real_examples(
        self, region: ComplianceRegion, tax_examples: Sequence[TaxExample]
    ) -> None:
        assert tax_examples, "give at least one real example"
        for example in tax_examples:
            query = TaxQuery(
                country=example.country,
                subdivision=example.subdivision,
                on=example.on,
                category=example.category,
                price=example.price,
                organizer_rates=example.organizer_rates,
            )
            treatment = region.tax_treatment(query)
            assert treatment is not None, f"no treatment for {example}"
            self.check_treatment(treatment, f"{example.country} {example.subdivision}")
            currency = example.price.currency
            taxes = tuple(Money(t, currency) for t in line_taxes(example.price.minor, treatment))
            assert taxes == example.taxes, (
                f"{example.price} in {example.country} {example.subdivision} on {example.on}: "
                f"taxes {[str(t) for t in taxes]}, expected {[str(t) for t in example.taxes]}"
            )
