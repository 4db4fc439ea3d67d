from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, JSONType, UTCDateTime, UUIDType


class WebhookEndpoint(Base):
    """Where an organization wants entries sent. Its signing secret is derived from the
    platform key, the endpoint's id and ``secret_generation`` (rotation adds one); only its
    hash is stored, as for links."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: Entry type names it wants; empty: every type an organization receives.
    entry_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret_hash: Mapped[str] = mapped_column(String(64))
    secret_generation: Mapped[int] = mapped_column(Integer, default=1)
    #: "active" or "disabled"
    status: Mapped[str] = mapped_column(String(10))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    #: When the current run of failures began (None while deliveries succeed).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One entry to one endpoint, until it is delivered or given up."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "entry_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(UUIDType)
    position: Mapped[int] = mapped_column(BigInteger)
    entry_type: Mapped[str] = mapped_column(String(100))
    #: "pending", "delivered" or "failed" (gave up; can be sent again by hand)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A worker is sending it until then (another worker leaves it alone).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """The log: each try, its answer and how long it took (no bodies: they may be large, and
    the entry they came from is kept)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: "automatic" or who sent it again ("user:<id>").
    by: Mapped[str] = mapped_column(String(100), default="automatic")
