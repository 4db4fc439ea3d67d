"""The compliance region protocol: what a region pack (EU, UK, CA, ...) states."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

import msgspec


class TaxRate(msgspec.Struct, frozen=True):
    """A tax rate in percent (``Decimal("21")``), how prices state it and how it rounds."""

    country: str
    name: str  # "VAT", "GST", ...
    percent: Decimal
    #: Consumer prices include the tax (EU) or add it at checkout (US, CA).
    inclusive: bool = True
    #: A ``decimal`` rounding mode, applied once per line.
    rounding: str = ROUND_HALF_UP


@runtime_checkable
class ComplianceRegion(Protocol):
    id: str  # "eu": the name plugins.toml and events use
    name: str
    #: ISO 3166 alpha-2 codes of the countries the region covers.
    countries: frozenset[str]

    def tax_rate(self, country: str, on: date, category: str = "standard") -> TaxRate | None:
        """The rate for ``category`` in ``country`` on day ``on``; ``None`` if none applies."""
        ...
