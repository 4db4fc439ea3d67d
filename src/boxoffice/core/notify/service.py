"""Queueing and delivering notifications."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.ids import new_id
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.service import append_sync, run_appending
from boxoffice.core.notify.channel import Message, NotificationChannel
from boxoffice.core.notify.entries import MessageQueued
from boxoffice.core.notify.models import OutboundMessage
from boxoffice.core.storage import Database, table_of
from boxoffice.core.storage.prepared import Prepared
from boxoffice.logs import get_logger

log = get_logger(__name__)


_INSERT = Prepared(insert(table_of(OutboundMessage)))


def queue_message_sync(
    connection: Connection,
    clock: Clock,
    *,
    kind: str,
    to: str,
    template: str,
    subject: str,
    text: str,
    html: str = "",
    locale: str = "en",
    region: str = "",
) -> uuid.UUID:
    """Queue a rendered message in ``connection``'s transaction: sent only if it commits."""
    message_id = new_id()
    _INSERT.execute(
        connection,
        {
            "id": message_id,
            "kind": kind,
            "recipient": to,
            "template": template,
            "subject": subject,
            "text": text,
            "html": html,
            "locale": locale,
            "region": region,
            "created_at": clock.now(),
            "delivered_at": None,
            "channel": "",
            "provider_reference": "",
            "failed_reason": "",
        },
    )
    append_sync(
        connection, MessageQueued(message_id=str(message_id), kind=kind, template=template), clock
    )
    return message_id


async def queue_message(
    session: AsyncSession,
    clock: Clock,
    *,
    kind: str,
    to: str,
    template: str,
    subject: str,
    text: str,
    html: str = "",
    locale: str = "en",
    region: str = "",
) -> uuid.UUID:
    """Queue a rendered message in ``session``'s transaction: it is sent only if that commits."""
    return await run_appending(
        session,
        lambda connection: queue_message_sync(
            connection,
            clock,
            kind=kind,
            to=to,
            template=template,
            subject=subject,
            text=text,
            html=html,
            locale=locale,
            region=region,
        ),
    )


#: (kind, region) -> the channels to try, in order. Routing provides it; core never
#: imports the plugins package.
ChannelPicker = Callable[[str, str | None], list[NotificationChannel]]


def _forget_body(message: OutboundMessage) -> None:
    """A message's body can carry a secret link (an order, a password reset): once it is
    delivered, or can never be, the outbox keeps only the delivery log (who, what template,
    when, through which channel, or why it failed)."""
    message.text = message.html = ""


def delivery_subscriber(db: Database, clock: Clock, pick: ChannelPicker) -> Subscriber:
    """Deliver queued messages through the first channel routing offers that accepts them;
    a temporary failure raises (the dispatcher retries), a permanent one is recorded."""

    async def deliver(entry: RecordedEntry) -> None:
        message_id = uuid.UUID(entry.aggregate_id)
        async with db.read() as session:
            row = await session.get(OutboundMessage, message_id)
        if row is None or row.delivered_at is not None or row.failed_reason:
            return
        message = Message(
            message_id=str(row.id),
            kind=row.kind,
            to=row.recipient,
            subject=row.subject,
            text=row.text,
            html=row.html,
            locale=row.locale,
            template=row.template,
        )
        errors: list[str] = []
        for channel in pick(row.kind, row.region or None):
            result = await channel.send(message)
            if result.delivered:
                async with db.transaction() as session:
                    stored = await session.get(OutboundMessage, message_id)
                    assert stored is not None
                    stored.delivered_at = clock.now()
                    stored.channel = channel.id
                    stored.provider_reference = result.provider_reference[:300]
                    _forget_body(stored)
                return
            if result.permanent_failure:
                async with db.transaction() as session:
                    stored = await session.get(OutboundMessage, message_id)
                    assert stored is not None
                    stored.failed_reason = f"{channel.id}: {result.detail}"[:2000]
                    _forget_body(stored)
                log.warning(
                    "notify.permanent_failure",
                    message_id=str(message_id),
                    channel=channel.id,
                    detail=result.detail,
                )
                return
            errors.append(f"{channel.id}: {result.detail}")
        raise RuntimeError("no channel delivered the message: " + "; ".join(errors or ["none"]))

    return Subscriber(
        name="notify:deliver", handler=deliver, types=frozenset({MessageQueued.__name__})
    )
