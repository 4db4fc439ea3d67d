"""Demo data: an organizer with published events (Berlin, VAT included; Montréal, GST and QST
added at checkout when the ``ca`` pack is on), so a newcomer sees something at once."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

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
    """Create the demo organizer and its events; ``False`` if they exist already."""
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
        # The seller's details its invoices carry (GET …/billing: nothing missing).
        organization.legal_address = "Schönhauser Allee 36, 10435 Berlin"
        organization.country, organization.tax_id = "DE", "DE136695976"
        zone = ZoneInfo("Europe/Berlin")
        day = (clock.now() + timedelta(days=30)).astimezone(zone).date()
        starts_at = datetime.combine(day, time(19, 30), tzinfo=zone)
        launch = EventDraft(
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
        )
        await _published(
            session,
            platform,
            organization.id,
            launch,
            {"Standing": (2900, 8), "Seated": (4500, 6)},
            {"Hall": (300, ["Standing", "Seated"]), "Seats": (80, ["Seated"])},
        )
        if platform.region_or_none("ca") is not None:  # taxes added at checkout: GST and QST
            zone = ZoneInfo("America/Toronto")
            starts_at = datetime.combine(day + timedelta(days=14), time(20), tzinfo=zone)
            montreal = EventDraft(
                slug="boxoffice-montreal-night",
                title="Boxoffice Montréal Night",
                description="Chansons and talks in Montréal: prices before tax, GST and QST "
                "added at checkout.",
                timezone="America/Toronto",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=3),
                venue_name="Le Ministère",
                city="Montréal",
                country="CA",
                subdivision="CA-QC",
                region="ca",
                currency="CAD",
                category="music",
                language="fr",
            )
            await _published(
                session,
                platform,
                organization.id,
                montreal,
                {"Général": (3500, 8)},
                {"Salle": (200, ["Général"])},
            )
    return True


async def _published(
    session: AsyncSession,
    platform: Platform,
    organization_id: uuid.UUID,
    draft: EventDraft,
    types: dict[str, tuple[int, int]],
    quotas: dict[str, tuple[int, list[str]]],
) -> None:
    """A demo event with its ticket types (name -> (price in minor units, at most per
    order)) and quotas (name -> (capacity, ticket type names)), published."""
    clock, regions = platform.clock, platform.region_or_none
    event = await create_event(session, clock, organization_id, draft, regions=regions)
    ids = {}
    for position, (name, (price, most)) in enumerate(types.items()):
        ticket_type = await create_ticket_type(
            session,
            clock,
            event,
            TicketTypeIn(
                name=name,
                price=Price(price, draft.currency),
                max_per_order=most,
                position=position,
            ),
        )
        ids[name] = ticket_type.id
    for name, (capacity, members) in quotas.items():
        await create_quota(
            session,
            clock,
            event,
            QuotaIn(name=name, capacity=capacity, ticket_types=[ids[m] for m in members]),
        )
    await change_status(session, clock, event.id, EventStatus.PUBLISHED, regions=regions)
