"""The ``in`` region pack: GST split between the Union and the state (or union territory)
where the event is held, taken out of a price that includes it."""

from __future__ import annotations

from datetime import date

import pytest

from boxoffice.core.compliance.region import CULTURE, SPORT, TaxQuery
from boxoffice.core.money import Money
from boxoffice.regions.india import India
from boxoffice.testing import ComplianceRegionConformance, TaxExample

TODAY = date(2026, 11, 30)


def inr(*amounts: int) -> tuple[Money, ...]:
    return tuple(Money(amount, "INR") for amount in amounts)


class TestIndia(ComplianceRegionConformance):
    @pytest.fixture
    def region(self) -> India:
        return India()

    @pytest.fixture
    def tax_examples(self) -> list[TaxExample]:
        """Prices include GST 18 %: each half is price * 9 / 118, rounded half up once."""
        return [
            TaxExample("IN", TODAY, Money(118000, "INR"), inr(9000, 9000), "IN-MH"),
            TaxExample("IN", TODAY, Money(49900, "INR"), inr(3806, 3806), "IN-KA"),  # 38.059
            TaxExample("IN", TODAY, Money(59000, "INR"), inr(4500, 4500), "IN-CH"),
            TaxExample("IN", date(2017, 7, 1), Money(118000, "INR"), inr(9000, 9000), "IN-DL"),
            # A concert or a match up to INR 500 a ticket: exempt; above: 18 % or, for a
            # league match, 28 % then 40 % from 2025-09-22.
            TaxExample("IN", TODAY, Money(50000, "INR"), (), "IN-MH", CULTURE),
            TaxExample("IN", TODAY, Money(50000, "INR"), (), "IN-MH", SPORT),
            TaxExample("IN", TODAY, Money(59000, "INR"), inr(4500, 4500), "IN-MH", CULTURE),
            TaxExample("IN", TODAY, Money(140000, "INR"), inr(20000, 20000), "IN-MH", SPORT),
            TaxExample(
                "IN", date(2025, 9, 21), Money(128000, "INR"), inr(14000, 14000), "IN-KA", SPORT
            ),
        ]

    @pytest.mark.parametrize(
        ("subdivision", "local_tax"),
        [("IN-MH", "SGST"), ("IN-DL", "SGST"), ("IN-CH", "UTGST"), ("IN-LA", "UTGST")],
    )
    def test_the_union_and_the_state_or_territory_each_levy_half(
        self, region: India, subdivision: str, local_tax: str
    ) -> None:
        treatment = region.tax_treatment(TaxQuery(country="IN", subdivision=subdivision, on=TODAY))
        assert treatment is not None
        assert treatment.inclusive
        assert [(c.name, c.jurisdiction, str(c.percent)) for c in treatment.components] == [
            ("CGST", "IN", "9"),
            (local_tax, subdivision, "9"),
        ]

    def test_before_gst_nothing_is_known(self, region: India) -> None:
        before = TaxQuery(country="IN", subdivision="IN-MH", on=date(2017, 6, 30))
        assert region.tax_treatment(before) is None
