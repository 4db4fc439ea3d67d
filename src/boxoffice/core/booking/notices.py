"""Messages to everyone who bought tickets for an event: a new time or place, a
postponement, the day-before reminder, an organizer's broadcast.

Each is a fan-out over the event's confirmed orders, one message per buyer address, in
batches, each message queued with a key (``<topic>:<address digest>``) so a fan-out that is
retried after a crash, or runs in two processes at once, queues nobody twice. Cancellations
are told per order by :func:`boxoffice.core.booking.orders.cancel`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.booking.models import Order
from boxoffice.core.booking.orders import OrderStatus
from boxoffice.core.catalog.entries import EventStatusChanged, EventUpdated
from boxoffice.core.catalog.facts import event_facts
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import NotFound
from boxoffice.core.identity.models import Organization
from boxoffice.core.journal.entries import JournalEntry, RecordedEntry, entry_type
from boxoffice.core.journal.service import append
from boxoffice.core.notify.models import Broadcast, MessageStatus, OutboundMessage, Purpose
from boxoffice.core.notify.preferences import marketing_allowed
from boxoffice.core.notify.service import queue_to_buyer
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)

BATCH = 200
#: What attendees are told about when an organizer edits an event.
TIME_OR_PLACE = frozenset(
    {"starts_at", "ends_at", "timezone", "venue_name", "address", "city", "online", "online_url"}
)
#: Reminders go out this long before the start.
REMINDER_LEAD = timedelta(hours=24)
REMINDER_INTERVAL_SECONDS = 300.0


async def fan_out(
    db: Database,
    clock: Clock,
    event_id: uuid.UUID,
    *,
    template: str,
    topic: str,
    context: Callable[[Order], Mapping[str, Any]],
    purpose: str = Purpose.TRANSACTIONAL,
) -> int:
    """Queue ``template`` to the buyer of each confirmed order of the event, once per
    address; returns how many were queued by this call."""
    queued = 0
    after: uuid.UUID | None = None
    while True:
        async with db.transaction() as session:
            query = select(Order).where(
                Order.event_id == event_id, Order.status == OrderStatus.CONFIRMED
            )
            if after is not None:
                query = query.where(Order.id > after)
            batch = list(await session.scalars(query.order_by(Order.id).limit(BATCH)))
            event = await session.get(Event, event_id)
            if event is None:
                return queued
            for order in batch:
                if purpose == Purpose.MARKETING and not await marketing_allowed(
                    session, order.buyer_email
                ):
                    continue
                if await queue_to_buyer(
                    session,
                    clock,
                    email=order.buyer_email,
                    phone=order.buyer_phone,
                    template=template,
                    locale=order.locale,
                    region=event.region,
                    purpose=purpose,
                    topic=topic,
                    context=context(order),
                ):
                    queued += 1
        if len(batch) < BATCH:
            return queued
        after = batch[-1].id


async def tell_about_event(
    db: Database, clock: Clock, recorded: RecordedEntry, entry: JournalEntry | None
) -> None:
    """A published event got a new time or place, or was postponed: its buyers hear it."""
    if isinstance(entry, EventStatusChanged) and entry.to_status == EventStatus.POSTPONED:
        template = "event-postponed"
    elif isinstance(entry, EventUpdated) and TIME_OR_PLACE.intersection(entry.changed):
        template = "event-changed"
    else:
        return
    await fan_out(
        db,
        clock,
        uuid.UUID(entry.event_id),
        template=template,
        topic=f"{template}:{recorded.entry_id}",
        context=lambda order: {"order_id": str(order.id)},
    )


async def queue_due_reminders(db: Database, clock: Clock) -> int:
    """Queue the day-before reminder of each published event starting within
    :data:`REMINDER_LEAD` that has none for its current start; returns how many."""
    now = clock.now()
    async with db.read() as session:
        due = list(
            await session.scalars(
                select(Event).where(
                    Event.status == EventStatus.PUBLISHED,
                    Event.starts_at > now,
                    Event.starts_at <= now + REMINDER_LEAD,
                    or_(Event.reminded_for.is_(None), Event.reminded_for != Event.starts_at),
                )
            )
        )
    queued = 0
    for event in due:
        starts = ensure_utc(event.starts_at)
        queued += await fan_out(
            db,
            clock,
            event.id,
            template="event-reminder",
            topic=f"reminder:{event.id}:{int(starts.timestamp())}",
            context=lambda order: {"order_id": str(order.id)},
        )
        async with db.transaction() as session:
            found = await session.get(Event, event.id, with_for_update=True)
            if found is not None and ensure_utc(found.starts_at) == starts:
                found.reminded_for = starts
    return queued


async def remind_forever(db: Database, clock: Clock) -> None:
    while True:
        try:
            await queue_due_reminders(db, clock)
        except Exception:  # the next round tries again; keys keep it from sending twice
            stop_if_cancelled()
            log.exception("notices.reminders_failed")
        await asyncio.sleep(REMINDER_INTERVAL_SECONDS)


# ---- organizer broadcasts


class BroadcastIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
    #: "transactional" (about the event: doors, parking, a change) goes to every buyer;
    #: "marketing" (news, offers) only to those who consented and did not unsubscribe.
    purpose: Annotated[str, msgspec.Meta(pattern="^(transactional|marketing)$")] = (
        Purpose.TRANSACTIONAL
    )


class BroadcastOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    subject: str
    purpose: str
    created_at: str
    #: Messages queued (``None`` until the fan-out is done).
    recipients: int | None
    #: Messages by delivery status (queued, retrying, sent, failed, skipped).
    delivery: dict[str, int]


@entry_type
class BroadcastRequested(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "broadcast"
    broadcast_id: str
    event_id: str
    organization_id: str

    def aggregate_id(self) -> str:
        return self.broadcast_id


async def request_broadcast(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    data: BroadcastIn,
    *,
    by: uuid.UUID | None,
) -> Broadcast:
    """Record the broadcast; the journal fans it out after the commit."""
    broadcast = Broadcast(
        organization_id=event.organization_id,
        event_id=event.id,
        subject=data.subject,
        body=data.body,
        purpose=data.purpose,
        created_by=by,
        created_at=clock.now(),
        recipients=None,
    )
    session.add(broadcast)
    await session.flush()
    await append(
        session,
        BroadcastRequested(
            broadcast_id=str(broadcast.id),
            event_id=str(event.id),
            organization_id=str(event.organization_id),
        ),
        clock,
    )
    return broadcast


async def broadcast_out(session: AsyncSession, broadcast: Broadcast) -> BroadcastOut:
    rows = await session.execute(
        select(OutboundMessage.status, func.count())
        .where(OutboundMessage.topic == f"broadcast:{broadcast.id}")
        .group_by(OutboundMessage.status)
    )
    delivery = dict.fromkeys(MessageStatus.ALL, 0)
    delivery.update({status: int(count) for status, count in rows.all()})
    return BroadcastOut(
        id=broadcast.id,
        event_id=broadcast.event_id,
        subject=broadcast.subject,
        purpose=broadcast.purpose,
        created_at=ensure_utc(broadcast.created_at).isoformat(),
        recipients=broadcast.recipients,
        delivery=delivery,
    )


async def broadcasts_of(session: AsyncSession, event_id: uuid.UUID) -> list[BroadcastOut]:
    found = await session.scalars(
        select(Broadcast).where(Broadcast.event_id == event_id).order_by(Broadcast.created_at)
    )
    return [await broadcast_out(session, b) for b in found]


async def broadcast_of(
    session: AsyncSession, event_id: uuid.UUID, broadcast_id: uuid.UUID
) -> BroadcastOut:
    found = await session.get(Broadcast, broadcast_id)
    if found is None or found.event_id != event_id:
        raise NotFound(f"no broadcast {broadcast_id} for this event")
    return await broadcast_out(session, found)


async def send_broadcast(db: Database, clock: Clock, entry: BroadcastRequested) -> None:
    async with db.read() as session:
        broadcast = await session.get(Broadcast, uuid.UUID(entry.broadcast_id))
        if broadcast is None or broadcast.recipients is not None:
            return
        event = await session.get(Event, broadcast.event_id)
        if event is None:
            return
        organizer = await _organization_name(session, event.organization_id)
    topic = f"broadcast:{broadcast.id}"
    shared = {
        "subject": broadcast.subject,
        "body": broadcast.body,
        "event": event_facts(event),
        "organizer": organizer,
        "unsubscribe": "",
    }
    await fan_out(
        db,
        clock,
        event.id,
        template="broadcast",
        topic=topic,
        purpose=broadcast.purpose,
        context=lambda order: shared,
    )
    async with db.transaction() as session:
        count = await session.scalar(select(func.count()).where(OutboundMessage.topic == topic))
        found = await session.get(Broadcast, broadcast.id, with_for_update=True)
        if found is not None:
            found.recipients = int(count or 0)


async def _organization_name(session: AsyncSession, organization_id: uuid.UUID) -> str:
    name = await session.scalar(select(Organization.name).where(Organization.id == organization_id))
    return name or ""
