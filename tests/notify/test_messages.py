"""The messages people get, end to end on both engines: HTTP in, the journal, the outbox,
the ``smtp`` channel, a real SMTP server (aiosmtpd in a child process), and the mail parsed
as it arrived: its parts, its PDF tickets (pypdf), its calendar entry (icalendar), its
language and formatting, its retries and its unsubscribe link."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy import select

from boxoffice.core.booking.models import Order
from boxoffice.core.booking.notices import queue_due_reminders
from boxoffice.core.booking.orders import confirm
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.service import change_status, update_event
from boxoffice.core.clock import ManualClock
from boxoffice.core.notify.models import MessageStatus, OutboundMessage
from boxoffice.platform import Platform
from boxoffice.testing.smtp import SmtpReceiver
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop, shop
from tests.identity.helpers import sign_up


def smtp_config(port: int) -> str:
    return factories.PLUGINS_TOML.replace('providers = ["log"]', 'providers = ["smtp"]') + (
        f"""
[providers.smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
from_address = "tickets@example.org"
from_name = "Example Tickets"
timeout = 5
"""
    )


@pytest.fixture
def platform(make_platform: factories.MakePlatform, boxoffice_smtp: SmtpReceiver) -> Platform:
    return make_platform(config=smtp_config(boxoffice_smtp.port), entry_points=True)


def text_of(mail: EmailMessage, subtype: str = "plain") -> str:
    part = mail.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content()).replace("\r\n", "\n")


def spaced(text: str) -> str:
    """Babel's narrow and non-breaking spaces (``12,50\u00a0€``) as plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


async def deliver(platform: Platform) -> None:
    await platform.dispatcher.run_until_idle()


async def test_the_confirmation_arrives_with_pdf_tickets_and_a_calendar_entry(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
    async with make_client(platform) as client:
        order = await Buyer(client, store, email="ana@example.org").buy(Free=2)
    await deliver(platform)
    (mail,) = boxoffice_smtp.received("ana@example.org")
    assert mail["Subject"] == f"Your order {order['number']}: Jazz night"
    assert mail["From"] == "Example Tickets <tickets@example.org>"
    plain = text_of(mail)
    assert f"your order {order['number']} for Jazz night is confirmed: 2 tickets" in plain
    assert order["link"] in plain
    # The start in the event's zone (Europe/Berlin), not UTC.
    local = store.event.starts_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{local:%-I:%M %p} (Europe/Berlin)" in spaced(plain)
    assert order["link"] in text_of(mail, "html")

    files = {part.get_filename(): part for part in mail.iter_attachments()}
    pdfs = sorted(name for name in files if name and name.endswith(".pdf"))
    assert pdfs == [f"{order['number']}-1.pdf", f"{order['number']}-2.pdf"]
    for name in pdfs:
        content = files[name].get_payload(decode=True)
        assert isinstance(content, bytes)
        page = PdfReader(io.BytesIO(content)).pages[0]
        assert "Jazz night" in page.extract_text()
        assert page.images, "the QR code is on the ticket"
    ics = files[f"{order['number']}.ics"]
    assert ics.get_content_type() == "text/calendar"
    payload = ics.get_payload(decode=True)
    assert isinstance(payload, bytes)
    (vevent,) = Calendar.from_ical(payload).walk("VEVENT")
    assert vevent.decoded("DTSTART") == store.event.starts_at
    assert order["number"] in str(vevent["SUMMARY"])

    async with platform.db.read() as session:
        row = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.recipient == "ana@example.org")
            )
        ).one()
    assert (row.status, row.channel, row.subject) == ("sent", "smtp", mail["Subject"])
    assert row.context is None, "the link is not kept once the mail is sent"


async def test_a_french_buyer_reads_french_with_french_money(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    store = await shop(platform.db, clock, types={"Standard": 1250})
    async with make_client(platform) as client:
        buyer = Buyer(client, store, email="jeanne@example.fr")
        held = (await buyer.hold(Standard=1)).json()
        placed = await client.post(
            f"/api/v1/holds/{held['id']}/order",
            json={
                "secret": held["secret"],
                "buyer": {"name": "Jeanne", "email": "jeanne@example.fr", "locale": "fr-FR"},
            },
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
    async with platform.db.transaction() as session:
        found = await session.get(Order, uuid.UUID(order["id"]))
        assert found is not None
        await confirm(session, clock, found, via="organizer")
    await deliver(platform)
    (mail,) = boxoffice_smtp.received("jeanne@example.fr")
    assert mail["Subject"] == f"Votre commande {order['number']} : Jazz night"
    plain = spaced(text_of(mail))
    assert plain.startswith("Bonjour Jeanne,")
    assert "est confirmée : 1 billet, 12,50 €." in plain
    assert "(Europe/Berlin)" in plain
    assert "Envoyé par boxoffice" in plain


@pytest.mark.parametrize(
    ("buyer_locale", "event_language", "greeting"),
    [
        (None, "fr", "Bonjour Kim,"),  # no language said: the event's
        ("is", "fr", "Bonjour Kim,"),  # no Icelandic catalog: the event's
        ("is", "sv", "Hello Kim,"),  # Swedish lacks the greeting (a partial catalog): English
        ("ja", "fr", "Kim 様"),  # the buyer's own language first
        ("fr-CA", "en", "Bonjour Kim,"),  # a region falls back to its language
    ],
)
async def test_the_language_falls_back_to_the_events_then_english(
    platform: Platform,
    make_client: Any,
    clock: ManualClock,
    boxoffice_smtp: SmtpReceiver,
    buyer_locale: str | None,
    event_language: str,
    greeting: str,
) -> None:
    store = await shop(
        platform.db,
        clock,
        types={"Free": 0},
        quotas={"Hall": (5, ["Free"])},
        language=event_language,
    )
    buyer: dict[str, str] = {"name": "Kim", "email": "kim@example.org"}
    if buyer_locale:
        buyer["locale"] = buyer_locale
    async with make_client(platform) as client:
        held = (await Buyer(client, store).hold(Free=1)).json()
        placed = await client.post(
            f"/api/v1/holds/{held['id']}/order", json={"secret": held["secret"], "buyer": buyer}
        )
        assert placed.status_code == 201, placed.text
    await deliver(platform)
    (mail,) = boxoffice_smtp.received("kim@example.org")
    assert text_of(mail).startswith(greeting)


async def test_an_smtp_outage_delays_the_mail_but_never_loses_it(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
    boxoffice_smtp.refuse("*", "451 4.3.0 Try again later")
    async with make_client(platform) as client:
        await Buyer(client, store, email="first@example.org").buy(Free=1)
        await deliver(platform)
        boxoffice_smtp.stop()  # and then the server goes away altogether
        clock.advance(minutes=2)
        assert await platform.notifier.retry_due() == 1
        await Buyer(client, store, email="second@example.org").buy(Free=1)
        await deliver(platform)
    async with platform.db.read() as session:
        rows = list(await session.scalars(select(OutboundMessage)))
    assert {(r.recipient, r.status) for r in rows if r.template == "order-confirmed"} == {
        ("first@example.org", MessageStatus.RETRYING),
        ("second@example.org", MessageStatus.RETRYING),
    }
    first = next(r for r in rows if r.recipient == "first@example.org")
    assert first.attempts == 2
    assert "SMTPConnectError" in first.last_error

    boxoffice_smtp.start()  # back on the same port
    boxoffice_smtp.refuse("*", "")
    clock.advance(hours=1)
    assert await platform.notifier.retry_due() == 2
    clock.advance(hours=3)
    assert await platform.notifier.retry_due() == 0
    assert len(boxoffice_smtp.received("first@example.org")) == 1
    assert len(boxoffice_smtp.received("second@example.org")) == 1


async def test_broadcasts_respect_unsubscribes_but_service_messages_do_not(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            smtp=boxoffice_smtp,
            types={"Free": 0},
            quotas={"Hall": (9, ["Free"])},
        )
        for email in ("fan@example.org", "quiet@example.org"):
            await Buyer(client, store, email=email).buy(Free=1)
        # fan@ has an account that said yes to news; quiet@ never did.
        await sign_up(
            client, platform, "fan@example.org", smtp=boxoffice_smtp, marketing_consent=True
        )
        await deliver(platform)

        news = await client.post(
            f"{base}/broadcasts",
            json={
                "subject": "Two more nights",
                "body": "We added two dates!",
                "purpose": "marketing",
            },
            headers=headers,
        )
        assert news.status_code == 202, news.text
        await deliver(platform)
        (promo,) = [m for m in boxoffice_smtp.received() if m["Subject"] == "Two more nights"]
        assert promo["To"] == "fan@example.org"
        assert promo["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = promo["List-Unsubscribe"].strip("<>")
        assert link in text_of(promo)
        counted = await client.get(f"{base}/broadcasts/{news.json()['id']}", headers=headers)
        assert counted.json()["recipients"] == 1
        assert counted.json()["delivery"]["sent"] == 1

        # The one-click POST of RFC 8058: a forged token changes nothing.
        parts = urlsplit(link)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        forged = await client.post(
            parts.path, params={**query, "token": "A" * 24}, content="List-Unsubscribe=One-Click"
        )
        assert forged.status_code == 404
        page = await client.get(parts.path, params=query)
        assert page.status_code == 200
        assert '<form method="post">' in page.text
        done = await client.post(parts.path, params=query, content="List-Unsubscribe=One-Click")
        assert done.status_code == 200, done.text
        assert done.json() == {"address": "fan@example.org", "marketing": False}

        again = await client.post(
            f"{base}/broadcasts",
            json={"subject": "Last call", "body": "Almost sold out", "purpose": "marketing"},
            headers=headers,
        )
        doors = await client.post(
            f"{base}/broadcasts",
            json={
                "subject": "Doors at 7",
                "body": "Bring your ticket.",
                "purpose": "transactional",
            },
            headers=headers,
        )
        assert again.status_code == doors.status_code == 202
        await deliver(platform)
    subjects = {(m["To"], m["Subject"]) for m in boxoffice_smtp.received()}
    assert ("fan@example.org", "Two more nights") in subjects
    assert ("fan@example.org", "Last call") not in subjects, "unsubscribed from marketing"
    assert ("fan@example.org", "Doors at 7") in subjects, "service messages still come"
    assert ("quiet@example.org", "Doors at 7") in subjects
    assert ("quiet@example.org", "Two more nights") not in subjects, "never consented"


async def test_the_day_before_reminder_comes_once_in_the_events_zone(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    starts = clock.now() + timedelta(hours=30)
    store = await shop(
        platform.db,
        clock,
        types={"Free": 0},
        quotas={"Hall": (5, ["Free"])},
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        timezone="America/Toronto",
    )
    async with make_client(platform) as client:
        await Buyer(client, store, email="remind@example.org").buy(Free=1)
    assert await queue_due_reminders(platform.db, clock) == 0, "not yet: 30 hours to go"
    clock.advance(hours=7)
    assert await queue_due_reminders(platform.db, clock) == 1
    assert await queue_due_reminders(platform.db, clock) == 0, "once"
    await deliver(platform)
    (reminder,) = [
        m for m in boxoffice_smtp.received("remind@example.org") if "Tomorrow" in m["Subject"]
    ]
    local = starts.astimezone(ZoneInfo("America/Toronto"))
    assert f"{local:%-I:%M %p} (America/Toronto)" in spaced(text_of(reminder))

    async with platform.db.transaction() as session:  # moved to later that evening
        later = starts + timedelta(hours=3)
        await update_event(
            session,
            clock,
            store.event.organization_id,
            store.event.id,
            factories.draft(
                clock,
                slug=store.event.slug,
                starts_at=later,
                ends_at=later + timedelta(hours=2),
                timezone="America/Toronto",
            ),
            regions=factories.bundled_regions,
        )
    await deliver(platform)
    assert await queue_due_reminders(platform.db, clock) == 0, "26 hours to the new start"
    clock.advance(hours=3)
    assert await queue_due_reminders(platform.db, clock) == 1, "a new start, a new reminder"
    await deliver(platform)
    subjects = [m["Subject"] for m in boxoffice_smtp.received("remind@example.org")]
    assert subjects.count("Changed: Jazz night") == 1
    assert subjects.count("Tomorrow: Jazz night") == 2


async def test_buyers_hear_of_a_new_time_and_a_postponement_but_not_of_a_typo(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (5, ["Free"])})
    async with make_client(platform) as client:
        await Buyer(client, store, email="a@example.org").buy(Free=1)
        await Buyer(client, store, email="a@example.org").buy(Free=1)  # two orders, one mail
        await Buyer(client, store, email="b@example.org").buy(Free=1)
    event = store.event

    async def edit(**changes: object) -> None:
        async with platform.db.transaction() as session:
            await update_event(
                session,
                clock,
                event.organization_id,
                event.id,
                factories.draft(
                    clock,
                    slug=event.slug,
                    starts_at=event.starts_at,
                    ends_at=event.ends_at,
                    **changes,
                ),
                regions=factories.bundled_regions,
            )
        await deliver(platform)

    await edit(description="Live jazz by the river, now with snacks.")
    await edit(venue_name="Elbphilharmonie")
    async with platform.db.transaction() as session:
        await change_status(
            session, clock, event.id, EventStatus.POSTPONED, regions=factories.bundled_regions
        )
    await deliver(platform)
    for address in ("a@example.org", "b@example.org"):
        subjects = [m["Subject"] for m in boxoffice_smtp.received(address)]
        assert subjects.count("Changed: Jazz night") == 1, subjects
        assert subjects.count("Postponed: Jazz night") == 1, subjects
    changed = next(
        m for m in boxoffice_smtp.received("b@example.org") if m["Subject"].startswith("Changed")
    )
    assert "Elbphilharmonie" in text_of(changed)


async def test_a_cancelled_order_and_a_cancelled_event_are_told_once_each(
    platform: Platform, make_client: Any, clock: ManualClock, boxoffice_smtp: SmtpReceiver
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client,
            platform,
            clock,
            smtp=boxoffice_smtp,
            types={"Free": 0},
            quotas={"Hall": (9, ["Free"])},
        )
        one = await Buyer(client, store, email="one@example.org").buy(Free=1)
        await Buyer(client, store, email="two@example.org").buy(Free=1)
        cancelled = await client.post(
            f"{base}/orders/{one['number']}/cancel", json={"reason": "asked"}, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        await deliver(platform)
        async with platform.db.transaction() as session:
            await change_status(
                session,
                clock,
                store.event.id,
                EventStatus.CANCELLED,
                regions=factories.bundled_regions,
            )
        await deliver(platform)
        await deliver(platform)  # the event's orders are cancelled, then their buyers told
    first = [m["Subject"] for m in boxoffice_smtp.received("one@example.org")]
    second = [m["Subject"] for m in boxoffice_smtp.received("two@example.org")]
    assert first.count(f"Your order {one['number']} is cancelled") == 1
    assert "Cancelled: Jazz night" not in first, "its order was cancelled before the event"
    assert second.count("Cancelled: Jazz night") == 1
    assert not any("is cancelled" in s for s in second), "one message, the event's"
    (notice,) = [
        m for m in boxoffice_smtp.received("two@example.org") if "Cancelled" in m["Subject"]
    ]
    assert "refunded" in text_of(notice)


async def test_a_failing_channel_is_paused_and_the_next_one_carries_the_mail(
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
    boxoffice_smtp: SmtpReceiver,
) -> None:
    """E-mail routed to ``smtp`` then ``log``: while the SMTP server refuses for now, each
    message falls through to the next channel; after five refusals in a row the ``smtp``
    channel's breaker opens and the mail goes to ``log`` without asking the server at all
    (``/health/ready`` says so), until the breaker lets a try through again."""
    config = smtp_config(boxoffice_smtp.port).replace(
        'kind = "email"\nproviders = ["smtp"]', 'kind = "email"\nproviders = ["smtp", "log"]'
    )
    assert 'providers = ["smtp", "log"]' in config
    platform = make_platform(config=config, entry_points=True)
    store = await shop(platform.db, clock, types={"Free": 0}, quotas={"Hall": (9, ["Free"])})
    boxoffice_smtp.refuse("*", "451 4.3.0 Try again later")
    buyers = [f"buyer{n}@example.org" for n in range(7)]
    async with make_client(platform) as client:
        for email in buyers:
            await Buyer(client, store, email=email).buy(Free=1)
            await deliver(platform)
        ready = (await client.get("/health/ready")).json()
    assert [len(boxoffice_smtp.asked(email)) for email in buyers] == [1] * 5 + [0, 0]
    assert platform.calls.state("smtp") == "opened"
    (smtp,) = [check for name, check in ready["providers"].items() if name.endswith(":smtp")]
    assert (smtp["state"], smtp["breaker"]) == ("down", "opened")
    assert ready["status"] == "degraded"
    async with platform.db.read() as session:
        rows = list(await session.scalars(select(OutboundMessage)))
    assert {(r.status, r.channel) for r in rows if r.template == "order-confirmed"} == {
        (MessageStatus.SENT, "log")
    }
