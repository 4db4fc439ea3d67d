"""An organization's outgoing webhooks (docs/webhooks.md): endpoints, their deliveries and
their log, sending one again by hand. Owners and admins manage them; API keys cannot
(they could send the organization's data anywhere)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.core.clock import Clock
from boxoffice.core.identity.permissions import Permission, Role
from boxoffice.core.webhooks import service
from boxoffice.core.webhooks.models import WebhookEndpoint
from boxoffice.core.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    EndpointChange,
    EndpointIn,
    EndpointOut,
)
from boxoffice.platform import Platform

MANAGE = needs(Permission.WEBHOOKS_MANAGE)


async def endpoint_of(
    session: NamedDependency[AsyncSession],
    role: NamedDependency[Role | None],
    org_id: FromPath[uuid.UUID],
    endpoint_id: FromPath[uuid.UUID],
) -> WebhookEndpoint:
    """The organization's endpoint ``endpoint_id`` (after ``role``: authorized)."""
    return await service.get(session, org_id, endpoint_id)


class WebhooksController(Controller):
    cache_control = PRIVATE
    path = "/organizations/{org_id:uuid}/webhooks"
    tags = ["webhooks"]
    dependencies = {"endpoint": Provide(endpoint_of)}

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
        role: NamedDependency[Role | None],
        endpoint: NamedDependency[WebhookEndpoint],
    ) -> EndpointOut:
        return service.endpoint_out(endpoint)

    @patch("/{endpoint_id:uuid}", opt=MANAGE, summary="Change it, or turn it off or on")
    async def change(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        role: NamedDependency[Role | None],
        endpoint: NamedDependency[WebhookEndpoint],
        data: JSONBody[EndpointChange],
    ) -> EndpointOut:
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
        endpoint: NamedDependency[WebhookEndpoint],
    ) -> None:
        await service.remove(session, endpoint)

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
        endpoint: NamedDependency[WebhookEndpoint],
    ) -> EndpointOut:
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
        endpoint: NamedDependency[WebhookEndpoint],
        status: Annotated[
            str | None, QueryParameter(pattern="^(pending|delivered|failed)$")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
    ) -> DeliveryPage:
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
        endpoint: NamedDependency[WebhookEndpoint],
        delivery_id: FromPath[uuid.UUID],
    ) -> Response[DeliveryOut]:
        queued = await service.send_again(session, clock, endpoint, delivery_id)
        platform.webhooks.wake()
        return Response(queued, status_code=202)
