"""Recurring events: occurrences generated from a rule, each a full event of its own.

The template event's details, ticket types and quotas are copied to every occurrence, so each
has its own capacity and can be edited, published or cancelled one by one. The rule runs in
the event's local time (dateutil's rrule over naive local times, then the zone attached), so a
19:00 show stays at 19:00 when daylight saving time starts or ends.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from zoneinfo import ZoneInfo

from dateutil import rrule  # type: ignore[import-untyped]
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.entries import EventCreated
from boxoffice.core.catalog.models import Event, EventSeries, Quota, QuotaTicketType, TicketType
from boxoffice.core.catalog.schemas import SeriesRule
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, FieldError, ValidationFailed
from boxoffice.core.journal import append

MAX_OCCURRENCES = 366
FREQUENCIES = {"daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}
WEEKDAYS = {
    "MO": rrule.MO,
    "TU": rrule.TU,
    "WE": rrule.WE,
    "TH": rrule.TH,
    "FR": rrule.FR,
    "SA": rrule.SA,
    "SU": rrule.SU,
}
#: Columns an occurrence does not copy from its template.
OWN_COLUMNS = {
    "id",
    "slug",
    "status",
    "starts_at",
    "ends_at",
    "local_start_date",
    "series_id",
    "created_at",
    "updated_at",
    "published_at",
}


def occurrences(template: Event, rule: SeriesRule) -> tuple[str, list[datetime]]:
    """The RRULE text and the local start times after the template's own."""
    if (rule.until is None) == (rule.count is None):
        raise ValidationFailed(
            "give until or count",
            errors=[FieldError("until", "give exactly one of until and count")],
        )
    zone = ZoneInfo(template.timezone)
    first = template.starts_at.astimezone(zone).replace(tzinfo=None)
    options: dict[str, object] = {"dtstart": first, "interval": rule.interval}
    if rule.weekdays:
        options["byweekday"] = [WEEKDAYS[d] for d in rule.weekdays]
    if rule.until is not None:
        options["until"] = datetime.combine(rule.until, time.max)
    else:
        options["count"] = rule.count
    recurrence = rrule.rrule(FREQUENCIES[rule.frequency], **options)
    starts = [when for when in recurrence[: MAX_OCCURRENCES + 1] if when != first]
    if len(starts) > MAX_OCCURRENCES:
        raise ValidationFailed(
            f"a series has at most {MAX_OCCURRENCES} occurrences",
            errors=[FieldError("until", "too many occurrences")],
        )
    text = str(recurrence).split("\n")[-1]  # "RRULE:FREQ=WEEKLY;..."
    return text, [when.replace(tzinfo=zone) for when in starts]


async def create_series(
    session: AsyncSession, clock: Clock, template: Event, rule: SeriesRule
) -> tuple[EventSeries, list[Event]]:
    if template.series_id is not None:
        raise Conflict("this event belongs to a series already")
    text, starts = occurrences(template, rule)
    now = clock.now()
    series = EventSeries(organization_id=template.organization_id, rule=text, created_at=now)
    session.add(series)
    await session.flush()
    template.series_id = series.id
    ticket_types = list(
        await session.scalars(select(TicketType).where(TicketType.event_id == template.id))
    )
    quotas = list(await session.scalars(select(Quota).where(Quota.event_id == template.id)))
    links = (
        list(
            (
                await session.execute(
                    select(QuotaTicketType.quota_id, QuotaTicketType.ticket_type_id).where(
                        QuotaTicketType.quota_id.in_([q.id for q in quotas])
                    )
                )
            ).all()
        )
        if quotas
        else []
    )
    duration = template.ends_at - template.starts_at
    made = [template]
    for start in starts:
        slug = f"{template.slug[:100]}-{start:%Y%m%d-%H%M}"
        copied = {
            c.key: getattr(template, c.key)
            for c in Event.__table__.columns
            if c.key not in OWN_COLUMNS
        }
        event = Event(
            **copied,
            slug=slug,
            status="draft",
            series_id=series.id,
            starts_at=start,
            ends_at=start + duration,
            local_start_date=start.date().isoformat(),
            created_at=now,
            updated_at=now,
        )
        session.add(event)
        await session.flush()
        type_ids: dict[uuid.UUID, uuid.UUID] = {}
        for ticket_type in ticket_types:
            copy = TicketType(
                **{
                    c.key: getattr(ticket_type, c.key)
                    for c in TicketType.__table__.columns
                    if c.key not in {"id", "event_id"}
                },
                event_id=event.id,
            )
            session.add(copy)
            await session.flush()
            type_ids[ticket_type.id] = copy.id
        for quota in quotas:
            quota_copy = Quota(
                event_id=event.id,
                name=quota.name,
                capacity=quota.capacity,
                sold=0,
                held=0,
                created_at=now,
            )
            session.add(quota_copy)
            await session.flush()
            for quota_id, ticket_type_id in links:
                if quota_id == quota.id:
                    session.add(
                        QuotaTicketType(
                            quota_id=quota_copy.id, ticket_type_id=type_ids[ticket_type_id]
                        )
                    )
        await append(
            session,
            EventCreated(
                event_id=str(event.id),
                organization_id=str(event.organization_id),
                title=event.title,
            ),
            clock,
        )
        made.append(event)
    await session.flush()
    return series, made


async def events_of_series(
    session: AsyncSession, organization_id: uuid.UUID, series_id: uuid.UUID
) -> tuple[EventSeries | None, list[Event]]:
    series = await session.get(EventSeries, series_id)
    if series is None or series.organization_id != organization_id:
        return None, []
    events = list(
        await session.scalars(
            select(Event).where(Event.series_id == series_id).order_by(Event.starts_at, Event.id)
        )
    )
    return series, events
