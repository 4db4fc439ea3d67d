"""The analytics projection's tables (emptied and rebuilt by a replay) and the page-view
counts (not in the journal: kept apart, a replay leaves them).

Times are 15-minute UTC slots (``bucket``): hours and days in any zone are sums of them,
including zones a half or a quarter hour off UTC (India, Nepal).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.storage import Base, CurrencyCode, UTCDateTime, UUIDType


class SalesSlot(Base):
    """Money and tickets of one event, ticket type, gateway and currency in one slot."""

    __tablename__ = "analytics_sales"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    #: "" for orders confirmed before the journal named their lines.
    ticket_type_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: "" for free orders and those marked paid by hand.
    gateway: Mapped[str] = mapped_column(String(60), primary_key=True)
    currency: Mapped[str] = mapped_column(CurrencyCode(), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUIDType, index=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fees_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tickets_refunded: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class OrderSlot(Base):
    """Orders of one event in one slot, by what happened to them."""

    __tablename__ = "analytics_orders"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUIDType, index=True)
    placed: Mapped[int] = mapped_column(Integer, default=0)
    tickets_placed: Mapped[int] = mapped_column(Integer, default=0)
    paid: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)


class PromoUse(Base):
    """Confirmed orders that used a promo code."""

    __tablename__ = "analytics_promo"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    promo_code_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    currency: Mapped[str] = mapped_column(CurrencyCode(), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(UUIDType, index=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class PaidOrder(Base):
    """Which gateway took an order's money: its refunds are the same gateway's."""

    __tablename__ = "analytics_paid_order"

    order_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(60))


class PageViews(Base):
    """Views of an event's public page per slot, counted by the API processes."""

    __tablename__ = "analytics_page_views"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDType, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, default=0)
