"""The ``ca`` region pack: Canada, by province and territory.

Prices are shown before tax and the taxes are added at checkout, as Canadians expect. A ticket
pays the GST, or the HST in its place (New Brunswick, Newfoundland and Labrador, Nova Scotia,
Ontario, Prince Edward Island), and in Québec the QST beside the GST, in Saskatchewan the PST
(``rates.toml``: each rate dated, with its source). Each tax is computed on the price before
tax and rounded half up once per line: 100.00 CAD in Québec is 5.00 GST and 9.98 QST. An
event in Canada names its province (``subdivision``, e.g. ``CA-QC``). Privacy: PIPEDA
(Québec: Law 25); French must be offered in Québec (docs/design/regions.md).
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Canada(TabledRegion):
    id = "ca"
    name = "Canada"
    business_rules = BusinessRules(
        # The GST/HST registration number on receipts of $30 and more (ETA s. 169(4)).
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
        tax_id_kind="bn",
        languages={"CA-QC": ("fr",)},  # the Charter of the French language
    )
    privacy = PrivacyRegime(
        law="PIPEDA; CASL (messages); Québec: Law 25",
        retention_days={"orders": 2192, "checkins": 365, "messages": 14, "sessions": 30},
        privacy_contact_required=True,  # Law 25: the person in charge of personal information
    )
    rates = RateTable.of_package(__name__)
    inclusive = False


register_compliance_regions = Canada.hook()
