"""The ``mx`` region pack: Mexico.

IVA at 16 %, included in the prices shown to consumers (Profeco). The 8 % rate of the
northern and southern border regions applies by municipality to registered businesses and is
not modelled. Privacy: the LFPDPPP.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Mexico(TabledRegion):
    id = "mx"
    name = "Mexico"
    rates = RateTable.of_package(__name__)


register_compliance_regions = Mexico.hook()
