"""The ``nz`` region pack: New Zealand.

GST at 15 %, included in the prices shown to consumers. Privacy: the Privacy Act 2020.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class NewZealand(TabledRegion):
    id = "nz"
    name = "New Zealand"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
        tax_id_kind="ird",
    )
    privacy = PrivacyRegime(
        law="Privacy Act 2020; Unsolicited Electronic Messages Act 2007",
        retention_days={"orders": 2557, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # a privacy officer
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = NewZealand.hook()
