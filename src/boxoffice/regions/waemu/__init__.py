"""The ``waemu`` region pack: West African Economic and Monetary Union (BCEAO).

The eight BCEAO countries (XOF): VAT included in consumer prices, at each country's rate
within the union's 15-20 % band. Personal data must stay in the country under several
members' laws: the pack's privacy regime carries a data-residency flag (docs/design/regions.md).
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Waemu(TabledRegion):
    id = "waemu"
    name = "West African Economic and Monetary Union (BCEAO)"
    rates = RateTable.of_package(__name__)


register_compliance_regions = Waemu.hook()
