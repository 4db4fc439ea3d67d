"""The ``za`` region pack: South Africa.

VAT at 15 %, included in the prices shown to consumers. Privacy: POPIA.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class SouthAfrica(TabledRegion):
    id = "za"
    name = "South Africa"
    rates = RateTable.of_package(__name__)


register_compliance_regions = SouthAfrica.hook()
