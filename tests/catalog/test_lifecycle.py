"""The catalog foundation: event validation, lifecycle, time zones, listing and search
indexing through the journal, on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.schemas import EventOut, EventSearch
from boxoffice.core.catalog.service import (
    change_status,
    create_event,
    get_public_event,
    list_public_events,
)
from boxoffice.core.clock import ManualClock
from boxoffice.core.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    RuleViolated,
    ValidationFailed,
)
from boxoffice.core.storage import Database
from boxoffice.platform import Platform
from tests import factories


async def test_invalid_fields_are_all_named(db: Database, clock: ManualClock) -> None:
    org = await factories.organization(db, clock)
    bad = factories.draft(
        clock, timezone="Mars/Olympus", currency="XXY", ends_at=clock.now() - timedelta(days=1)
    )
    with pytest.raises(ValidationFailed) as caught:
        async with db.transaction() as session:
            await create_event(session, clock, org.id, bad, regions=factories.bundled_regions)
    assert {e.field for e in caught.value.errors} == {"timezone", "currency"}
    naive = factories.draft(clock, starts_at=datetime(2030, 5, 1, 19))
    with pytest.raises(ValidationFailed) as caught:
        async with db.transaction() as session:
            await create_event(session, clock, org.id, naive, regions=factories.bundled_regions)
    assert [e.field for e in caught.value.errors] == ["starts_at"]
    backwards = factories.draft(clock, ends_at=clock.now())
    with pytest.raises(ValidationFailed, match="invalid") as caught:
        async with db.transaction() as session:
            await create_event(session, clock, org.id, backwards, regions=factories.bundled_regions)
    assert [e.field for e in caught.value.errors] == ["ends_at"]


async def test_slugs_are_unique_per_organization(db: Database, clock: ManualClock) -> None:
    org = await factories.organization(db, clock)
    await factories.event(db, clock, org, slug="gala")
    with pytest.raises(Conflict):
        await factories.event(db, clock, org, slug="gala")
    await factories.event(db, clock, slug="gala")  # another organization may


async def test_lifecycle_refuses_invalid_transitions(db: Database, clock: ManualClock) -> None:
    event = await factories.event(db, clock, publish=False)
    with pytest.raises(InvalidTransition, match="draft cannot become completed"):
        async with db.transaction() as session:
            await change_status(
                session, clock, event.id, EventStatus.COMPLETED, regions=factories.bundled_regions
            )
    async with db.transaction() as session:
        await factories.on_sale(session, clock, event)
        await change_status(
            session, clock, event.id, EventStatus.PUBLISHED, regions=factories.bundled_regions
        )
        await change_status(
            session, clock, event.id, EventStatus.CANCELLED, regions=factories.bundled_regions
        )
    with pytest.raises(InvalidTransition, match=r"allowed next: none \(final\)"):
        async with db.transaction() as session:
            await change_status(
                session, clock, event.id, EventStatus.PUBLISHED, regions=factories.bundled_regions
            )
    with pytest.raises(NotFound):
        async with db.transaction() as session:
            await change_status(
                session,
                clock,
                event.organization_id,
                EventStatus.PUBLISHED,
                regions=factories.bundled_regions,
            )


async def test_publishing_says_what_is_missing(db: Database, clock: ManualClock) -> None:
    event = await factories.event(db, clock, publish=False, description=" ", venue_name="", city="")
    with pytest.raises(RuleViolated) as caught:
        async with db.transaction() as session:
            await change_status(
                session, clock, event.id, EventStatus.PUBLISHED, regions=factories.bundled_regions
            )
    assert [e.field for e in caught.value.errors] == ["description", "venue_name", "ticket_types"]


async def test_an_online_event_is_published_without_a_venue(
    db: Database, clock: ManualClock
) -> None:
    event = await factories.event(
        db,
        clock,
        publish=False,
        venue_name="",
        city="",
        online=True,
        online_url="https://stream.example.org/keynote",
    )
    async with db.transaction() as session:
        await factories.on_sale(session, clock, event)
        published = await change_status(
            session, clock, event.id, EventStatus.PUBLISHED, regions=factories.bundled_regions
        )
    assert published.status == EventStatus.PUBLISHED


@pytest.mark.parametrize(
    ("zone", "local_start", "expected_utc"),
    [
        ("Asia/Kolkata", datetime(2031, 1, 15, 18, 0), datetime(2031, 1, 15, 12, 30)),
        ("America/St_Johns", datetime(2031, 1, 15, 18, 0), datetime(2031, 1, 15, 21, 30)),
        ("America/St_Johns", datetime(2031, 7, 15, 18, 0), datetime(2031, 7, 15, 20, 30)),
    ],
)
async def test_times_are_stored_in_utc_and_shown_in_the_event_zone(
    db: Database, clock: ManualClock, zone: str, local_start: datetime, expected_utc: datetime
) -> None:
    starts = local_start.replace(tzinfo=ZoneInfo(zone))
    event = await factories.event(
        db, clock, timezone=zone, starts_at=starts, ends_at=starts + timedelta(hours=2)
    )
    async with db.read() as session:
        shown = await get_public_event(session, event.id)
    assert shown.starts_at == expected_utc.replace(tzinfo=ZoneInfo("UTC"))
    assert shown.starts_at_local == starts.isoformat()
    assert datetime.fromisoformat(shown.ends_at_local) == starts + timedelta(hours=2)


async def test_listing_pages_with_a_stable_cursor(db: Database, clock: ManualClock) -> None:
    org = await factories.organization(db, clock)
    created = [
        await factories.event(
            db, clock, org, starts_at=factories.at(clock, 5 + i % 3), ends_at=factories.at(clock, 9)
        )
        for i in range(7)
    ]
    await factories.event(db, clock, org, publish=False)  # drafts are not public
    seen: list[EventOut] = []
    cursor = None
    async with db.read() as session:
        while True:
            page = await list_public_events(
                session, clock, EventSearch(limit=3, cursor=cursor), None
            )
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert sorted(e.id for e in seen) == sorted(e.id for e in created)
    assert [(e.starts_at, e.id) for e in seen] == sorted((e.starts_at, e.id) for e in seen)
    with pytest.raises(ValidationFailed, match="cursor"):
        async with db.read() as session:
            await list_public_events(session, clock, EventSearch(cursor="!!garbage"), None)


async def test_publication_is_indexed_through_the_journal(
    make_platform: factories.MakePlatform, clock: ManualClock
) -> None:
    platform: Platform = make_platform(config=factories.PLUGINS_TOML, entry_points=True)
    db = platform.db
    jazz = await factories.event(db, clock, title="Harbour jazz festival")
    await factories.event(db, clock, title="Chess open", description="Rapid chess")
    assert await platform.dispatcher.run_until_idle() >= 2
    backend = platform.router.search_backend()
    assert backend is not None

    async def search(text: str) -> list[str]:
        async with db.read() as session:
            page = await list_public_events(session, clock, EventSearch(q=text), backend)
        return [e.title for e in page.items]

    assert await search("jazz harb") == ["Harbour jazz festival"]
    async with db.transaction() as session:
        await change_status(
            session, clock, jazz.id, EventStatus.CANCELLED, regions=factories.bundled_regions
        )
    await platform.dispatcher.run_until_idle()
    assert await search("jazz") == []
    assert await search("chess") == ["Chess open"]
