"""The ``ae`` region pack: United Arab Emirates.

VAT at 5 %, included in the prices shown to consumers. Privacy: the PDPL (Federal
Decree-Law 45 of 2021).
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class UnitedArabEmirates(TabledRegion):
    id = "ae"
    name = "United Arab Emirates"
    business_rules = BusinessRules(
        # A tax invoice carries the supplier's TRN and address.
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
    )
    privacy = PrivacyRegime(
        law="Federal Decree-Law No. 45 of 2021 (PDPL)",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = UnitedArabEmirates.hook()
