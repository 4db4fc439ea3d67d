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

The file is checked when loaded (a pack with a bad file does not load): every field present,
the percent a decimal between 0 and 100, and for each (jurisdiction, category) the dates
strictly ascending in the order written.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Annotated

import msgspec

from boxoffice.core.errors import ConfigurationError


class Rate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    jurisdiction: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")]
    tax: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    percent: str
    since: date = msgspec.field(name="from")
    source: Annotated[str, msgspec.Meta(pattern=r"^https://\S+$")]

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.percent)


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rate: list[Rate]


class RateTable:
    """A pack's rates, answering "which rate was in force on that day"."""

    def __init__(self, rates: list[Rate]) -> None:
        self._by_key: dict[tuple[str, str], list[Rate]] = {}
        for rate in rates:
            _check_percent(rate)
            history = self._by_key.setdefault((rate.jurisdiction, rate.category), [])
            if history and history[-1].since >= rate.since:
                raise ConfigurationError(
                    f"tax rates of {rate.jurisdiction} ({rate.category}) must be in date order: "
                    f"{rate.since} comes after {history[-1].since}"
                )
            history.append(rate)
        self._starts = {key: [r.since for r in history] for key, history in self._by_key.items()}

    @classmethod
    def parse(cls, text: str, origin: str = "rates.toml") -> RateTable:
        try:
            data = tomllib.loads(text)
            return cls(msgspec.convert(data, _File).rate)
        except (tomllib.TOMLDecodeError, msgspec.ValidationError) as error:
            raise ConfigurationError(f"{origin}: {error}") from error

    @classmethod
    def of_package(cls, package: str, name: str = "rates.toml") -> RateTable:
        """The rates file shipped in ``package`` (a region pack's own folder)."""
        text = (resources.files(package) / name).read_text(encoding="utf-8")
        return cls.parse(text, f"{package}/{name}")

    def jurisdictions(self, category: str | None = None) -> frozenset[str]:
        return frozenset(j for j, c in self._by_key if category is None or c == category)

    def in_force(self, jurisdiction: str, category: str, on: date) -> Rate | None:
        """The rate for ``category`` in ``jurisdiction`` on day ``on``; ``None`` before the
        first one known, or for a jurisdiction or category the table does not have."""
        key = (jurisdiction, category)
        starts = self._starts.get(key)
        if starts is None:
            return None
        index = bisect_right(starts, on)
        return self._by_key[key][index - 1] if index else None


def _check_percent(rate: Rate) -> None:
    try:
        percent = Decimal(rate.percent)
    except InvalidOperation:
        percent = Decimal(-1)
    if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100):
        raise ConfigurationError(
            f"tax rate {rate.percent!r} of {rate.jurisdiction} is not a percent from 0 to 100"
        )
