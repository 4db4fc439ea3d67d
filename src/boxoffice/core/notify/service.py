"""Queueing messages and delivering them: the notification engine.

Domain code queues a message in its own transaction, as a template name and the template's
data (:func:`queue_message`): it is sent only if that transaction commits, and the request
that caused it does no rendering. The :class:`Notifier` delivers: a journal subscriber makes
the first attempt as soon as the ``MessageQueued`` entry is dispatched; it renders the
template in the message's locale, adds the attachments and headers the template calls for,
and hands the message to the channels routing picks, in order.

A channel that fails for now (a server down, a 4xx) does not hold up the journal: the
message is marked ``retrying`` with its next attempt due after an exponential backoff, and
the retry loop (:meth:`Notifier.retry_forever`, in every process that runs background work)
claims due messages with a conditional update, so two processes never send the same retry.
After :attr:`RetryPolicy.max_attempts` the message fails for good, with the last reason in
the delivery log. A permanent refusal (no such mailbox) fails at once.

Marketing messages go only to addresses that consented and never unsubscribed, checked
when they are queued and again when they are sent; each carries the RFC 8058 one-click
``List-Unsubscribe`` headers and a link in its text.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import msgspec
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, NotFound, NotRouted, ProviderUnavailable
from boxoffice.core.ids import new_id
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.service import append_sync, run_appending
from boxoffice.core.links import LinkKind, LinkSecrets
from boxoffice.core.notify.channel import (
    Attachment,
    DeliveryResult,
    Message,
    NotificationChannel,
)
from boxoffice.core.notify.entries import MessageQueued
from boxoffice.core.notify.models import MessageStatus, OutboundMessage, Purpose
from boxoffice.core.notify.preferences import marketing_allowed
from boxoffice.core.notify.rendering import Renderer, pick_locale, text_message_templates
from boxoffice.core.resilience import ProviderCalls
from boxoffice.core.storage import Database, conflict_insert, table_of
from boxoffice.core.storage.prepared import Prepared
from boxoffice.logs import get_logger

log = get_logger(__name__)

_TABLE = table_of(OutboundMessage)
_INSERT = Prepared(insert(_TABLE))


def queue_message_sync(
    connection: Connection,
    clock: Clock,
    *,
    kind: str,
    to: str,
    template: str,
    context: Mapping[str, Any],
    locale: str = "",
    region: str = "",
    purpose: str = Purpose.TRANSACTIONAL,
    topic: str | None = None,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """Queue ``template`` with its data in ``connection``'s transaction: sent only if it
    commits. ``locale`` is the recipient's language if known (else the template's maker
    may name a fallback, then English). With a ``dedupe_key`` that was queued before,
    nothing is queued (``None``)."""
    message_id = new_id()
    values = {
        "id": message_id,
        "kind": kind,
        "recipient": to,
        "template": template,
        "context": dict(context),
        "purpose": purpose,
        "subject": "",
        "locale": locale,
        "region": region,
        "topic": topic,
        "dedupe_key": dedupe_key,
        "status": MessageStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": "",
        "created_at": clock.now(),
        "delivered_at": None,
        "channel": "",
        "provider_reference": "",
        "failed_reason": "",
    }
    if dedupe_key is None:
        _INSERT.execute(connection, values)
    else:
        statement = conflict_insert(connection.dialect.name, _TABLE).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
        if connection.execute(statement, values).rowcount == 0:
            return None
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
    context: Mapping[str, Any],
    locale: str = "",
    region: str = "",
    purpose: str = Purpose.TRANSACTIONAL,
    topic: str | None = None,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    """:func:`queue_message_sync` in ``session``'s transaction."""
    return await run_appending(
        session,
        lambda connection: queue_message_sync(
            connection,
            clock,
            kind=kind,
            to=to,
            template=template,
            context=context,
            locale=locale,
            region=region,
            purpose=purpose,
            topic=topic,
            dedupe_key=dedupe_key,
        ),
    )


def once_per_address(topic: str, address: str) -> str:
    """A dedupe key: ``topic`` reaches ``address`` once (the address itself not stored)."""
    return f"{topic}:{hashlib.sha256(address.encode()).hexdigest()[:32]}"


async def queue_to_buyer(
    session: AsyncSession,
    clock: Clock,
    *,
    email: str,
    phone: str,
    template: str,
    context: Mapping[str, Any],
    locale: str = "",
    region: str = "",
    purpose: str = Purpose.TRANSACTIONAL,
    topic: str | None = None,
) -> bool:
    """Queue ``template`` to a buyer: by e-mail, and also as a text message to ``phone``
    when one was given and the template has a text (:func:`text_message_templates`; never
    marketing). With a ``topic`` each address hears it once (:func:`once_per_address`).
    Whether the e-mail was queued (``False``: that address had it already)."""
    addresses = {"email": email}
    if phone and template in text_message_templates() and purpose == Purpose.TRANSACTIONAL:
        addresses["sms"] = phone
    queued = {
        kind: await queue_message(
            session,
            clock,
            kind=kind,
            to=to,
            template=template,
            context=context,
            locale=locale,
            region=region,
            purpose=purpose,
            topic=topic,
            dedupe_key=once_per_address(topic, to) if topic else None,
        )
        for kind, to in addresses.items()
    }
    return queued["email"] is not None


#: (kind, region) -> the channels to try, in order. Routing provides it; core never
#: imports the plugins package.
ChannelPicker = Callable[[str, str | None], list[NotificationChannel]]


class Extras(msgspec.Struct, frozen=True, kw_only=True):
    """What a template's :data:`ContextMaker` adds when the message is sent."""

    #: More data for the template (merged over what was queued).
    context: dict[str, Any] = {}
    attachments: tuple[Attachment, ...] = ()
    #: The language to use when the recipient's has no catalog (the event's).
    fallback_locale: str = ""


#: Completes a template's data from what was queued (an order id becomes the order's
#: facts, its tickets as files) when the message is sent, so the transaction that queued it
#: renders and reads nothing more. Raising makes the attempt fail for now (retried).
ContextMaker = Callable[[Mapping[str, Any]], Awaitable[Extras]]


class RetryPolicy(msgspec.Struct, frozen=True):
    #: Attempts in all (the first included) before a message fails for good: with the
    #: defaults, retries go on for about a day.
    max_attempts: int = 30
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    #: How long a claimed retry is another process's before it may be claimed again.
    lease: timedelta = timedelta(minutes=5)
    #: How often the retry loop looks for due messages.
    interval_seconds: float = 15.0
    batch: int = 50

    def delay(self, attempts: int) -> timedelta:
        """Exponential backoff with jitter (half to all of the ceiling), capped."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempts - 1, 20)))
        jitter = random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not secrets
        return timedelta(seconds=ceiling.total_seconds() * jitter)


class Notifier:
    """Delivers the outbox: the first attempt from the journal, retries from a loop."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        pick: ChannelPicker,
        *,
        links: LinkSecrets,
        public_url: str,
        renderer: Renderer | None = None,
        makers: Mapping[str, ContextMaker] | None = None,
        policy: RetryPolicy | None = None,
        calls: ProviderCalls | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.pick = pick
        self.links = links
        self.public_url = public_url.rstrip("/")
        self.renderer = renderer or Renderer()
        self.makers = dict(makers or {})
        self.policy = policy or RetryPolicy()
        #: A timeout and a circuit breaker per channel (shared with routing, which skips a
        #: channel whose breaker is open for the next one).
        self.calls = calls or ProviderCalls()

    def subscriber(self) -> Subscriber:
        async def first_attempt(entry: RecordedEntry) -> None:
            await self.deliver(uuid.UUID(entry.aggregate_id), first=True)

        return Subscriber(
            name="notify:deliver", handler=first_attempt, types=frozenset({MessageQueued.__name__})
        )

    def unsubscribe_url(self, address: str) -> str:
        token = self.links.for_address(LinkKind.UNSUBSCRIBE, address)
        return (
            f"{self.public_url}/api/v1/notifications/unsubscribe"
            f"?address={quote(address)}&token={token}"
        )

    async def deliver(self, message_id: uuid.UUID, *, first: bool = False) -> None:
        """One attempt at a message: its first (from the journal; a redelivered entry finds
        it done or retrying and does nothing), or a retry this process claimed."""
        async with self.db.read() as session:
            row = await session.get(OutboundMessage, message_id)
            if row is None or row.context is None:
                return
            if first and row.status != MessageStatus.QUEUED:
                return
            allowed = row.purpose != Purpose.MARKETING or await marketing_allowed(
                session, row.recipient
            )
        if not allowed:
            await self._finish(message_id, MessageStatus.SKIPPED, reason="unsubscribed")
            return
        try:
            message = await self._message(row)
        except _Undeliverable as failure:
            log.exception("notify.undeliverable", message_id=str(message_id))
            await self._finish(message_id, MessageStatus.FAILED, reason=str(failure))
            return
        except Exception as error:  # its data or files could not be made for now
            stop_if_cancelled()
            log.warning("notify.making_failed", message_id=str(message_id), exc_info=True)
            await self._failed_for_now(row, f"making it: {type(error).__name__}: {error}")
            return
        errors: list[str] = []
        try:
            channels = self.pick(row.kind, row.region or None)
        except NotRouted as missing:
            if row.kind != "email":  # text messages, push: only where ops route them
                await self._finish(message_id, MessageStatus.SKIPPED, reason=str(missing))
                return
            channels, errors = [], [str(missing)]  # every platform mails: ops must mend it
        except ProviderUnavailable as missing:  # routing names none (yet): ops can mend it
            channels, errors = [], [str(missing)]
        for channel in channels:
            try:
                result = await self._send(channel, message)
            except ProviderUnavailable as paused:  # its breaker opened: the next channel
                errors.append(str(paused))
                continue
            except Exception as error:  # a channel's bug is its outage, not our crash
                stop_if_cancelled()
                log.exception("notify.channel_failed", channel=channel.id)
                errors.append(f"{channel.id}: {type(error).__name__}")
                continue
            if result.delivered:
                await self._finish(
                    message_id,
                    MessageStatus.SENT,
                    channel=channel.id,
                    reference=result.provider_reference,
                    subject=message.subject,
                )
                return
            if result.permanent_failure:
                log.warning(
                    "notify.permanent_failure",
                    message_id=str(message_id),
                    channel=channel.id,
                    detail=result.detail,
                )
                await self._finish(
                    message_id,
                    MessageStatus.FAILED,
                    channel=channel.id,
                    reason=f"{channel.id}: {result.detail}",
                    subject=message.subject,
                )
                return
            errors.append(f"{channel.id}: {result.detail}")
        await self._failed_for_now(row, "; ".join(errors) or f"no channel for {row.kind}")

    async def _send(self, channel: NotificationChannel, message: Message) -> DeliveryResult:
        """``channel.send`` under the channel's timeout and breaker. A refusal for now (the
        server down, throttling) counts towards opening the breaker, as an exception does;
        a delivery or a permanent refusal (a bad address) shows the channel works."""

        async def send() -> DeliveryResult:
            result = await channel.send(message)
            if not result.delivered and not result.permanent_failure:
                raise _NotNow(result)
            return result

        try:
            return await self.calls.call(channel.id, send, idempotent=False)
        except _NotNow as not_now:
            return not_now.result

    async def _message(self, row: OutboundMessage) -> Message:
        context = dict(row.context or {})
        maker = self.makers.get(row.template)
        try:
            extras = await maker(context) if maker is not None else Extras()
        except LookupError as gone:  # what it is about was deleted: nothing to tell
            raise _Undeliverable(f"{row.template}: {gone}") from gone
        context.update(extras.context)
        locale = pick_locale(row.locale, extras.fallback_locale)
        headers: dict[str, str] = {}
        if row.purpose == Purpose.MARKETING:
            url = self.unsubscribe_url(row.recipient)
            context["unsubscribe"] = url
            headers = {
                "List-Unsubscribe": f"<{url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        try:
            rendered = self.renderer.render(row.template, locale, context, row.kind)
        except Exception as error:
            raise _Undeliverable(f"template {row.template!r}: {error}") from error
        return Message(
            message_id=str(row.id),
            kind=row.kind,
            to=row.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            locale=locale,
            template=row.template,
            purpose=row.purpose,
            headers=headers,
            attachments=extras.attachments,
        )

    async def _finish(
        self,
        message_id: uuid.UUID,
        status: str,
        *,
        channel: str = "",
        reference: str = "",
        reason: str = "",
        subject: str = "",
        keep_data: bool = False,
    ) -> None:
        """Sent, failed for good or skipped: the log keeps who, what, when, how and why;
        the data (which can hold a secret link) is forgotten, unless ``keep_data`` (retries
        spent: an operator may send it again once the channel is mended, see
        :func:`retry_now`; housekeeping forgets it after :data:`FAILED_DATA_KEPT`)."""
        now = self.clock.now()
        values: dict[str, Any] = {
            "status": status,
            "next_attempt_at": None,
            "channel": channel,
            "provider_reference": reference[:300],
            "failed_reason": reason[:2000],
        }
        if not keep_data:
            values["context"] = None
        if subject:
            values["subject"] = subject[:300]
        if status == MessageStatus.SENT:
            values["delivered_at"] = now
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == message_id,
                    OutboundMessage.status.in_(MessageStatus.OPEN),
                )
                .values(**values)
            )

    async def _failed_for_now(self, row: OutboundMessage, error: str) -> None:
        attempts = row.attempts + 1
        if attempts >= self.policy.max_attempts:
            log.error("notify.gave_up", message_id=str(row.id), attempts=attempts, error=error)
            await self._finish(
                row.id,
                MessageStatus.FAILED,
                reason=f"gave up after {attempts} attempts; last: {error}",
                keep_data=True,
            )
            return
        log.warning("notify.retrying", message_id=str(row.id), attempt=attempts, error=error)
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == row.id,
                    OutboundMessage.status.in_(MessageStatus.OPEN),
                )
                .values(
                    status=MessageStatus.RETRYING,
                    attempts=attempts,
                    next_attempt_at=self.clock.now() + self.policy.delay(attempts),
                    last_error=error[:2000],
                )
            )

    async def _claim_due(self) -> list[uuid.UUID]:
        """Messages whose retry is due, each claimed for this process by moving its due time
        one lease ahead (a conditional update: of two processes, one wins each row)."""
        now = self.clock.now()
        async with self.db.read() as session:
            due = (
                await session.execute(
                    select(OutboundMessage.id, OutboundMessage.next_attempt_at)
                    .where(
                        OutboundMessage.status == MessageStatus.RETRYING,
                        OutboundMessage.next_attempt_at <= now,
                    )
                    .order_by(OutboundMessage.next_attempt_at)
                    .limit(self.policy.batch)
                )
            ).all()
        claimed: list[uuid.UUID] = []
        for message_id, seen in due:
            async with self.db.transaction() as session:
                result = await session.execute(
                    update(OutboundMessage)
                    .where(
                        OutboundMessage.id == message_id,
                        OutboundMessage.status == MessageStatus.RETRYING,
                        OutboundMessage.next_attempt_at == seen,
                    )
                    .values(next_attempt_at=now + self.policy.lease)
                )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(message_id)
        return claimed

    async def retry_due(self) -> int:
        """One round of retries; returns how many messages were tried."""
        claimed = await self._claim_due()
        for message_id in claimed:
            await self.deliver(message_id)
        return len(claimed)

    async def retry_forever(self) -> None:
        while True:
            try:
                await self.retry_due()
            except Exception:  # the next round tries again
                stop_if_cancelled()
                log.exception("notify.retry_round_failed")
            await asyncio.sleep(self.policy.interval_seconds)


#: How long a message whose retries were spent keeps its data for a manual retry.
FAILED_DATA_KEPT = timedelta(days=14)


class MessageLogOut(msgspec.Struct, frozen=True, kw_only=True):
    """One message in the delivery log (what, to whom, how it went; never its text)."""

    id: uuid.UUID
    kind: str
    recipient: str
    template: str
    purpose: str
    subject: str
    locale: str
    topic: str | None
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    channel: str
    provider_reference: str
    last_error: str
    failed_reason: str
    #: Whether an operator can send it again (its data is still kept).
    retryable: bool


def log_entry(row: OutboundMessage) -> MessageLogOut:
    return MessageLogOut(
        id=row.id,
        kind=row.kind,
        recipient=row.recipient,
        template=row.template,
        purpose=row.purpose,
        subject=row.subject,
        locale=row.locale,
        topic=row.topic,
        status=row.status,
        attempts=row.attempts,
        created_at=ensure_utc(row.created_at),
        next_attempt_at=ensure_utc(row.next_attempt_at) if row.next_attempt_at else None,
        delivered_at=ensure_utc(row.delivered_at) if row.delivered_at else None,
        channel=row.channel,
        provider_reference=row.provider_reference,
        last_error=row.last_error,
        failed_reason=row.failed_reason,
        retryable=row.status == MessageStatus.FAILED and row.context is not None,
    )


async def message_log(
    session: AsyncSession,
    *,
    status: str | None = None,
    recipient: str | None = None,
    topic: str | None = None,
    limit: int = 50,
) -> list[MessageLogOut]:
    """The newest messages first, filtered."""
    query = select(OutboundMessage)
    if status:
        query = query.where(OutboundMessage.status == status)
    if recipient:
        query = query.where(OutboundMessage.recipient == recipient)
    if topic:
        query = query.where(OutboundMessage.topic == topic)
    rows = await session.scalars(
        query.order_by(OutboundMessage.created_at.desc(), OutboundMessage.id.desc()).limit(limit)
    )
    return [log_entry(row) for row in rows]


async def retry_now(session: AsyncSession, clock: Clock, message_id: uuid.UUID) -> MessageLogOut:
    """Send a message whose retries were spent again (the retry loop picks it up at once),
    with a fresh count of attempts."""
    row = await session.get(OutboundMessage, message_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no message {message_id}")
    if row.status != MessageStatus.FAILED or row.context is None:
        raise Conflict(
            f"this message is {row.status}"
            + ("" if row.status != MessageStatus.FAILED else " and its data is forgotten")
            + ": only a message whose retries were spent can be sent again"
        )
    row.status, row.attempts, row.failed_reason = MessageStatus.RETRYING, 0, ""
    row.next_attempt_at = clock.now()
    await session.flush()
    return log_entry(row)


async def forget_failed_data(db: Database, clock: Clock) -> None:
    """Housekeeping: the data of messages that failed long ago goes (it may hold a link)."""
    async with db.transaction() as session:
        await session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.status == MessageStatus.FAILED,
                OutboundMessage.context.is_not(None),
                OutboundMessage.created_at < clock.now() - FAILED_DATA_KEPT,
            )
            .values(context=None)
        )


class _NotNow(Exception):
    """A channel's refusal for now, raised through its breaker so that it counts there."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.detail)
        self.result = result


class _Undeliverable(Exception):
    """A template that cannot render its data (a bug), or a message about something that
    is gone: retrying cannot help."""
