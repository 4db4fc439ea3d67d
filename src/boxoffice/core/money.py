"""Money: integer minor units plus an ISO 4217 currency code. Never a float.

The number of minor digits comes from ISO 4217 via babel (JPY 0, EUR 2, BHD 3). Arithmetic
between different currencies is refused. Conversions from :class:`~decimal.Decimal` round
exactly once, with a rounding mode the caller names (the region states it).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Annotated

import msgspec
from babel.core import Locale
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_territory_currencies,
    list_currencies,
)

from boxoffice.core.fields import countries

DEFAULT_ROUNDING = ROUND_HALF_EVEN


class CurrencyError(ValueError):
    pass


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    """The ISO 4217 codes that are legal tender somewhere today (CLDR, through babel): not
    the withdrawn ones (DEM), nor the codes for gold, tests and no currency (XAU, XTS, XXX)."""
    today = date.today()  # noqa: DTZ011 - which currencies exist is a matter of days
    codes: set[str] = set()
    for territory in countries():
        codes.update(get_territory_currencies(territory, today, tender=True))
    return frozenset(codes & set(list_currencies()))


_KNOWN = _known_currencies()


def validate_currency(code: str) -> str:
    """Return ``code`` if it is an ISO 4217 code babel knows; raise :class:`CurrencyError`."""
    if not isinstance(code, str) or len(code) != 3 or not code.isupper():
        raise CurrencyError(f"{code!r} is not an ISO 4217 currency code (three capital letters)")
    if code not in _known_currencies():
        raise CurrencyError(f"{code!r} is not a known ISO 4217 currency code")
    return code


def is_currency(code: str) -> bool:
    try:
        validate_currency(code)
    except CurrencyError:
        return False
    return True


@lru_cache(maxsize=512)
def minor_digits(currency: str) -> int:
    """How many minor digits ``currency`` has: the ISO 4217 exponent."""
    return int(get_currency_precision(validate_currency(currency)))


#: The largest amount the API takes, in minor units (ten billion of a two-decimal
#: currency): a hundred tickets at that price still add up far below 2^63, the limit of
#: the database's integers, so no sum of accepted prices can overflow.
MAX_MINOR = 10**12


class Money(msgspec.Struct, frozen=True, order=False):
    """An amount in a currency's minor unit: ``Money(1999, "EUR")`` is EUR 19.99."""

    minor: int
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]

    def __post_init__(self) -> None:
        # The common case first and cheaply (a purchase builds dozens of amounts).
        if type(self.minor) is int and type(self.currency) is str and self.currency in _KNOWN:
            return
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor must be an int of minor units, never a float")
        if isinstance(self.currency, str) and self.currency.upper() in _KNOWN:
            msgspec.structs.force_setattr(self, "currency", self.currency.upper())  # "eur"
            return
        validate_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, amount: Decimal | str, currency: str, rounding: str = DEFAULT_ROUNDING
    ) -> Money:
        """Convert a major-unit decimal (``Decimal("19.99")``) rounding once to the exponent."""
        value = Decimal(amount)
        scaled = value.scaleb(minor_digits(currency)).quantize(Decimal(1), rounding=rounding)
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int; use Decimal and from_decimal")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def format(self, locale: str | Locale = "en") -> str:
        """Human text in ``locale``: ``Money(1999, "EUR").format("de_DE") == "19,99 €"``."""
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"


class Price(Money, frozen=True):
    """An amount the API takes as a price (of a ticket, a price step): never negative, at
    most :data:`MAX_MINOR`. Totals are :class:`Money` (they may add up to more)."""

    minor: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)]
