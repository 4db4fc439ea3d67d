"""Public discovery of published events."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from boxoffice.core.catalog.schemas import EventOut, EventPage, EventSearch
from boxoffice.core.catalog.service import get_public_event, list_public_events
from boxoffice.platform import Platform


class EventsController(Controller):
    path = "/events"
    tags = ["events"]

    @get("/", summary="Published events, upcoming first, or by relevance with q")
    async def list_events(
        self,
        platform: NamedDependency[Platform],
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: FromQuery[str | None] = None,
        language: Annotated[str, QueryParameter(pattern=r"^[a-z]{2}$")] = "en",
    ) -> EventPage:
        return await self._page(
            platform, EventSearch(q=q, limit=limit, cursor=cursor, language=language)
        )

    @post("/search", status_code=200, summary="The same search, with the query as a JSON body")
    async def search_events(
        self, platform: NamedDependency[Platform], data: JSONBody[EventSearch]
    ) -> EventPage:
        return await self._page(platform, data)

    @get("/{event_id:uuid}", summary="One published event")
    async def get_event(
        self, platform: NamedDependency[Platform], event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        async with platform.db.read() as session:
            return await get_public_event(session, event_id)

    async def _page(self, platform: NamedDependency[Platform], query: EventSearch) -> EventPage:
        async with platform.db.read() as session:
            return await list_public_events(
                session, platform.clock, query, platform.router.search_backend()
            )
