"""Messages over HTTP: the one-click unsubscribe (RFC 8058), an organizer's broadcasts to
an event's buyers with their delivery counts, and the platform's delivery log for admins."""

from __future__ import annotations

import uuid
from html import escape
from typing import Annotated

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.core.booking.notices import (
    BroadcastIn,
    BroadcastOut,
    broadcast_of,
    broadcast_out,
    broadcasts_of,
    request_broadcast,
)
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock
from boxoffice.core.errors import NotFound
from boxoffice.core.identity.models import User
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.identity.principal import Principal
from boxoffice.core.links import LinkKind
from boxoffice.core.notify.models import MessageStatus
from boxoffice.core.notify.preferences import set_marketing
from boxoffice.core.notify.service import MessageLogOut, message_log, retry_now
from boxoffice.platform import Platform

Address = Annotated[str, QueryParameter(min_length=3, max_length=320)]
Token = Annotated[str, QueryParameter(pattern=r"^[A-Za-z0-9_=-]{1,100}$")]


class UnsubscribedOut(msgspec.Struct, frozen=True):
    address: str
    marketing: bool


def _check(platform: Platform, address: str, token: str) -> None:
    if not platform.links.address_matches(LinkKind.UNSUBSCRIBE, address, token):
        raise NotFound("this unsubscribe link is not valid")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
<h1>Unsubscribe {address}?</h1>
<p>You will get no more news or offers. Messages about your orders and tickets still come.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>
</body></html>
"""


class UnsubscribeController(Controller):
    path = "/notifications/unsubscribe"
    tags = ["notifications"]
    cache_control = PRIVATE

    @get(
        "/",
        media_type=MediaType.HTML,
        summary="The unsubscribe page a link in an e-mail opens (it asks; it does not act, "
        "since mail scanners open links)",
    )
    async def unsubscribe_page(
        self, platform: NamedDependency[Platform], address: Address, token: Token
    ) -> Response[str]:
        _check(platform, address, token)
        return Response(_PAGE.format(address=escape(address)), media_type=MediaType.HTML)

    @post(
        "/",
        status_code=200,
        summary="Unsubscribe from marketing: the RFC 8058 one-click POST (any body)",
    )
    async def unsubscribe(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        address: Address,
        token: Token,
    ) -> UnsubscribedOut:
        _check(platform, address, token)
        await set_marketing(session, clock, address, allowed=False, source="unsubscribe-link")
        return UnsubscribedOut(address=address, marketing=False)


class BroadcastsController(Controller):
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}/broadcasts"
    tags = ["notifications"]
    cache_control = PRIVATE

    @post(
        "/",
        status_code=202,
        opt=needs(Permission.ORDERS_MANAGE),
        summary="Send a message to everyone with a confirmed order (marketing: only those "
        "who consented); it goes out in the background",
    )
    async def broadcast(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        principal: NamedDependency[Principal],
        event: NamedDependency[Event],
        data: JSONBody[BroadcastIn],
    ) -> BroadcastOut:
        by = principal.user.id if principal.user is not None else None
        return await broadcast_out(
            session, await request_broadcast(session, clock, event, data, by=by)
        )

    @get("/", opt=needs(Permission.ORDERS_READ), summary="The event's broadcasts, with counts")
    async def broadcasts(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[BroadcastOut]:
        return await broadcasts_of(session, event.id)

    @get(
        "/{broadcast_id:uuid}",
        opt=needs(Permission.ORDERS_READ),
        summary="One broadcast: how many were queued, sent, failed",
    )
    async def one_broadcast(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        broadcast_id: FromPath[uuid.UUID],
    ) -> BroadcastOut:
        return await broadcast_of(session, event.id, broadcast_id)


StatusFilter = Annotated[
    str | None, QueryParameter(pattern="^(" + "|".join(MessageStatus.ALL) + ")$")
]


class MessageLogController(Controller):
    path = "/admin/messages"
    tags = ["admin"]
    cache_control = PRIVATE

    @get("/", summary="The delivery log: newest first (never a message's text)")
    async def messages(
        self,
        session: NamedDependency[AsyncSession],
        admin_user: NamedDependency[User],
        status: StatusFilter = None,
        recipient: Annotated[str | None, QueryParameter(max_length=320)] = None,
        topic: Annotated[str | None, QueryParameter(max_length=80)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> list[MessageLogOut]:
        return await message_log(
            session, status=status, recipient=recipient, topic=topic, limit=limit
        )

    @post(
        "/{message_id:uuid}/retry",
        status_code=200,
        summary="Send again a message whose retries were spent (once its channel is mended)",
    )
    async def retry(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        admin_user: NamedDependency[User],
        message_id: FromPath[uuid.UUID],
    ) -> MessageLogOut:
        return await retry_now(session, clock, message_id)
