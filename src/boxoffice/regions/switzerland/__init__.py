"""The ``ch`` region pack: Switzerland and Liechtenstein.

Swiss VAT (MWST/TVA/IVA), which Liechtenstein applies too, included in consumer prices.
Admissions to cultural and sporting events are exempt by law (MWSTG Art. 21) unless the
organizer opts to tax them; the pack taxes at the standard rate until tax categories let an
organizer say which (docs/design/regions.md). Privacy: the nFADP.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Switzerland(TabledRegion):
    id = "ch"
    name = "Switzerland and Liechtenstein"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id", "buyer.name"}),
        tax_id_kind="vat",  # the UID with the MWST suffix (CHE-123.456.789 MWST)
    )
    privacy = PrivacyRegime(
        law="nFADP (revised Federal Act on Data Protection)",
        retention_days={"orders": 3653, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = Switzerland.hook()
