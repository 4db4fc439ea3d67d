"""What the booking engine does when other things happen (journal subscribers)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from boxoffice.core.booking import orders
from boxoffice.core.booking.models import Order
from boxoffice.core.booking.notices import BroadcastRequested, send_broadcast, tell_about_event
from boxoffice.core.catalog.entries import EventStatusChanged, EventUpdated
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.clock import Clock
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.storage import Database

BATCH = 100
#: Its journal cursor's name (migration 0023 renamed it from ``booking:event-cancelled``).
EVENTS_SUBSCRIBER = "booking:events"


def event_subscriber(db: Database, clock: Clock) -> Subscriber:
    """What follows an event's changes, in one subscriber (each subscriber costs the
    dispatcher a cursor to move on every entry: a second one cost a flash sale on SQLite
    about a fifth of its CPU per purchase):

    - cancelled: every live order is cancelled (each ``OrderCancelled`` entry tells what is
      to be refunded, and its buyer hears of it), in batches, idempotent: a retry continues
      where a crash stopped, and cancelled orders stay cancelled;
    - a new time or place, or postponed: the buyers are told (:mod:`.notices`);
    - an organizer's broadcast: queued to the buyers (:mod:`.notices`)."""

    async def handle(recorded: RecordedEntry) -> None:
        entry = recorded.decode()
        if isinstance(entry, BroadcastRequested):
            await send_broadcast(db, clock, entry)
        elif isinstance(entry, EventStatusChanged) and entry.to_status == EventStatus.CANCELLED:
            await _cancel_orders(db, clock, uuid.UUID(entry.event_id))
        else:
            await tell_about_event(db, clock, recorded, entry)

    return Subscriber(
        name=EVENTS_SUBSCRIBER,
        handler=handle,
        types=frozenset(
            {EventStatusChanged.__name__, EventUpdated.__name__, BroadcastRequested.__name__}
        ),
    )


async def _cancel_orders(db: Database, clock: Clock, event_id: uuid.UUID) -> None:
    while True:
        async with db.transaction() as session:
            batch = list(
                await session.scalars(
                    select(Order)
                    .where(Order.event_id == event_id, Order.status.in_(["pending", "confirmed"]))
                    .order_by(Order.id)
                    .limit(BATCH)
                )
            )
            for order in batch:
                await orders.cancel(
                    session,
                    clock,
                    order,
                    by=orders.EVENT_CANCELLED,
                    reason="the event was cancelled",
                )
        if len(batch) < BATCH:
            return
