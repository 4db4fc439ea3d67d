"""Keeps the search backend in step with the catalog, driven by journal entries."""

from __future__ import annotations

import uuid

from boxoffice.core.catalog.entries import EventStatusChanged, EventUpdated
from boxoffice.core.catalog.lifecycle import PUBLIC
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.service import EVENT_KIND, plain_text
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.search.backend import SearchBackend, SearchDocument
from boxoffice.core.storage import Database


def event_document(event: Event) -> SearchDocument:
    return SearchDocument(
        kind=EVENT_KIND,
        id=str(event.id),
        title=event.title,
        body="\n".join(
            filter(
                None, [plain_text(event.description), event.venue_name, event.city, event.address]
            )
        ),
        tags=tuple(event.tags or ()),
        language=event.language,
    )


def event_index_subscriber(db: Database, backend: SearchBackend) -> Subscriber:
    """Index events that became public; remove those that stopped being public."""

    async def handle(entry: RecordedEntry) -> None:
        event_id = entry.aggregate_id
        async with db.read() as session:
            event = await session.get(Event, uuid.UUID(event_id))
        # Read the current state rather than the entry's: replays and retries converge.
        if event is not None and event.status in PUBLIC:
            await backend.index([event_document(event)])
        else:
            await backend.remove(EVENT_KIND, [event_id])

    return Subscriber(
        name=f"search-index:{EVENT_KIND}:{backend.id}",
        handler=handle,
        types=frozenset({EventStatusChanged.__name__, EventUpdated.__name__}),
    )
