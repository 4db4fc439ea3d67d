"""The notification outbox: a message queued in a transaction is delivered once it commits,
through the first channel that takes it; a temporary failure is retried with backoff by the
retry loop (never holding up the journal) until it is sent or its attempts are spent; a
permanent one fails at once; marketing respects consent and unsubscribes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from boxoffice import DeliveryResult, HealthState, Message, ProviderHealth
from boxoffice.core.booking.subscribers import event_subscriber
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.service import change_status
from boxoffice.core.clock import ManualClock
from boxoffice.core.ids import new_id
from boxoffice.core.journal.dispatcher import Dispatcher
from boxoffice.core.links import LinkKind, LinkSecrets
from boxoffice.core.notify.models import MessageStatus, OutboundMessage, Purpose
from boxoffice.core.notify.preferences import set_marketing
from boxoffice.core.notify.service import Notifier, RetryPolicy, queue_message
from boxoffice.core.storage import Database, UTCDateTime, create_engine
from boxoffice.migrations import downgrade, upgrade
from tests import factories
from tests.booking.helpers import Buyer, shop

LINKS = LinkSecrets(["k" * 32])
PREROUTED = {"subject": "Hi", "text": "hello", "html": ""}


class Channel:
    def __init__(self, id: str, outcomes: list[DeliveryResult]) -> None:
        self.id = id
        self.kinds = frozenset({"email"})
        self.outcomes = outcomes
        self.sent: list[Message] = []

    async def send(self, message: Message) -> DeliveryResult:
        self.sent.append(message)
        await asyncio.sleep(0)  # let a concurrent retry loop run in between
        return self.outcomes.pop(0) if self.outcomes else DeliveryResult(delivered=True)

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


def notifier(db: Database, clock: ManualClock, *channels: Channel, **policy: object) -> Notifier:
    return Notifier(
        db,
        clock,
        lambda kind, region: list(channels),
        links=LINKS,
        public_url="https://tickets.example",
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
    )


async def queue(
    db: Database,
    clock: ManualClock,
    to: str,
    *,
    template: str = "prerendered",
    context: dict[str, object] | None = None,
    purpose: str = Purpose.TRANSACTIONAL,
    dedupe_key: str | None = None,
) -> object:
    async with db.transaction() as session:
        return await queue_message(
            session,
            clock,
            kind="email",
            to=to,
            template=template,
            context=PREROUTED if context is None else context,
            purpose=purpose,
            dedupe_key=dedupe_key,
        )


async def row_for(db: Database, to: str) -> OutboundMessage:
    async with db.read() as session:
        return (
            await session.scalars(select(OutboundMessage).where(OutboundMessage.recipient == to))
        ).one()


async def test_fallback_then_retry_then_sent(db: Database, clock: ManualClock) -> None:
    primary = Channel("primary", [DeliveryResult(delivered=False, detail="timeout")] * 2)
    backup = Channel("backup", [DeliveryResult(delivered=False, detail="down")])
    outbox = notifier(db, clock, primary, backup)
    dispatcher = Dispatcher(db, clock, [outbox.subscriber()])
    await queue(db, clock, "a@example.org")
    await dispatcher.run_until_idle()
    assert (len(primary.sent), len(backup.sent)) == (1, 1)
    waiting = await row_for(db, "a@example.org")
    assert (waiting.status, waiting.attempts) == (MessageStatus.RETRYING, 1)
    assert waiting.last_error == "primary: timeout; backup: down"
    assert waiting.context is not None, "kept until it is sent"

    assert await outbox.retry_due() == 0, "not due yet"
    clock.advance(seconds=61)
    assert await outbox.retry_due() == 1
    sent = await row_for(db, "a@example.org")
    assert (sent.status, sent.channel, sent.attempts) == (MessageStatus.SENT, "backup", 1)
    assert sent.delivered_at is not None
    assert sent.subject == "Hi"
    assert sent.context is None, "the data (a secret link, maybe) is forgotten once sent"
    await dispatcher.run_until_idle()
    clock.advance(hours=2)
    assert await outbox.retry_due() == 0
    assert (len(primary.sent), len(backup.sent)) == (2, 2), "nothing sent twice"


async def test_a_failing_message_does_not_hold_up_the_others(
    db: Database, clock: ManualClock
) -> None:
    channel = Channel("c", [DeliveryResult(delivered=False, detail="4.2.2 mailbox full")])
    dispatcher = Dispatcher(db, clock, [notifier(db, clock, channel).subscriber()])
    await queue(db, clock, "full@example.org")
    await queue(db, clock, "fine@example.org")
    await dispatcher.run_until_idle()
    assert (await row_for(db, "fine@example.org")).status == MessageStatus.SENT
    assert (await row_for(db, "full@example.org")).status == MessageStatus.RETRYING


async def test_retries_are_spent_then_it_fails_for_good(db: Database, clock: ManualClock) -> None:
    down = Channel("down", [DeliveryResult(delivered=False, detail="refused")] * 10)
    outbox = notifier(db, clock, down, max_attempts=3)
    await Dispatcher(db, clock, [outbox.subscriber()]).run_until_idle()
    await queue(db, clock, "x@example.org")
    await Dispatcher(db, clock, [outbox.subscriber()]).run_until_idle()
    delays = []
    for _ in range(2):
        row = await row_for(db, "x@example.org")
        assert row.next_attempt_at is not None
        delays.append(row.next_attempt_at - clock.now())
        clock.advance(hours=2)
        assert await outbox.retry_due() == 1
    assert delays[1] > delays[0] / 2, "the backoff grows"
    failed = await row_for(db, "x@example.org")
    assert failed.status == MessageStatus.FAILED
    assert failed.failed_reason == "gave up after 3 attempts; last: down: refused"
    assert len(down.sent) == 3


async def test_a_permanent_failure_is_not_retried(db: Database, clock: ManualClock) -> None:
    bounce = Channel(
        "bounce", [DeliveryResult(delivered=False, permanent_failure=True, detail="no mailbox")]
    )
    outbox = notifier(db, clock, bounce)
    await queue(db, clock, "gone@example.org")
    await Dispatcher(db, clock, [outbox.subscriber()]).run_until_idle()
    parked = await row_for(db, "gone@example.org")
    assert (parked.status, parked.failed_reason) == (MessageStatus.FAILED, "bounce: no mailbox")
    clock.advance(hours=5)
    assert await outbox.retry_due() == 0
    assert len(bounce.sent) == 1


async def test_two_processes_never_send_the_same_retry(db: Database, clock: ManualClock) -> None:
    first = Channel("c", [DeliveryResult(delivered=False, detail="busy")] * 20)
    await queue(db, clock, "a@example.org")
    await queue(db, clock, "b@example.org")
    await Dispatcher(db, clock, [notifier(db, clock, first).subscriber()]).run_until_idle()
    clock.advance(hours=2)
    one, two = Channel("one", []), Channel("two", [])
    await asyncio.gather(notifier(db, clock, one).retry_due(), notifier(db, clock, two).retry_due())
    sent = sorted(m.to for m in one.sent + two.sent)
    assert sent == ["a@example.org", "b@example.org"], "each retry claimed by one process"


async def test_a_rolled_back_transaction_sends_nothing(db: Database, clock: ManualClock) -> None:
    channel = Channel("c", [])
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await queue_message(
                session, clock, kind="email", to="x@example.org", template="t", context={}
            )
            raise RuntimeError("the change failed")
    await Dispatcher(db, clock, [notifier(db, clock, channel).subscriber()]).run_until_idle()
    assert channel.sent == []


async def test_a_key_queues_once(db: Database, clock: ManualClock) -> None:
    assert await queue(db, clock, "a@example.org", dedupe_key="reminder:e1:a") is not None
    assert await queue(db, clock, "a@example.org", dedupe_key="reminder:e1:a") is None
    channel = Channel("c", [])
    await Dispatcher(db, clock, [notifier(db, clock, channel).subscriber()]).run_until_idle()
    assert len(channel.sent) == 1


async def test_a_template_that_cannot_render_fails_at_once(
    db: Database, clock: ManualClock
) -> None:
    channel = Channel("c", [])
    await queue(db, clock, "a@example.org", template="order-confirmed", context={})
    await Dispatcher(db, clock, [notifier(db, clock, channel).subscriber()]).run_until_idle()
    row = await row_for(db, "a@example.org")
    assert row.status == MessageStatus.FAILED
    assert "order-confirmed" in row.failed_reason
    assert channel.sent == []


async def test_marketing_needs_consent_and_stops_at_unsubscribe(
    db: Database, clock: ManualClock
) -> None:
    channel = Channel("c", [])
    dispatcher = Dispatcher(db, clock, [notifier(db, clock, channel).subscriber()])
    async with db.transaction() as session:
        await set_marketing(session, clock, "yes@example.org", allowed=True, source="checkout")
    news = {
        "subject": "New dates",
        "body": "Two more nights!",
        "event": {"title": "Jazz"},
        "organizer": "Jazz Club",
        "unsubscribe": "",
    }
    for to in ("yes@example.org", "never@example.org", "later@example.org"):
        await queue(db, clock, to, template="broadcast", context=news, purpose=Purpose.MARKETING)
    async with db.transaction() as session:
        await set_marketing(session, clock, "later@example.org", allowed=True, source="account")
        await set_marketing(
            session, clock, "later@example.org", allowed=False, source="unsubscribe-link"
        )
    await dispatcher.run_until_idle()
    assert [m.to for m in channel.sent] == ["yes@example.org"]
    (message,) = channel.sent
    url = message.headers["List-Unsubscribe"].strip("<>")
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.text, "the link is in the text too"
    assert f"token={LINKS.for_address(LinkKind.UNSUBSCRIBE, 'yes@example.org')}" in url
    for to in ("never@example.org", "later@example.org"):
        row = await row_for(db, to)
        assert (row.status, row.failed_reason) == (MessageStatus.SKIPPED, "unsubscribed")


def test_the_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy()
    assert timedelta(seconds=30) <= policy.delay(1) <= timedelta(minutes=1)
    assert timedelta(minutes=30) <= policy.delay(25) <= timedelta(hours=1)


async def test_the_upgrade_keeps_queued_mail_and_replays_no_old_notice(
    make_platform: Any, make_client: Any, clock: ManualClock
) -> None:
    """Revision 0023: a message queued (rendered) before it is still sent after it; the
    subscriber of events' changes starts at the journal's end (no cursor before it), so a postponement made before the
    upgrade is not announced after it (its buyer would be told of a new one: test_messages)."""
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
    async with make_client(platform) as client:
        await Buyer(client, store, email="fan@example.org").buy(Free=1)
    async with platform.db.transaction() as session:
        await change_status(
            session, clock, store.event.id, EventStatus.POSTPONED, regions=factories.bundled_regions
        )
    migrating = Database(create_engine(platform.settings.resolved_database_url))
    old_outbox = sa.table(
        "outbound_message",
        *(sa.column(name) for name in ("kind", "recipient", "template", "subject", "text")),
        *(sa.column(name) for name in ("html", "locale", "region", "channel")),
        *(sa.column(name) for name in ("provider_reference", "failed_reason")),
        sa.column("id", sa.Uuid()),
        sa.column("created_at", UTCDateTime()),
    )
    try:
        await downgrade(migrating, "0022")
        async with migrating.transaction() as session:
            await session.execute(sa.delete(old_outbox))
            await session.execute(
                sa.insert(old_outbox).values(
                    id=new_id(),
                    kind="email",
                    recipient="old@example.org",
                    template="order-confirmed",
                    subject="Your order",
                    text="Queued before the upgrade",
                    html="",
                    locale="en",
                    region="",
                    created_at=clock.now(),
                    channel="",
                    provider_reference="",
                    failed_reason="",
                )
            )
            await session.execute(sa.text("DELETE FROM journal_subscriber"))
        await upgrade(migrating)
    finally:
        await migrating.close()
    channel = Channel("c", [])
    outbox = notifier(platform.db, clock, channel)
    async with platform.db.read() as session:
        (queued,) = (await session.scalars(select(OutboundMessage))).all()
    assert (queued.template, queued.status) == ("prerendered", MessageStatus.QUEUED)
    await outbox.deliver(queued.id, first=True)  # what its journal entry, dispatched, does
    await Dispatcher(
        platform.db, clock, [outbox.subscriber(), event_subscriber(platform.db, clock)]
    ).run_until_idle()
    assert [(m.to, m.subject, m.text) for m in channel.sent] == [
        ("old@example.org", "Your order", "Queued before the upgrade\n")
    ]
    async with platform.db.read() as session:
        told = await session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.template == "event-postponed")
        )
    assert told is None, "an old postponement is not announced again"
