"""The journal as an event store, on both engines: entry types carry a schema version and old
entries are upgraded as they are read; operators list, inspect and retry dead letters (admin
API), and deliver entries to a subscriber again from a position; two workers never hand the
same subscriber an entry at the same time."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from sqlalchemy import insert

from boxoffice.core.booking.entries import OrderConfirmed
from boxoffice.core.clock import ManualClock
from boxoffice.core.ids import new_id
from boxoffice.core.journal import JournalEntry, RecordedEntry, append, entry_type
from boxoffice.core.journal.dispatcher import Dispatcher, DispatcherSettings, Subscriber
from boxoffice.core.journal.entries import missing_upgrades, upgrade
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.core.storage import Database
from boxoffice.platform import Platform
from tests import factories
from tests.identity.helpers import auth, make_admin, sign_up


@entry_type
class Weighed(JournalEntry, frozen=True, kw_only=True):
    """Version 1 said ``grams``; version 2 says ``milligrams`` (a unit changed: the kind of
    change that needs an upgrade, not a new default)."""

    aggregate_type: ClassVar[str] = "test"
    schema_version: ClassVar[int] = 2
    milligrams: int

    def aggregate_id(self) -> str:
        return "scale"


@upgrade(Weighed, from_version=1)
def _grams_to_milligrams(data: dict[str, Any]) -> dict[str, Any]:
    return {"milligrams": data.pop("grams") * 1000, **data}


async def store_raw(
    db: Database, clock: ManualClock, type_name: str, version: int, data: dict[str, Any]
) -> None:
    """An entry as an older release wrote it."""
    async with db.transaction() as session:
        await session.execute(
            insert(JournalEntryRow).values(
                entry_id=new_id(),
                type=type_name,
                aggregate_type="test",
                aggregate_id="x",
                data=data,
                version=version,
                occurred_at=clock.now(),
            )
        )


async def test_old_entries_are_upgraded_as_they_are_read(db: Database, clock: ManualClock) -> None:
    assert missing_upgrades() == [], "every installed type can be read from version 1"
    await store_raw(db, clock, "Weighed", 1, {"grams": 3})
    async with db.transaction() as session:
        await append(session, Weighed(milligrams=42), clock)
    await store_raw(
        db,
        clock,
        "OrderConfirmed",
        1,
        {
            "order_id": "o",
            "number": "N",
            "event_id": "e",
            "organization_id": "g",
            "total_minor": 500,
            "currency": "EUR",
            "via": "payment",
        },
    )
    seen: list[RecordedEntry] = []

    async def keep(entry: RecordedEntry) -> None:
        seen.append(entry)

    await Dispatcher(db, clock, [Subscriber("reader", keep)]).run_until_idle()
    assert [e.schema_version for e in seen] == [1, 2, 1], "stored as written"
    assert [e.decode() for e in seen[:2]] == [Weighed(milligrams=3000), Weighed(milligrams=42)]
    confirmed = seen[2].decode()
    assert isinstance(confirmed, OrderConfirmed)
    assert (confirmed.lines, confirmed.gateway, confirmed.total_minor) == ([], "", 500)


async def test_two_workers_never_hand_a_subscriber_entries_at_the_same_time(
    db: Database, clock: ManualClock
) -> None:
    busy: set[str] = set()
    overlaps: list[str] = []
    delivered: list[int] = []

    def tracking(name: str) -> Subscriber:
        async def handle(entry: RecordedEntry) -> None:
            if name in busy:
                overlaps.append(name)
            busy.add(name)
            await asyncio.sleep(0.002)  # others run meanwhile
            delivered.append(entry.position)
            busy.discard(name)

        return Subscriber(name, handle)

    workers = [
        Dispatcher(db, clock, [tracking("one"), tracking("two")], DispatcherSettings(batch_size=5))
        for _ in range(3)
    ]
    async with db.transaction() as session:
        for n in range(40):
            await append(session, Weighed(milligrams=n), clock)
    for _ in range(10):
        await asyncio.gather(*(w.run_until_idle() for w in workers))
    assert overlaps == [], "a subscriber was served by two workers at once"
    assert len(delivered) == 80
    assert len(set(delivered)) == 40


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


class Flaky:
    def __init__(self) -> None:
        self.failing = True
        self.handled: list[int] = []

    async def __call__(self, entry: RecordedEntry) -> None:
        if self.failing:
            raise RuntimeError(f"the inventory service is down ({entry.data})")
        self.handled.append(entry.position)


async def test_operators_inspect_and_retry_dead_letters_and_replay_from_a_position(
    platform: Platform, make_client: Any, clock: ManualClock
) -> None:
    flaky = Flaky()
    platform.dispatcher.subscribe(Subscriber("inventory", flaky, types=frozenset({"Weighed"})))
    platform.dispatcher.settings = DispatcherSettings(max_attempts=2)
    async with platform.db.transaction() as session:
        await append(session, Weighed(milligrams=1), clock)
    for _ in range(3):
        await platform.dispatcher.run_until_idle()
        clock.advance(minutes=5)
    async with make_client(platform) as client:
        person = auth(await sign_up(client, platform, "ops@example.org"))
        refused = await client.get("/api/v1/admin/journal/dead-letters", headers=person)
        assert refused.status_code == 403
        await make_admin(platform, "ops@example.org")
        listed = (await client.get("/api/v1/admin/journal/dead-letters", headers=person)).json()
        (dead,) = listed["items"]
        assert (dead["subscriber"], dead["type"], dead["attempts"]) == ("inventory", "Weighed", 2)
        assert "the inventory service is down" in dead["error"]
        shown = (
            await client.get(f"/api/v1/admin/journal/dead-letters/{dead['id']}", headers=person)
        ).json()
        assert shown["data"] == {"milligrams": 1}
        assert shown["schema_version"] == 2

        retry = f"/api/v1/admin/journal/dead-letters/{dead['id']}/retry"
        failed = await client.post(retry, headers=person)
        assert failed.status_code == 409
        assert failed.json()["type"].endswith("/dead-letter-retry-failed")
        flaky.failing = False
        retried = await client.post(retry, headers=person)
        assert retried.status_code == 200, retried.text
        assert retried.json()["retried_by"] == "admin:ops@example.org"
        assert retried.json()["attempts"] == 3
        assert len(flaky.handled) == 1
        assert (await client.post(retry, headers=person)).status_code == 409, "once"
        remaining = await client.get("/api/v1/admin/journal/dead-letters", headers=person)
        assert remaining.json()["items"] == []

        subscribers = (await client.get("/api/v1/admin/journal/subscribers", headers=person)).json()
        names = {s["name"]: s for s in subscribers}
        assert names["inventory"]["dead_letters"] == 0
        assert names["projection:analytics"]["registered"] is True

        types = (await client.get("/api/v1/admin/journal/entry-types", headers=person)).json()
        confirmed = next(t for t in types if t["name"] == "OrderConfirmed")
        assert confirmed["schema_version"] == 2
        assert "lines" in str(confirmed["schema"])

        position = dead["position"]
        again = await client.post(
            f"/api/v1/admin/journal/subscribers/inventory/replay?from={position}",
            headers=person,
        )
        assert again.status_code == 200, again.text
        assert again.json()["delivered"] == 1
        assert flaky.handled == [position, position]
        projection = await client.post(
            "/api/v1/admin/journal/subscribers/analytics/replay?from=5", headers=person
        )
        assert projection.status_code == 400, "a projection is rebuilt from the start"
        unknown = await client.post(
            "/api/v1/admin/journal/subscribers/nobody/replay?from=1", headers=person
        )
        assert unknown.status_code == 404
        missing = await client.get("/api/v1/admin/journal/dead-letters/999999", headers=person)
        assert missing.status_code == 404
