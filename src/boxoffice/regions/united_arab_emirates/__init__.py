"""The ``ae`` region pack: United Arab Emirates.

VAT at 5 %, included in the prices shown to consumers. Privacy: the PDPL (Federal
Decree-Law 45 of 2021).
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class UnitedArabEmirates(TabledRegion):
    id = "ae"
    name = "United Arab Emirates"
    rates = RateTable.of_package(__name__)


register_compliance_regions = UnitedArabEmirates.hook()
