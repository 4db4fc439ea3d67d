"""What the analytics endpoints answer. Amounts are :class:`Money` in the event's currency;
period starts are in the event's zone (with their UTC offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import msgspec

from boxoffice.core.money import Money


class Grouping(StrEnum):
    HOUR = "hour"
    DAY = "day"


class Period(msgspec.Struct, frozen=True, kw_only=True):
    #: The start of the hour or day, in the event's zone.
    start: datetime
    views: int
    orders_placed: int
    orders_paid: int
    orders_cancelled: int
    orders_expired: int
    tickets_sold: int
    tickets_refunded: int
    gross: Money
    refunded: Money
    net: Money


class SalesSeries(msgspec.Struct, frozen=True, kw_only=True):
    event_id: uuid.UUID
    timezone: str
    group: Grouping
    periods: list[Period]


class Revenue(msgspec.Struct, frozen=True, kw_only=True):
    """Money of a ticket type, a gateway or the whole event. ``net`` is ``gross`` less
    ``refunded`` less the tax kept (``tax`` less the tax refunded)."""

    #: The ticket type's or gateway's id; "" for the total, and for orders older than the
    #: journal's account of their lines (ticket type) or paid without a gateway.
    key: str
    name: str
    tickets_sold: int
    tickets_refunded: int
    gross: Money
    discount: Money
    fees: Money
    tax: Money
    refunded: Money
    net: Money


class RevenueReport(msgspec.Struct, frozen=True, kw_only=True):
    event_id: uuid.UUID
    currency: str
    total: Revenue
    by_ticket_type: list[Revenue]
    by_gateway: list[Revenue]


class Funnel(msgspec.Struct, frozen=True, kw_only=True):
    """From looking to paying. ``holds`` counts seats held in two steps and checkouts (which
    hold as they order); each ``*_percent`` is of the step before, one decimal, "" when that
    step is 0."""

    views: int
    holds: int
    orders: int
    paid: int
    holds_percent: str
    orders_percent: str
    paid_percent: str


class PromoCodeUse(msgspec.Struct, frozen=True, kw_only=True):
    promo_code_id: uuid.UUID
    code: str
    orders: int
    tickets: int
    discount: Money
    gross: Money


class CheckinPeriod(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    #: Tickets whose latest entry scan fell in the period.
    scans: int


class CheckinReport(msgspec.Struct, frozen=True, kw_only=True):
    valid_tickets: int
    checked_in: int
    inside: int
    #: ``checked_in`` of ``valid_tickets``, one decimal ("" with no ticket).
    percent: str
    periods: list[CheckinPeriod]


class WaitlistDemand(msgspec.Struct, frozen=True, kw_only=True):
    ticket_type_id: uuid.UUID
    name: str
    #: People waiting now, and the tickets they want.
    waiting: int
    tickets_wanted: int
    offered: int
    #: Offers taken up (the person bought).
    converted: int


class EventSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One event's figures at a glance (the dashboard's tiles)."""

    event_id: uuid.UUID
    title: str
    timezone: str
    capacity: int
    revenue: Revenue
    funnel: Funnel
    checkins: CheckinReport
    waitlist: list[WaitlistDemand]


class PlatformFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Platform-wide, per currency (admins)."""

    currency: str
    organizations: int
    events: int
    orders_paid: int
    tickets_sold: int
    gross: Money
    refunded: Money
    net: Money


class BusinessTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Since the platform began (``/metrics``)."""

    orders_placed: int
    orders_paid: int
    tickets_sold: int
    tickets_refunded: int
    #: Currency -> minor units.
    gross_minor: dict[str, int]
    refunded_minor: dict[str, int]
    tickets_checked_in: int
