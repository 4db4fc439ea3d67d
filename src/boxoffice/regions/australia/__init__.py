"""The ``au`` region pack: Australia.

GST at 10 %, included in the prices shown to consumers (the Competition and Consumer Act's
all-inclusive pricing). Privacy: the Privacy Act 1988 and its Australian Privacy Principles.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Australia(TabledRegion):
    id = "au"
    name = "Australia"
    business_rules = BusinessRules(
        # A tax invoice names the seller and its ABN (the buyer too from AUD 1,000).
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
        tax_id_kind="abn",
    )
    privacy = PrivacyRegime(
        law="Privacy Act 1988 (Australian Privacy Principles); Spam Act 2003",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # APP 1: a privacy policy with how to complain
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = Australia.hook()
