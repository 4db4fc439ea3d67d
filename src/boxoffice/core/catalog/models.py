from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.db import Base, CurrencyCode, UTCDateTime, UUIDType
from boxoffice.core.ids import new_id


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
    #: The compliance region id (plugins.toml): drives tax and payment routing.
    region: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(CurrencyCode())
    #: ISO 639-1 code of the texts; search stems with it.
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
