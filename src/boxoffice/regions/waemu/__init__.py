"""The ``waemu`` region pack: West African Economic and Monetary Union (BCEAO).

The eight BCEAO countries (XOF): VAT included in consumer prices, at each country's rate
within the union's 15-20 % band. Personal data must stay in the country under several
members' laws: the pack's privacy regime carries a data-residency flag (docs/design/regions.md).
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Waemu(TabledRegion):
    id = "waemu"
    name = "West African Economic and Monetary Union (BCEAO)"
    business_rules = BusinessRules(
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id"}),
    )
    privacy = PrivacyRegime(
        law="the member states' data protection laws (e.g. Senegal 2008-12, Côte d'Ivoire "
        "2013-450), under the ECOWAS Supplementary Act A/SA.1/01/10",
        retention_days={"orders": 3653, "checkins": 365, "messages": 14, "sessions": 30},
        # Several member states' laws restrict transfers out of the zone: keep the data there.
        data_residency="waemu",
        privacy_contact_required=True,
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = Waemu.hook()
