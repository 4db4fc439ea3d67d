"""The journal for operators (platform admins only): subscribers and how far behind they
are, dead letters and their retry, entry types and their schemas, projection rebuilds.
``boxoffice journal`` does the same from a shell."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from boxoffice.api.caching import PRIVATE
from boxoffice.core.identity.models import User
from boxoffice.core.journal import operations
from boxoffice.core.journal.schemas import (
    DeadLetterDetail,
    DeadLetterPage,
    EntryTypeOut,
    ReplayOut,
    SubscriberOut,
)
from boxoffice.platform import PROJECTIONS, Platform


class JournalController(Controller):
    cache_control = PRIVATE
    path = "/admin/journal"
    tags = ["admin"]

    @get("/subscribers", summary="Subscribers: cursor, entries behind, retries, dead letters")
    async def subscribers(
        self, platform: NamedDependency[Platform], admin_user: NamedDependency[User]
    ) -> list[SubscriberOut]:
        return await operations.subscribers(platform.db, platform.dispatcher)

    @get("/entry-types", summary="Entry types, their schema version and JSON Schema")
    async def entry_types(self, admin_user: NamedDependency[User]) -> list[EntryTypeOut]:
        return operations.entry_types()

    @get("/dead-letters", summary="Entries a subscriber gave up on (newest first)")
    async def dead_letters(
        self,
        platform: NamedDependency[Platform],
        admin_user: NamedDependency[User],
        subscriber: Annotated[str | None, QueryParameter(max_length=200)] = None,
        include_retried: FromQuery[bool] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> DeadLetterPage:
        return await operations.dead_letters(
            platform.db,
            subscriber=subscriber,
            include_retried=include_retried,
            limit=limit,
            cursor=cursor,
        )

    @get("/dead-letters/{dead_letter_id:int}", summary="A dead letter with its entry")
    async def dead_letter(
        self,
        platform: NamedDependency[Platform],
        admin_user: NamedDependency[User],
        dead_letter_id: FromPath[int],
    ) -> DeadLetterDetail:
        return await operations.dead_letter(platform.db, dead_letter_id)

    @post(
        "/dead-letters/{dead_letter_id:int}/retry",
        status_code=200,
        summary="Deliver a dead letter's entry to its subscriber again",
    )
    async def retry(
        self,
        platform: NamedDependency[Platform],
        admin_user: NamedDependency[User],
        dead_letter_id: FromPath[int],
    ) -> DeadLetterDetail:
        return await operations.retry_dead_letter(
            platform.db,
            platform.clock,
            platform.dispatcher,
            dead_letter_id,
            by=f"admin:{admin_user.email}",
        )

    @post(
        "/subscribers/{name:str}/replay",
        status_code=200,
        summary="Rebuild a projection, or deliver entries again from a position",
    )
    async def replay(
        self,
        platform: NamedDependency[Platform],
        admin_user: NamedDependency[User],
        name: FromPath[str],
        from_position: Annotated[int | None, QueryParameter(name="from", ge=1, le=2**62)] = None,
    ) -> ReplayOut:
        return await operations.replay(
            platform.db,
            platform.clock,
            platform.dispatcher,
            name,
            projections=PROJECTIONS,
            from_position=from_position,
        )
