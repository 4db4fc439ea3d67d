"""Builders for test data, through the same services the API uses."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.catalog.schemas import EventDraft, QuotaIn, TicketTypeIn
from boxoffice.core.catalog.service import change_status, create_event
from boxoffice.core.catalog.tickets import create_quota, create_ticket_type
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.identity.models import Organization
from boxoffice.core.identity.service import create_organization
from boxoffice.core.money import Price
from boxoffice.core.storage import Database
from boxoffice.platform import Platform
from boxoffice.regions.canada import Canada
from boxoffice.regions.eu import EuropeanUnion
from boxoffice.regions.india import India
from boxoffice.regions.united_states import UnitedStates

_counter = itertools.count(1)

MakePlatform = Callable[..., Platform]


#: The region packs the test platforms enable (PLUGINS_TOML), for calls to the core.
BUNDLED_REGIONS: dict[str, ComplianceRegion] = {
    region.id: region for region in (EuropeanUnion(), Canada(), India(), UnitedStates())
}


def bundled_regions(region_id: str) -> ComplianceRegion | None:
    return BUNDLED_REGIONS.get(region_id)


PLUGINS_TOML = """
[regions]
enabled = ["eu", "ca", "in", "us"]

[search]
backend = "dbsearch"

[media]
store = "localstore"

[[routing.payments]]
providers = ["offline"]

[[routing.notifications]]
kind = "email"
providers = ["log"]
"""

#: The same platform with the EU pack switched off, as ops might do by mistake.
WITHOUT_EU = PLUGINS_TOML.replace('"eu", "ca"', '"ca"')
assert WITHOUT_EU != PLUGINS_TOML


#: An event's place and money in Québec (GST and QST added at checkout) and in Karnataka
#: (GST included): ``factories.event(..., **QUEBEC)``.
QUEBEC: dict[str, str] = {
    "region": "ca",
    "country": "CA",
    "subdivision": "CA-QC",
    "currency": "CAD",
    "timezone": "America/Toronto",
}
KARNATAKA: dict[str, str] = {
    "region": "in",
    "country": "IN",
    "subdivision": "IN-KA",
    "currency": "INR",
    "timezone": "Asia/Kolkata",
}


async def organization(db: Database, clock: Clock, slug: str | None = None) -> Organization:
    async with db.transaction() as session:
        return await create_organization(
            session, clock, slug=slug or f"org-{next(_counter)}", name="Org"
        )


def draft(clock: Clock, **overrides: object) -> EventDraft:
    starts = clock.now() + timedelta(days=10)
    fields: dict[str, object] = {
        "slug": f"event-{next(_counter)}",
        "title": "Jazz night",
        "timezone": "Europe/Berlin",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=3),
        "region": "eu",
        "currency": "EUR",
        "description": "Live jazz by the river.",
        "venue_name": "Hafenbar",
        "city": "Hamburg",
        "country": "DE",
    }
    fields.update(overrides)
    return EventDraft(**fields)  # type: ignore[arg-type]


async def event(
    db: Database,
    clock: Clock,
    org: Organization | None = None,
    *,
    publish: bool = True,
    **overrides: object,
) -> Event:
    org = org or await organization(db, clock)
    async with db.transaction() as session:
        created = await create_event(
            session, clock, org.id, draft(clock, **overrides), regions=bundled_regions
        )
        if publish:
            await on_sale(session, clock, created)
            await change_status(
                session, clock, created.id, EventStatus.PUBLISHED, regions=bundled_regions
            )
        return created


async def on_sale(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    price_minor: int = 2500,
    capacity: int = 100,
) -> TicketType:
    """One ticket type selling from one quota: the least an event needs to be published."""
    ticket_type = await create_ticket_type(
        session,
        clock,
        event,
        TicketTypeIn(name="General admission", price=Price(price_minor, event.currency)),
    )
    await create_quota(
        session,
        clock,
        event,
        QuotaIn(name="Venue", capacity=capacity, ticket_types=[ticket_type.id]),
    )
    return ticket_type


def at(clock: Clock, days: int) -> datetime:
    return clock.now() + timedelta(days=days)


def event_body(clock: Clock, slug: str = "summer-gala", **overrides: Any) -> dict[str, Any]:
    """An organizer's JSON for a complete event in the EU, twenty days ahead."""
    starts = clock.now() + timedelta(days=20)
    return {
        "slug": slug,
        "title": "Summer gala",
        "timezone": "Europe/Paris",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat(),
        "region": "eu",
        "currency": "EUR",
        "description": "Dinner and dancing",
        "venue_name": "Le Grand Hall",
        "city": "Paris",
        "country": "FR",
        **overrides,
    }
