"""The ``eu`` region pack: the European Union's 27 member states.

Standard VAT rates per member state, with their recent changes dated, so a price computed
for a given day uses the rate in force on that day. Consumer prices in the EU include VAT.
The regions work adds reduced rates for admissions to cultural events, GDPR retention and
consent rules to this pack.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from boxoffice.core.compliance.region import TaxRate
from boxoffice.core.hookspecs import hookimpl

#: country -> [(in force from, standard VAT percent)], oldest first.
STANDARD_VAT: dict[str, list[tuple[date, str]]] = {
    "AT": [(date(2016, 1, 1), "20")],
    "BE": [(date(1996, 1, 1), "21")],
    "BG": [(date(2007, 1, 1), "20")],
    "CY": [(date(2014, 1, 13), "19")],
    "CZ": [(date(2013, 1, 1), "21")],
    "DE": [(date(2021, 1, 1), "19")],
    "DK": [(date(1992, 1, 1), "25")],
    "EE": [(date(2024, 1, 1), "22"), (date(2025, 7, 1), "24")],
    "ES": [(date(2012, 9, 1), "21")],
    "FI": [(date(2013, 1, 1), "24"), (date(2024, 9, 1), "25.5")],
    "FR": [(date(2014, 1, 1), "20")],
    "GR": [(date(2016, 6, 1), "24")],
    "HR": [(date(2013, 1, 1), "25")],
    "HU": [(date(2012, 1, 1), "27")],
    "IE": [(date(2021, 3, 1), "23")],
    "IT": [(date(2013, 10, 1), "22")],
    "LT": [(date(2009, 9, 1), "21")],
    "LU": [(date(2024, 1, 1), "17")],
    "LV": [(date(2009, 1, 1), "21")],
    "MT": [(date(2004, 5, 1), "18")],
    "NL": [(date(2012, 10, 1), "21")],
    "PL": [(date(2011, 1, 1), "23")],
    "PT": [(date(2011, 1, 1), "23")],
    "RO": [(date(2017, 1, 1), "19"), (date(2025, 8, 1), "21")],
    "SE": [(date(1990, 7, 1), "25")],
    "SI": [(date(2013, 7, 1), "22")],
    "SK": [(date(2011, 1, 1), "20"), (date(2025, 1, 1), "23")],
}


class EuropeanUnion:
    id = "eu"
    name = "European Union"
    countries = frozenset(STANDARD_VAT)

    def tax_rate(self, country: str, on: date, category: str = "standard") -> TaxRate | None:
        if category != "standard" or country not in STANDARD_VAT:
            return None
        in_force = [percent for since, percent in STANDARD_VAT[country] if since <= on]
        if not in_force:
            return None
        return TaxRate(country=country, name="VAT", percent=Decimal(in_force[-1]), inclusive=True)


@hookimpl
def register_compliance_regions() -> Sequence[EuropeanUnion]:
    return [EuropeanUnion()]
