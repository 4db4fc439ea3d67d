"""Catalog services: the only code that changes the event tables."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
import nh3
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.categories import category_by_slug, list_categories
from boxoffice.core.catalog.entries import EventCreated, EventStatusChanged, EventUpdated
from boxoffice.core.catalog.lifecycle import PUBLIC, EventStatus, check_transition
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.schemas import EventDraft, EventOut, EventPage, EventSearch
from boxoffice.core.catalog.tickets import sellable_ticket_types
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, FieldError, NotFound, RuleViolated
from boxoffice.core.journal import append
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.search.backend import SearchBackend

EVENT_KIND = "event"
#: How many ranked hits a text search considers before paging.
SEARCH_WINDOW = 500


#: What organizers may use in descriptions; everything else is stripped (nh3, i.e. ammonia).
ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "a", "h2", "h3",
                "h4", "blockquote", "code", "pre", "hr"}  # fmt: skip


def sanitize(html: str) -> str:
    """Rich text safe to show anywhere: allowed tags only, links made safe."""
    return str(nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                         url_schemes={"http", "https", "mailto"},
                         link_rel="noopener noreferrer nofollow"))  # fmt: skip


def plain_text(html: str) -> str:
    """The words of rich text, for search and plain-text e-mails."""
    return str(nh3.clean(html, tags=set()))


async def category_slugs(session: AsyncSession) -> dict[uuid.UUID, str]:
    return {c.id: c.slug for c in await list_categories(session)}


async def event_out(session: AsyncSession, event: Event, *, private: bool = False) -> EventOut:
    return EventOut.of(event, categories=await category_slugs(session), private=private)


async def create_event(
    session: AsyncSession, clock: Clock, organization_id: uuid.UUID, draft: EventDraft
) -> Event:
    draft.validate()
    taken = await session.scalar(
        select(Event.id).where(Event.organization_id == organization_id, Event.slug == draft.slug)
    )
    if taken is not None:
        raise Conflict(f"this organization has an event with the slug {draft.slug!r} already")
    now = clock.now()
    event = Event(
        organization_id=organization_id, status=EventStatus.DRAFT, created_at=now,
        updated_at=now, **await _columns(session, draft),
    )  # fmt: skip
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


async def _columns(session: AsyncSession, draft: EventDraft) -> dict[str, object]:
    """The event's columns from a validated draft."""
    fields = msgspec.structs.asdict(draft)
    category = fields.pop("category")
    return {
        **fields,
        "country": draft.country or "",
        "starts_at": ensure_utc(draft.starts_at),
        "ends_at": ensure_utc(draft.ends_at),
        "description": sanitize(draft.description),
        "tags": sorted({t.strip().lower() for t in draft.tags}),
        "category_id": (await category_by_slug(session, category)).id if category else None,
    }


async def update_event(
    session: AsyncSession, clock: Clock, organization_id: uuid.UUID, event_id: uuid.UUID,
    draft: EventDraft,
) -> Event:  # fmt: skip
    """Replace an event's details. The slug stays unique per organization; status, ticket
    types and quotas are changed through their own routes."""
    draft.validate()
    event = await get_event_of(session, organization_id, event_id)
    if draft.slug != event.slug and await session.scalar(select(Event.id).where(
            Event.organization_id == organization_id, Event.slug == draft.slug)):  # fmt: skip
        raise Conflict(f"this organization has an event with the slug {draft.slug!r} already")
    for name, value in (await _columns(session, draft)).items():
        setattr(event, name, value)
    event.updated_at = clock.now()
    await append(
        session, EventUpdated(event_id=str(event.id), organization_id=str(organization_id)), clock
    )
    return event


def missing_for_publication(event: Event, now: datetime, sellable: int) -> list[FieldError]:
    """What stops ``event`` from being published, one entry per field."""
    missing: list[FieldError] = []
    if not event.description.strip():
        missing.append(FieldError("description", "a published event needs a description"))
    if not (event.venue_name or event.city):
        missing.append(FieldError("venue_name", "say where it happens (venue or city)"))
    if event.ends_at <= now:
        missing.append(FieldError("ends_at", "the event is over"))
    if sellable == 0:
        missing.append(FieldError("ticket_types", "add a ticket type and a quota it sells from"))
    return missing


async def change_status(
    session: AsyncSession, clock: Clock, event_id: uuid.UUID, target: EventStatus
) -> Event:
    event = await session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise NotFound(f"no event {event_id}")
    check_transition(event.status, target)
    if target is EventStatus.PUBLISHED:
        sellable = await sellable_ticket_types(session, event.id)
        missing = missing_for_publication(event, clock.now(), sellable)
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


async def get_public_event(session: AsyncSession, event_id: uuid.UUID) -> EventOut:
    event = await session.get(Event, event_id)
    if event is None or event.status not in PUBLIC:
        raise NotFound(f"no published event {event_id}")
    return await event_out(session, event)


class _Cursor(msgspec.Struct, frozen=True, array_like=True):
    starts_at: datetime | None = None
    id: uuid.UUID | None = None
    offset: int = 0


async def list_public_events(
    session: AsyncSession, clock: Clock, query: EventSearch, backend: SearchBackend | None
) -> EventPage:
    """Upcoming public events by start time, or, with ``q``, by search relevance."""
    cursor = decode_cursor(query.cursor, _Cursor) if query.cursor else _Cursor()
    if query.q.strip():
        return await _search(session, query, cursor, backend)
    statement = (
        select(Event)
        .where(Event.status.in_(PUBLIC), Event.ends_at >= clock.now())
        .order_by(Event.starts_at, Event.id)
        .limit(query.limit + 1)
    )
    if cursor.starts_at is not None and cursor.id is not None:
        statement = statement.where(
            tuple_(Event.starts_at, Event.id) > tuple_(cursor.starts_at, cursor.id)
        )
    events = list((await session.scalars(statement)).all())
    next_cursor = None
    if len(events) > query.limit:
        events = events[: query.limit]
        last = events[-1]
        next_cursor = encode_cursor(_Cursor(starts_at=last.starts_at, id=last.id))
    slugs = await category_slugs(session)
    items = [EventOut.of(e, categories=slugs) for e in events]
    return EventPage(items=items, next_cursor=next_cursor)


async def _search(
    session: AsyncSession, query: EventSearch, cursor: _Cursor, backend: SearchBackend | None
) -> EventPage:
    if backend is None:
        raise RuleViolated("text search is not configured on this platform ([search] backend)")
    hits = await backend.search(EVENT_KIND, query.q, limit=SEARCH_WINDOW, language=query.language)
    ranked = [uuid.UUID(hit.id) for hit in hits]
    window = ranked[cursor.offset : cursor.offset + query.limit]
    found = {
        event.id: event
        for event in await session.scalars(
            select(Event).where(Event.id.in_(window), Event.status.in_(PUBLIC))
        )
    }
    slugs = await category_slugs(session)
    items = [EventOut.of(found[i], categories=slugs) for i in window if i in found]
    end = cursor.offset + query.limit
    next_cursor = encode_cursor(_Cursor(offset=end)) if end < len(ranked) else None
    return EventPage(items=items, next_cursor=next_cursor)


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
