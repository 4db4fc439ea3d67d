"""Storage: the migration, a CRUD round trip and the transaction discipline, on both engines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Uuid, bindparam, delete, literal, select, text
from sqlalchemy.exc import DBAPIError

import boxoffice.core.models  # noqa: F401
import boxoffice.core.storage.engine as db_module
from boxoffice.core.catalog.models import Event
from boxoffice.core.identity.models import Organization
from boxoffice.core.storage import Base, Database, UTCDateTime, create_engine, normalize_url
from boxoffice.core.storage.database import NestedWrite
from boxoffice.core.storage.prepared import Prepared
from boxoffice.migrations import current_revision, downgrade, head_revision, is_empty, upgrade
from boxoffice.testing import TemplateDatabases


async def test_migrations_match_the_models(db: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        changes = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        # The search index tables are engine-specific (FTS5 / tsvector), not ORM models.
        return [c for c in changes if not (isinstance(c, tuple) and "search_" in str(c[1]))]

    async with db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
    assert await current_revision(db) == head_revision()


async def test_migrations_run_down_and_up_again(empty_db_url: str) -> None:
    db = Database(create_engine(empty_db_url))
    try:
        assert await is_empty(db)
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        await downgrade(db, "base")
        assert await current_revision(db) is None
        await upgrade(db)
        assert await current_revision(db) == head_revision()
    finally:
        await db.close()


async def test_crud_round_trip_keeps_utc(db: Database) -> None:
    berlin_evening = datetime(2031, 3, 1, 19, 30, tzinfo=timezone(timedelta(hours=1)))
    async with db.transaction() as session:
        org = Organization(slug="acme", name="Acme", created_at=berlin_evening)
        session.add(org)
        await session.flush()
        event = Event(
            organization_id=org.id,
            slug="gig",
            title="Gig",
            status="draft",
            timezone="Europe/Berlin",
            starts_at=berlin_evening,
            ends_at=berlin_evening + timedelta(hours=2),
            region="eu",
            currency="EUR",
            created_at=berlin_evening,
            updated_at=berlin_evening,
            description="",
            venue_name="",
            city="",
            country="DE",
            language="en",
        )
        session.add(event)
    async with db.read() as session:
        loaded = await session.scalar(select(Event).where(Event.slug == "gig"))
        assert loaded is not None
        assert loaded.starts_at == datetime(2031, 3, 1, 18, 30, tzinfo=UTC)
        assert loaded.starts_at.tzinfo is not None
        assert loaded.starts_at.utcoffset() == timedelta(0)
    async with db.transaction() as session:
        loaded = await session.get(Event, event.id)
        assert loaded is not None
        loaded.title = "Gig (moved)"
    async with db.read() as session:
        assert (await session.get(Event, event.id)).title == "Gig (moved)"  # type: ignore[union-attr]
    async with db.transaction() as session:
        await session.execute(delete(Event).where(Event.id == event.id))
    async with db.read() as session:
        assert await session.get(Event, event.id) is None


async def test_a_failed_transaction_changes_nothing(db: Database) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            session.add(Organization(slug="ghost", name="Ghost", created_at=now))
            await session.flush()
            raise RuntimeError("boom")
    async with db.read() as session:
        assert (
            await session.scalar(select(Organization).where(Organization.slug == "ghost")) is None
        )


async def test_naive_datetimes_never_reach_the_database(db: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with db.transaction() as session:
            session.add(Organization(slug="naive", name="N", created_at=datetime(2030, 1, 1)))


async def test_concurrent_read_modify_write_transactions_serialize(db: Database) -> None:
    """Twenty writers read a row, then update it. SQLite's BEGIN IMMEDIATE (and PostgreSQL's
    row lock) make each wait its turn: no "database is locked", no lost update."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    async with db.transaction() as session:
        org = Organization(slug="counter", name="0", created_at=now)
        session.add(org)

    async def bump() -> None:
        async with db.transaction() as session:
            row = await session.get(Organization, org.id, with_for_update=True)
            assert row is not None
            await asyncio.sleep(0)  # let the others try to interleave
            row.name = str(int(row.name) + 1)

    await asyncio.gather(*(bump() for _ in range(20)))
    async with db.read() as session:
        assert (await session.get(Organization, org.id)).name == "20"  # type: ignore[union-attr]


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database, db_engine: str) -> None:
    async with db.read() as session:
        if db_engine == "sqlite":
            assert (await session.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await session.scalar(text("PRAGMA foreign_keys"))) == 1
        else:
            assert (await session.scalar(text("SHOW server_encoding"))) == "UTF8"


def test_database_urls_pick_async_drivers() -> None:
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert normalize_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u@h/d")
    with pytest.raises(ValueError, match="file"):
        create_engine("sqlite:///:memory:")


async def test_upgrading_keeps_and_completes_existing_events(empty_db_url: str) -> None:
    """0003 adds the local start date: events written before it get theirs computed."""
    db = Database(create_engine(empty_db_url))
    try:
        await upgrade(db, "0002")
        async with db.transaction() as session:
            await session.execute(
                typed(
                    text(
                        "INSERT INTO organization (id, slug, name, contact_email, created_at) "
                        "VALUES (:id, 'o', 'O', '', :now)"
                    )
                ),
                {"id": ORG_ID, "now": NOW},
            )
            await session.execute(
                typed(
                    text(
                        "INSERT INTO event (id, organization_id, slug, title, description, status, "
                        "timezone, starts_at, ends_at, venue_name, city, country, region, currency, "
                        "language, created_at, updated_at) VALUES (:id, :org, 'e', 'E', '', 'draft', "
                        "'Asia/Kolkata', :starts, :ends, '', '', 'IN', 'eu', 'INR', 'en', :now, :now)"
                    )
                ),
                {
                    "id": EVENT_ID,
                    "org": ORG_ID,
                    "starts": STARTS,
                    "ends": STARTS + timedelta(hours=1),
                    "now": NOW,
                },
            )
        await upgrade(db)
        async with db.read() as session:
            event = await session.get(Event, EVENT_ID)
        assert event is not None
        assert event.local_start_date == "2031-01-15"  # 19:00 UTC on the 14th is the 15th there
        assert event.hold_ttl_seconds == 600
        assert event.tags == []
    finally:
        await db.close()


def typed(statement: Any) -> Any:
    """Raw SQL written the way 0002 knew the tables, with the column types bound."""
    names = {"id", "org", "now", "starts", "ends"} & set(statement.compile().params)
    kinds = {
        "id": Uuid(),
        "org": Uuid(),
        "now": UTCDateTime(),
        "starts": UTCDateTime(),
        "ends": UTCDateTime(),
    }
    return statement.bindparams(*(bindparam(n, type_=kinds[n]) for n in names))


ORG_ID = uuid.UUID("01a20000-0000-7000-8000-000000000001")
EVENT_ID = uuid.UUID("01a20000-0000-7000-8000-000000000002")
NOW = datetime(2030, 1, 1, tzinfo=UTC)
STARTS = datetime(2031, 1, 14, 19, 0, tzinfo=UTC)


def test_substring_patterns_take_wildcards_literally() -> None:
    from boxoffice.core.storage import substring_pattern

    assert substring_pattern("Jo_Doe%") == "%jo\\_doe\\%%"
    assert substring_pattern("a\\b") == "%a\\\\b%"


@pytest.mark.parametrize("file_lock", [True, False], ids=["boxoffice", "other-program"])
async def test_a_write_waits_for_another_process_without_stalling_the_loop(
    db: Database, db_engine: str, db_url: str, file_lock: bool
) -> None:
    """Another process is mid-write (SQLite: it holds the write lock, and the writers' file
    lock if it is a boxoffice process; PostgreSQL: it holds the row): ``Database.run`` waits
    for it — off the event loop, which keeps serving — and then writes."""
    import fcntl
    import sqlite3

    from boxoffice.core.identity.models import Organization

    async with db.transaction() as session:
        org = Organization(slug="waiting", name="Before", created_at=datetime.now(UTC))
        session.add(org)
    other_db = Database(create_engine(db_url, pool_size=0))
    release = asyncio.Event()

    async def other_process() -> None:
        if db_engine == "sqlite":
            path = normalize_url(db_url).database
            with open(f"{path}-writers.lock", "ab") as lock_file:
                if file_lock:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)
                writer = sqlite3.connect(str(path), isolation_level=None)
                writer.execute("BEGIN IMMEDIATE")
                await release.wait()
                writer.execute("COMMIT")
                writer.close()
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        else:
            async with other_db.transaction() as session:
                await session.execute(
                    text("SELECT 1 FROM organization WHERE id = :id FOR UPDATE"), {"id": org.id}
                )
                await release.wait()

    holder = asyncio.create_task(other_process())
    await asyncio.sleep(0.2)
    rename = text("UPDATE organization SET name = 'After' WHERE id = :id").bindparams(
        bindparam("id", type_=Uuid())
    )
    write = asyncio.create_task(
        db.run(lambda connection: connection.execute(rename, {"id": org.id}))
    )
    ticks = 0
    for _ in range(10):
        await asyncio.sleep(0.02)
        ticks += 1
    assert not write.done(), "the write waits for the other writer"
    assert ticks == 10, "the loop kept running meanwhile"
    release.set()
    await asyncio.wait_for(write, 10)
    await holder
    await other_db.close()
    async with db.read() as session:
        assert (await session.get(Organization, org.id)).name == "After"  # type: ignore[union-attr]


async def test_a_write_nested_in_a_write_transaction_fails_fast_on_sqlite(
    db: Database, db_engine: str
) -> None:
    """On SQLite a write transaction holds the process's writer lock until it ends: a
    ``Database.run`` or a second transaction begun inside it, in the same task, would wait
    for that lock for ever. It is refused at once, naming the mistake. PostgreSQL runs it on
    another connection."""
    select_one = text("SELECT 1")
    async with asyncio.timeout(10):  # the mistake used to hang here
        async with db.transaction() as session:
            await session.execute(select_one)
            if db_engine == "sqlite":
                with pytest.raises(NestedWrite, match="wait for ever"):
                    await db.run(lambda connection: connection.execute(select_one))
                with pytest.raises(NestedWrite):
                    async with db.transaction():
                        pass
            else:
                await db.run(lambda connection: connection.execute(select_one))

        # Other tasks wait for the lock, as they should, and get it once the block ends.
        async with db.transaction() as session:
            other = asyncio.create_task(db.run(lambda c: c.execute(select_one).scalar()))
            await asyncio.sleep(0.1)
            assert db_engine != "sqlite" or not other.done(), "another task waits its turn"
        assert await other == 1


async def test_a_cancelled_wait_for_the_file_lock_gives_the_lock_back(tmp_path: Any) -> None:
    """Not a both-engines test: the writers' file lock is SQLite's. A write transaction
    waits on the writer's thread for it while another process has it. When the waiting
    request is cancelled (its client went away) the thread still gets the lock later: it
    must give it back, or no other process could ever write again."""
    import fcntl

    path = tmp_path / "lock.sqlite3"
    db = Database(create_engine(f"sqlite:///{path}"))
    async with db.transaction():  # the writer and its lock file exist
        pass
    with open(f"{path}-writers.lock", "ab") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)

        async def write() -> None:
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))

        waiting = asyncio.create_task(write())
        await asyncio.sleep(0.2)
        assert not waiting.done(), "it waits for the other process"
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        fcntl.flock(other_process, fcntl.LOCK_UN)  # the waiting thread takes it now

        for _ in range(100):  # and must give it back
            await asyncio.sleep(0.02)
            try:
                fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            fcntl.flock(other_process, fcntl.LOCK_UN)
            break
        else:
            pytest.fail("the cancelled transaction's thread kept the writers' file lock")
    try:
        async with asyncio.timeout(10):
            await db.run(lambda connection: connection.execute(text("SELECT 1")))
    finally:
        await db.close()


async def test_a_write_that_waits_a_minute_for_its_turn_names_the_holder(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a both-engines test: the writer lock is SQLite's. A holder that never lets go
    (a bug) would hang every write after it; instead a write gives up after
    ``WRITER_LOCK_PATIENCE_SECONDS`` (a minute; here half a second), saying which task
    holds the lock and where it waits, and writes go on once the holder lets go."""
    from boxoffice.core.storage import sqlite_writer

    monkeypatch.setattr(sqlite_writer, "WRITER_LOCK_PATIENCE_SECONDS", 0.5)
    db = Database(create_engine(f"sqlite:///{tmp_path / 'stuck.sqlite3'}"))
    let_go = asyncio.Event()

    async def holding_for_ever() -> None:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            await let_go.wait()

    holder = asyncio.create_task(holding_for_ever(), name="the-holder")
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(sqlite_writer.WriterStuck, match="the-holder") as stuck:
            await db.run(lambda connection: connection.execute(text("SELECT 1")))
        assert "holding_for_ever" in str(stuck.value), "where the holder waits"
        with pytest.raises(sqlite_writer.WriterStuck):
            async with db.transaction():
                pass
        let_go.set()
        await holder
        assert await db.run(lambda connection: connection.execute(text("SELECT 2")).scalar()) == 2
    finally:
        let_go.set()
        await holder
        await db.close()


async def test_writes_that_arrive_together_commit_or_fail_one_by_one(db: Database) -> None:
    """Concurrent ``Database.run`` work (SQLite: grouped into one transaction): the piece
    that raises is rolled back alone and only its caller hears of it; a hook that fails
    after a commit undoes nothing."""
    from boxoffice.core.identity.models import Organization

    table = Organization.__table__
    seen: list[int] = []

    def failing_hook(_info: dict[Any, Any]) -> None:
        seen.append(1)
        raise RuntimeError("a broken after-commit hook")

    db.after_commit(failing_hook)

    def add(index: int) -> Any:
        def work(connection: Connection) -> int:
            connection.execute(
                table.insert().values(  # type: ignore[attr-defined]
                    id=uuid.uuid4(),
                    slug=f"batch-{index}",
                    name=f"Batch {index}",
                    created_at=datetime.now(UTC),
                )
            )
            if index == 3:
                raise ValueError("this one changes its mind")
            return index

        return db.run(work)

    outcomes = await asyncio.gather(*[add(i) for i in range(8)], return_exceptions=True)
    assert [o for o in outcomes if not isinstance(o, BaseException)] == [0, 1, 2, 4, 5, 6, 7]
    assert isinstance(outcomes[3], ValueError)
    assert len(seen) == 7, "a hook per committed piece, its failure swallowed"
    async with db.read() as session:
        slugs = set(
            await session.scalars(
                select(Organization.slug).where(Organization.slug.like("batch-%"))
            )
        )
    assert slugs == {f"batch-{i}" for i in (0, 1, 2, 4, 5, 6, 7)}


async def test_the_sqlite_writer_keeps_the_wal_short(tmp_path: Any) -> None:
    """Not a both-engines test: SQLite's WAL only. The writer checkpoints every
    ``CHECKPOINT_EVERY`` commits (SQLite's own auto-checkpoint is off for it), so the WAL is
    rewritten from its start instead of growing with every commit."""
    import os

    from boxoffice.core.storage import sqlite_writer

    database = Database(create_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}"))
    statement = text("INSERT INTO note (body) VALUES (:body)")
    try:
        await database.run(
            lambda connection: connection.execute(
                text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
            )
        )
        for _ in range(3 * sqlite_writer.CHECKPOINT_EVERY):
            await database.run(
                lambda connection: connection.execute(statement, {"body": "x" * 2000})
            )
        wal = os.path.getsize(tmp_path / "wal.sqlite3-wal")
        # Without checkpoints, 300 commits of at least one 4 KB page (plus its 24-byte frame
        # header) each would make at least 1.2 MB of WAL; with them, about a third of it.
        assert wal < 3 * sqlite_writer.CHECKPOINT_EVERY * (4096 + 24)
    finally:
        await database.close()


@pytest.fixture
def postgres_db_url(boxoffice_templates: TemplateDatabases) -> Iterator[str]:
    url, drop = boxoffice_templates.fresh("postgresql")
    yield url
    drop()


async def test_a_pooled_postgresql_connection_idle_too_long_is_pinged_and_replaced(
    postgres_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL only (SQLite has no server to lose): connections back from work a moment
    ago are handed out as they are, one idle for a while is pinged first and replaced if
    the server dropped it (here: terminated by an administrator)."""
    url = postgres_db_url
    engine = create_engine(url, pool_size=1, max_overflow=0)
    pid_query = text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(pid_query)

        other_engine = create_engine(url, pool_size=0)
        try:
            async with other_engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            # Just returned: handed out without a ping, and found dead by its first use.
            with pytest.raises(DBAPIError):
                async with engine.connect() as connection:
                    await connection.scalar(pid_query)
            async with engine.connect() as connection:
                second = await connection.scalar(pid_query)
            assert second != first
            async with other_engine.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": second})
            monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
            async with engine.connect() as connection:  # idle "too long": pinged, replaced
                third = await connection.scalar(pid_query)
            assert third not in (first, second)
        finally:
            await other_engine.dispose()
    finally:
        await engine.dispose()


async def test_after_a_restart_one_failed_statement_replaces_every_pooled_connection(
    postgres_db_url: str,
) -> None:
    """PostgreSQL only (SQLite has no server to lose). A restart ends every pooled
    connection at once. The hot path's prepared statements bypass SQLAlchemy's execution,
    and with it SQLAlchemy's answer to a lost connection: the first statement that finds
    its connection gone must get the pool to replace all the connections opened before it,
    or under load (no connection idle long enough to be pinged) each dead one fails a
    request in turn, for ever."""
    db = Database(create_engine(postgres_db_url, pool_size=4, max_overflow=0))
    pid = text("SELECT pg_backend_pid()")
    gate = asyncio.Event()

    def backend(connection: Connection) -> int:
        return int(connection.execute(pid).scalar_one())

    async def hold_a_connection() -> int:
        await gate.wait()
        return await db.run(backend)

    try:
        busy = [asyncio.create_task(hold_a_connection()) for _ in range(4)]
        gate.set()
        pooled = set(await asyncio.gather(*busy))  # four connections, now in the pool
        admin = create_engine(postgres_db_url, pool_size=0)
        try:
            async with admin.connect() as connection:
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"
                    ),
                    {"pids": sorted(pooled)},
                )
        finally:
            await admin.dispose()

        lookup = Prepared(select(literal(1)).where(bindparam("a") == 1))
        failures: list[DBAPIError] = []
        for _ in range(6):  # one after another, none idle long enough to be pinged
            try:
                await db.run(lambda connection: lookup.execute(connection, {"a": 1}).rows)
            except DBAPIError as error:
                failures.append(error)
        assert len(failures) == 1, f"{len(failures)} requests failed on connections it ended"
        assert failures[0].connection_invalidated, "a lost connection (a 503), not a bug"
        assert pooled.isdisjoint({await db.run(backend) for _ in range(4)})
    finally:
        await db.close()
