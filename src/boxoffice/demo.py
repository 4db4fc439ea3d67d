"""Demo data: an organizer with one published event, so a newcomer sees something at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from boxoffice.core.catalog.categories import create_category
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.schemas import CategoryIn, EventDraft, QuotaIn, TicketTypeIn
from boxoffice.core.catalog.service import change_status, create_event
from boxoffice.core.catalog.tickets import create_quota, create_ticket_type
from boxoffice.core.identity.models import User
from boxoffice.core.identity.passwords import hash_password
from boxoffice.core.identity.service import create_organization, find_organization
from boxoffice.core.money import Price
from boxoffice.platform import Platform

DEMO_ORGANIZATION = "demo-organizer"
#: A demo sign-in for the organizer side. Demo data only: never load it in production.
DEMO_CATEGORIES = [
    ("music", "Music", "Musik"),
    ("theatre", "Theatre", "Theater"),
    ("sport", "Sport", "Sport"),
    ("talks", "Talks", "Vorträge"),
]
DEMO_EMAIL = "organizer@demo.example"
DEMO_PASSWORD = "demo organizer password"  # noqa: S105 - published demo credentials


async def load_demo(platform: Platform) -> bool:
    """Create the demo organizer and its event; ``False`` if they exist already."""
    clock = platform.clock
    async with platform.db.transaction() as session:
        if await find_organization(session, DEMO_ORGANIZATION) is not None:
            return False
        now = clock.now()
        organizer = User(
            email=DEMO_EMAIL,
            password_hash=hash_password(DEMO_PASSWORD),
            name="Demo Organizer",
            email_verified_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(organizer)
        await session.flush()
        for slug, english, german in DEMO_CATEGORIES:
            await create_category(
                session, clock, CategoryIn(slug=slug, names={"en": english, "de": german})
            )
        organization = await create_organization(
            session,
            clock,
            slug=DEMO_ORGANIZATION,
            name="Demo Organizer",
            contact_email="hello@demo.example",
            owner=organizer,
        )
        zone = ZoneInfo("Europe/Berlin")
        day = (clock.now() + timedelta(days=30)).astimezone(zone).date()
        starts_at = datetime.combine(day, time(19, 30), tzinfo=zone)
        event = await create_event(
            session,
            clock,
            organization.id,
            EventDraft(
                slug="boxoffice-launch-party",
                title="Boxoffice Launch Party",
                description="An evening of live music and short talks to celebrate the first "
                "release of boxoffice, the open-source ticketing engine.",
                timezone="Europe/Berlin",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=4),
                venue_name="Kulturbrauerei",
                address="Schönhauser Allee 36, 10435 Berlin",
                latitude=52.5394,
                longitude=13.4126,
                category="music",
                tags=["launch", "live music"],
                city="Berlin",
                country="DE",
                region="eu",
                currency="EUR",
            ),
            regions=platform.region_or_none,
        )
        standing = await create_ticket_type(
            session,
            clock,
            event,
            TicketTypeIn(name="Standing", price=Price(2900, "EUR"), max_per_order=8),
        )
        seated = await create_ticket_type(
            session,
            clock,
            event,
            TicketTypeIn(name="Seated", price=Price(4500, "EUR"), max_per_order=6, position=1),
        )
        await create_quota(
            session,
            clock,
            event,
            QuotaIn(name="Hall", capacity=300, ticket_types=[standing.id, seated.id]),
        )
        await create_quota(
            session, clock, event, QuotaIn(name="Seats", capacity=80, ticket_types=[seated.id])
        )
        await change_status(
            session, clock, event.id, EventStatus.PUBLISHED, regions=platform.region_or_none
        )
    return True
