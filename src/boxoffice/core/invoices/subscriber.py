"""The ``invoices`` journal subscriber: an invoice when an order is confirmed, a credit note
when money is given back on it. Each in its own short transaction, in journal order."""

from __future__ import annotations

import uuid

from boxoffice.core.booking.entries import OrderCancelled, OrderConfirmed, OrderRefunded
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import RegionLookup
from boxoffice.core.invoices.service import issue_credit_note, issue_invoice
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.storage import Database

INVOICES_SUBSCRIBER = "invoices"


def invoices_subscriber(db: Database, clock: Clock, regions: RegionLookup) -> Subscriber:
    async def handle(recorded: RecordedEntry) -> None:
        entry = recorded.decode()
        async with db.transaction() as session:
            if isinstance(entry, OrderConfirmed):
                await issue_invoice(session, clock, uuid.UUID(entry.order_id), regions)
            elif isinstance(entry, OrderRefunded | OrderCancelled):
                await issue_credit_note(
                    session,
                    clock,
                    uuid.UUID(entry.order_id),
                    regions,
                    source=f"entry:{recorded.entry_id}",
                    refund_minor=entry.refund_minor,
                    ticket_ids=entry.ticket_ids if isinstance(entry, OrderRefunded) else None,
                )

    return Subscriber(
        name=INVOICES_SUBSCRIBER,
        handler=handle,
        types=frozenset({OrderConfirmed.__name__, OrderRefunded.__name__, OrderCancelled.__name__}),
    )
