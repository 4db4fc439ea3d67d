"""The ``eu`` region pack: the European Union's 27 member states.

Standard VAT rates per member state (``rates.toml``: data, each rate with the day it took
effect and its source), so a price computed for a given day uses the rate in force that day.
Consumer prices in the EU include VAT. The regions work adds reduced rates for admissions to
cultural events, GDPR retention and consent rules to this pack (docs/design/regions.md).
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion

#: Standard VAT per member state, dated, with its source: data in ``rates.toml`` (see
#: :mod:`boxoffice.core.compliance.rates`), checked when the pack loads.
RATES = RateTable.of_package(__name__)


class EuropeanUnion(TabledRegion):
    id = "eu"
    name = "European Union"
    rates = RATES


register_compliance_regions = EuropeanUnion.hook()
