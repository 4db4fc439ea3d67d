"""The ``eu`` region pack: its conformance and its VAT rates, day by day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from boxoffice.core.compliance.region import CULTURE, SPORT, TaxQuery
from boxoffice.core.money import Money
from boxoffice.regions.eu import EuropeanUnion
from boxoffice.testing import ComplianceRegionConformance, TaxExample


def eur(*amounts: int) -> tuple[Money, ...]:
    return tuple(Money(amount, "EUR") for amount in amounts)


class TestEuropeanUnion(ComplianceRegionConformance):
    @pytest.fixture
    def region(self) -> EuropeanUnion:
        return EuropeanUnion()

    @pytest.fixture
    def tax_examples(self) -> list[TaxExample]:
        """Consumer prices include VAT: the tax is price * rate / (100 + rate), rounded
        half up once."""
        return [
            TaxExample("DE", date(2026, 1, 1), Money(5000, "EUR"), (Money(798, "EUR"),)),
            TaxExample("DE", date(2026, 1, 1), Money(1000, "EUR"), (Money(160, "EUR"),)),
            TaxExample("FI", date(2024, 9, 1), Money(10000, "EUR"), (Money(2032, "EUR"),)),
            TaxExample("FI", date(2024, 8, 31), Money(10000, "EUR"), (Money(1935, "EUR"),)),
            TaxExample("RO", date(2025, 8, 1), Money(12100, "EUR"), (Money(2100, "EUR"),)),
            TaxExample("HU", date(2026, 3, 1), Money(12700, "EUR"), (Money(2700, "EUR"),)),
            # Admission to a concert or a play (category "culture"): the reduced rates.
            TaxExample("DE", date(2026, 1, 1), Money(5000, "EUR"), eur(327), "", CULTURE),
            TaxExample("FR", date(2026, 1, 1), Money(2500, "EUR"), eur(130), "", CULTURE),
            TaxExample("ES", date(2026, 1, 1), Money(11000, "EUR"), eur(1000), "", CULTURE),
            TaxExample("FI", date(2025, 1, 1), Money(11400, "EUR"), eur(1400), "", CULTURE),
            TaxExample("FI", date(2024, 12, 31), Money(11000, "EUR"), eur(1000), "", CULTURE),
            # Denmark has no reduced rate for it: the standard 25 %.
            TaxExample("DK", date(2026, 1, 1), Money(10000, "EUR"), eur(2000), "", CULTURE),
            # Sport is not a category the EU's data distinguishes: standard.
            TaxExample("DE", date(2026, 1, 1), Money(11900, "EUR"), eur(1900), "", SPORT),
        ]

    def test_27_member_states(self, region: EuropeanUnion) -> None:
        assert len(region.countries) == 27
        assert "GB" not in region.countries

    @pytest.mark.parametrize(
        ("country", "on", "percent"),
        [
            ("DE", date(2026, 1, 1), "19"),
            ("FI", date(2024, 8, 31), "24"),
            ("FI", date(2024, 9, 1), "25.5"),
            ("SK", date(2025, 1, 1), "23"),
            ("RO", date(2025, 7, 31), "19"),
            ("RO", date(2025, 8, 1), "21"),
            ("EE", date(2025, 7, 1), "24"),
            ("HU", date(2026, 1, 1), "27"),
        ],
    )
    def test_rates_in_force_on_the_day(
        self, region: EuropeanUnion, country: str, on: date, percent: str
    ) -> None:
        treatment = region.tax_treatment(TaxQuery(country=country, on=on))
        assert treatment is not None
        [vat] = treatment.components
        assert (vat.name, vat.jurisdiction, vat.percent) == ("VAT", country, Decimal(percent))
        assert vat.source.startswith("https://")
        assert treatment.inclusive

    def test_before_any_known_rate_and_other_categories(self, region: EuropeanUnion) -> None:
        assert region.tax_treatment(TaxQuery(country="LU", on=date(2000, 1, 1))) is None
        standard = region.tax_treatment(TaxQuery(country="DE", on=date(2026, 1, 1)))
        other = TaxQuery(country="DE", on=date(2026, 1, 1), category="no-such-category")
        assert region.tax_treatment(other) == standard, "a category without lines is standard"
