"""The ``nz`` region pack: New Zealand.

GST at 15 %, included in the prices shown to consumers. Privacy: the Privacy Act 2020.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class NewZealand(TabledRegion):
    id = "nz"
    name = "New Zealand"
    rates = RateTable.of_package(__name__)


register_compliance_regions = NewZealand.hook()
