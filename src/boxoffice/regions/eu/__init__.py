"""The ``eu`` region pack: the European Union's 27 member states.

Standard VAT rates per member state (``rates.toml``: data, each rate with the day it took
effect and its source), so a price computed for a given day uses the rate in force that day.
Consumer prices in the EU include VAT.

Where a ticket is taxed (the VAT Directive, as amended by Directive 2022/542 from 2025):

- **Admission to a venue** is taxed where the event takes place, for consumers and
  businesses alike (Art. 53 and 54(1)): no reverse charge, whoever buys.
- **An online event** (streamed) is taxed where the buyer is (Art. 54(2)(b)): a consumer in
  France pays French VAT on a stream organized from Germany.
- **An online event sold to a business** established in another member state than the
  seller is reverse-charged (Art. 44 and 196): no VAT is charged, the buyer accounts for it,
  and the invoice says so. The buyer gives a VAT id (its check digits are verified; a VIES
  lookup is not made) and an address. The price the organizer set includes the VAT of the
  event's country, so the business pays that price net of it.
"""

from __future__ import annotations

import msgspec

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime, TaxQuery, TaxTreatment

#: What an invoice must say when the buyer accounts for the VAT (Art. 226(11a)).
REVERSE_CHARGE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196, Directive 2006/112/EC)"
)

#: Standard VAT per member state, dated, with its source: data in ``rates.toml`` (see
#: :mod:`boxoffice.core.compliance.rates`), checked when the pack loads.
RATES = RateTable.of_package(__name__)


class EuropeanUnion(TabledRegion):
    id = "eu"
    name = "European Union"
    business_rules = BusinessRules(
        # Art. 226 of the VAT Directive: the seller's VAT id, both parties' names and
        # addresses (the buyer's address and VAT id where the buyer accounts for the VAT).
        invoice_fields=frozenset({"seller.name", "seller.address", "seller.tax_id", "buyer.name"}),
        reverse_charge_fields=frozenset({"buyer.tax_id", "buyer.address"}),
        tax_id_kind="vat",
        strong_customer_authentication=True,  # PSD2
    )
    privacy = PrivacyRegime(
        law="GDPR",
        # Ten years covers the longest bookkeeping period of a member state (DE, FR, IT).
        retention_days={"orders": 3653, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # Art. 13(1)(a)-(b): controller and its DPO
    )
    rates = RATES

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        if not (query.online and query.buyer_country in self.countries):
            return super().tax_treatment(query)
        if self._reverse_charged(query):
            included = super().tax_treatment(query)
            if included is None:
                return None
            return msgspec.structs.replace(included, reverse_charge=True, mention=REVERSE_CHARGE)
        return super().tax_treatment(
            msgspec.structs.replace(query, country=query.buyer_country, subdivision="")
        )

    def _reverse_charged(self, query: TaxQuery) -> bool:
        """A business in another member state than the seller (the event's country when
        the organization gave none) buys an online event."""
        seller = query.seller_country or query.country
        return (
            bool(query.buyer_tax_id) and seller in self.countries and seller != query.buyer_country
        )


register_compliance_regions = EuropeanUnion.hook()
