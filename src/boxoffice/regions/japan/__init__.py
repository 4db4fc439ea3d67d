"""The ``jp`` region pack: Japan.

Consumption tax (national 7.8 % and local 2.2 %, charged as one 10 %), included in the
prices shown to consumers (total-price display is required since 2021-04-01). Fractions of a
yen are dropped, the common practice; the qualified-invoice rules round once per invoice
and rate, this platform once per line (docs/design/regions.md). Privacy: the APPI.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from decimal import ROUND_DOWN

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Japan(TabledRegion):
    id = "jp"
    name = "Japan"
    rates = RateTable.of_package(__name__)
    rounding = ROUND_DOWN


register_compliance_regions = Japan.hook()
