"""The ``za`` region pack: South Africa.

VAT at 15 %, included in the prices shown to consumers. Privacy: POPIA.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class SouthAfrica(TabledRegion):
    id = "za"
    name = "South Africa"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
    )
    privacy = PrivacyRegime(
        law="POPIA (Protection of Personal Information Act)",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # the information officer
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = SouthAfrica.hook()
