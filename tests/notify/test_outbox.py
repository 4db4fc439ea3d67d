"""The notification outbox: a message queued in a transaction is delivered once it commits,
retried while channels fail temporarily, and parked on a permanent failure."""

from __future__ import annotations

from sqlalchemy import select

from boxoffice import DeliveryResult, HealthState, Message, ProviderHealth
from boxoffice.core.clock import ManualClock
from boxoffice.core.journal.dispatcher import Dispatcher
from boxoffice.core.notify.models import OutboundMessage
from boxoffice.core.notify.service import delivery_subscriber, queue_message
from boxoffice.core.storage import Database


class Channel:
    def __init__(self, id: str, outcomes: list[DeliveryResult]) -> None:
        self.id = id
        self.kinds = frozenset({"email"})
        self.outcomes = outcomes
        self.sent: list[Message] = []

    async def send(self, message: Message) -> DeliveryResult:
        self.sent.append(message)
        return self.outcomes.pop(0) if self.outcomes else DeliveryResult(delivered=True)

    async def health(self) -> ProviderHealth:
        return ProviderHealth(HealthState.UP)


async def queue(db: Database, clock: ManualClock, to: str) -> None:
    async with db.transaction() as session:
        await queue_message(
            session, clock, kind="email", to=to, template="t", subject="s", text="hello"
        )


async def test_fallback_retry_and_permanent_failure(db: Database, clock: ManualClock) -> None:
    primary = Channel("primary", [DeliveryResult(delivered=False, detail="timeout")] * 2)
    backup = Channel(
        "backup",
        [
            DeliveryResult(delivered=False, detail="down"),
            DeliveryResult(delivered=True, provider_reference="b-1"),
        ],
    )
    dispatcher = Dispatcher(
        db, clock, [delivery_subscriber(db, clock, lambda kind, region: [primary, backup])]
    )
    await queue(db, clock, "a@example.org")
    await dispatcher.run_until_idle()
    assert (len(primary.sent), len(backup.sent)) == (1, 1)
    clock.advance(seconds=5)
    await dispatcher.run_until_idle()
    async with db.read() as session:
        row = (await session.scalars(select(OutboundMessage))).one()
    assert (row.channel, row.provider_reference) == ("backup", "b-1")
    assert row.delivered_at is not None

    bounce = Channel(
        "bounce",
        [DeliveryResult(delivered=False, permanent_failure=True, detail="no such mailbox")],
    )
    dispatcher2 = Dispatcher(db, clock, [delivery_subscriber(db, clock, lambda k, r: [bounce])])
    await dispatcher2.run_until_idle()  # the first message is delivered already: not re-sent
    assert bounce.sent == []
    await queue(db, clock, "gone@example.org")
    await dispatcher2.run_until_idle()
    async with db.read() as session:
        parked = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.recipient == "gone@example.org")
            )
        ).one()
    assert parked.failed_reason == "bounce: no such mailbox"
    assert parked.delivered_at is None


async def test_a_rolled_back_transaction_sends_nothing(db: Database, clock: ManualClock) -> None:
    channel = Channel("c", [])
    dispatcher = Dispatcher(db, clock, [delivery_subscriber(db, clock, lambda k, r: [channel])])
    try:
        async with db.transaction() as session:
            await queue_message(
                session,
                clock,
                kind="email",
                to="x@example.org",
                template="t",
                subject="s",
                text="never",
            )
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    await dispatcher.run_until_idle()
    assert channel.sent == []
