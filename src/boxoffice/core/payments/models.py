"""Payments and refunds as the platform records them (the gateway's word is applied to them;
they are never taken from it as is)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, CurrencyCode, UTCDateTime, UUIDType


class Payment(Base):
    """One attempt to pay an order through one gateway (a buyer may make several).

    ``status``: ``created`` (recorded, the gateway not yet asked) → ``requires_action`` (the
    buyer must act: enter a card, approve, transfer) → ``processing`` → ``succeeded`` |
    ``failed`` | ``cancelled``. See :mod:`boxoffice.core.payments.states`."""

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_gateway_reference", "gateway", "provider_reference"),
        Index("ix_payment_status_updated_at", "status", "updated_at"),
        UniqueConstraint("order_id", "request_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("booking_order.id", ondelete="RESTRICT"), index=True
    )
    gateway: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CurrencyCode())
    #: The gateway's id of the payment ("" until the gateway answered).
    provider_reference: Mapped[str] = mapped_column(String(200), default="")
    #: Where the buyer approves the payment (redirect gateways).
    redirect_url: Mapped[str] = mapped_column(Text, default="")
    #: What the buyer is to do (deferred gateways: bank details and the reference).
    instructions: Mapped[str] = mapped_column(Text, default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 of the buyer's Idempotency-Key: the same request starts one payment.
    request_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Refund(Base):
    """Money given back for a payment: ``pending`` → ``succeeded`` | ``failed``."""

    __tablename__ = "payment_refund"
    __table_args__ = (UniqueConstraint("cause_entry_id", "payment_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    payment_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("payment.id", ondelete="RESTRICT"), index=True
    )
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("booking_order.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CurrencyCode())
    #: Why: "seats_gone" (paid after expiry, sold meanwhile), "duplicate" (the order was
    #: paid already), "order_closed" (cancelled or expired for good), "order_refunded" and
    #: "order_cancelled" (by the organizer, the buyer, or the event's cancellation),
    #: "gateway" (made at the gateway).
    reason: Mapped[str] = mapped_column(String(40))
    provider_reference: Mapped[str] = mapped_column(String(200), default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")
    #: The journal entry that asked for it (an order refunded or cancelled by a person):
    #: that entry, delivered again, finds it and asks for nothing more.
    cause_entry_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookReceipt(Base):
    """A gateway notification already acted on: a redelivery changes nothing."""

    __tablename__ = "payment_webhook_receipt"

    gateway: Mapped[str] = mapped_column(String(60), primary_key=True)
    provider_event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(UUIDType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
