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
from boxoffice.core.compliance.region import BusinessRules, PrivacyRegime


class Japan(TabledRegion):
    id = "jp"
    name = "Japan"
    business_rules = BusinessRules(
        # A qualified invoice carries the issuer's registration number (T + 13 digits).
        invoice_fields=frozenset({"seller.name", "seller.tax_id"}),
    )
    privacy = PrivacyRegime(
        law="APPI (Act on the Protection of Personal Information)",
        retention_days={"orders": 2557, "checkins": 365, "messages": 14, "sessions": 30},
    )
    rates = RateTable.of_package(__name__)
    rounding = ROUND_DOWN


register_compliance_regions = Japan.hook()
