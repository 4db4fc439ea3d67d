"""Tickets as their holders see them: the signed credential of each ticket of an order, the
public ticket page a credential opens, and reissuing a ticket (a new credential; the old one
is refused from then on)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.orders import TicketStatus
from boxoffice.core.booking.schemas import Name
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, NotFound, RuleViolated
from boxoffice.core.identity.schemas import normalize_email
from boxoffice.core.journal.service import append
from boxoffice.core.tickets.credentials import MAX_VERSION, TicketKeys
from boxoffice.core.tickets.entries import TicketReissued, TicketTransferred


class TicketPass(msgspec.Struct, frozen=True, kw_only=True):
    """One ticket of an order, for its holder: the credential its QR code carries (only
    while the ticket is valid)."""

    id: uuid.UUID
    attendee_name: str
    status: str
    #: The signed credential; ``None`` unless the ticket is valid (unpaid, cancelled...).
    credential: str | None = None
    #: The public ticket page and its QR code (paths under the API), when there is one.
    page: str | None = None
    qr: str | None = None
    #: The ticket as files, by format id ("pdf", and what plugins add): download paths.
    downloads: dict[str, str] = {}


class TicketView(msgspec.Struct, frozen=True, kw_only=True):
    """The public ticket page: what the door and the holder need to see."""

    ticket_id: uuid.UUID
    status: str
    attendee_name: str
    ticket_type: str
    event_id: uuid.UUID
    event_title: str
    starts_at: datetime
    #: ``starts_at`` in the event's own zone.
    starts_at_local: str
    timezone: str
    venue_name: str
    address: str
    city: str
    online: bool
    #: The credential's version (a reissue makes a new one).
    version: int


def _pass(
    keys: TicketKeys, event_id: uuid.UUID, item: OrderItem, prefix: str, formats: Sequence[str]
) -> TicketPass:
    if item.status != TicketStatus.VALID:
        return TicketPass(id=item.id, attendee_name=item.attendee_name, status=item.status)
    credential = keys.credential(event_id, item.id, item.credential_version)
    page = f"{prefix}/tickets/{credential}"
    return TicketPass(
        id=item.id,
        attendee_name=item.attendee_name,
        status=item.status,
        credential=credential,
        page=page,
        qr=f"{page}/qr.svg",
        downloads={format_id: f"{page}/formats/{format_id}" for format_id in formats},
    )


async def passes_of(
    session: AsyncSession, keys: TicketKeys, order: Order, prefix: str, formats: Sequence[str]
) -> list[TicketPass]:
    items = await session.scalars(
        select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.position)
    )
    return [_pass(keys, order.event_id, item, prefix, formats) for item in items]


class TransferIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    #: Who holds the ticket from now on.
    attendee_name: Name
    attendee_email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]


async def reissue(
    session: AsyncSession,
    clock: Clock,
    keys: TicketKeys,
    order: Order,
    ticket_id: uuid.UUID,
    prefix: str,
    formats: Sequence[str],
) -> TicketPass:
    """A new credential for a valid ticket (a lost phone, a forwarded e-mail): the old one
    is refused from now on, by the server and by scanners that fetch the list again."""
    item = await _next_version(session, clock, order, ticket_id, TicketReissued)
    return _pass(keys, order.event_id, item, prefix, formats)


async def transfer(
    session: AsyncSession,
    clock: Clock,
    keys: TicketKeys,
    order: Order,
    ticket_id: uuid.UUID,
    data: TransferIn,
    prefix: str,
    formats: Sequence[str],
) -> TicketPass:
    """The ticket passes to someone else, where the event allows it: their name and e-mail,
    a new credential (the old holder's stops working)."""
    event = await session.get(Event, order.event_id)
    if event is None or not event.tickets_transferable:
        raise RuleViolated(
            "this event's tickets cannot be transferred", extra={"rule": "tickets_transferable"}
        )
    email = normalize_email(data.attendee_email, field="attendee_email")
    item = await _next_version(session, clock, order, ticket_id, TicketTransferred)
    item.attendee_name, item.attendee_email = data.attendee_name, email
    return _pass(keys, order.event_id, item, prefix, formats)


async def _next_version(
    session: AsyncSession,
    clock: Clock,
    order: Order,
    ticket_id: uuid.UUID,
    entry: type[TicketReissued | TicketTransferred],
) -> OrderItem:
    """The order's valid ticket ``ticket_id`` with its credential version raised, and the
    ``entry`` that says so journaled (the change is flushed with the transaction)."""
    doing = "reissued" if entry is TicketReissued else "transferred"
    item = await session.get(OrderItem, ticket_id, with_for_update=True)
    if item is None or item.order_id != order.id:
        raise NotFound(f"no ticket {ticket_id} in this order")
    if item.status != TicketStatus.VALID:
        raise Conflict(f"only a valid ticket can be {doing}; this one is {item.status}")
    if item.credential_version >= MAX_VERSION:
        raise Conflict(f"this ticket was {doing} too many times; ask the organizer")
    item.credential_version += 1
    await append(
        session,
        entry(
            order_id=str(order.id),
            event_id=str(order.event_id),
            ticket_id=str(item.id),
            version=item.credential_version,
        ),
        clock,
    )
    return item


async def ticket_view(session: AsyncSession, keys: TicketKeys, credential: str) -> TicketView:
    """The ticket a credential opens. A forged, foreign or superseded credential is a 404
    (a reissued ticket's old credential says so)."""
    claim = keys.verify(credential)
    if claim is None:
        raise NotFound("no such ticket")
    row = (
        await session.execute(
            select(OrderItem, TicketType.name, Event)
            .join(TicketType, TicketType.id == OrderItem.ticket_type_id)
            .join(Order, Order.id == OrderItem.order_id)
            .join(Event, Event.id == Order.event_id)
            .where(OrderItem.id == claim.ticket_id, Event.id == claim.event_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such ticket")
    item, type_name, event = row
    if item.credential_version != claim.version:
        raise NotFound("this ticket was reissued: use its newest link")
    starts = ensure_utc(event.starts_at)
    return TicketView(
        ticket_id=item.id,
        status=item.status,
        attendee_name=item.attendee_name,
        ticket_type=type_name,
        event_id=event.id,
        event_title=event.title,
        starts_at=starts,
        starts_at_local=starts.astimezone(ZoneInfo(event.timezone)).isoformat(),
        timezone=event.timezone,
        venue_name=event.venue_name,
        address=event.address,
        city=event.city,
        online=event.online,
        version=claim.version,
    )
