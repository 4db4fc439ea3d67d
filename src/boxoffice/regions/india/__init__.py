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


class India(TabledRegion):
    id = "in"
    name = "India"
    rates = RateTable.of_package(__name__)


register_compliance_regions = India.hook()
