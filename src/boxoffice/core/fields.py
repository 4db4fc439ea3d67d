"""Input field types that several domains' schemas share. Each states its bounds, so that
the OpenAPI document says them and no input reaches a column it does not fit (a 4xx at the
edge on both engines, never a database error)."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import msgspec
from babel import Locale as BabelLocale

#: BCP 47 language tags: RFC 5646 asks implementations to take at least 35 characters.
LOCALE_LENGTH = 35
Locale = Annotated[
    str,
    msgspec.Meta(
        max_length=LOCALE_LENGTH,
        pattern=r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$",
        description="a BCP 47 language tag, e.g. de or pt-BR",
    ),
]

#: IANA time zone names ("Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5");
#: whether the zone exists is checked by the service.
TIME_ZONE_LENGTH = 64
TimeZone = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=TIME_ZONE_LENGTH,
        pattern=r"^[A-Za-z][A-Za-z0-9_+\-/]*$",
        description="an IANA time zone, e.g. Europe/Berlin",
    ),
]

#: A phone number in international (E.164) form, as text-message providers take it.
PHONE_PATTERN = r"^\+[1-9][0-9]{6,14}$"
PhoneNumber = Annotated[
    str,
    msgspec.Meta(
        max_length=16,
        pattern=PHONE_PATTERN,
        description="a phone number in international form (E.164), e.g. +4915112345678",
    ),
]


#: Text that is one line: no line breaks or other control characters (names and titles end up
#: in e-mail subjects, PDF tickets and CSV exports, where a line break is an injection).
#: A position in a list an organizer orders (ticket types, questions, pictures).
Position = Annotated[int, msgspec.Meta(ge=0, le=100_000)]

SingleLine = Annotated[
    str, msgspec.Meta(pattern=r"^[^\x00-\x1f\x7f]*$", description="one line of text")
]

#: Codes CLDR lists as regions but that are no country: unknown, groupings, private use.
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the world's countries and territories (CLDR's list,
    Kosovo's XK included)."""
    codes = [str(code) for code in BabelLocale("en").territories]
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


#: A country code as a client may send it (any case); :func:`country` checks and normalizes.
CountryCode = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2, e.g. DE")
]

SubdivisionCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([A-Za-z]{2}-[A-Za-z0-9]{1,3})?$",
        description='an ISO 3166-2 subdivision code, e.g. CA-QC (or "" for none)',
    ),
]

TaxId = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]{1,29}$",
        description="a tax id of letters and digits (spaces, dots, dashes and slashes allowed), "
        "e.g. DE123456789",
    ),
]

PercentText = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,2}(?:\.[0-9]{1,4})?$",
        description='a percent from 0 to 99.9999 as a decimal string, e.g. "8.875"',
    ),
]


def country(code: str) -> str:
    """``code`` in capitals if it is a real country code; ``ValueError`` (a 400 naming the
    field, when raised while decoding a request) otherwise."""
    upper = code.upper()
    if upper not in countries():
        raise ValueError(f"{code!r} is not an ISO 3166 country code")
    return upper


def pattern_descriptions() -> dict[str, str]:
    """What each of these fields' patterns means in words, for error messages ("a phone
    number in international form ..." rather than the regular expression)."""
    found: dict[str, str] = {}
    for value in globals().values():
        for meta in getattr(value, "__metadata__", ()):
            if isinstance(meta, msgspec.Meta) and meta.pattern and meta.description:
                found[meta.pattern] = meta.description
    return found
