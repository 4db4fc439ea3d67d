"""The compliance region protocol: what a region pack (EU, UK, CA, ...) states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

import msgspec

from boxoffice.core.errors import FieldError, RuleViolated


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


#: The enabled region pack with an id, or ``None``: what the platform hands the core (the
#: core never imports plugins).
RegionLookup = Callable[[str], ComplianceRegion | None]


class RegionNotProvided(RuleViolated):
    """An event names a region no enabled pack provides: without the pack there is no tax
    rule, so the event is neither created, published nor sold (never sold untaxed)."""

    slug = "region-not-provided"
    title = "No enabled region pack provides the event's region"


def require_region(
    regions: RegionLookup, region_id: str, *, field: str = "region"
) -> ComplianceRegion:
    """The pack for ``region_id``, or :class:`RegionNotProvided` naming ``field``."""
    region = regions(region_id)
    if region is None:
        raise RegionNotProvided(
            f"no enabled region pack provides the region {region_id!r}: ops enable packs in "
            "plugins.toml ([regions] enabled)",
            errors=[FieldError(field, f"{region_id!r} is not an enabled region")],
            extra={"rule": "region_provided", "region": region_id},
        )
    return region
