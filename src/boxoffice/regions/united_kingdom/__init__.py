"""The ``uk`` region pack: United Kingdom.

Great Britain and Northern Ireland: VAT at the standard rate, included in consumer prices.
Privacy: UK GDPR and the Data Protection Act 2018.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class UnitedKingdom(TabledRegion):
    id = "uk"
    name = "United Kingdom"
    rates = RateTable.of_package(__name__)


register_compliance_regions = UnitedKingdom.hook()
