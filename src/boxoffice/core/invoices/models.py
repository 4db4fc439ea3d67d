from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.ids import new_id
from boxoffice.core.storage import Base, CurrencyCode, JSONType, UTCDateTime, UUIDType


class InvoiceSeries(Base):
    """The next number of an organization's series ("INV", "CRN"): taken and moved on in
    the transaction that issues the document, so a rollback gives it back (no gaps)."""

    __tablename__ = "invoice_series"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="RESTRICT"), primary_key=True
    )
    series: Mapped[str] = mapped_column(String(8), primary_key=True)
    next_number: Mapped[int] = mapped_column(BigInteger)


class Invoice(Base):
    """An invoice or a credit note as issued: its data frozen (seller, buyer, lines, taxes),
    never rewritten; ``source`` names what issued it, once ("order:<id>",
    "refund:<entry id>")."""

    __tablename__ = "invoice"
    __table_args__ = (UniqueConstraint("organization_id", "series", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("organization.id", ondelete="RESTRICT")
    )
    series: Mapped[str] = mapped_column(String(8))
    number: Mapped[int] = mapped_column(Integer)
    #: "invoice" or "credit_note"
    kind: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(80), unique=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        UUIDType, ForeignKey("booking_order.id", ondelete="RESTRICT"), index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(CurrencyCode())
    total_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
