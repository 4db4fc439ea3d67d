"""What the booking engine does when other things happen (journal subscribers)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from boxoffice.core.booking import orders
from boxoffice.core.booking.models import Order
from boxoffice.core.catalog.entries import EventStatusChanged
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.clock import Clock
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.storage import Database

BATCH = 100


def event_cancellation_subscriber(db: Database, clock: Clock) -> Subscriber:
    """An event was cancelled: cancel every live order (each ``OrderCancelled`` entry tells
    what is to be refunded). Batched and idempotent: a retry continues
    where a crash stopped, and cancelled orders stay cancelled."""

    async def handle(entry: RecordedEntry) -> None:
        change = entry.decode()
        if not isinstance(change, EventStatusChanged) or change.to_status != EventStatus.CANCELLED:
            return
        event_id = uuid.UUID(change.event_id)
        while True:
            async with db.transaction() as session:
                batch = list(
                    await session.scalars(
                        select(Order)
                        .where(
                            Order.event_id == event_id, Order.status.in_(["pending", "confirmed"])
                        )
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

    return Subscriber(
        name="booking:event-cancelled",
        handler=handle,
        types=frozenset({EventStatusChanged.__name__}),
    )
