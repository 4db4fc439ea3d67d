"""The ``sg`` region pack: Singapore.

GST, included in the prices shown to consumers (IRAS requires GST-inclusive display).
Privacy: the PDPA.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Singapore(TabledRegion):
    id = "sg"
    name = "Singapore"
    rates = RateTable.of_package(__name__)


register_compliance_regions = Singapore.hook()
