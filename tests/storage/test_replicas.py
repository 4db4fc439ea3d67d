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
from boxoffice.testing.postgres import PostgresServer, free_port
from tests import factories
from tests.api.test_read_cache import event_body, public
from tests.booking.helpers import organizer_shop
from tests.identity.helpers import auth, make_admin, sign_up


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
    replica_url = await replica_of(db_url, request)
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


async def test_readiness_and_metrics_show_each_replica_and_how_far_behind_it_is(
    make_platform: factories.MakePlatform,
    make_client: Any,
    clock: ManualClock,
    db_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """Ops see each replica: ``/health/ready`` (degraded, still ready, when one is behind or
    gone; the addresses only for an admin) and ``/metrics`` (replay lag and whether reads go
    there). A replica nobody listens on is ``down``; one whose replay is paused past the
    bound turns ``degraded``."""
    if not db_url.startswith("postgresql"):
        return  # SQLite has no replicas: test_sqlite_refuses_read_replicas
    replica_url = await replica_of(db_url, request)
    nobody = f"postgresql://postgres@127.0.0.1:{free_port()}/{make_url(db_url).database}"
    platform: Platform = make_platform(
        config=factories.PLUGINS_TOML,
        entry_points=True,
        settings={"database_replica_urls": f"{replica_url},{nobody}", "read_cache_seconds": 0},
    )
    here = platform.db.replicas.members[0].address
    async with make_client(platform) as client:
        admin = await sign_up(client, platform, "ops@example.org")
        await make_admin(platform, "ops@example.org")

        anyone = await client.get("/health/ready")
        assert anyone.status_code == 200, anyone.text
        assert anyone.json()["status"] == "degraded"
        assert anyone.json()["replicas"] == {
            "replica-1": {"state": "up", "detail": "", "breaker": "closed"},
            "replica-2": {"state": "down", "detail": "", "breaker": "closed"},
        }
        assert "127.0.0.1" not in anyone.text, "no replica address for anyone"
        details = (await client.get("/health/ready", headers=auth(admin))).json()["replicas"]
        assert details["replica-1"]["detail"].startswith(f"{here}: 0.")
        assert "does not answer" in details["replica-2"]["detail"]

        scraped = (await client.get("/metrics")).text
        assert f'boxoffice_replica_fit{{replica="{here}"}} 1.0' in scraped
        assert f'boxoffice_replica_lag_seconds{{replica="{here}"}} 0.0' in scraped
        gone = nobody.split("@")[1]
        assert f'boxoffice_replica_fit{{replica="{gone}"}} 0.0' in scraped
        assert f'boxoffice_replica_lag_seconds{{replica="{gone}"}}' not in scraped

        member = platform.db.replicas.members[0]
        member.max_lag = 0.5
        async with paused_replay(replica_url):
            await sign_up(client, platform, "fan@example.org")  # a write the replica lacks
            deadline = time.monotonic() + 30
            while True:
                check = (await client.get("/health/ready", headers=auth(admin))).json()
                if check["replicas"]["replica-1"]["state"] == "degraded":
                    break
                assert time.monotonic() < deadline, check
                await asyncio.sleep(0.2)
            assert check["status"] == "degraded"
            assert (
                "s of replay behind (the bound is 0.5 s)"
                in check["replicas"]["replica-1"]["detail"]
            )
            scraped = (await client.get("/metrics")).text
            assert f'boxoffice_replica_fit{{replica="{here}"}} 0.0' in scraped


async def replica_of(db_url: str, request: pytest.FixtureRequest) -> str:
    """The URL of the test's database on the harness's streaming replica, once the replica
    has it (the database was created on the primary a moment ago)."""
    replica: PostgresServer = request.getfixturevalue("boxoffice_postgres_replica")
    name = make_url(db_url).database
    assert name is not None
    url = replica.database_url(name)
    await replayed(url)
    return url


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
