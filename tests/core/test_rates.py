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


def table(*rows: str) -> RateTable:
    return RateTable.parse("\n".join(f"[[rate]]\n{row}\n{SOURCE}\n" for row in rows))


def test_the_rate_in_force_is_the_last_one_that_began() -> None:
    rates = table(
        'jurisdiction = "CA-NS"\ntax = "HST"\ncategory = "standard"\npercent = "15"\nfrom = 2010-07-01',
        'jurisdiction = "CA-NS"\ntax = "HST"\ncategory = "standard"\npercent = "14"\nfrom = 2025-04-01',
    )
    assert rates.in_force("CA-NS", "standard", date(2010, 6, 30)) is None
    before = rates.in_force("CA-NS", "standard", date(2025, 3, 31))
    after = rates.in_force("CA-NS", "standard", date(2025, 4, 1))
    assert before is not None
    assert before.decimal == Decimal("15")
    assert after is not None
    assert (after.decimal, after.tax) == (Decimal("14"), "HST")
    assert rates.in_force("CA-NS", "reduced", date(2026, 1, 1)) is None
    assert rates.in_force("CA-ON", "standard", date(2026, 1, 1)) is None
    assert rates.jurisdictions() == {"CA-NS"}


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
    ],
)
def test_an_impossible_file_is_refused(rows: list[str], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        table(*rows)


def test_the_eu_file_has_a_rate_in_force_today_for_every_member_state() -> None:
    today = date.today()
    assert len(RATES.jurisdictions("standard")) == 27
    for country in RATES.jurisdictions("standard"):
        rate = RATES.in_force(country, "standard", today)
        assert rate is not None, country
        assert rate.source.startswith("https://")
        assert Decimal(15) <= rate.decimal <= Decimal(28), (country, rate.percent)
