"""The ``ch`` region pack: Switzerland and Liechtenstein.

Swiss VAT (MWST/TVA/IVA), which Liechtenstein applies too, included in consumer prices.
Admissions to cultural and sporting events are exempt by law (MWSTG Art. 21) unless the
organizer opts to tax them; the pack taxes at the standard rate until tax categories let an
organizer say which (docs/design/regions.md). Privacy: the nFADP.
Rates: ``rates.toml`` beside this file, each dated, with its source.
"""

from __future__ import annotations

from boxoffice.core.compliance.rates import RateTable, TabledRegion


class Switzerland(TabledRegion):
    id = "ch"
    name = "Switzerland and Liechtenstein"
    rates = RateTable.of_package(__name__)


register_compliance_regions = Switzerland.hook()
