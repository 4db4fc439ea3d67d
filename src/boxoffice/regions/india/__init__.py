"""The ``in`` region pack: India, by state and union territory.

GST on a ticket to an event, half to the Union (CGST) and half to the state where the event
is held (SGST, or UTGST in a union territory without a legislature): ``rates.toml``, each
rate dated, with its source, and what is not modelled yet. Prices to consumers include the
tax ("inclusive of all taxes"), so the tax is taken out of the price: 1,180.00 INR carries
90.00 CGST and 90.00 SGST. An event in India names its state (``subdivision``, e.g.
``IN-MH``). Privacy: the DPDP Act (docs/design/regions.md).
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class India(TabledRegion):
    id = "in"
    name = "India"
    business_rules = BusinessRules(
        # Rule 46 of the CGST Rules: the supplier's name, address and GSTIN.
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id", "buyer.name"}),
        tax_id_kind="gstin",
        strong_customer_authentication=True,  # the RBI's additional factor of authentication
    )
    privacy = PrivacyRegime(
        law="Digital Personal Data Protection Act 2023",
        retention_days={"orders": 2922, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # a contact for the data principal's questions
    )
    rates = RateTable.of_package(__name__)


register_compliance_regions = India.hook()
