"""Read replicas (``BOXOFFICE_DATABASE_REPLICA_URLS``) against a real streaming replica of
the test server (``pg_basebackup -R``, started by the harness): anonymous public reads and
searches go to it; a signed-in caller reads the primary, so a replica that has not replayed
their write yet never hides it (replay is paused to make "not yet" last); a replica further
behind than the bound is left out. SQLite refuses the setting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from boxoffice.core.clock import ManualClock
from boxoffice.core.errors import ConfigurationError
from boxoffice.platform import Platform
from boxoffice.testing.postgres import PostgresServer
from tests import factories
from tests.api.test_read_cache import event_body, public
from tests.booking.helpers import organizer_shop


def test_sqlite_refuses_read_replicas(
    make_platform: factories.MakePlatform, db_engine: str
) -> None:
    if db_engine != "sqlite":
        return  # PostgreSQL: the test below
    with pytest.raises(ConfigurationError, match="need PostgreSQL"):
        make_platform(settings={"database_replica_urls": "postgresql://elsewhere/boxoffice"})


async def test_a_replica_read_never_hides_the_callers_own_write(
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
    db_url: str,
    request: pytest.FixtureRequest,
) -> None:
    if not db_url.startswith("postgresql"):
        return  # SQLite: the test above
    replica: PostgresServer = request.getfixturevalue("boxoffice_postgres_replica")
    name = make_url(db_url).database
    assert name is not None
    replica_url = replica.database_url(name)
    await replayed(replica_url)  # the test's database, created on the primary just now
    platform: Platform = make_platform(
        config=factories.PLUGINS_TOML,
        entry_points=True,
        settings={
            "database_replica_urls": replica_url,
            "replica_max_lag_seconds": 600,  # "behind" is tested at the end
            "read_cache_seconds": 0,  # every answer read from a database, not memory
        },
    )
    async with make_client(platform) as client:
        store, headers, base = await organizer_shop(client, platform, clock)
        await platform.dispatcher.run_until_idle()  # indexed for search
        page = public(store.event.id)
        await until_anonymous_sees(client, page, "Jazz night")

        async with paused_replay(replica_url):
            seen = (await client.get(base, headers=headers)).json()
            edited = await client.put(
                base, json=event_body(seen, clock, title="Saxophone summit"), headers=headers
            )
            assert edited.status_code == 200, edited.text
            await platform.dispatcher.run_until_idle()

            # The organizer, signed in, reads the public pages: their change is there.
            assert (await client.get(page, headers=headers)).json()["title"] == "Saxophone summit"
            mine = await client.get("/api/v1/events", params={"q": "saxophone"}, headers=headers)
            assert [e["title"] for e in mine.json()["items"]] == ["Saxophone summit"]
            # An anonymous reader is served by the replica, which has not replayed it: the
            # replica is really in use (and may lag, within its bound).
            assert (await client.get(page)).json()["title"] == "Jazz night"
            theirs = await client.get("/api/v1/events", params={"q": "saxophone"})
            assert theirs.json()["items"] == []

        await until_anonymous_sees(client, page, "Saxophone summit")

        # Further behind than the bound: anonymous reads leave the replica for the primary.
        (member,) = platform.db.replicas.members
        member.max_lag = 0.5
        async with paused_replay(replica_url):
            seen = (await client.get(base, headers=headers)).json()
            edited = await client.put(
                base, json=event_body(seen, clock, title="Brass at dawn"), headers=headers
            )
            assert edited.status_code == 200, edited.text
            await asyncio.sleep(1.2)  # the replica's replay lag grows; its next check sees it
            assert (await client.get(page)).json()["title"] == "Brass at dawn"
            assert member.fit is False


async def replayed(url: str) -> None:
    """Wait until the replica has the database (created on the primary a moment ago)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            await connection.close()
            return


async def until_anonymous_sees(client: Any, page: str, title: str) -> None:
    deadline = time.monotonic() + 30
    while (await client.get(page)).json().get("title") != title:
        assert time.monotonic() < deadline, f"the replica never showed {title!r}"
        await asyncio.sleep(0.05)


class paused_replay:
    """The replica stops replaying what it receives until the block ends."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> None:
        await self._call("pg_wal_replay_pause")

    async def __aexit__(self, *exc_info: object) -> None:
        await self._call("pg_wal_replay_resume")

    async def _call(self, function: str) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f"SELECT {function}()")
        finally:
            await connection.close()
