"""Tickets for their holders (by the order's secret link, or by the ticket's own signed
credential) and the event's public keys for scanners."""

from __future__ import annotations

import uuid

import msgspec
import segno
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.booking import Secret, require_secret
from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import needs
from boxoffice.core.booking import orders
from boxoffice.core.booking.orders import TicketStatus
from boxoffice.core.booking.schemas import SecretIn
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, NotFound, ProviderUnavailable
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.tickets.formats import TicketDocument
from boxoffice.core.tickets.service import (
    TicketPass,
    TicketView,
    TransferIn,
    passes_of,
    reissue,
    ticket_view,
    transfer,
)
from boxoffice.logs import get_logger
from boxoffice.platform import Platform

log = get_logger(__name__)

#: Where the ticket pages live (the links in a ticket pass).
PREFIX = "/api/v1"


class TicketKeysOut(msgspec.Struct, frozen=True, kw_only=True):
    """What a scanner needs to check this event's tickets offline."""

    event_id: uuid.UUID
    algorithm: str = "Ed25519"
    #: Raw 32-byte public keys, base64url; a credential signed by any of them is genuine.
    keys: list[str]


class TicketsController(Controller):
    path = "/"
    tags = ["tickets"]
    cache_control = PRIVATE

    @get("/orders/{number:str}/tickets", summary="The order's tickets with their credentials")
    async def tickets_of_order(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        secret: Secret,
    ) -> list[TicketPass]:
        order = await orders.get_order_by_number(session, number, secret=require_secret(secret))
        formats = _formats(platform)
        return await passes_of(session, platform.ticket_keys, order, PREFIX, formats)

    @post(
        "/orders/{number:str}/tickets/{ticket_id:uuid}/reissue",
        status_code=200,
        summary="A new credential for a ticket; the old one is refused from now on",
    )
    async def reissue_ticket(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        ticket_id: FromPath[uuid.UUID],
        data: JSONBody[SecretIn],
    ) -> TicketPass:
        order = await orders.get_order_by_number(session, number, secret=data.secret)
        formats = _formats(platform)
        return await reissue(
            session, clock, platform.ticket_keys, order, ticket_id, PREFIX, formats
        )

    @post(
        "/orders/{number:str}/tickets/{ticket_id:uuid}/transfer",
        status_code=200,
        summary="Pass a ticket on to someone else, where the event allows it",
    )
    async def transfer_ticket(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        ticket_id: FromPath[uuid.UUID],
        data: JSONBody[TransferIn],
    ) -> TicketPass:
        order = await orders.get_order_by_number(session, number, secret=data.secret)
        formats = _formats(platform)
        return await transfer(
            session, clock, platform.ticket_keys, order, ticket_id, data, PREFIX, formats
        )

    @get("/tickets/{credential:str}", summary="The ticket a credential opens (its QR code)")
    async def ticket(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        credential: FromPath[str],
    ) -> TicketView:
        return await ticket_view(session, platform.ticket_keys, credential)

    @get(
        "/tickets/{credential:str}/qr.svg",
        media_type="image/svg+xml",
        summary="The ticket's QR code (it carries the credential)",
    )
    async def ticket_qr(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        credential: FromPath[str],
    ) -> Response[bytes]:
        await ticket_view(session, platform.ticket_keys, credential)  # 404 unless current
        return Response(qr_svg(credential), media_type="image/svg+xml")

    @get(
        "/tickets/{credential:str}/formats/{format_id:str}",
        summary="The ticket as a file: PDF, or a format a plugin adds",
        media_type="application/octet-stream",
    )
    async def ticket_file(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        credential: FromPath[str],
        format_id: FromPath[str],
    ) -> Response[bytes]:
        view = await ticket_view(session, platform.ticket_keys, credential)  # 404 unless current
        drawer = platform.plugins.providers.ticket_format.get(format_id)
        if drawer is None:
            raise NotFound(f"no ticket format {format_id!r} here")
        if view.status != TicketStatus.VALID:
            raise Conflict(f"this ticket is {view.status}: nothing to print")
        try:
            data = await drawer.render(TicketDocument(ticket=view, credential=credential))
        except Exception as error:  # a plugin's bug is its outage, not a 500 of ours
            log.exception("tickets.format_failed", format=format_id)
            raise ProviderUnavailable(
                f"the {drawer.display_name} could not be drawn; try again or another format"
            ) from error
        name = f"ticket-{view.ticket_id}.{drawer.extension}"
        return Response(
            data,
            media_type=drawer.media_type,
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    @get(
        "/organizations/{org_id:uuid}/events/{event_id:uuid}/ticket-keys",
        opt=needs(Permission.CHECKIN),
        summary="The event's public keys, for scanners that check tickets offline",
    )
    async def ticket_keys(
        self, platform: NamedDependency[Platform], event: NamedDependency[Event]
    ) -> TicketKeysOut:
        return TicketKeysOut(event_id=event.id, keys=platform.ticket_keys.published_keys(event.id))


def _formats(platform: Platform) -> list[str]:
    """The ticket formats offered for download (their ids)."""
    return sorted(platform.plugins.providers.ticket_format)


def qr_svg(credential: str) -> bytes:
    """The credential as a QR code (error correction M: readable with a scratched screen)."""
    return segno.make(credential, error="m", micro=False).svg_inline(scale=4).encode()
