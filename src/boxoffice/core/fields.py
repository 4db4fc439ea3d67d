"""Input field types that several domains' schemas share. Each states its bounds, so that
the OpenAPI document says them and no input reaches a column it does not fit (a 4xx at the
edge on both engines, never a database error)."""

from __future__ import annotations

from typing import Annotated

import msgspec

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
