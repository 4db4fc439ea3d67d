"""What the catalog takes in and hands out (msgspec Structs; validated at the edge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import ensure_utc
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.money import is_currency

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")]
CountryCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]


class EventDraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    title: Title
    timezone: str
    starts_at: datetime
    ends_at: datetime
    region: str
    currency: str
    description: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    venue_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    city: Annotated[str, msgspec.Meta(max_length=120)] = ""
    country: CountryCode | None = None
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "en"

    def validate(self) -> None:
        """Checks msgspec cannot express; raises one error naming every bad field."""
        problems: list[FieldError] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(FieldError("timezone", f"{self.timezone!r} is not an IANA time zone"))
        for name in ("starts_at", "ends_at"):
            if getattr(self, name).tzinfo is None:
                problems.append(FieldError(name, "give a time zone offset, e.g. 2030-05-01T19:00Z"))
        if not problems and self.ends_at <= self.starts_at:
            problems.append(FieldError("ends_at", "must be after starts_at"))
        if not is_currency(self.currency):
            problems.append(FieldError("currency", f"{self.currency!r} is not an ISO 4217 code"))
        if problems:
            raise ValidationFailed("the event has invalid fields", errors=problems)


class EventOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    organization_id: uuid.UUID
    slug: str
    title: str
    description: str
    status: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    #: ``starts_at``/``ends_at`` shown in the event's own time zone.
    starts_at_local: str
    ends_at_local: str
    venue_name: str
    city: str
    country: str
    region: str
    currency: str
    language: str

    @classmethod
    def of(cls, event: Event) -> EventOut:
        zone = ZoneInfo(event.timezone)
        return cls(
            id=event.id,
            organization_id=event.organization_id,
            slug=event.slug,
            title=event.title,
            description=event.description,
            status=event.status,
            timezone=event.timezone,
            starts_at=ensure_utc(event.starts_at),
            ends_at=ensure_utc(event.ends_at),
            starts_at_local=event.starts_at.astimezone(zone).isoformat(),
            ends_at_local=event.ends_at.astimezone(zone).isoformat(),
            venue_name=event.venue_name,
            city=event.city,
            country=event.country,
            region=event.region,
            currency=event.currency,
            language=event.language,
        )


class EventPage(msgspec.Struct, frozen=True):
    items: list[EventOut]
    #: Pass as ``cursor`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None


class EventSearch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    q: Annotated[str, msgspec.Meta(max_length=200)] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    cursor: str | None = None
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "en"


class StatusChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status: str
