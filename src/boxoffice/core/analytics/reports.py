"""The figures organizers and admins read: from the analytics projection (sales, refunds,
orders, promo codes), the page-view counts, and the tables that are the record of what the
journal does not carry (holds, check-ins, waiting lists).

Every report takes a range ``[since, until)`` (either end open) and hours or days in the
event's zone. The projection's 15-minute UTC slots add up to the zone's hours and days,
whatever its offset; a slot counts in the period it starts in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.analytics.models import OrderSlot, PageViews, PromoUse, SalesSlot
from boxoffice.core.analytics.schemas import (
    BusinessTotals,
    CheckinPeriod,
    CheckinReport,
    EventSummary,
    Funnel,
    Grouping,
    Period,
    PlatformFigures,
    PromoCodeUse,
    Revenue,
    RevenueReport,
    SalesSeries,
    WaitlistDemand,
)
from boxoffice.core.booking.models import Hold, Order, OrderItem, PromoCode, WaitlistEntry
from boxoffice.core.catalog.models import Event, Quota, QuotaTicketType, TicketType
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.money import Money

#: The longest range of hourly periods one answer holds (about three months).
MAX_HOURS = 24 * 93
#: And of daily ones (about ten years).
MAX_DAYS = 3700


@dataclass(frozen=True)
class Range:
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ValidationFailed(
                    f"{name} needs a UTC offset",
                    errors=[FieldError(name, "an ISO 8601 time with its offset, e.g. …Z")],
                )
        if self.since and self.until and self.since >= self.until:
            raise ValidationFailed(
                "since must come before until", errors=[FieldError("until", "after since")]
            )

    def where(self, column: Any) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(column >= self.since)
        if self.until is not None:
            conditions.append(column < self.until)
        return conditions


@dataclass
class _Money:
    """Counters of one key (ticket type, gateway, period or total)."""

    tickets: int = 0
    tickets_refunded: int = 0
    gross: int = 0
    discount: int = 0
    fees: int = 0
    tax: int = 0
    refunded: int = 0
    refunded_tax: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, row: SalesSlot) -> None:
        self.tickets += row.tickets
        self.tickets_refunded += row.tickets_refunded
        self.gross += row.gross_minor
        self.discount += row.discount_minor
        self.fees += row.fees_minor
        self.tax += row.tax_minor
        self.refunded += row.refunded_minor
        self.refunded_tax += row.refunded_tax_minor

    @property
    def net(self) -> int:
        return self.gross - self.refunded - (self.tax - self.refunded_tax)

    def revenue(self, key: str, name: str, currency: str) -> Revenue:
        return Revenue(
            key=key,
            name=name,
            tickets_sold=self.tickets,
            tickets_refunded=self.tickets_refunded,
            gross=Money(self.gross, currency),
            discount=Money(self.discount, currency),
            fees=Money(self.fees, currency),
            tax=Money(self.tax, currency),
            refunded=Money(self.refunded, currency),
            net=Money(self.net, currency),
        )


def percent(part: int, whole: int) -> str:
    if whole == 0:
        return ""
    share = Decimal(part * 100) / Decimal(whole)
    return str(share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def _sales_rows(session: AsyncSession, event: Event, within: Range) -> list[SalesSlot]:
    return list(
        await session.scalars(
            select(SalesSlot).where(SalesSlot.event_id == event.id, *within.where(SalesSlot.bucket))
        )
    )


def _period_start(moment: datetime, zone: ZoneInfo, group: Grouping) -> datetime:
    local = moment.astimezone(zone)
    if group == Grouping.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    return datetime(local.year, local.month, local.day, tzinfo=zone)


def _periods_between(
    first: datetime, last: datetime, zone: ZoneInfo, group: Grouping
) -> list[datetime]:
    """Every period start from ``first``'s to ``last``'s (gaps included, for charts);
    days step in local dates (23- and 25-hour days at DST changes), hours in UTC."""
    start, end = _period_start(first, zone, group), _period_start(last, zone, group)
    starts: list[datetime] = []
    if group == Grouping.HOUR:
        moment = start.astimezone(ZoneInfo("UTC"))
        while moment <= end and len(starts) <= MAX_HOURS:
            starts.append(moment.astimezone(zone))
            moment += timedelta(hours=1)
        return starts
    day = start.date()
    while day <= end.date() and len(starts) <= MAX_DAYS:
        starts.append(datetime(day.year, day.month, day.day, tzinfo=zone))
        day += timedelta(days=1)
    return starts


async def sales_series(
    session: AsyncSession, event: Event, within: Range, group: Grouping
) -> SalesSeries:
    zone, currency = ZoneInfo(event.timezone), event.currency
    sums: dict[datetime, _Money] = defaultdict(_Money)
    seen: list[datetime] = []
    for row in await _sales_rows(session, event, within):
        sums[_period_start(row.bucket, zone, group)].add(row)
        seen.append(row.bucket)
    for slot_row in await session.scalars(
        select(OrderSlot).where(OrderSlot.event_id == event.id, *within.where(OrderSlot.bucket))
    ):
        counts = sums[_period_start(slot_row.bucket, zone, group)].counts
        for name in ("placed", "paid", "cancelled", "expired"):
            counts[name] = counts.get(name, 0) + getattr(slot_row, name)
        seen.append(slot_row.bucket)
    for bucket, views in await session.execute(
        select(PageViews.bucket, PageViews.views).where(
            PageViews.event_id == event.id, *within.where(PageViews.bucket)
        )
    ):
        counts = sums[_period_start(bucket, zone, group)].counts
        counts["views"] = counts.get("views", 0) + views
        seen.append(bucket)
    first = within.since or (min(seen) if seen else None)
    last = (
        (within.until - timedelta(microseconds=1))
        if within.until
        else (max(seen) if seen else None)
    )
    starts = [] if first is None or last is None else _periods_between(first, last, zone, group)
    limit = MAX_HOURS if group == Grouping.HOUR else MAX_DAYS
    if len(starts) > limit:
        raise ValidationFailed(
            f"at most {limit} {group.value}s in one answer: narrow the range or group by day",
            errors=[FieldError("since", f"at most {limit} {group.value}s before until")],
        )
    periods = []
    for start in starts:
        found = sums.get(start, _Money())
        c = found.counts
        periods.append(
            Period(
                start=start,
                views=c.get("views", 0),
                orders_placed=c.get("placed", 0),
                orders_paid=c.get("paid", 0),
                orders_cancelled=c.get("cancelled", 0),
                orders_expired=c.get("expired", 0),
                tickets_sold=found.tickets,
                tickets_refunded=found.tickets_refunded,
                gross=Money(found.gross, currency),
                refunded=Money(found.refunded, currency),
                net=Money(found.net, currency),
            )
        )
    return SalesSeries(event_id=event.id, timezone=event.timezone, group=group, periods=periods)


async def revenue(session: AsyncSession, event: Event, within: Range) -> RevenueReport:
    currency = event.currency
    total = _Money()
    by_type: dict[str, _Money] = defaultdict(_Money)
    by_gateway: dict[str, _Money] = defaultdict(_Money)
    for row in await _sales_rows(session, event, within):
        total.add(row)
        by_type[row.ticket_type_id].add(row)
        by_gateway[row.gateway].add(row)
    names = {
        str(type_id): name
        for type_id, name in await session.execute(
            select(TicketType.id, TicketType.name).where(TicketType.event_id == event.id)
        )
    }
    return RevenueReport(
        event_id=event.id,
        currency=currency,
        total=total.revenue("", "", currency),
        by_ticket_type=[
            sums.revenue(key, names.get(key, "(not recorded)" if key == "" else key), currency)
            for key, sums in sorted(by_type.items(), key=lambda kv: -kv[1].gross)
        ],
        by_gateway=[
            sums.revenue(key, key or "none (free or paid by hand)", currency)
            for key, sums in sorted(by_gateway.items(), key=lambda kv: -kv[1].gross)
        ],
    )


async def funnel(session: AsyncSession, event: Event, within: Range) -> Funnel:
    views = await session.scalar(
        select(func.coalesce(func.sum(PageViews.views), 0)).where(
            PageViews.event_id == event.id, *within.where(PageViews.bucket)
        )
    )
    holds = await session.scalar(
        select(func.count()).where(Hold.event_id == event.id, *within.where(Hold.created_at))
    )
    checkouts = await session.scalar(
        select(func.count()).where(
            Order.event_id == event.id, Order.hold_id.is_(None), *within.where(Order.created_at)
        )
    )
    placed, paid = (
        await session.execute(
            select(
                func.coalesce(func.sum(OrderSlot.placed), 0),
                func.coalesce(func.sum(OrderSlot.paid), 0),
            ).where(OrderSlot.event_id == event.id, *within.where(OrderSlot.bucket))
        )
    ).one()
    held = int(holds or 0) + int(checkouts or 0)
    return Funnel(
        views=int(views or 0),
        holds=held,
        orders=int(placed),
        paid=int(paid),
        holds_percent=percent(held, int(views or 0)),
        orders_percent=percent(int(placed), held),
        paid_percent=percent(int(paid), int(placed)),
    )


async def promo_codes(session: AsyncSession, event: Event) -> list[PromoCodeUse]:
    rows = await session.execute(
        select(PromoUse, PromoCode.code)
        .join(PromoCode, PromoCode.id == PromoUse.promo_code_id)
        .where(PromoUse.event_id == event.id)
        .order_by(PromoUse.orders.desc(), PromoCode.code)
    )
    return [
        PromoCodeUse(
            promo_code_id=use.promo_code_id,
            code=code,
            orders=use.orders,
            tickets=use.tickets,
            discount=Money(use.discount_minor, use.currency),
            gross=Money(use.gross_minor, use.currency),
        )
        for use, code in rows
    ]


async def checkins(
    session: AsyncSession, event: Event, within: Range, group: Grouping
) -> CheckinReport:
    zone = ZoneInfo(event.timezone)
    valid = await session.scalar(
        select(func.count())
        .select_from(OrderItem)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.event_id == event.id, OrderItem.status == "valid")
    )
    of_event = (
        select(Checkin)
        .join(CheckinList, CheckinList.id == Checkin.list_id)
        .where(CheckinList.event_id == event.id)
        .subquery()
    )
    checked_in, inside = (
        await session.execute(
            select(
                func.count(distinct(of_event.c.ticket_id)),
                func.count(distinct(of_event.c.ticket_id)).filter(of_event.c.inside),
            )
        )
    ).one()
    scans: dict[datetime, int] = defaultdict(int)
    for (scanned_at,) in await session.execute(
        select(of_event.c.scanned_at).where(*within.where(of_event.c.scanned_at))
    ):
        scans[_period_start(scanned_at, zone, group)] += 1
    starts = _periods_between(min(scans), max(scans), zone, group) if scans else []
    return CheckinReport(
        valid_tickets=int(valid or 0),
        checked_in=int(checked_in),
        inside=int(inside),
        percent=percent(int(checked_in), int(valid or 0)),
        periods=[CheckinPeriod(start=s, scans=scans.get(s, 0)) for s in starts],
    )


async def waitlist(session: AsyncSession, event: Event) -> list[WaitlistDemand]:
    entry, hold = WaitlistEntry, Hold
    rows = await session.execute(
        select(
            TicketType.id,
            TicketType.name,
            func.count().filter(entry.status == "waiting"),
            func.coalesce(func.sum(entry.quantity).filter(entry.status == "waiting"), 0),
            func.count().filter(entry.offer_hold_id.is_not(None)),
            func.count().filter(hold.status == "ordered"),
        )
        .join(entry, entry.ticket_type_id == TicketType.id)
        .outerjoin(hold, hold.id == entry.offer_hold_id)
        .where(TicketType.event_id == event.id)
        .group_by(TicketType.id, TicketType.name)
        .order_by(TicketType.name)
    )
    return [
        WaitlistDemand(
            ticket_type_id=type_id,
            name=name,
            waiting=int(waiting),
            tickets_wanted=int(wanted),
            offered=int(offered),
            converted=int(converted),
        )
        for type_id, name, waiting, wanted, offered, converted in rows
    ]


async def _capacity(session: AsyncSession, event: Event) -> int:
    """Seats the event can sell at most: its quotas added up, but for a quota nested in
    another (every ticket type it limits is limited by a larger one too: "Seats" within
    "Hall"), which sells from the larger one's seats."""
    quotas: dict[uuid.UUID, tuple[int, set[uuid.UUID]]] = {
        row.id: (row.capacity, set())
        for row in await session.execute(
            select(Quota.id, Quota.capacity).where(Quota.event_id == event.id)
        )
    }
    for quota_id, type_id in await session.execute(
        select(QuotaTicketType.quota_id, QuotaTicketType.ticket_type_id).where(
            QuotaTicketType.quota_id.in_(list(quotas))
        )
    ):
        quotas[quota_id][1].add(type_id)

    def nested(quota_id: uuid.UUID) -> bool:
        capacity, types = quotas[quota_id]
        return any(
            other != quota_id
            and types <= other_types
            and (other_capacity, str(other)) > (capacity, str(quota_id))
            for other, (other_capacity, other_types) in quotas.items()
        )

    return sum(capacity for quota_id, (capacity, _) in quotas.items() if not nested(quota_id))


async def summary(session: AsyncSession, event: Event) -> EventSummary:
    everything = Range()
    capacity = await _capacity(session, event)
    return EventSummary(
        event_id=event.id,
        title=event.title,
        timezone=event.timezone,
        capacity=capacity,
        revenue=(await revenue(session, event, everything)).total,
        funnel=await funnel(session, event, everything),
        checkins=await checkins(session, event, everything, Grouping.HOUR),
        waitlist=await waitlist(session, event),
    )


async def platform_figures(session: AsyncSession, within: Range) -> list[PlatformFigures]:
    sales = SalesSlot
    rows = await session.execute(
        select(
            sales.currency,
            func.count(distinct(sales.organization_id)),
            func.count(distinct(sales.event_id)),
            func.sum(sales.tickets),
            func.sum(sales.gross_minor),
            func.sum(sales.refunded_minor),
            func.sum(sales.tax_minor - sales.refunded_tax_minor),
        )
        .where(*within.where(sales.bucket))
        .group_by(sales.currency)
        .order_by(sales.currency)
    )
    paid: dict[str, int] = {
        currency: int(count)
        for currency, count in await session.execute(
            select(Event.currency, func.sum(OrderSlot.paid))
            .join(Event, Event.id == OrderSlot.event_id)
            .where(*within.where(OrderSlot.bucket))
            .group_by(Event.currency)
        )
    }
    return [
        PlatformFigures(
            currency=currency,
            organizations=int(organizations),
            events=int(events),
            orders_paid=paid.get(currency, 0),
            tickets_sold=int(tickets or 0),
            gross=Money(int(gross or 0), currency),
            refunded=Money(int(refunded or 0), currency),
            net=Money(int(gross or 0) - int(refunded or 0) - int(tax or 0), currency),
        )
        for currency, organizations, events, tickets, gross, refunded, tax in rows
    ]


async def business_totals(session: AsyncSession) -> BusinessTotals:
    placed, paid = (
        await session.execute(
            select(
                func.coalesce(func.sum(OrderSlot.placed), 0),
                func.coalesce(func.sum(OrderSlot.paid), 0),
            )
        )
    ).one()
    sold = refunded_tickets = 0
    gross: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for row in await session.execute(
        select(
            SalesSlot.currency,
            func.sum(SalesSlot.tickets).label("tickets"),
            func.sum(SalesSlot.tickets_refunded).label("tickets_refunded"),
            func.sum(SalesSlot.gross_minor).label("gross"),
            func.sum(SalesSlot.refunded_minor).label("refunded"),
        ).group_by(SalesSlot.currency)
    ):
        sold += int(row.tickets or 0)
        refunded_tickets += int(row.tickets_refunded or 0)
        gross[row.currency] = int(row.gross or 0)
        refunded[row.currency] = int(row.refunded or 0)
    checked_in = await session.scalar(select(func.count(distinct(Checkin.ticket_id))))
    return BusinessTotals(
        orders_placed=int(placed),
        orders_paid=int(paid),
        tickets_sold=sold,
        tickets_refunded=refunded_tickets,
        gross_minor=gross,
        refunded_minor=refunded,
        tickets_checked_in=int(checked_in or 0),
    )
