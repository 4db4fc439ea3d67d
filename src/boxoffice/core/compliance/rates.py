"""Tax rates as data: what a region pack ships in its ``rates.toml``, and the rate in force on a
given day.

Rates change by law on a date. Kept as data, each with the date it takes effect and the source
it comes from, a change is one dated line (reviewable against its source) and takes effect on
its day; a price computed for a sale on some day uses the rate in force that day. The file::

    [[rate]]
    jurisdiction = "DE"          # ISO 3166-1 alpha-2, or ISO 3166-2 ("CA-QC") for a province
    tax = "VAT"                  # the name invoices show
    category = "standard"        # what it applies to
    percent = "19"               # a decimal string, never a float
    from = 2021-01-01            # in force from this day on (until a later line replaces it)
    source = "https://..."       # where the rate is published
    replaces = "GST"             # optional, on a subdivision's tax: the national tax it
                                 # takes the place of there (Ontario's HST replaces the GST)

A jurisdiction may levy several taxes (one history per tax name). A sale in a subdivision
pays the country's taxes and the subdivision's, less those the subdivision's replace: in
Québec GST and QST, in Ontario HST alone. A category with no line of its own in a
jurisdiction falls back to ``standard`` there (a reduced rate for admissions is a few lines,
not a copy of the table). A rate of ``"0"`` is in force and charges nothing (an exemption
that began on a day).

A pack whose taxes differ by subdivision lists them all at the top, so that an event must
name one and a typo is refused::

    subdivisions = ["CA-AB", "CA-BC", ...]

The file is checked when loaded (a pack with a bad file does not load): every field present,
the percent a decimal between 0 and 100, for each (jurisdiction, category, tax) the dates
strictly ascending in the order written, and a subdivision's lines only for a listed one.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from typing import Annotated

import msgspec

from boxoffice.core.compliance.region import (
    STANDARD,
    BusinessRules,
    PrivacyRegime,
    TaxComponent,
    TaxQuery,
    TaxTreatment,
)
from boxoffice.core.errors import ConfigurationError
from boxoffice.core.hookspecs import hookimpl

JURISDICTION = r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$"
SUBDIVISION = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"


class Rate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    jurisdiction: Annotated[str, msgspec.Meta(pattern=JURISDICTION)]
    tax: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    percent: str
    since: date = msgspec.field(name="from")
    source: Annotated[str, msgspec.Meta(pattern=r"^https://\S+$")]
    replaces: str = ""

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.percent)

    def component(self) -> TaxComponent:
        return TaxComponent(
            name=self.tax, jurisdiction=self.jurisdiction, percent=self.decimal, source=self.source
        )


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rate: list[Rate]
    subdivisions: list[Annotated[str, msgspec.Meta(pattern=SUBDIVISION)]] = []


class RateTable:
    """A pack's rates, answering "which taxes were in force there on that day"."""

    def __init__(self, rates: list[Rate], subdivisions: frozenset[str] = frozenset()) -> None:
        self.subdivisions = subdivisions
        self._by_key: dict[tuple[str, str, str], list[Rate]] = {}
        #: (jurisdiction, category) -> the names of the taxes levied there, in file order
        self._taxes: dict[tuple[str, str], list[str]] = {}
        for rate in rates:
            _check_percent(rate)
            if "-" in rate.jurisdiction and rate.jurisdiction not in subdivisions:
                raise ConfigurationError(
                    f"{rate.jurisdiction} has rates but is not in the file's subdivisions list"
                )
            history = self._by_key.setdefault((rate.jurisdiction, rate.category, rate.tax), [])
            if history and history[-1].since >= rate.since:
                raise ConfigurationError(
                    f"tax rates of {rate.jurisdiction} ({rate.tax}, {rate.category}) must be in "
                    f"date order: {rate.since} comes after {history[-1].since}"
                )
            if not history:
                self._taxes.setdefault((rate.jurisdiction, rate.category), []).append(rate.tax)
            history.append(rate)
        self._starts = {key: [r.since for r in history] for key, history in self._by_key.items()}

    @classmethod
    def parse(cls, text: str, origin: str = "rates.toml") -> RateTable:
        try:
            data = msgspec.convert(tomllib.loads(text), _File)
        except (tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
            raise ConfigurationError(f"{origin}: {error}") from error
        try:
            return cls(data.rate, frozenset(data.subdivisions))
        except ConfigurationError as error:
            raise ConfigurationError(f"{origin}: {error}") from error

    @classmethod
    def of_package(cls, package: str, name: str = "rates.toml") -> RateTable:
        """The rates file shipped in ``package`` (a region pack's own folder)."""
        text = (resources.files(package) / name).read_text(encoding="utf-8")
        return cls.parse(text, f"{package}/{name}")

    def jurisdictions(self, category: str | None = None) -> frozenset[str]:
        return frozenset(j for j, c in self._taxes if category is None or c == category)

    def countries(self) -> frozenset[str]:
        """The countries with rates of their own or a listed subdivision."""
        return frozenset(j for j in self.jurisdictions() if "-" not in j) | frozenset(
            code.split("-")[0] for code in self.subdivisions
        )

    def in_force(self, jurisdiction: str, category: str, on: date) -> list[Rate] | None:
        """The taxes levied for ``category`` in ``jurisdiction`` on day ``on``, falling back
        to ``standard`` where the category has none in force there; ``None`` where none is
        known (another jurisdiction, or before the first line)."""
        found = self._in_force(jurisdiction, category, on)
        if not found and category != STANDARD:
            found = self._in_force(jurisdiction, STANDARD, on)
        return found or None

    def _in_force(self, jurisdiction: str, category: str, on: date) -> list[Rate]:
        found = []
        for tax in self._taxes.get((jurisdiction, category), ()):
            key = (jurisdiction, category, tax)
            index = bisect_right(self._starts[key], on)
            if index:
                found.append(self._by_key[key][index - 1])
        return found

    def components(
        self, country: str, subdivision: str, category: str, on: date
    ) -> tuple[TaxComponent, ...] | None:
        """The taxes of a sale in ``country`` (and ``subdivision``, if any) on ``on``: the
        country's, less those the subdivision's replace, then the subdivision's; rates of
        zero left out. ``None`` where neither is known."""
        national = self.in_force(country, category, on)
        local = self.in_force(subdivision, category, on) if subdivision else None
        if national is None and local is None:
            return None
        replaced = {rate.replaces for rate in local or ()}
        chosen = [rate for rate in national or () if rate.tax not in replaced] + (local or [])
        return tuple(rate.component() for rate in chosen if rate.decimal)


class TabledRegion:
    """A region pack whose taxes are all in its ``rates.toml``: a subclass names itself and
    its table, and says whether consumer prices include the tax::

        class Canada(TabledRegion):
            id, name, inclusive = "ca", "Canada", False
            rates = RateTable.of_package(__name__)

        register_compliance_regions = Canada.hook()
    """

    id: str
    name: str
    rates: RateTable
    business_rules: BusinessRules
    privacy: PrivacyRegime
    inclusive: bool = True
    rounding: str = ROUND_HALF_UP
    organizer_sets_rates = False

    def __init__(self) -> None:
        self.countries = self.rates.countries()
        self.subdivisions = self.rates.subdivisions

    @classmethod
    def hook(cls) -> Callable[[], Sequence[TabledRegion]]:
        """The pack's ``register_compliance_regions`` hook implementation: a pack module
        says ``register_compliance_regions = MyRegion.hook()``."""

        def register_compliance_regions() -> Sequence[TabledRegion]:
            return [cls()]

        return hookimpl(register_compliance_regions)

    def tax_treatment(self, query: TaxQuery) -> TaxTreatment | None:
        components = self.rates.components(
            query.country, query.subdivision, query.category, query.on
        )
        if components is None:
            return None
        return TaxTreatment(components=components, inclusive=self.inclusive, rounding=self.rounding)


def _check_percent(rate: Rate) -> None:
    try:
        percent = Decimal(rate.percent)
    except InvalidOperation:
        percent = Decimal(-1)
    if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100):
        raise ConfigurationError(
            f"tax rate {rate.percent!r} of {rate.jurisdiction} is not a percent from 0 to 100"
        )
