"""Public discovery of published events."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from boxoffice.core.catalog.categories import category_out, list_categories
from boxoffice.core.catalog.schemas import (
    CategoryOut,
    EventOut,
    EventPage,
    EventSearch,
    TicketTypeOut,
)
from boxoffice.core.catalog.service import get_public_event, list_public_events
from boxoffice.core.catalog.tickets import ticket_types_of
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

    @get("/{event_id:uuid}/ticket-types", summary="What is on sale (access codes unlock more)")
    async def ticket_types(
        self, platform: NamedDependency[Platform], event_id: FromPath[uuid.UUID],
        access_code: Annotated[str | None, QueryParameter(max_length=60)] = None,
    ) -> list[TicketTypeOut]:  # fmt: skip
        async with platform.db.read() as session:
            await get_public_event(session, event_id)
            return await ticket_types_of(session, event_id, platform.clock.now(),
                                         access_code=access_code)  # fmt: skip

    async def _page(self, platform: NamedDependency[Platform], query: EventSearch) -> EventPage:
        async with platform.db.read() as session:
            return await list_public_events(
                session, platform.clock, query, platform.router.search_backend()
            )


class CategoriesController(Controller):
    path = "/categories"
    tags = ["events"]

    @get("/", summary="Event categories, named in the requested locale")
    async def categories(
        self, platform: NamedDependency[Platform],
        locale: Annotated[str, QueryParameter(max_length=20)] = "en",
    ) -> list[CategoryOut]:  # fmt: skip
        async with platform.db.read() as session:
            return [category_out(c, locale) for c in await list_categories(session)]
