"""Tax rates as data (``rates.toml``): the rate in force on a day, and a file that says
something impossible refused when its pack loads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from boxoffice.core.compliance.rates import RateTable
from boxoffice.core.errors import ConfigurationError
from boxoffice.regions.eu import RATES

SOURCE = 'source = "https://example.org/notice"'


def table(*rows: str, subdivisions: str = "") -> RateTable:
    head = f"subdivisions = [{subdivisions}]\n" if subdivisions else ""
    return RateTable.parse(head + "\n".join(f"[[rate]]\n{row}\n{SOURCE}\n" for row in rows))


def test_the_rate_in_force_is_the_last_one_that_began() -> None:
    rates = table(
        'jurisdiction = "CA-NS"\ntax = "HST"\ncategory = "standard"\npercent = "15"\nfrom = 2010-07-01',
        'jurisdiction = "CA-NS"\ntax = "HST"\ncategory = "standard"\npercent = "14"\nfrom = 2025-04-01',
        subdivisions='"CA-NS", "CA-ON"',
    )
    assert rates.in_force("CA-NS", "standard", date(2010, 6, 30)) is None
    before = rates.in_force("CA-NS", "standard", date(2025, 3, 31))
    after = rates.in_force("CA-NS", "standard", date(2025, 4, 1))
    assert before is not None
    assert [rate.decimal for rate in before] == [Decimal("15")]
    assert after is not None
    assert [(rate.decimal, rate.tax) for rate in after] == [(Decimal("14"), "HST")]
    assert rates.in_force("CA-NS", "reduced", date(2026, 1, 1)) == after, "falls back"
    assert rates.in_force("CA-ON", "standard", date(2026, 1, 1)) is None
    assert rates.jurisdictions() == {"CA-NS"}
    assert rates.countries() == {"CA"}


def test_a_subdivision_adds_its_taxes_or_replaces_the_national_one() -> None:
    rates = table(
        'jurisdiction = "CA"\ntax = "GST"\ncategory = "standard"\npercent = "5"\nfrom = 2008-01-01',
        'jurisdiction = "CA-QC"\ntax = "QST"\ncategory = "standard"\npercent = "9.975"\nfrom = 2013-01-01',
        'jurisdiction = "CA-ON"\ntax = "HST"\ncategory = "standard"\npercent = "13"\nfrom = 2010-07-01\nreplaces = "GST"',
        'jurisdiction = "CA"\ntax = "GST"\ncategory = "culture"\npercent = "0"\nfrom = 2030-01-01',
        subdivisions='"CA-AB", "CA-ON", "CA-QC"',
    )
    day = date(2026, 1, 1)

    def taxes(subdivision: str, category: str = "standard", on: date = day) -> list[str]:
        found = rates.components("CA", subdivision, category, on)
        assert found is not None
        return [f"{c.name} {c.jurisdiction} {c.percent}" for c in found]

    assert taxes("CA-QC") == ["GST CA 5", "QST CA-QC 9.975"]
    assert taxes("CA-ON") == ["HST CA-ON 13"]
    assert taxes("CA-ON", on=date(2010, 6, 30)) == ["GST CA 5"], "before the HST began"
    assert taxes("") == ["GST CA 5"]
    assert taxes("CA-AB", "culture") == ["GST CA 5"], "an exemption not yet in force"
    assert taxes("CA-AB", "culture", date(2030, 1, 1)) == [], "a zero rate: known, no tax"
    assert rates.components("US", "", "standard", day) is None


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (
            [
                'jurisdiction = "DE"\ntax = "VAT"\ncategory = "standard"\npercent = "19"\nfrom = 2021-01-01',
                'jurisdiction = "DE"\ntax = "VAT"\ncategory = "standard"\npercent = "16"\nfrom = 2020-07-01',
            ],
            "date order",
        ),
        (
            [
                'jurisdiction = "DE"\ntax = "VAT"\ncategory = "standard"\npercent = "nineteen"\nfrom = 2021-01-01'
            ],
            "percent",
        ),
        (
            [
                'jurisdiction = "DE"\ntax = "VAT"\ncategory = "standard"\npercent = "190"\nfrom = 2021-01-01'
            ],
            "percent",
        ),
        (
            [
                'jurisdiction = "DE"\ntax = "VAT"\ncategory = "standard"\npercent = 19.0\nfrom = 2021-01-01'
            ],
            "str",
        ),
        (
            [
                'jurisdiction = "Germany"\ntax = "VAT"\ncategory = "standard"\npercent = "19"\nfrom = 2021-01-01'
            ],
            "jurisdiction",
        ),
        (['jurisdiction = "DE"\ntax = "VAT"\npercent = "19"\nfrom = 2021-01-01'], "category"),
        (
            [
                'jurisdiction = "CA-QX"\ntax = "QST"\ncategory = "standard"\npercent = "9"\nfrom = 2021-01-01'
            ],
            "subdivisions",
        ),
    ],
)
def test_an_impossible_file_is_refused(rows: list[str], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        table(*rows)


def test_the_eu_file_has_a_rate_in_force_today_for_every_member_state() -> None:
    today = date.today()
    assert len(RATES.jurisdictions("standard")) == 27
    for country in RATES.jurisdictions("standard"):
        found = RATES.in_force(country, "standard", today)
        assert found is not None, country
        [rate] = found
        assert rate.source.startswith("https://")
        assert Decimal(15) <= rate.decimal <= Decimal(28), (country, rate.percent)
