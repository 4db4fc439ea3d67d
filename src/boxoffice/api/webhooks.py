"""An organization's outgoing webhooks (docs/webhooks.md): endpoints, their deliveries and
their log, sending one again by hand. Owners and admins manage them; API keys cannot
(they could send the organization's data anywhere)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.core.clock import Clock
from boxoffice.core.identity.permissions import Permission, Role
from boxoffice.core.webhooks import service
from boxoffice.core.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointChange,
    EndpointIn,
    EndpointOut,
)
from boxoffice.platform import Platform

MANAGE = needs(Permission.WEBHOOKS_MANAGE)


class WebhooksController(Controller):
    cache_control = PRIVATE
    path = "/organizations/{org_id:uuid}/webhooks"
    tags = ["webhooks"]

    @get("/entry-types", opt=MANAGE, summary="The entry types a webhook can receive")
    async def entry_types(self, role: NamedDependency[Role | None]) -> list[str]:
        return service.deliverable_types()

    @post("/", opt=MANAGE, summary="Register an endpoint (answers its secret, once)")
    async def create(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        data: JSONBody[EndpointIn],
    ) -> EndpointOut:
        return await service.create(
            session,
            clock,
            platform.links,
            org_id,
            data,
            allow_private=platform.settings.webhooks_allow_private,
        )

    @get("/", opt=MANAGE, summary="The organization's endpoints")
    async def list_endpoints(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
    ) -> list[EndpointOut]:
        return await service.list_endpoints(session, org_id)

    @get("/{endpoint_id:uuid}", opt=MANAGE, summary="One endpoint")
    async def get_endpoint(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
    ) -> EndpointOut:
        return service.endpoint_out(await service.get(session, org_id, endpoint_id))

    @patch("/{endpoint_id:uuid}", opt=MANAGE, summary="Change it, or turn it off or on")
    async def change(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
        data: JSONBody[EndpointChange],
    ) -> EndpointOut:
        endpoint = await service.get(session, org_id, endpoint_id)
        return await service.change(
            session,
            clock,
            endpoint,
            data,
            allow_private=platform.settings.webhooks_allow_private,
        )

    @delete("/{endpoint_id:uuid}", opt=MANAGE, summary="Remove it and its delivery log")
    async def remove(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
    ) -> None:
        await service.remove(session, await service.get(session, org_id, endpoint_id))

    @post(
        "/{endpoint_id:uuid}/rotate-secret",
        status_code=200,
        opt=MANAGE,
        summary="A new signing secret (answered once; the old one stops at once)",
    )
    async def rotate(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
    ) -> EndpointOut:
        endpoint = await service.get(session, org_id, endpoint_id)
        return await service.rotate_secret(session, clock, platform.links, endpoint)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        opt=MANAGE,
        summary="Deliveries, newest first, each with its attempts",
    )
    async def deliveries(
        self,
        session: NamedDependency[AsyncSession],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
        status: Annotated[
            str | None, QueryParameter(pattern="^(pending|delivered|failed)$")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
    ) -> DeliveryPage:
        endpoint = await service.get(session, org_id, endpoint_id)
        return await service.deliveries(
            session, endpoint, status=status, limit=limit, cursor=cursor
        )

    @post(
        "/{endpoint_id:uuid}/deliveries/{delivery_id:uuid}/send-again",
        status_code=202,
        opt=MANAGE,
        summary="Send a delivery again now",
    )
    async def send_again(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        role: NamedDependency[Role | None],
        org_id: FromPath[uuid.UUID],
        endpoint_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> Response[DeliveryOut]:
        endpoint = await service.get(session, org_id, endpoint_id)
        queued = await service.send_again(session, clock, endpoint, delivery_id)
        platform.webhooks.wake()
        return Response(queued, status_code=202)
