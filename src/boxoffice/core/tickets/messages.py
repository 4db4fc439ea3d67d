"""What the messages about an order say and carry, made when they are sent.

The transaction that confirms, cancels or refunds an order queues its message with little
more than the order's id (the hot path renders nothing); here, at delivery, the order and
its event are read and the template gets the buyer's name, the order number, the event
(title, start, zone, venue), the total and the buyer's link, recomputed from the platform
key. The confirmation also carries each valid ticket as a file (the ``pdf`` format, or what
ops chose) and the event as an iCalendar entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.orders import TicketStatus, order_link
from boxoffice.core.catalog.calendar import order_calendar
from boxoffice.core.catalog.facts import event_facts
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.service import event_out
from boxoffice.core.clock import Clock
from boxoffice.core.links import LinkKind, LinkSecrets
from boxoffice.core.notify.channel import Attachment
from boxoffice.core.notify.service import ContextMaker, Extras
from boxoffice.core.storage import Database
from boxoffice.core.tickets.credentials import TicketKeys
from boxoffice.core.tickets.formats import TicketDocument, TicketFormat
from boxoffice.core.tickets.service import ticket_view

#: The templates about one order: their data names it (``order_id``).
ORDER_TEMPLATES = (
    "order-confirmed",
    "order-cancelled",
    "payment-failed",
    "payment-refunded",
    "event-changed",
    "event-postponed",
    "event-cancelled",
    "event-reminder",
)


class OrderMessages:
    """Makes the data (and the confirmation's files) of the messages about an order."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        links: LinkSecrets,
        ticket_keys: TicketKeys,
        public_url: str,
        ticket_format: Callable[[], TicketFormat | None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.links = links
        self.ticket_keys = ticket_keys
        self.public_url = public_url
        #: The format tickets are attached in (``None``: links only).
        self.ticket_format = ticket_format

    def makers(self) -> dict[str, ContextMaker]:
        makers: dict[str, ContextMaker] = dict.fromkeys(ORDER_TEMPLATES, self.order_facts)
        makers["order-confirmed"] = self.confirmation
        return makers

    async def order_facts(self, data: Mapping[str, Any]) -> Extras:
        async with self.db.read() as session:
            order, event = await self._order_and_event(session, data)
            return Extras(context=self._facts(order, event), fallback_locale=event.language)

    async def confirmation(self, data: Mapping[str, Any]) -> Extras:
        """The order's facts, its valid tickets as files and the event's calendar entry."""
        async with self.db.read() as session:
            order, event = await self._order_and_event(session, data)
            facts = self._facts(order, event)
            files = [
                Attachment(
                    filename=f"{order.number}.ics",
                    content_type="text/calendar; method=PUBLISH",
                    content=order_calendar(
                        await event_out(session, event, private=True),
                        stamp=self.clock.now(),
                        number=order.number,
                        tickets=order.tickets,
                        link=facts["link"] or "",
                    ),
                )
            ]
            drawer = self.ticket_format()
            if drawer is not None:
                for position, document in enumerate(await self._documents(session, order), 1):
                    files.append(
                        Attachment(
                            filename=f"{order.number}-{position}.{drawer.extension}",
                            content_type=drawer.media_type,
                            content=await drawer.render(document),
                        )
                    )
        return Extras(context=facts, attachments=tuple(files), fallback_locale=event.language)

    async def _order_and_event(
        self, session: AsyncSession, data: Mapping[str, Any]
    ) -> tuple[Order, Event]:
        order = await session.get(Order, uuid.UUID(str(data["order_id"])))
        if order is None:
            raise LookupError(f"no order {data['order_id']}")
        event = await session.get(Event, order.event_id)
        assert event is not None  # an order's event is never deleted while it has orders
        return order, event

    def _facts(self, order: Order, event: Event) -> dict[str, Any]:
        secret = self.links.recover(LinkKind.ORDER, order.id, order.secret_hash)
        return {
            "name": order.buyer_name,
            "number": order.number,
            "event": event_facts(event),
            "tickets": order.tickets,
            "total": {"minor": order.total_minor, "currency": order.currency},
            "link": order_link(self.public_url, order.number, secret) if secret else None,
        }

    async def _documents(self, session: AsyncSession, order: Order) -> list[TicketDocument]:
        items = await session.scalars(
            select(OrderItem)
            .where(OrderItem.order_id == order.id, OrderItem.status == TicketStatus.VALID)
            .order_by(OrderItem.position)
        )
        documents = []
        for item in items:
            credential = self.ticket_keys.credential(
                order.event_id, item.id, item.credential_version
            )
            view = await ticket_view(session, self.ticket_keys, credential)
            documents.append(TicketDocument(ticket=view, credential=credential))
        return documents
