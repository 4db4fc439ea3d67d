"""The waiting list: when a ticket type is sold out, buyers queue for it.

Whenever seats go back (a hold lapses or is released, an order expires or is cancelled) the
same transaction offers them to the head of the queue: it places a hold for that person
(their own expiring hold, the event's hold TTL) before anyone else can take the seats, and a
``WaitlistOffered`` entry makes the notifier e-mail them the link. An offer that is not
claimed lapses like any hold, and its seats pass to the next person in line. The queue is
strictly first come, first served per ticket type: a head that does not fit yet blocks the
people behind it, so nobody is overtaken by someone wanting fewer seats.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.entries import CapacityReleased
from boxoffice.core.booking.errors import LimitExceeded, NotOnSale, SoldOut
from boxoffice.core.booking.holds import start_hold, take_seats
from boxoffice.core.booking.models import Hold, WaitlistEntry
from boxoffice.core.booking.schemas import HoldIn, HoldItem, WaitlistIn, WaitlistOut
from boxoffice.core.catalog.facts import event_facts
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.catalog.tickets import availability
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from boxoffice.core.identity.schemas import normalize_email
from boxoffice.core.ids import new_id
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import JournalEntry, RecordedEntry, entry_type
from boxoffice.core.journal.service import append
from boxoffice.core.links import Link, LinkKind, LinkSecrets, secret_matches
from boxoffice.core.notify.service import queue_message
from boxoffice.core.storage import Database


@entry_type
class WaitlistOffered(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "waitlist"
    entry_id: str
    event_id: str
    hold_id: str

    def aggregate_id(self) -> str:
        return self.entry_id


async def join(
    session: AsyncSession,
    clock: Clock,
    event_id: uuid.UUID,
    data: WaitlistIn,
    links: LinkSecrets,
) -> WaitlistOut:
    ticket_type = await session.get(TicketType, data.ticket_type_id)
    if (
        ticket_type is None
        or ticket_type.event_id != event_id
        or ticket_type.visibility != "public"
    ):
        raise ValidationFailed(
            "unknown ticket type",
            errors=[FieldError("ticket_type_id", "not a ticket type on sale for this event")],
        )
    if not ticket_type.min_per_order <= data.quantity <= ticket_type.max_per_order:
        raise LimitExceeded(
            f"{ticket_type.name}: {ticket_type.min_per_order} to {ticket_type.max_per_order} "
            "per order",
            errors=[FieldError("quantity", "outside the per-order limits")],
            extra={"rule": "max_per_order"},
        )
    left = (await availability(session, event_id, only=ticket_type.id)).get(ticket_type.id, 0)
    if left >= data.quantity:
        raise Conflict(
            f"{left} seats are still available: buy them instead",
            extra={"rule": "not_sold_out", "available": left},
        )
    link = links.new(LinkKind.WAITLIST_ENTRY)
    entry = WaitlistEntry(
        id=link.id,
        event_id=event_id,
        ticket_type_id=ticket_type.id,
        name=data.name,
        email=normalize_email(data.email),
        quantity=data.quantity,
        secret_hash=link.secret_hash,
        status="waiting",
        created_at=clock.now(),
    )
    session.add(entry)
    await session.flush()
    return await entry_out(session, entry, secret=link.secret)


async def entry_out(
    session: AsyncSession, entry: WaitlistEntry, *, secret: str | None = None
) -> WaitlistOut:
    """The entry as the person waiting sees it (``secret``: theirs, given or just made):
    the offer's hold is opened with the entry's own secret."""
    status, offer = entry.status, None
    if entry.offer_hold_id is not None:
        hold = await session.get(Hold, entry.offer_hold_id)
        if hold is not None:
            status = {"ordered": "claimed", "active": "offered"}.get(hold.status, "lapsed")
            if status == "offered" and secret is not None:
                offer = {
                    "hold_id": str(hold.id),
                    "secret": secret,
                    "expires_at": ensure_utc(hold.expires_at).isoformat(),
                }
    position = None
    if status == "waiting":
        position = 1 + int(
            await session.scalar(
                select(func.count())
                .select_from(WaitlistEntry)
                .where(
                    WaitlistEntry.ticket_type_id == entry.ticket_type_id,
                    WaitlistEntry.status == "waiting",
                    tuple_(WaitlistEntry.created_at, WaitlistEntry.id)
                    < tuple_(entry.created_at, entry.id),
                )
            )
            or 0
        )
    return WaitlistOut(
        id=entry.id,
        event_id=entry.event_id,
        ticket_type_id=entry.ticket_type_id,
        quantity=entry.quantity,
        status=status,
        position=position,
        offer=offer,
        secret=secret,
    )


async def get_entry(session: AsyncSession, entry_id: uuid.UUID, secret: str) -> WaitlistEntry:
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None or not secret_matches(secret, entry.secret_hash):
        raise NotFound(f"no waiting-list entry {entry_id}")
    return entry


async def leave(session: AsyncSession, entry: WaitlistEntry) -> None:
    if entry.status == "waiting":
        entry.status = "left"


async def capacity_released(
    session: AsyncSession,
    clock: Clock,
    event_id: uuid.UUID,
    ticket_type_ids: list[str],
    seats: int,
    why: str,
) -> None:
    """Seats went back: record it, then offer them to whoever waits for those ticket types."""
    released = CapacityReleased(
        event_id=str(event_id), seats=seats, ticket_type_ids=ticket_type_ids, why=why
    )
    await append(session, released, clock)
    for ticket_type_id in dict.fromkeys(ticket_type_ids):
        while await _offer_next(session, clock, event_id, uuid.UUID(ticket_type_id)):
            pass


async def _offer_next(
    session: AsyncSession, clock: Clock, event_id: uuid.UUID, ticket_type_id: uuid.UUID
) -> bool:
    head = await session.scalar(
        select(WaitlistEntry)
        .where(WaitlistEntry.ticket_type_id == ticket_type_id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(1)
    )
    if head is None:
        return False
    request = HoldIn(items=[HoldItem(ticket_type_id=ticket_type_id, quantity=head.quantity)])
    try:
        async with session.begin_nested():  # a refusal undoes only this attempt
            # The offer's hold opens with the entry's secret: its link is the entry's.
            link = Link(new_id(), head.secret_hash)
            hold_id = await session.run_sync(
                lambda sync: _hold_for(sync.connection(), clock, event_id, request, link)
            )
    except (SoldOut, NotOnSale):
        return False
    head.status, head.offer_hold_id, head.offered_at = "offered", hold_id, clock.now()
    await append(
        session,
        WaitlistOffered(entry_id=str(head.id), event_id=str(event_id), hold_id=str(hold_id)),
        clock,
    )
    return True


def _hold_for(
    connection: Connection, clock: Clock, event_id: uuid.UUID, request: HoldIn, link: Link
) -> uuid.UUID:
    """Place an offer's hold (durable: part of the transaction that freed the seats)."""
    hold = start_hold(connection, clock, event_id, request, link, durable=True)
    take_seats(connection, hold)
    return hold.record.id


def offer_mail_subscriber(
    db: Database, clock: Clock, public_url: str, links: LinkSecrets
) -> Subscriber:
    """E-mail each offer with its claim link (the hold and its secret)."""

    async def handle(recorded: RecordedEntry) -> None:
        offered = recorded.decode()
        if not isinstance(offered, WaitlistOffered):
            return
        async with db.transaction() as session:
            entry = await session.get(WaitlistEntry, uuid.UUID(offered.entry_id))
            hold = await session.get(Hold, uuid.UUID(offered.hold_id))
            if entry is None or hold is None or hold.status != "active":
                return
            secret = links.recover(LinkKind.WAITLIST_ENTRY, entry.id, entry.secret_hash)
            link = (
                f"{public_url.rstrip('/')}/holds/{hold.id}?secret={secret}"
                if secret
                else "the link to your place in the queue"
            )
            event = await session.get(Event, entry.event_id)
            assert event is not None
            await queue_message(
                session,
                clock,
                kind="email",
                to=entry.email,
                template="waitlist-offer",
                locale=event.language,
                region=event.region,
                context={
                    "name": entry.name,
                    "quantity": entry.quantity,
                    "event": event_facts(event),
                    "expires_at": ensure_utc(hold.expires_at).isoformat(),
                    "link": link,
                },
            )

    return Subscriber(
        name="booking:waitlist-offers", handler=handle, types=frozenset({WaitlistOffered.__name__})
    )
