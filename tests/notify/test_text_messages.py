"""Text messages, end to end on both engines: a buyer who gives a phone number at checkout
gets what changes their plans (the day-before reminder, a new time or place, a postponement,
a cancellation) as a text message too, in their language, through the ``twilio`` channel and
Twilio's REST API (a local fake of it); everything else stays e-mail. Where ops route no
channel for text messages, they are skipped, not retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from boxoffice.core.booking.notices import queue_due_reminders
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.service import change_status
from boxoffice.core.clock import ManualClock
from boxoffice.core.notify.models import MessageStatus, OutboundMessage
from boxoffice.platform import Platform
from boxoffice.testing.fakes import twilio
from boxoffice.testing.fakes.twilio import FakeTwilio
from tests import factories
from tests.booking.helpers import Buyer, shop

PHONE = "+33612345678"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        assert isinstance(server, FakeTwilio)
        yield server


def texting_config(server: FakeTwilio) -> str:
    return factories.PLUGINS_TOML + (
        f"""
[[routing.notifications]]
kind = "sms"
providers = ["twilio"]

[providers.twilio]
account_sid = "{twilio.ACCOUNT_SID}"
auth_token = "{twilio.AUTH_TOKEN}"
from_number = "{twilio.FROM_NUMBER}"
api_base = "{server.url}"
"""
    )


@pytest.fixture
def platform(make_platform: factories.MakePlatform, fake_twilio: FakeTwilio) -> Platform:
    return make_platform(config=texting_config(fake_twilio), entry_points=True)


async def tomorrows_show(platform: Platform, clock: ManualClock) -> Any:
    """Free tickets to a show starting in 20 hours: its reminder is due."""
    starts = clock.now() + timedelta(hours=20)
    return await shop(
        platform.db,
        clock,
        types={"Free": 0},
        quotas={"Hall": (5, ["Free"])},
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
    )


async def buy(client: Any, store: Any, email: str, **buyer: str) -> dict[str, Any]:
    shopper = Buyer(client, store, email=email)
    held = await shopper.hold(Free=1)
    assert held.status_code == 201, held.text
    placed = await shopper.order(held.json(), buyer={"name": "Camille", "email": email, **buyer})
    assert placed.status_code == 201, placed.text
    return dict(placed.json())


async def sms_log(platform: Platform) -> list[OutboundMessage]:
    async with platform.db.read() as session:
        query = select(OutboundMessage).where(OutboundMessage.kind == "sms")
        return list(await session.scalars(query))


async def test_the_reminder_and_a_cancellation_come_as_text_messages_in_the_buyers_language(
    platform: Platform, make_client: Any, clock: ManualClock, fake_twilio: FakeTwilio
) -> None:
    store = await tomorrows_show(platform, clock)
    async with make_client(platform) as client:
        texted = await buy(client, store, "camille@example.org", phone=PHONE, locale="fr")
        assert texted["buyer_phone"] == PHONE
        mailed_only = await buy(client, store, "dana@example.org")
        assert mailed_only["buyer_phone"] == ""
        await platform.dispatcher.run_until_idle()
        assert fake_twilio.messages == [], "the confirmation is e-mail only (tickets attached)"

        assert await queue_due_reminders(platform.db, clock) == 2, "two e-mails"
        await platform.dispatcher.run_until_idle()
        await platform.notifier.retry_due()
        (reminder,) = fake_twilio.received(PHONE)
        assert reminder["from"] == twilio.FROM_NUMBER
        assert reminder["body"].startswith("Demain : Jazz night"), reminder["body"]
        assert "/orders/" in reminder["body"], "the link to the tickets"
        assert len(reminder["body"]) < 320, "two SMS segments at most"
        assert await queue_due_reminders(platform.db, clock) == 0
        await platform.notifier.retry_due()
        assert len(fake_twilio.received(PHONE)) == 1, "once"

        async with platform.db.transaction() as session:
            await change_status(
                session,
                clock,
                store.event.id,
                EventStatus.CANCELLED,
                regions=factories.bundled_regions,
            )
        for _ in range(3):  # the orders are cancelled, then their buyers told
            await platform.dispatcher.run_until_idle()
        await platform.notifier.retry_due()
    bodies = [m["body"] for m in fake_twilio.received(PHONE)]
    assert len(bodies) == 2, bodies
    assert bodies[1].startswith("Annulé : Jazz night"), bodies[1]
    assert [m["to"] for m in fake_twilio.messages] == [PHONE, PHONE], "nobody else is texted"
    log = await sms_log(platform)
    assert {m.status for m in log} == {MessageStatus.SENT}
    assert {m.template for m in log} == {"event-reminder", "event-cancelled"}


async def test_a_phone_number_not_in_international_form_is_refused(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
    async with make_client(platform) as client:
        shopper = Buyer(client, store, email="eve@example.org")
        held = (await shopper.hold(Free=1)).json()
        for phone in ["0612345678", "+33 6 12 34 56 78", "+0612345678", "+3361234567890123"]:
            refused = await shopper.order(
                held, buyer={"name": "Eve", "email": "eve@example.org", "phone": phone}
            )
            assert refused.status_code == 400, (phone, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            (error,) = refused.json()["errors"]
            assert error["field"] == "body.buyer.phone", error
            assert error["message"].startswith(
                ("expected a phone number in international form", "Expected `str` of length <= 16")
            ), error
        placed = await shopper.order(
            held, buyer={"name": "Eve", "email": "eve@example.org", "phone": "+15145550123"}
        )
        assert placed.status_code == 201, "the hold was left as it was"


async def test_without_a_channel_for_text_messages_they_are_skipped_not_retried(
    make_platform: factories.MakePlatform, make_client: Any, clock: ManualClock
) -> None:
    platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)  # e-mail only
    store = await tomorrows_show(platform, clock)
    async with make_client(platform) as client:
        await buy(client, store, "camille@example.org", phone=PHONE)
        assert await queue_due_reminders(platform.db, clock) == 1
        await platform.dispatcher.run_until_idle()
        await platform.notifier.retry_due()
    (text,) = await sms_log(platform)
    assert text.status == MessageStatus.SKIPPED
    assert text.next_attempt_at is None
    assert "no routing rule" in text.failed_reason
