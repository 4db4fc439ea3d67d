"""The ``mx`` region pack: Mexico.

IVA at 16 %, included in the prices shown to consumers (Profeco). The 8 % rate of the
northern and southern border regions applies by municipality to registered businesses and is
not modelled. Privacy: the LFPDPPP.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Mexico(TabledRegion):
    id = "mx"
    name = "Mexico"
    business_rules = BusinessRules(
        # A CFDI names the issuer by its RFC.
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
        tax_id_kind="rfc",
    )
    privacy = PrivacyRegime(
        law="LFPDPPP (Federal Law on the Protection of Personal Data Held by Private Parties)",
        retention_days={"orders": 1827, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # the aviso de privacidad names the person in charge
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = Mexico.hook()
