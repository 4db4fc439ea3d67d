"""The ``uk`` region pack: United Kingdom.

Great Britain and Northern Ireland: VAT at the standard rate, included in consumer prices.
Privacy: UK GDPR and the Data Protection Act 2018.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class UnitedKingdom(TabledRegion):
    id = "uk"
    name = "United Kingdom"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id", "buyer.name"}),
        tax_id_kind="vat",
        strong_customer_authentication=True,  # the FCA's SCA rules (PSD2 as retained)
    )
    privacy = PrivacyRegime(
        law="UK GDPR; Data Protection Act 2018; PECR",
        retention_days={"orders": 2192, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = UnitedKingdom.hook()
