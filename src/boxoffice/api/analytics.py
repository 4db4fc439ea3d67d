"""Analytics for organizers (one event) and admins (the platform). Every report takes an
optional range (``since``, ``until``: ISO 8601 times with an offset) and, for series,
``group=hour|day`` in the event's zone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage, Stream
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.api.middleware import SMALL_RESPONSE
from boxoffice.core.analytics import exports, reports
from boxoffice.core.analytics.exports import Format, Kind
from boxoffice.core.analytics.live import LIVE_SECONDS
from boxoffice.core.analytics.reports import Range
from boxoffice.core.analytics.schemas import (
    CheckinReport,
    EventSummary,
    Funnel,
    Grouping,
    PlatformFigures,
    PromoCodeUse,
    RevenueReport,
    SalesSeries,
    WaitlistDemand,
)
from boxoffice.core.catalog.models import Event
from boxoffice.core.errors import NotFound
from boxoffice.core.identity.models import User
from boxoffice.core.identity.permissions import Permission
from boxoffice.platform import Platform

Since = Annotated[datetime | None, QueryParameter(description="from (inclusive), with offset")]
Until = Annotated[datetime | None, QueryParameter(description="to (exclusive), with offset")]
READ = needs(Permission.ANALYTICS_READ)


class EventAnalyticsController(Controller):
    cache_control = PRIVATE
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}/analytics"
    tags = ["analytics"]

    @get("/summary", opt=READ, summary="The event at a glance (the dashboard's figures)")
    async def summary(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> EventSummary:
        return await reports.summary(session, event)

    @get("/sales", opt=READ, summary="Views, orders, tickets and money per hour or day")
    async def sales(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        since: Since = None,
        until: Until = None,
        group: FromQuery[Grouping] = Grouping.DAY,
    ) -> SalesSeries:
        return await reports.sales_series(session, event, Range(since, until), group)

    @get("/revenue", opt=READ, summary="Gross, fees, tax, refunds and net by type and gateway")
    async def revenue(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        since: Since = None,
        until: Until = None,
    ) -> RevenueReport:
        return await reports.revenue(session, event, Range(since, until))

    @get("/funnel", opt=READ, summary="Page views, holds, orders, paid")
    async def funnel(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        since: Since = None,
        until: Until = None,
    ) -> Funnel:
        return await reports.funnel(session, event, Range(since, until))

    @get("/promo-codes", opt=READ, summary="Each promo code's orders and discount given")
    async def promo_codes(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[PromoCodeUse]:
        return await reports.promo_codes(session, event)

    @get("/check-ins", opt=READ, summary="Checked in of valid tickets, scans per hour or day")
    async def checkins(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        since: Since = None,
        until: Until = None,
        group: FromQuery[Grouping] = Grouping.HOUR,
    ) -> CheckinReport:
        return await reports.checkins(session, event, Range(since, until), group)

    @get("/waiting-list", opt=READ, summary="Demand waiting per ticket type, offers and uptake")
    async def waiting_list(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[WaitlistDemand]:
        return await reports.waitlist(session, event)

    @get(
        "/live",
        # Not compressed: each event must leave at once, not wait in the compressor's buffer.
        opt={**READ, **SMALL_RESPONSE},
        summary="The summary again whenever it changes (server-sent events, 'summary')",
    )
    async def live(
        self, platform: NamedDependency[Platform], event: NamedDependency[Event]
    ) -> ServerSentEvent:
        return ServerSentEvent(_live_summaries(platform, event))


#: How long a quiet stream waits before it says it is still there (proxies close silent
#: connections).
KEEPALIVE_SECONDS = 15.0


async def _live_summaries(
    platform: Platform, event: Event
) -> AsyncIterator[ServerSentEventMessage]:
    last, quiet = b"", 0.0
    while True:
        payload = await platform.live_summaries.payload(event)  # shared by its viewers
        if payload != last:
            last, quiet = payload, 0.0
            yield ServerSentEventMessage(event="summary", data=payload.decode())
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ServerSentEventMessage(comment="still here")
        await asyncio.sleep(LIVE_SECONDS)
        quiet += LIVE_SECONDS


class EventExportsController(Controller):
    """Orders and attendees as files: personal data, so reading orders is what it takes."""

    cache_control = PRIVATE
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}/exports"
    tags = ["analytics"]

    @get(
        "/{name:str}",
        opt=needs(Permission.ORDERS_READ),
        summary="orders.csv, orders.xlsx, attendees.csv or attendees.xlsx (streamed)",
    )
    async def export(
        self,
        platform: NamedDependency[Platform],
        event: NamedDependency[Event],
        name: FromPath[str],
    ) -> Stream:
        kind, file_format = _export_named(name)
        stream = exports.stream_csv if file_format == Format.CSV else exports.stream_xlsx
        return Stream(
            stream(platform.db, event, kind),
            media_type=file_format.media_type,
            headers={
                "content-disposition": f'attachment; filename="{event.slug}-{name}"',
            },
        )


def _export_named(name: str) -> tuple[Kind, Format]:
    stem, _, extension = name.partition(".")
    try:
        return Kind(stem), Format(extension)
    except ValueError:
        raise NotFound(
            f"no export {name!r}: orders.csv, orders.xlsx, attendees.csv or attendees.xlsx"
        ) from None


class PlatformAnalyticsController(Controller):
    cache_control = PRIVATE
    path = "/admin/analytics"
    tags = ["admin"]

    @get("/", summary="Platform-wide sales per currency")
    async def figures(
        self,
        session: NamedDependency[AsyncSession],
        admin_user: NamedDependency[User],
        since: Since = None,
        until: Until = None,
    ) -> list[PlatformFigures]:
        return await reports.platform_figures(session, Range(since, until))
