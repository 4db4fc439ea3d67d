"""Public discovery of published events."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import cacheable
from boxoffice.api.deps import READ_ONLY
from boxoffice.api.middleware import MAY_LAG
from boxoffice.api.readcache import PUBLIC_READ, PUBLIC_READ_BY_LANGUAGE, public_read_cache
from boxoffice.core.catalog.calendar import event_calendar
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
from boxoffice.core.clock import Clock
from boxoffice.core.errors import NotFound
from boxoffice.core.media.store import MediaStore
from boxoffice.core.money import MAX_MINOR
from boxoffice.core.notify.rendering import accepted_languages, pick_locale
from boxoffice.core.search.backend import SearchBackend

LIST_MAX_AGE = 30
DETAIL_MAX_AGE = 60
AVAILABILITY_MAX_AGE = 5


class EventsController(Controller):
    path = "/events"
    tags = ["events"]

    @get(
        "/",
        summary="Published upcoming events: filter, search and sort",
        opt={**PUBLIC_READ, **MAY_LAG},
        middleware=[public_read_cache],
    )
    async def list_events(
        self,
        request: Request[Any, Any, Any],
        search_backend: NamedDependency[SearchBackend | None],
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        q: Annotated[str, QueryParameter(max_length=200, description="full-text query")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: FromQuery[str | None] = None,
        language: Annotated[str, QueryParameter(pattern=r"^[a-z]{2}$")] = "en",
        category: Annotated[str | None, QueryParameter(max_length=60)] = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        tz: Annotated[
            str | None,
            QueryParameter(
                max_length=64, description="dates in this IANA zone; default: each event's"
            ),
        ] = None,
        city: Annotated[str | None, QueryParameter(max_length=120)] = None,
        country: Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{2}$")] = None,
        lat: Annotated[float | None, QueryParameter(ge=-90, le=90)] = None,
        lon: Annotated[float | None, QueryParameter(ge=-180, le=180)] = None,
        radius_km: Annotated[float | None, QueryParameter(gt=0, le=20_000)] = None,
        price_min: Annotated[int | None, QueryParameter(ge=0, le=MAX_MINOR)] = None,
        price_max: Annotated[int | None, QueryParameter(ge=0, le=MAX_MINOR)] = None,
        free: FromQuery[bool] = False,
        available: FromQuery[bool] = False,
        sort: Annotated[str | None, QueryParameter(pattern="^(date|relevance|distance)$")] = None,
    ) -> Response[EventPage]:
        query = EventSearch(
            q=q,
            limit=limit,
            cursor=cursor,
            language=language,
            category=category,
            date_from=date_from,
            date_to=date_to,
            tz=tz,
            city=city,
            country=country,
            lat=lat,
            lon=lon,
            radius_km=radius_km,
            price_min=price_min,
            price_max=price_max,
            free=free,
            available=available,
            sort=sort,
        )
        page = await list_public_events(session, clock, query, search_backend)
        return cacheable(request, page, max_age=LIST_MAX_AGE)

    @post(
        "/search",
        status_code=200,
        opt={**READ_ONLY, **MAY_LAG},
        summary="The same search, with the query as a JSON body",
    )
    async def search_events(
        self,
        search_backend: NamedDependency[SearchBackend | None],
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        data: JSONBody[EventSearch],
    ) -> EventPage:
        return await list_public_events(session, clock, data, search_backend)

    @get(
        "/{event_id:uuid}",
        summary="One published event",
        opt={**PUBLIC_READ, **MAY_LAG},
        middleware=[public_read_cache],
    )
    async def get_event(
        self,
        request: Request[Any, Any, Any],
        media_store: NamedDependency[MediaStore | None],
        session: NamedDependency[AsyncSession],
        event_id: FromPath[uuid.UUID],
    ) -> Response[EventOut]:
        event = await get_public_event(session, event_id, media_store)
        return cacheable(request, event, max_age=DETAIL_MAX_AGE)

    @get(
        "/{event_id:uuid}/calendar.ics",
        summary="The event as an iCalendar file (RFC 5545)",
        media_type="text/calendar",
        opt=MAY_LAG,
    )
    async def calendar(
        self,
        public_url: NamedDependency[str],
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        event = await get_public_event(session, event_id)
        return Response(
            event_calendar(event, public_url, stamp=clock.now()),
            media_type="text/calendar",
            headers={"content-disposition": f'attachment; filename="{event.slug}.ics"'},
        )

    @get(
        "/{event_id:uuid}/ticket-types",
        summary="What is on sale (access codes unlock more)",
        opt={**PUBLIC_READ, **MAY_LAG},
        middleware=[public_read_cache],
    )
    async def ticket_types(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event_id: FromPath[uuid.UUID],
        access_code: Annotated[str | None, QueryParameter(max_length=60)] = None,
    ) -> Response[list[TicketTypeOut]]:
        await get_public_event(session, event_id)
        offered = await ticket_types_of(session, event_id, clock.now(), access_code=access_code)
        # Availability moves with every sale: a short shared cache, revalidated by ETag.
        return cacheable(request, offered, max_age=AVAILABILITY_MAX_AGE, shared=access_code is None)


class CategoriesController(Controller):
    path = "/categories"
    tags = ["events"]

    @get(
        "/",
        summary="Event categories, each named in the caller's language",
        description="``name`` is in the language ``locale`` names, else the one "
        "``Accept-Language`` negotiates, among the platform's languages (``Content-Language`` "
        "says which), falling back to English; ``names`` has every language the category is "
        "named in.",
        opt={**PUBLIC_READ_BY_LANGUAGE, **MAY_LAG},
        middleware=[public_read_cache],
    )
    async def categories(
        self,
        request: Request[Any, Any, Any],
        session: NamedDependency[AsyncSession],
        locale: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Response[list[CategoryOut]]:
        asked = [locale] if locale else accepted_languages(request.headers.get("accept-language"))
        language = pick_locale(*asked)
        found = [category_out(c, language) for c in await list_categories(session)]
        return cacheable(request, found, max_age=DETAIL_MAX_AGE, language=language)


class MediaController(Controller):
    """Serves the media store's files at the URLs ``localstore`` gives out (a store with a
    public URL of its own, an S3 bucket or a CDN, is fetched from there instead)."""

    path = "/media"
    tags = ["media"]
    include_in_schema = False

    @get("/{key:path}", summary="A stored picture")
    async def media(
        self, media_store: NamedDependency[MediaStore | None], key: FromPath[str]
    ) -> Response[bytes]:
        store = media_store
        data = await store.read(key.lstrip("/")) if store is not None else None
        if data is None:
            raise NotFound(f"no media {key}")
        return Response(
            data,
            media_type="image/webp",
            headers={"cache-control": "public, max-age=31536000, immutable"},
        )
