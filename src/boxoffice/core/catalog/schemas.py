"""What the catalog takes in and hands out (msgspec Structs; validated at the edge)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import ensure_utc
from boxoffice.core.compliance.region import STANDARD, TAX_CATEGORIES, OrganizerRate
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.fields import (
    CountryCode,
    Position,
    SingleLine,
    SubdivisionCode,
    TimeZone,
    country,
)
from boxoffice.core.money import MAX_MINOR, Money, Price, is_currency

Title = Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=200)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,118}[a-z0-9])?$")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[\w][\w -]*$")]


#: Events happen within these years (a date far out overflows time zone arithmetic, and no
#: one sells tickets for the year 9999).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2199


class EventDraft(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    title: Title
    timezone: TimeZone
    starts_at: datetime
    ends_at: datetime
    region: str
    currency: str
    description: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    venue_name: Annotated[SingleLine, msgspec.Meta(max_length=200)] = ""
    city: Annotated[SingleLine, msgspec.Meta(max_length=120)] = ""
    country: CountryCode | None = None
    #: Where taxes differ by province or state (Canada, India): ISO 3166-2 ("CA-QC").
    subdivision: SubdivisionCode | None = None
    #: Where the region's law leaves tax rates to the seller (US sales tax): the state and
    #: local rates the organizer charges, added at checkout. Refused in other regions.
    tax_rates: Annotated[list[OrganizerRate], msgspec.Meta(max_length=5)] = []
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "en"
    category: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] = []
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    latitude: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    longitude: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    online: bool = False
    online_url: Annotated[str, msgspec.Meta(max_length=500, pattern=r"^(https://\S+)?$")] = ""
    contact_email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    refund_policy: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    refund_deadline_hours: Annotated[int, msgspec.Meta(ge=0, le=24 * 365)] | None = None
    hold_ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=3600)] = 600
    #: How long an order paid by a deferred method (bank transfer) keeps its seats; unset:
    #: the gateway's own deadline. Never past the event's start.
    deferred_payment_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 60)] | None = None
    #: Ticket holders may pass a ticket on to someone else (a new name and e-mail, a new
    #: credential; the old one stops working).
    tickets_transferable: bool = False
    #: The organizer's booking fee per ticket, in the event currency's minor units.
    fee_per_ticket_minor: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)] = 0
    max_tickets_per_buyer: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None

    def __post_init__(self) -> None:
        # Codes as a client may send them ("eur", "de"): stored in capitals.
        msgspec.structs.force_setattr(self, "currency", self.currency.upper())
        if self.country is not None:
            msgspec.structs.force_setattr(self, "country", country(self.country))
        if self.subdivision is not None:
            msgspec.structs.force_setattr(self, "subdivision", self.subdivision.upper())

    def validate(self) -> None:
        """Checks msgspec cannot express; raises one error naming every bad field."""
        problems: list[FieldError] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(FieldError("timezone", f"{self.timezone!r} is not an IANA time zone"))
        for name in ("starts_at", "ends_at"):
            moment = getattr(self, name)
            if moment.tzinfo is None:
                problems.append(FieldError(name, "give a time zone offset, e.g. 2030-05-01T19:00Z"))
            elif not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
                problems.append(FieldError(name, f"a year from {EARLIEST_YEAR} to {LATEST_YEAR}"))
        if not problems and self.ends_at <= self.starts_at:
            problems.append(FieldError("ends_at", "must be after starts_at"))
        if not is_currency(self.currency):
            problems.append(FieldError("currency", f"{self.currency!r} is not an ISO 4217 code"))
        if (self.latitude is None) != (self.longitude is None):
            problems.append(FieldError("longitude", "give both latitude and longitude, or neither"))
        if self.online and not self.online_url:
            problems.append(FieldError("online_url", "an online event needs its https:// link"))
        if self.subdivision and not self.subdivision.startswith(f"{self.country}-"):
            problems.append(
                FieldError(
                    "subdivision", f"{self.subdivision} is not in the country {self.country}"
                )
            )
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
    subdivision: str = ""
    tax_rates: list[OrganizerRate] = []
    currency: str
    language: str
    category: str | None = None
    tags: list[str] = []
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    online: bool = False
    #: Only organizers see it here; ticket holders get it with their tickets.
    online_url: str | None = None
    contact_email: str = ""
    refund_policy: str = ""
    refund_deadline_hours: int | None = None
    hold_ttl_seconds: int = 600
    deferred_payment_hours: int | None = None
    tickets_transferable: bool = False
    fee_per_ticket_minor: int = 0
    max_tickets_per_buyer: int | None = None
    #: Kilometres from the search point, in searches around a point.
    distance_km: float | None = None
    series_id: uuid.UUID | None = None
    #: Pictures, on the detail views (not in lists).
    images: list[ImageOut] = []

    @classmethod
    def of(
        cls,
        event: Event,
        *,
        categories: Mapping[uuid.UUID, str] | None = None,
        private: bool = False,
    ) -> EventOut:
        """``categories`` maps category ids to slugs; ``private`` adds what only organizers see."""
        zone = ZoneInfo(event.timezone)
        category = (categories or {}).get(event.category_id) if event.category_id else None
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
            subdivision=event.subdivision,
            tax_rates=[OrganizerRate(**rate) for rate in event.tax_rates or []],
            region=event.region,
            currency=event.currency,
            language=event.language,
            category=category,
            tags=list(event.tags or []),
            address=event.address,
            latitude=event.latitude,
            longitude=event.longitude,
            online=event.online,
            online_url=event.online_url if private else None,
            contact_email=event.contact_email,
            refund_policy=event.refund_policy,
            refund_deadline_hours=event.refund_deadline_hours,
            hold_ttl_seconds=event.hold_ttl_seconds,
            deferred_payment_hours=event.deferred_payment_hours,
            tickets_transferable=event.tickets_transferable,
            max_tickets_per_buyer=event.max_tickets_per_buyer,
            fee_per_ticket_minor=event.fee_per_ticket_minor,
            series_id=event.series_id,
        )


class EventPage(msgspec.Struct, frozen=True):
    items: list[EventOut]
    #: Pass as ``cursor`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None


class EventSearch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Discovery: every filter is optional and they combine (AND)."""

    q: Annotated[str, msgspec.Meta(max_length=200)] = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    cursor: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    #: The searcher's language, for stemming.
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] = "en"
    category: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    #: Start dates, inclusive. In ``tz`` when given (the viewer's zone), else each event's own.
    date_from: date | None = None
    date_to: date | None = None
    tz: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    city: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    country: CountryCode | None = None
    #: Around a point: all three together.
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    radius_km: Annotated[float, msgspec.Meta(gt=0, le=20_000)] | None = None
    #: Some public ticket type priced within the range (minor units of the event currency).
    price_min: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)] | None = None
    price_max: Annotated[int, msgspec.Meta(ge=0, le=MAX_MINOR)] | None = None
    free: bool = False
    #: Only events with a public ticket type that has seats left.
    available: bool = False
    #: "date" (default), "relevance" (needs q) or "distance" (needs lat, lon, radius_km).
    sort: Annotated[str, msgspec.Meta(pattern="^(date|relevance|distance)$")] | None = None

    def validate(self) -> None:
        problems: list[FieldError] = []
        near = (self.lat, self.lon, self.radius_km)
        if any(v is not None for v in near) and not all(v is not None for v in near):
            problems.append(FieldError("radius_km", "give lat, lon and radius_km together"))
        if self.sort == "distance" and self.radius_km is None:
            problems.append(FieldError("sort", "sorting by distance needs lat, lon and radius_km"))
        if self.sort == "relevance" and not self.q.strip():
            problems.append(FieldError("sort", "sorting by relevance needs q"))
        if self.date_from and self.date_to and self.date_to < self.date_from:
            problems.append(FieldError("date_to", "must not be before date_from"))
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_max < self.price_min
        ):
            problems.append(FieldError("price_max", "must not be below price_min"))
        if self.tz is not None:
            try:
                ZoneInfo(self.tz)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(FieldError("tz", f"{self.tz!r} is not an IANA time zone"))
        if problems:
            raise ValidationFailed("the search has invalid parameters", errors=problems)

    @property
    def effective_sort(self) -> str:
        if self.sort:
            return self.sort
        return "relevance" if self.q.strip() else "date"


class StatusChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    status: str


Visibility = Annotated[str, msgspec.Meta(pattern="^(public|hidden|code)$")]
TaxCategory = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^({'|'.join(TAX_CATEGORIES)})$",
        description="; ".join(f"{name}: {meaning}" for name, meaning in TAX_CATEGORIES.items()),
    ),
]


class PriceStep(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A price that applies while ``until`` has not passed and fewer than ``up_to_sold``
    tickets of the type are sold (either condition may be left out)."""

    price: Price
    until: datetime | None = None
    up_to_sold: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None


class TicketTypeIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=120)]
    price: Price
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    sales_start: datetime | None = None
    sales_end: datetime | None = None
    min_per_order: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    max_per_order: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10
    visibility: Visibility = "public"
    access_code: Annotated[str, msgspec.Meta(min_length=4, max_length=60)] | None = None
    position: Position = 0
    #: Early-bird / tiered prices, checked in order (the first that applies wins).
    price_steps: Annotated[list[PriceStep], msgspec.Meta(max_length=20)] = []
    #: What the ticket admits to, for its tax: "standard", "culture" or "sport" (the event's
    #: region pack taxes each by its law: a concert at 7 % in Germany).
    tax_category: TaxCategory = STANDARD


class TicketTypeOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    description: str
    #: The price now (early-bird or tier price while one applies).
    price: Money
    sales_start: datetime | None
    sales_end: datetime | None
    min_per_order: int
    max_per_order: int
    visibility: str
    #: Seats left: the smallest remaining among its quotas (0 without a quota).
    available: int
    on_sale: bool
    access_code: str | None = None  # organizers only
    #: The price once no step applies.
    regular_price: Money | None = None
    price_steps: list[PriceStep] = []
    tax_category: str = STANDARD


class QuotaIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    capacity: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
    ticket_types: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=100)]


class QuotaOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    capacity: int
    sold: int
    held: int
    available: int
    ticket_types: list[uuid.UUID]


class CategoryIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")]
    #: locale -> name; must include "en".
    names: dict[
        Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")],
        Annotated[str, msgspec.Meta(min_length=1, max_length=80)],
    ]
    position: Position = 0


class CategoryOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    slug: str
    name: str  # in the requested locale, falling back to English
    names: dict[str, str]
    position: int


class ImageOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    width: int
    height: int
    #: rendition name ("full", "thumb") -> URL
    urls: dict[str, str]
    position: int


Weekday = Annotated[str, msgspec.Meta(pattern="^(MO|TU|WE|TH|FR|SA|SU)$")]


class SeriesRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When the occurrences happen, counted from the template event's own start."""

    frequency: Annotated[str, msgspec.Meta(pattern="^(daily|weekly|monthly)$")]
    interval: Annotated[int, msgspec.Meta(ge=1, le=52)] = 1
    #: For weekly series: the days, e.g. ["TU", "TH"]; default: the template's weekday.
    weekdays: Annotated[list[Weekday], msgspec.Meta(max_length=7)] = []
    #: The last day (in the event's zone), or a number of occurrences: one of the two.
    until: date | None = None
    count: Annotated[int, msgspec.Meta(ge=1, le=366)] | None = None


class SeriesOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    rule: str
    events: list[EventOut]
