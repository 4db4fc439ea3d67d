from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.fields import LOCALE_LENGTH
from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, CurrencyCode, JSONType, UTCDateTime, UUIDType


class Hold(Base):
    """A buyer's selection holding seats until ``expires_at``. ``allocations`` records which
    quota rows were incremented by how much, so releasing gives back exactly that even if
    the organizer changes the quotas meanwhile."""

    __tablename__ = "hold"
    __table_args__ = (Index("ix_hold_status_expires_at", "status", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    #: SHA-256 of the secret that proves the caller made the hold (holds are anonymous).
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: "active", "ordered", "released" or "expired".
    status: Mapped[str] = mapped_column(String(12))
    #: [{"ticket_type_id": str, "quantity": int}, ...]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    #: quota id -> seats held in it
    allocations: Mapped[dict[str, int]] = mapped_column(JSONType)
    access_code: Mapped[str | None] = mapped_column(String(60))
    promo_code_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("promo_code.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    """A purchase. Amounts are minor units of ``currency``; ``breakdown`` keeps the priced
    lines as they were computed, so a later price change never rewrites history."""

    __tablename__ = "booking_order"
    __table_args__ = (
        Index("ix_booking_order_status_expires_at", "status", "expires_at"),
        Index("ix_booking_order_event_created", "event_id", "created_at"),
        # Most orders are anonymous: only the signed-in buyers' ones need an entry.
        Index(
            "ix_booking_order_user_id",
            "user_id",
            postgresql_where=text("user_id IS NOT NULL"),
            sqlite_where=text("user_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    #: Short, unique and random: what buyers quote ("K7Q2M9XW4T").
    number: Mapped[str] = mapped_column(String(16), unique=True)
    #: SHA-256 of the secret in the buyer's order link (no account needed).
    secret_hash: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="RESTRICT")
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    hold_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("hold.id", ondelete="SET NULL"), unique=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: The promo code whose use this order took (given back if it is cancelled or expires).
    promo_code_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("promo_code.id", ondelete="SET NULL")
    )
    #: "pending", "confirmed", "cancelled", "refunded" or "expired" (see orders.TRANSITIONS).
    status: Mapped[str] = mapped_column(String(12))
    buyer_name: Mapped[str] = mapped_column(String(200))
    buyer_email: Mapped[str] = mapped_column(String(320), index=True)
    buyer_country: Mapped[str] = mapped_column(String(2), default="")
    #: E.164 (``+4915112345678``) or "": for text messages about the event (see notices).
    buyer_phone: Mapped[str] = mapped_column(String(16), default="", server_default="")
    #: A business buyer's tax id (compact, with its country prefix) and billing address.
    buyer_tax_id: Mapped[str] = mapped_column(String(30), default="", server_default="")
    buyer_address: Mapped[str] = mapped_column(String(500), default="", server_default="")
    locale: Mapped[str] = mapped_column(String(LOCALE_LENGTH), default="en")
    currency: Mapped[str] = mapped_column(CurrencyCode())
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fees_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: quota id -> seats this order holds (pending) or took (confirmed)
    allocations: Mapped[dict[str, int]] = mapped_column(JSONType)
    tickets: Mapped[int] = mapped_column(Integer)
    #: The payment deadline of a pending order.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")


class OrderItem(Base):
    """One ticket of an order: its attendee, their answers and its share of the price."""

    __tablename__ = "order_item"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("booking_order.id", ondelete="CASCADE"), index=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("ticket_type.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    attendee_name: Mapped[str] = mapped_column(String(200))
    attendee_email: Mapped[str] = mapped_column(String(320), default="")
    #: question id -> answer (str for text and choice, bool for checkbox)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    #: The quotas this ticket's seat was taken from (one seat in each): a refund of just this
    #: ticket gives back exactly that.
    quota_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: ``orders.TicketStatus``: "pending" until paid, "valid", "cancelled", "expired",
    #: "refunded" (with its order, or a partial refund)
    status: Mapped[str] = mapped_column(String(10), default="valid")
    #: The ticket's credential version (``core/tickets/credentials.py``): a reissue raises
    #: it, and the credentials of earlier versions are refused.
    credential_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class BuyerTally(Base):
    """Tickets a buyer (by e-mail) has in live orders for an event: the per-buyer limit is one
    conditional upsert on this row, so two simultaneous orders cannot both slip under it."""

    __tablename__ = "buyer_tally"
    __table_args__ = (CheckConstraint("tickets >= 0", name="tickets_not_negative"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_email: Mapped[str] = mapped_column(String(320), primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer)


class Question(Base):
    """A question the organizer asks each attendee (of some or all ticket types)."""

    __tablename__ = "booking_question"

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(300))
    #: "text", "choice" or "checkbox"
    kind: Mapped[str] = mapped_column(String(10))
    options: Mapped[list[str]] = mapped_column(JSONType, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Ticket type ids the question applies to; empty: every ticket type.
    ticket_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromoCode(Base):
    """A discount (percent or a fixed amount per ticket) for some or all ticket types, valid
    in a window, used at most ``max_uses`` times (one use per order) and ``max_uses_per_buyer``
    times per buyer; it may also unlock hidden ticket types. ``uses`` only changes through
    one conditional UPDATE, so concurrent orders cannot overrun the limit."""

    __tablename__ = "promo_code"
    __table_args__ = (
        UniqueConstraint("event_id", "code"),
        CheckConstraint("uses >= 0", name="uses_not_negative"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="uses_within_limit"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    #: Upper case, as buyers type it (matching ignores case).
    code: Mapped[str] = mapped_column(String(60))
    #: "percent" (``value`` in hundredths of a percent: 1500 = 15 %) or "fixed" (``value``
    #: minor units off each ticket).
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int] = mapped_column(BigInteger)
    #: Ticket type ids it discounts; empty: every ticket type.
    ticket_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Hidden ticket type ids it makes available.
    unlocks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    max_uses_per_buyer: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromoCodeUse(Base):
    """Uses of a promo code by one buyer (by e-mail): the per-buyer limit's counter."""

    __tablename__ = "promo_code_use"
    __table_args__ = (CheckConstraint("uses >= 0", name="uses_not_negative"),)

    promo_code_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("promo_code.id", ondelete="CASCADE"), primary_key=True
    )
    buyer_email: Mapped[str] = mapped_column(String(320), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer)


class WaitlistEntry(Base):
    """Someone waiting for seats of a sold-out ticket type. ``offer_hold_id`` is the hold
    placed for them when seats came back; whether they claimed it is that hold's status."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (Index("ix_waitlist_entry_queue", "ticket_type_id", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("event.id", ondelete="CASCADE"), index=True
    )
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("ticket_type.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    quantity: Mapped[int] = mapped_column(Integer)
    #: SHA-256 of the secret in the entry's link.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: "waiting", "offered" or "left"
    status: Mapped[str] = mapped_column(String(10))
    offer_hold_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDType, ForeignKey("hold.id", ondelete="SET NULL"), index=True
    )
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
