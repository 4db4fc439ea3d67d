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


class Canada(TabledRegion):
    id = "ca"
    name = "Canada"
    rates = RateTable.of_package(__name__)
    inclusive = False


register_compliance_regions = Canada.hook()
