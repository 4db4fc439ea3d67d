"""Catalog services: the only code that changes the event tables."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.entries import EventCreated, EventStatusChanged
from boxoffice.core.catalog.lifecycle import PUBLIC, EventStatus, check_transition
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.schemas import EventDraft, EventOut, EventPage, EventSearch
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, FieldError, NotFound, RuleViolated
from boxoffice.core.journal import append
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.search.backend import SearchBackend

EVENT_KIND = "event"
#: How many ranked hits a text search considers before paging.
SEARCH_WINDOW = 500


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
        organization_id=organization_id,
        status=EventStatus.DRAFT,
        created_at=now,
        updated_at=now,
        **{
            **msgspec.structs.asdict(draft),
            "country": draft.country or "",
            "starts_at": ensure_utc(draft.starts_at),
            "ends_at": ensure_utc(draft.ends_at),
        },
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


def missing_for_publication(event: Event, now: datetime) -> list[FieldError]:
    """What stops ``event`` from being published, one entry per field."""
    missing: list[FieldError] = []
    if not event.description.strip():
        missing.append(FieldError("description", "a published event needs a description"))
    if not (event.venue_name or event.city):
        missing.append(FieldError("venue_name", "say where it happens (venue or city)"))
    if event.ends_at <= now:
        missing.append(FieldError("ends_at", "the event is over"))
    return missing


async def change_status(
    session: AsyncSession, clock: Clock, event_id: uuid.UUID, target: EventStatus
) -> Event:
    event = await session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise NotFound(f"no event {event_id}")
    check_transition(event.status, target)
    if target is EventStatus.PUBLISHED:
        missing = missing_for_publication(event, clock.now())
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
    return EventOut.of(event)


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
    return EventPage(items=[EventOut.of(e) for e in events], next_cursor=next_cursor)


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
    items = [EventOut.of(found[i]) for i in window if i in found]
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
    return [EventOut.of(e) for e in events]
