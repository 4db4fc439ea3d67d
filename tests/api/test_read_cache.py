"""The public read cache (``api/readcache.py``) on both engines, through the API: it answers
from memory within its bound, shows an organizer's change at once, one miss computes for
every request waiting on it, a conditional request gets its 304 from it, and nothing private
ever comes out of it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from boxoffice.core.catalog.categories import create_category
from boxoffice.core.catalog.models import Event, TicketType
from boxoffice.core.catalog.schemas import CategoryIn
from boxoffice.core.clock import ManualClock
from boxoffice.platform import Platform
from tests import factories
from tests.booking.helpers import Buyer, organizer_shop, shop


def public(event_id: Any) -> str:
    return f"/api/v1/events/{event_id}"


def event_body(seen: dict[str, Any], clock: ManualClock, **changes: Any) -> dict[str, Any]:
    """What the organizer PUTs back: the event as they see it, with ``changes``."""
    fields = set(factories.draft(clock).__struct_fields__)
    return {k: v for k, v in seen.items() if k in fields and v is not None} | changes


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_public_reads_come_from_memory_within_their_bound(
    platform: Platform, make_client: Any, clock: ManualClock, statements: list[str]
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        first = await client.get(f"{public(store.event.id)}/ticket-types")
        assert first.status_code == 200
        statements.clear()
        again = await client.get(f"{public(store.event.id)}/ticket-types")
        assert (again.status_code, again.content) == (200, first.content)
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["cache-control"] == first.headers["cache-control"]
        assert statements == [], "answered without the database"

        # A change the cache cannot hear of (another process's): shown within the bound.
        async with platform.db.transaction() as session:
            await session.execute(
                update(TicketType)
                .where(TicketType.id == store.types["Standard"])
                .values(name="Renamed")
            )
        stale = await client.get(f"{public(store.event.id)}/ticket-types")
        assert stale.json()[0]["name"] == "Standard"
        clock.advance(seconds=platform.settings.read_cache_seconds)
        fresh = await client.get(f"{public(store.event.id)}/ticket-types")
        assert fresh.json()[0]["name"] == "Renamed"


async def test_an_organizers_change_shows_at_once_and_a_sell_out_within_the_bound(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        page = public(store.event.id)
        assert (await client.get(page)).json()["title"] == "Jazz night"
        listed = (await client.get("/api/v1/events")).json()["items"]
        assert [e["title"] for e in listed] == ["Jazz night"]
        offered = (await client.get(f"{page}/ticket-types")).json()
        assert offered[0]["price"]["minor"] == 2500

        seen = (await client.get(base, headers=headers)).json()
        edited = await client.put(
            base, json=event_body(seen, clock, title="Jazz by night"), headers=headers
        )
        assert edited.status_code == 200, edited.text
        assert (await client.get(page)).json()["title"] == "Jazz by night"
        listed = (await client.get("/api/v1/events")).json()["items"]
        assert [e["title"] for e in listed] == ["Jazz by night"]

        repriced = await client.put(
            f"{base}/ticket-types/{store.types['Standard']}",
            json={"name": "Standard", "price": {"minor": 3000, "currency": "EUR"}},
            headers=headers,
        )
        assert repriced.status_code == 200, repriced.text
        offered = (await client.get(f"{page}/ticket-types")).json()
        assert offered[0]["price"]["minor"] == 3000

        await Buyer(client, store).buy(Standard=10)  # the last seats
        clock.advance(seconds=platform.settings.read_cache_seconds)
        offered = (await client.get(f"{page}/ticket-types")).json()
        assert offered[0]["available"] == 0


async def test_a_conditional_request_is_answered_304_from_memory(
    platform: Platform, make_client: Any, clock: ManualClock, statements: list[str]
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        full = await client.get(public(store.event.id))
        etag = full.headers["etag"]
        statements.clear()
        unchanged = await client.get(public(store.event.id), headers={"if-none-match": etag})
        assert (unchanged.status_code, unchanged.content) == (304, b"")
        assert unchanged.headers["etag"] == etag
        assert statements == []
        # Expired, and asked only conditionally: still a 304, and the answer is kept again.
        clock.advance(seconds=platform.settings.read_cache_seconds)
        revalidated = await client.get(public(store.event.id), headers={"if-none-match": etag})
        assert revalidated.status_code == 304
        other = await client.get(public(store.event.id), headers={"if-none-match": '"other"'})
        assert (other.status_code, other.content) == (200, full.content)


async def test_requests_that_miss_together_share_one_computation(
    platform: Platform, make_client: Any, clock: ManualClock, statements: list[str]
) -> None:
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        await client.get(public(store.event.id))  # connections, compiled statements: warm
        clock.advance(seconds=platform.settings.read_cache_seconds)
        statements.clear()
        await client.get(public(store.event.id))
        one = len(statements)
        assert one > 0
        clock.advance(seconds=platform.settings.read_cache_seconds)
        statements.clear()
        answers = await asyncio.gather(*(client.get(public(store.event.id)) for _ in range(20)))
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1
        assert len(statements) == one, "twenty requests, one computation"


async def test_nothing_private_comes_out_of_the_shared_cache(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(
            client, platform, clock, online=True, online_url="https://stream.example/secret"
        )
        page = public(store.event.id)
        crew = await client.post(
            f"{base}/ticket-types",
            json={
                "name": "Crew",
                "price": {"minor": 0, "currency": "EUR"},
                "visibility": "code",
                "access_code": "BACKSTAGE",
            },
            headers=headers,
        )
        assert crew.status_code == 201, crew.text
        # The organizer's own views (private, never kept) first, then the public ones.
        organizer_view = (await client.get(base, headers=headers)).json()
        assert organizer_view["online_url"] == "https://stream.example/secret"
        assert (await client.get(base, headers=headers)).headers["cache-control"] == "no-store"
        unlocked = await client.get(f"{page}/ticket-types", params={"access_code": "BACKSTAGE"})
        assert "Crew" in [t["name"] for t in unlocked.json()]
        assert unlocked.headers["cache-control"].startswith("private")
        for _ in range(2):  # computed, then from memory
            shown = await client.get(page)
            assert shown.json()["online_url"] is None
            assert "stream.example" not in shown.text
            offered = await client.get(f"{page}/ticket-types")
            assert [t["name"] for t in offered.json()] == ["Standard"]
            again = await client.get(f"{page}/ticket-types", params={"access_code": "BACKSTAGE"})
            assert "Crew" in [t["name"] for t in again.json()]

        draft = await factories.event(platform.db, clock, publish=False, title="Secret gig")
        for _ in range(2):
            assert (await client.get(public(draft.id))).status_code == 404
            listed = await client.get("/api/v1/events")
            assert "Secret gig" not in listed.text
        async with platform.db.read() as session:
            assert (await session.get(Event, draft.id)) is not None


async def test_an_answer_in_the_callers_language_is_kept_per_language(
    platform: Platform, make_client: Any, clock: ManualClock, statements: list[str]
) -> None:
    """The categories are named in the language ``Accept-Language`` negotiates: the cache
    keeps one answer per language, never one language's for another's caller."""
    async with platform.db.transaction() as session:
        names = {"en": "Music", "fr": "Musique", "de": "Musik", "ja": "音楽"}
        await create_category(session, clock, CategoryIn(slug="music", names=names))

    async def named(header: str) -> tuple[str, str, str]:
        answer = await client.get("/api/v1/categories", headers={"accept-language": header})
        assert answer.status_code == 200, answer.text
        return (
            answer.json()[0]["name"],
            answer.headers["content-language"],
            answer.headers["vary"],
        )

    async with make_client(platform) as client:
        french = await named("fr-CA, fr;q=0.9")
        assert french == ("Musique", "fr", "accept-encoding, accept-language")
        assert (await named("de-AT"))[:2] == ("Musik", "de"), "not the French answer kept"
        assert (await named("ja"))[:2] == ("音楽", "ja")
        assert (await named("pt-PT, en;q=0.5"))[:2] == ("Music", "pt-BR"), "no Portuguese name"
        statements.clear()
        assert await named("fr") == french
        assert statements == [], "the French answer, from memory"
        explicit = await client.get(
            "/api/v1/categories", params={"locale": "de"}, headers={"accept-language": "fr"}
        )
        assert explicit.json()[0]["name"] == "Musik", "?locale= wins over the header"
