"""Platform administration (platform admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.readcache import invalidating_public_reads
from boxoffice.core.catalog import categories
from boxoffice.core.catalog.categories import category_out
from boxoffice.core.catalog.schemas import CategoryIn, CategoryOut
from boxoffice.core.clock import Clock
from boxoffice.core.identity import admin
from boxoffice.core.identity.accounts import profile_of
from boxoffice.core.identity.models import User
from boxoffice.core.identity.schemas import PlatformRoleIn, ProfileOut, StatsOut, UserPage


class AdminController(Controller):
    cache_control = PRIVATE
    # Their writes change what the public reads show: shown at once in this process.
    middleware = [invalidating_public_reads]
    path = "/admin"
    tags = ["admin"]

    @get("/users", summary="Find users (newest first, cursor pagination)")
    async def users(
        self,
        session: NamedDependency[AsyncSession],
        admin_user: NamedDependency[User],
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> UserPage:
        return await admin.list_users(session, q=q, limit=limit, cursor=cursor)

    @post("/users/{user_id:uuid}/suspend", status_code=200, summary="Suspend (ends sessions)")
    async def suspend(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
        user_id: FromPath[uuid.UUID],
    ) -> ProfileOut:
        return profile_of(await admin.set_status(session, clock, user_id, "suspended", admin_user))

    @post("/users/{user_id:uuid}/reactivate", status_code=200, summary="Lift a suspension")
    async def reactivate(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
        user_id: FromPath[uuid.UUID],
    ) -> ProfileOut:
        return profile_of(await admin.set_status(session, clock, user_id, "active", admin_user))

    @put("/users/{user_id:uuid}/platform-role", summary="Grant or remove the admin role")
    async def platform_role(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[PlatformRoleIn],
    ) -> ProfileOut:
        return profile_of(
            await admin.set_platform_role(session, clock, user_id, data.role, admin_user)
        )

    @get("/stats", summary="Sign-ups per day, verified ratio, organizations")
    async def stats(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
    ) -> StatsOut:
        return await admin.statistics(session, clock)

    @post("/categories", status_code=201, summary="Add an event category")
    async def create_category(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
        data: JSONBody[CategoryIn],
    ) -> CategoryOut:
        return category_out(await categories.create_category(session, clock, data))

    @put("/categories/{category_id:uuid}", summary="Rename or reorder a category")
    async def update_category(
        self,
        session: NamedDependency[AsyncSession],
        admin_user: NamedDependency[User],
        category_id: FromPath[uuid.UUID],
        data: JSONBody[CategoryIn],
    ) -> CategoryOut:
        return category_out(await categories.update_category(session, category_id, data))
