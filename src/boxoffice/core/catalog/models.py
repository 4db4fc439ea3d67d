from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, CurrencyCode, JSONType, UTCDateTime, UUIDType


class Event(Base):
    """The thing people attend. Times are UTC; ``timezone`` is how they are shown."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        Index("ix_event_status_starts_at_id", "status", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    venue_name: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    #: ISO 3166-2 ("CA-QC"), where taxes differ by province or state; "" elsewhere.
    subdivision: Mapped[str] = mapped_column(String(6), default="", server_default="")
    #: [{"name", "percent"}]: the organizer's own rates, where the region's law leaves them to
    #: the seller (US sales tax); empty elsewhere.
    tax_rates: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    #: The compliance region id (plugins.toml): drives tax and payment routing.
    region: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(CurrencyCode())
    #: ISO 639-1 code of the texts; search stems with it.
    language: Mapped[str] = mapped_column(String(8), default="en")
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("category.id", ondelete="SET NULL"), index=True
    )
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    #: An online event: the link is shown only to ticket holders.
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    online_url: Mapped[str] = mapped_column(String(500), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    refund_policy: Mapped[str] = mapped_column(Text, default="")
    #: Buyers may cancel for a refund until this many hours before the start; None: never.
    refund_deadline_hours: Mapped[int | None] = mapped_column(Integer)
    #: The organizer's booking fee per ticket (minor units), added to what the buyer pays.
    fee_per_ticket_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: How long a buyer's selection holds seats before it lapses.
    hold_ttl_seconds: Mapped[int] = mapped_column(Integer, default=600)
    #: A deferred payment's deadline for this event (else the gateway's), in hours.
    deferred_payment_hours: Mapped[int | None] = mapped_column(Integer)
    #: Holders may transfer their tickets to someone else.
    tickets_transferable: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    #: Tickets one buyer (by e-mail) may have in live orders for this event; None: no limit.
    max_tickets_per_buyer: Mapped[int | None] = mapped_column(Integer)
    #: The start date in the event's own zone ("YYYY-MM-DD"), so "events on 1 May" can mean
    #: 1 May where each event happens, in one indexed comparison.
    local_start_date: Mapped[str] = mapped_column(String(10), default="", index=True)
    #: Set on each occurrence of a recurring series (each one a full event of its own).
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("event_series.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The start time the day-before reminders were queued for (a new start reminds again).
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventSeries(Base):
    """A recurring event: the rule its occurrences were made from (RFC 5545 RRULE, in the
    event's local time, so 19:00 stays 19:00 across daylight-saving changes)."""

    __tablename__ = "event_series"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Category(Base):
    """A managed list (platform admins) with a name per locale."""

    __tablename__ = "category"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    #: locale -> name, e.g. {"en": "Music", "de": "Musik"}; "en" is always present.
    names: Mapped[dict[str, str]] = mapped_column(JSONType)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketType(Base):
    """What a buyer picks: a name, a price and the rules for selling it."""

    __tablename__ = "ticket_type"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The price in the event currency's minor units (Money without the currency column).
    price_minor: Mapped[int] = mapped_column(BigInteger)
    #: Early-bird and tiered prices, in order: [{"price_minor", "until", "up_to_sold"}]; the
    #: first step whose conditions hold applies, else ``price_minor`` (see booking.pricing).
    price_steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    #: What it admits to, for its tax (``core.compliance.region.TAX_CATEGORIES``).
    tax_category: Mapped[str] = mapped_column(
        String(20), default="standard", server_default="standard"
    )
    currency: Mapped[str] = mapped_column(CurrencyCode())
    sales_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sales_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    min_per_order: Mapped[int] = mapped_column(Integer, default=1)
    max_per_order: Mapped[int] = mapped_column(Integer, default=10)
    #: "public", "hidden" (unlocked by a promo code) or "code" (needs ``access_code``).
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    access_code: Mapped[str | None] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Quota(Base):
    """Seats shared by one or several ticket types. ``sold`` and ``held`` only ever change
    through one conditional UPDATE each (the booking engine), and a CHECK constraint keeps
    ``sold + held <= capacity`` true on both engines whatever happens."""

    __tablename__ = "quota"
    __table_args__ = (
        CheckConstraint("sold >= 0 AND held >= 0", name="counts_not_negative"),
        CheckConstraint("sold + held <= capacity", name="within_capacity"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int] = mapped_column(Integer)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuotaTicketType(Base):
    __tablename__ = "quota_ticket_type"

    quota_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("quota.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("ticket_type.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class EventImage(Base):
    """An event picture: re-encoded renditions in the media store, by key."""

    __tablename__ = "event_image"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    #: rendition name ("full", "thumb") -> media store key
    keys: Mapped[dict[str, str]] = mapped_column(JSONType)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
