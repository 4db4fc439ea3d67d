"""Catalog services: the only code that changes the event tables."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import msgspec
import nh3
from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.categories import category_by_slug, list_categories
from boxoffice.core.catalog.entries import EventCreated, EventStatusChanged, EventUpdated
from boxoffice.core.catalog.lifecycle import ACTIVE, PUBLIC, EventStatus, check_transition
from boxoffice.core.catalog.media import images_of
from boxoffice.core.catalog.models import Category, Event, Quota, QuotaTicketType, TicketType
from boxoffice.core.catalog.schemas import EventDraft, EventOut, EventPage, EventSearch
from boxoffice.core.catalog.tickets import sellable_ticket_types
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.compliance.region import (
    ComplianceRegion,
    RegionLookup,
    place_problems,
    require_place,
    require_region,
)
from boxoffice.core.errors import Conflict, FieldError, NotFound, RuleViolated
from boxoffice.core.journal import append
from boxoffice.core.media.store import MediaStore
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.search.backend import SearchBackend

EVENT_KIND = "event"
#: How many ranked hits a text search considers before paging.
SEARCH_WINDOW = 200


#: What organizers may use in descriptions; everything else is stripped (nh3, i.e. ammonia).
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "a",
    "h2",
    "h3",
    "h4",
    "blockquote",
    "code",
    "pre",
    "hr",
}


def sanitize(html: str) -> str:
    """Rich text safe to show anywhere: allowed tags only, links made safe."""
    return str(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes={"a": {"href", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


def plain_text(html: str) -> str:
    """The words of rich text, for search and plain-text e-mails."""
    return str(nh3.clean(html, tags=set()))


async def category_slugs(session: AsyncSession) -> dict[uuid.UUID, str]:
    return {c.id: c.slug for c in await list_categories(session)}


async def event_out(
    session: AsyncSession, event: Event, *, private: bool = False, store: MediaStore | None = None
) -> EventOut:
    """The detail view: with its pictures when a media store is given."""
    out = EventOut.of(event, categories=await category_slugs(session), private=private)
    if store is None:
        return out
    return msgspec.structs.replace(out, images=await images_of(session, event.id, store))


async def create_event(
    session: AsyncSession,
    clock: Clock,
    organization_id: uuid.UUID,
    draft: EventDraft,
    *,
    regions: RegionLookup,
) -> Event:
    """A draft event; its region must be one an enabled pack provides."""
    draft.validate()
    check_taxes(draft, require_region(regions, draft.region))
    taken = await session.scalar(
        select(Event.id).where(Event.organization_id == organization_id, Event.slug == draft.slug)
    )
    if taken is not None:
        raise Conflict(f"this organization has an event with the slug {draft.slug!r} already")
    now = clock.now()
    event = Event(
        organization_id=organization_id,
        status=EventStatus.DRAFT,
        created_at=now,
        updated_at=now,
        **await _columns(session, draft),
    )
    session.add(event)
    await session.flush()
    await append(
        session,
        EventCreated(
            event_id=str(event.id), organization_id=str(organization_id), title=event.title
        ),
        clock,
    )
    return event


def check_taxes(draft: EventDraft, region: ComplianceRegion) -> None:
    """The event's place is in its region, and it sets tax rates only where the region's
    law leaves them to the seller."""
    require_place(region, draft.country or "", draft.subdivision or "")
    if draft.tax_rates and not region.organizer_sets_rates:
        raise RuleViolated(
            f"the region {region.id!r} sets its own tax rates: an event there cannot set any",
            errors=[
                FieldError(
                    "tax_rates",
                    "leave empty: organizers set rates only where the law leaves them to the "
                    "seller (region 'us')",
                )
            ],
            extra={"rule": "organizer_rates", "region": region.id},
        )


async def _columns(session: AsyncSession, draft: EventDraft) -> dict[str, object]:
    """The event's columns from a validated draft."""
    fields = msgspec.structs.asdict(draft)
    category = fields.pop("category")
    return {
        **fields,
        "country": draft.country or "",
        "subdivision": draft.subdivision or "",
        "tax_rates": [msgspec.structs.asdict(rate) for rate in draft.tax_rates],
        "starts_at": ensure_utc(draft.starts_at),
        "ends_at": ensure_utc(draft.ends_at),
        "local_start_date": draft.starts_at.astimezone(ZoneInfo(draft.timezone)).date().isoformat(),
        "description": sanitize(draft.description),
        "tags": sorted({t.strip().lower() for t in draft.tags}),
        "category_id": (await category_by_slug(session, category)).id if category else None,
    }


async def update_event(
    session: AsyncSession,
    clock: Clock,
    organization_id: uuid.UUID,
    event_id: uuid.UUID,
    draft: EventDraft,
    *,
    regions: RegionLookup,
) -> Event:
    """Replace an event's details. The slug stays unique per organization; status, ticket
    types and quotas are changed through their own routes."""
    draft.validate()
    check_taxes(draft, require_region(regions, draft.region))
    event = await get_event_of(session, organization_id, event_id)
    if draft.slug != event.slug and await session.scalar(
        select(Event.id).where(Event.organization_id == organization_id, Event.slug == draft.slug)
    ):
        raise Conflict(f"this organization has an event with the slug {draft.slug!r} already")
    changed = []
    for name, value in (await _columns(session, draft)).items():
        current = getattr(event, name)
        if (ensure_utc(current) if isinstance(current, datetime) else current) != value:
            changed.append(name)
        setattr(event, name, value)
    event.updated_at = clock.now()
    await append(
        session,
        EventUpdated(
            event_id=str(event.id), organization_id=str(organization_id), changed=tuple(changed)
        ),
        clock,
    )
    return event


def missing_for_publication(
    event: Event, now: datetime, sellable: int, regions: RegionLookup
) -> list[FieldError]:
    """What stops ``event`` from being published, one entry per field."""
    missing: list[FieldError] = []
    region = regions(event.region)
    if region is None:
        missing.append(FieldError("region", f"no enabled region pack provides {event.region!r}"))
    else:  # events stored before the place was checked against the region
        missing.extend(place_problems(region, event.country, event.subdivision))
    if not event.description.strip():
        missing.append(FieldError("description", "a published event needs a description"))
    if not (event.venue_name or event.city or event.online):
        missing.append(
            FieldError("venue_name", "say where it happens (venue or city), or that it is online")
        )
    if event.ends_at <= now:
        missing.append(FieldError("ends_at", "the event is over"))
    if sellable == 0:
        missing.append(FieldError("ticket_types", "add a ticket type and a quota it sells from"))
    return missing


async def change_status(
    session: AsyncSession,
    clock: Clock,
    event_id: uuid.UUID,
    target: EventStatus,
    *,
    regions: RegionLookup,
) -> Event:
    event = await session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise NotFound(f"no event {event_id}")
    check_transition(event.status, target)
    if target is EventStatus.PUBLISHED:
        sellable = await sellable_ticket_types(session, event.id)
        missing = missing_for_publication(event, clock.now(), sellable, regions)
        if missing:
            raise RuleViolated("the event is not complete enough to publish", errors=missing)
        event.published_at = event.published_at or clock.now()
    previous, event.status, event.updated_at = event.status, target, clock.now()
    await append(
        session,
        EventStatusChanged(
            event_id=str(event.id),
            organization_id=str(event.organization_id),
            from_status=previous,
            to_status=target,
        ),
        clock,
    )
    return event


async def stranded_events(session: AsyncSession, regions: RegionLookup) -> dict[str, list[str]]:
    """Why events still to be held (draft, published, postponed) can be neither published
    nor sold, each reason with the slugs of its events: a region no enabled pack provides,
    or a place its region does not cover (events stored before places were checked)."""
    found: dict[str, list[str]] = {}
    rows = await session.execute(
        select(Event.region, Event.country, Event.subdivision, Event.slug)
        .where(Event.status.in_(ACTIVE))
        .order_by(Event.region, Event.slug)
    )
    for region_id, country, subdivision, slug in rows:
        region = regions(region_id)
        if region is None:
            reason = (
                f"no enabled region pack provides {region_id!r}: enable the pack in [regions] "
                "enabled"
            )
        elif problems := place_problems(region, country, subdivision):
            reason = f"{problems[0].field}: {problems[0].message}"
        else:
            continue
        found.setdefault(reason, []).append(slug)
    return found


async def get_public_event(
    session: AsyncSession, event_id: uuid.UUID, store: MediaStore | None = None
) -> EventOut:
    event = await session.get(Event, event_id)
    if event is None or event.status not in PUBLIC:
        raise NotFound(f"no published event {event_id}")
    return await event_out(session, event, store=store)


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    starts_at: datetime | None = None
    id: uuid.UUID | None = None
    offset: int = 0


#: How many candidates a search around a point ranks in memory (after the bounding box).
NEARBY_WINDOW = 5000
EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _filters(query: EventSearch, now: datetime) -> list[ColumnElement[bool]]:
    """The SQL conditions for every filter given (all combine with AND)."""
    conditions: list[ColumnElement[bool]] = [Event.status.in_(PUBLIC), Event.ends_at >= now]
    if query.category:
        conditions.append(
            Event.category_id.in_(select(Category.id).where(Category.slug == query.category))
        )
    if query.tz and (query.date_from or query.date_to):
        zone = ZoneInfo(query.tz)
        if query.date_from:
            conditions.append(Event.starts_at >= datetime.combine(query.date_from, time(), zone))
        if query.date_to:
            after = datetime.combine(query.date_to + timedelta(days=1), time(), zone)
            conditions.append(Event.starts_at < after)
    else:
        if query.date_from:
            conditions.append(Event.local_start_date >= query.date_from.isoformat())
        if query.date_to:
            conditions.append(Event.local_start_date <= query.date_to.isoformat())
    if query.city:
        conditions.append(func.lower(Event.city) == query.city.strip().lower())
    if query.country:
        conditions.append(Event.country == query.country)
    if query.lat is not None and query.lon is not None and query.radius_km is not None:
        dlat = query.radius_km / 111.0
        dlon = query.radius_km / max(1e-6, 111.0 * math.cos(math.radians(query.lat)))
        conditions += [Event.latitude.between(query.lat - dlat, query.lat + dlat)]
        if dlon < 180:
            conditions += [Event.longitude.between(query.lon - dlon, query.lon + dlon)]
    public_ticket = select(TicketType.id).where(
        TicketType.event_id == Event.id, TicketType.visibility == "public"
    )
    if query.price_min is not None:
        public_ticket = public_ticket.where(TicketType.price_minor >= query.price_min)
    if query.price_max is not None:
        public_ticket = public_ticket.where(TicketType.price_minor <= query.price_max)
    if query.free:
        public_ticket = public_ticket.where(TicketType.price_minor == 0)
    if query.available:
        links = select(QuotaTicketType.quota_id).where(
            QuotaTicketType.ticket_type_id == TicketType.id
        )
        full = links.join(Quota, Quota.id == QuotaTicketType.quota_id).where(
            Quota.capacity - Quota.sold - Quota.held <= 0
        )
        public_ticket = public_ticket.where(links.exists(), ~full.exists())
    if query.price_min is not None or query.price_max is not None or query.free or query.available:
        conditions.append(public_ticket.exists())
    return conditions


async def list_public_events(
    session: AsyncSession, clock: Clock, query: EventSearch, backend: SearchBackend | None
) -> EventPage:
    """Discovery: upcoming public events matching every filter, by date (keyset pages), by
    relevance to ``q`` or by distance (offset pages over a bounded candidate set)."""
    query.validate()
    cursor = decode_cursor(query.cursor, _Cursor) if query.cursor else _Cursor()
    conditions = _filters(query, clock.now())
    ranked: list[uuid.UUID] | None = None
    if query.q.strip():
        if backend is None:
            raise RuleViolated("text search is not configured on this platform ([search] backend)")
        hits = await backend.search(
            EVENT_KIND, query.q, limit=SEARCH_WINDOW, language=query.language
        )
        ranked = [uuid.UUID(hit.id) for hit in hits]
        conditions.append(Event.id.in_(ranked))
    slugs = await category_slugs(session)
    if query.effective_sort == "date":
        return await _by_date(session, conditions, query.limit, cursor, slugs, query)
    # Rank and filter on ids and coordinates only; load whole rows for the page alone.
    rows = (
        await session.execute(
            select(Event.id, Event.latitude, Event.longitude)
            .where(*conditions)
            .limit(NEARBY_WINDOW)
        )
    ).all()
    scored = [(row.id, _distance_to(row.latitude, row.longitude, query)) for row in rows]
    if query.radius_km is not None:
        scored = [(i, d) for i, d in scored if d is not None and d <= query.radius_km]
    if query.effective_sort == "distance":
        scored.sort(key=lambda pair: (pair[1] or 0.0, pair[0]))
    else:
        order = {event_id: rank for rank, event_id in enumerate(ranked or [])}
        scored.sort(key=lambda pair: order.get(pair[0], len(order)))
    window = scored[cursor.offset : cursor.offset + query.limit]
    loaded = {
        e.id: e
        for e in await session.scalars(
            select(Event).where(Event.id.in_([event_id for event_id, _ in window]))
        )
    }
    end = cursor.offset + query.limit
    return EventPage(
        items=[_out(loaded[event_id], slugs, distance) for event_id, distance in window],
        next_cursor=encode_cursor(_Cursor(offset=end)) if end < len(scored) else None,
    )


def _distance_to(
    latitude: float | None, longitude: float | None, query: EventSearch
) -> float | None:
    if query.lat is None or query.lon is None or latitude is None or longitude is None:
        return None
    return distance_km(query.lat, query.lon, latitude, longitude)


def _out(event: Event, slugs: dict[uuid.UUID, str], distance: float | None) -> EventOut:
    out = EventOut.of(event, categories=slugs)
    return out if distance is None else msgspec.structs.replace(out, distance_km=round(distance, 3))


async def _by_date(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    limit: int,
    cursor: _Cursor,
    slugs: dict[uuid.UUID, str],
    query: EventSearch,
) -> EventPage:
    statement = (
        select(Event).where(*conditions).order_by(Event.starts_at, Event.id).limit(limit + 1)
    )
    if cursor.starts_at is not None and cursor.id is not None:
        statement = statement.where(
            tuple_(Event.starts_at, Event.id) > tuple_(cursor.starts_at, cursor.id)
        )
    events = list((await session.scalars(statement)).all())
    next_cursor = None
    if len(events) > limit:
        events = events[:limit]
        next_cursor = encode_cursor(_Cursor(starts_at=events[-1].starts_at, id=events[-1].id))
    items = [_out(e, slugs, _distance_to(e.latitude, e.longitude, query)) for e in events]
    if query.radius_km is not None:
        items = [i for i in items if i.distance_km is not None and i.distance_km <= query.radius_km]
    return EventPage(items=items, next_cursor=next_cursor)


RowT = TypeVar("RowT")


async def event_row(
    session: AsyncSession, model: type[RowT], row_id: uuid.UUID, event: Event, what: str
) -> RowT:
    """A row that belongs to ``event`` (``model`` has ``event_id``); 404 naming ``what`` for
    a missing row or another event's."""
    row = await session.get(model, row_id)
    if row is None or getattr(row, "event_id", None) != event.id:
        raise NotFound(f"no {what} {row_id} in this event")
    return row


async def get_event_of(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> Event:
    """An organization's own event, whatever its status; another organization's is 404."""
    event = await session.get(Event, event_id)
    if event is None or event.organization_id != organization_id:
        raise NotFound(f"no event {event_id} in this organization")
    return event


async def list_events_of(session: AsyncSession, organization_id: uuid.UUID) -> list[EventOut]:
    """All of an organization's events, drafts included, by start time."""
    events = await session.scalars(
        select(Event)
        .where(Event.organization_id == organization_id)
        .order_by(Event.starts_at, Event.id)
    )
    slugs = await category_slugs(session)
    return [EventOut.of(e, categories=slugs, private=True) for e in events]
