"""The ``in`` region pack: India, by state and union territory.

GST on a ticket to an event, half to the Union (CGST) and half to the state where the event
is held (SGST, or UTGST in a union territory without a legislature): ``rates.toml``, each
rate dated, with its source, and what is not modelled yet. Prices to consumers include the
tax ("inclusive of all taxes"), so the tax is taken out of the price: 1,180.00 INR carries
90.00 CGST and 90.00 SGST. An event in India names its state (``subdivision``, e.g.
``IN-MH``). Privacy: the DPDP Act (docs/design/regions.md).

Admission to a performance, concert or sporting event (the ``culture`` and ``sport``
categories) is exempt up to INR 500 a ticket (notification 12/2017-Central Tax (Rate),
entry 81): a rule on the price, so it is code; above it ``culture`` pays the standard 18 %
and ``sport`` (leagues such as the IPL) the higher rate of ``rates.toml``.
"""

from __future__ import annotations

import msgspec

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import (
    CULTURE,
    SPORT,
    BusinessRules,
    PrivacyRegime,
    TaxQuery,
    TaxTreatment,
)
from boxoffice.core.money import Money

#: The most a ticket to a performance or sporting event may cost and be exempt.
EXEMPT_UP_TO = Money(50000, "INR")


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

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        treatment = super().tax_treatment(query)
        price = query.price
        if (
            treatment is not None
            and query.category in (CULTURE, SPORT)
            and price is not None
            and price.currency == EXEMPT_UP_TO.currency
            and price.minor <= EXEMPT_UP_TO.minor
        ):
            return msgspec.structs.replace(treatment, components=())
        return treatment


register_compliance_regions = India.hook()
