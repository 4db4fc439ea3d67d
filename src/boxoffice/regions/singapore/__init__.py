"""The ``sg`` region pack: Singapore.

GST, included in the prices shown to consumers (IRAS requires GST-inclusive display).
Privacy: the PDPA.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Singapore(TabledRegion):
    id = "sg"
    name = "Singapore"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
        tax_id_kind="uen",
    )
    privacy = PrivacyRegime(
        law="PDPA 2012 (and its Do Not Call provisions)",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # the data protection officer's business contact
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = Singapore.hook()
