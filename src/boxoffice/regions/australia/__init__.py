"""The ``au`` region pack: Australia.

GST at 10 %, included in the prices shown to consumers (the Competition and Consumer Act's
all-inclusive pricing). Privacy: the Privacy Act 1988 and its Australian Privacy Principles.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Australia(TabledRegion):
    id = "au"
    name = "Australia"
    rates = RateTable.of_package(__name__)


register_compliance_regions = Australia.hook()
