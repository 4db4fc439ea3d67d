"""Discovery: filters, time zones, distance, prices, availability, sorting, HTTP caching and
calendar files, on both engines."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import update

from boxoffice.core.catalog.categories import create_category
from boxoffice.core.catalog.models import Quota, TicketType
from boxoffice.core.catalog.schemas import CategoryIn
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


async def catalog(platform: Platform, clock: ManualClock) -> dict[str, Any]:
    db = platform.db
    async with db.transaction() as session:
        await create_category(session, clock, CategoryIn(slug="music", names={"en": "Music"}))
        await create_category(session, clock, CategoryIn(slug="sport", names={"en": "Sport"}))
    org = await factories.organization(db, clock)
    made = {
        "vienna": await factories.event(
            db,
            clock,
            org,
            title="Vienna opera night",
            category="music",
            city="Vienna",
            country="AT",
            latitude=48.2082,
            longitude=16.3738,
            timezone="Europe/Vienna",
            starts_at=local("Europe/Vienna", 2030, 3, 1, 19),
            ends_at=local("Europe/Vienna", 2030, 3, 1, 22),
        ),
        "bratislava": await factories.event(
            db,
            clock,
            org,
            title="Bratislava derby",
            category="sport",
            city="Bratislava",
            country="SK",
            latitude=48.1486,
            longitude=17.1077,
            timezone="Europe/Bratislava",
            starts_at=local("Europe/Bratislava", 2030, 3, 2, 18),
            ends_at=local("Europe/Bratislava", 2030, 3, 2, 20),
        ),
        "berlin": await factories.event(
            db,
            clock,
            org,
            title="Berlin techno",
            category="music",
            city="Berlin",
            country="DE",
            latitude=52.52,
            longitude=13.405,
            timezone="Europe/Berlin",
            starts_at=local("Europe/Berlin", 2030, 3, 5, 23),
            ends_at=local("Europe/Berlin", 2030, 3, 6, 6),
        ),
        # 15 Jan local in Kolkata is 14 Jan in UTC; 14 Jan local in St John's is 15 Jan in UTC.
        "kolkata": await factories.event(
            db,
            clock,
            org,
            title="Kolkata sitar",
            timezone="Asia/Kolkata",
            city="Kolkata",
            country="IN",
            subdivision="IN-WB",
            region="in",
            starts_at=local("Asia/Kolkata", 2031, 1, 15, 0, 30),
            ends_at=local("Asia/Kolkata", 2031, 1, 15, 3),
        ),
        "stjohns": await factories.event(
            db,
            clock,
            org,
            title="St. John's folk",
            timezone="America/St_Johns",
            city="St. John's",
            country="CA",
            subdivision="CA-NL",
            region="ca",
            starts_at=local("America/St_Johns", 2031, 1, 14, 22),
            ends_at=local("America/St_Johns", 2031, 1, 15, 1),
        ),
    }
    async with db.transaction() as session:
        # Berlin is free; Bratislava is sold out; Vienna costs 25.00 (the factory's price).
        await session.execute(
            update(TicketType).where(TicketType.event_id == made["berlin"].id).values(price_minor=0)
        )
        await session.execute(
            update(Quota).where(Quota.event_id == made["bratislava"].id).values(sold=100)
        )
    await platform.dispatcher.run_until_idle()
    return {name: str(event.id) for name, event in made.items()}


async def titles(client: Any, **params: Any) -> list[str]:
    response = await client.get("/api/v1/events", params=params)
    assert response.status_code == 200, response.text
    return [e["title"] for e in response.json()["items"]]


async def test_filters_combine(platform: Platform, make_client: Any, clock: ManualClock) -> None:
    await catalog(platform, clock)
    async with make_client(platform) as client:
        assert await titles(client, category="music") == ["Vienna opera night", "Berlin techno"]
        assert await titles(client, country="SK") == ["Bratislava derby"]
        assert await titles(client, city="vienna") == ["Vienna opera night"]
        assert await titles(client, free="true") == ["Berlin techno"]
        assert await titles(client, price_min=2000, price_max=3000, country="AT") == [
            "Vienna opera night"
        ]
        assert "Bratislava derby" not in await titles(client, available="true")
        assert await titles(client, q="opera", category="music") == ["Vienna opera night"]
        assert await titles(client, q="opera", category="sport") == []


async def test_dates_in_each_events_zone_or_the_viewers(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    await catalog(platform, clock)
    async with make_client(platform) as client:
        day = {"date_from": "2031-01-15", "date_to": "2031-01-15"}
        assert await titles(client, **day) == ["Kolkata sitar"]
        assert await titles(client, **day, tz="UTC") == ["St. John's folk"]
        assert await titles(client, date_from="2031-01-14", date_to="2031-01-14") == [
            "St. John's folk"
        ]
        assert (
            await titles(client, date_from="2031-01-14", date_to="2031-01-14", tz="Asia/Kolkata")
            == []
        )


async def test_around_a_point_by_distance(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    await catalog(platform, clock)
    async with make_client(platform) as client:
        near = {"lat": 48.2, "lon": 16.37, "radius_km": 100}
        response = await client.get("/api/v1/events", params={**near, "sort": "distance"})
        items = response.json()["items"]
        assert [e["title"] for e in items] == ["Vienna opera night", "Bratislava derby"]
        assert items[0]["distance_km"] < 2
        assert 50 < items[1]["distance_km"] < 60
        assert await titles(client, lat=48.2, lon=16.37, radius_km=600, sort="distance") == [
            "Vienna opera night",
            "Bratislava derby",
            "Berlin techno",
        ]
        assert await titles(client, **near) == ["Vienna opera night", "Bratislava derby"]
        page = (
            await client.get(
                "/api/v1/events",
                params={
                    "lat": 48.2,
                    "lon": 16.37,
                    "radius_km": 600,
                    "sort": "distance",
                    "limit": 2,
                },
            )
        ).json()
        rest = (
            await client.get(
                "/api/v1/events",
                params={
                    "lat": 48.2,
                    "lon": 16.37,
                    "radius_km": 600,
                    "sort": "distance",
                    "limit": 2,
                    "cursor": page["next_cursor"],
                },
            )
        ).json()
        assert [e["title"] for e in rest["items"]] == ["Berlin techno"]
        assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": 1}, "radius_km"),
        ({"sort": "distance"}, "sort"),
        ({"sort": "relevance"}, "sort"),
        ({"tz": "Mars/Olympus", "date_from": "2030-01-01"}, "tz"),
        ({"date_from": "2030-02-01", "date_to": "2030-01-01"}, "date_to"),
        ({"price_min": 500, "price_max": 100}, "price_max"),
        ({"lat": 200}, "query.lat"),
        ({"date_from": "yesterday"}, "query.date_from"),
    ],
)
async def test_bad_combinations_name_the_parameter(
    platform: Platform, make_client: Any, params: dict[str, Any], field: str
) -> None:
    async with make_client(platform) as client:
        response = await client.get("/api/v1/events", params=params)
        assert response.status_code == 400, response.text
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_public_reads_carry_etags_and_revalidate(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    ids = await catalog(platform, clock)
    async with make_client(platform) as client:
        for path in (
            "/api/v1/events",
            f"/api/v1/events/{ids['vienna']}",
            f"/api/v1/events/{ids['vienna']}/ticket-types",
            "/api/v1/categories",
        ):
            first = await client.get(path)
            assert first.status_code == 200
            assert first.headers["cache-control"].startswith("public, max-age=")
            etag = first.headers["etag"]
            again = await client.get(path, headers={"if-none-match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
        async with platform.db.transaction() as session:
            await session.execute(
                update(Quota).where(Quota.event_id == uuid.UUID(ids["vienna"])).values(sold=10)
            )
        changed = await client.get(
            f"/api/v1/events/{ids['vienna']}/ticket-types", headers={"if-none-match": etag}
        )
        assert changed.status_code == 200, "a sale changes the ETag"


async def test_calendar_file_reads_back(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    ids = await catalog(platform, clock)
    async with make_client(platform) as client:
        response = await client.get(f"/api/v1/events/{ids['kolkata']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    (entry,) = calendar.walk("VEVENT")
    assert str(entry["summary"]) == "Kolkata sitar"
    assert str(entry["uid"]) == f"{ids['kolkata']}@boxoffice"
    start = entry.decoded("dtstart")
    assert start == local("Asia/Kolkata", 2031, 1, 15, 0, 30)
    assert start.utcoffset() == timedelta(0)
    assert "Kolkata" in str(entry["location"])
