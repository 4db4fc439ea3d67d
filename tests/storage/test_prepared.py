"""Prepared statements on both engines: the dialect's type processing both ways (UUIDs,
UTC timestamps, JSON), constants bound by the statement itself, row counts, many rows in
one call, and the two things they refuse up front."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest
from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.statements import INSERT_HOLD
from boxoffice.core.clock import ManualClock
from boxoffice.core.storage import Database, create_engine, prepared, table_of
from boxoffice.core.storage.prepared import Prepared
from tests.booking.helpers import shop

hold = table_of(Hold)
READ = Prepared(
    select(hold.c.id, hold.c["items"], hold.c.expires_at, hold.c.status)
    .where(hold.c.event_id == bindparam("event_id"))
    .order_by(hold.c.created_at)
)
LAPSE = Prepared(
    update(hold)
    .where(hold.c.expires_at <= bindparam("now"), hold.c.status == "active")
    .values(status="expired")
)


def _hold(event_id: uuid.UUID, at: datetime, minutes: int) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "secret_hash": uuid.uuid4().hex,
        "status": "active",
        "items": [{"ticket_type_id": "t", "quantity": minutes}],
        "allocations": {"q": minutes},
        "access_code": None,
        "created_at": at,
        "expires_at": at + timedelta(minutes=minutes),
        "promo_code_id": None,
    }


async def test_values_round_trip_with_their_types(db: Database, clock: ManualClock) -> None:
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    holds = [
        _hold(event_id, now + timedelta(seconds=i), minutes) for i, minutes in enumerate([1, 5, 10])
    ]

    def work(connection: Connection) -> tuple[list[object], int]:
        INSERT_HOLD.execute_many(connection, holds)
        lapsed = LAPSE.execute(connection, {"now": now + timedelta(minutes=6)}).rowcount
        return READ.execute(connection, {"event_id": event_id}).rows, lapsed

    found, lapsed = await db.run(work)
    assert lapsed == 2
    assert [row.id for row in found] == [h["id"] for h in holds]
    assert [row.status for row in found] == ["expired", "expired", "active"]
    assert found[2].items == [{"ticket_type_id": "t", "quantity": 10}]
    assert found[2].expires_at == now + timedelta(seconds=2, minutes=10)
    assert found[2].expires_at.tzinfo is not None


async def test_what_a_prepared_statement_refuses(db: Database) -> None:
    expanding = Prepared(select(hold.c.id).where(hold.c.id.in_(bindparam("ids", expanding=True))))
    partial_insert = Prepared(insert(table_of(Hold)))
    with pytest.raises(ValueError, match="expanding"):
        await db.run(lambda connection: expanding.execute(connection, {"ids": [uuid.uuid4()]}))
    with pytest.raises(ValueError, match="missing"):
        await db.run(lambda connection: partial_insert.execute(connection, {"secret_hash": "s"}))
    with pytest.raises(KeyError, match="event_id"):
        await db.run(lambda connection: READ.execute(connection, {}))


async def test_driver_errors_arrive_as_sqlalchemy_raises_them(
    db: Database, clock: ManualClock
) -> None:
    """Callers catch SQLAlchemy's classes (idempotency catches ``IntegrityError`` when a
    racing copy stored its key first): a prepared statement raises the same ones."""
    store = await shop(db, clock)
    twin = _hold(store.event.id, datetime(2030, 5, 1, tzinfo=UTC), 1)
    await db.run(lambda connection: INSERT_HOLD.execute(connection, twin))
    with pytest.raises(IntegrityError):
        await db.run(lambda connection: INSERT_HOLD.execute(connection, twin))
    with pytest.raises(IntegrityError):
        await db.run(lambda connection: INSERT_HOLD.execute_many(connection, [twin]))


class Refused(Exception):
    pass


def _refuse(what: str) -> Callable[[], NoReturn]:
    def refuse() -> NoReturn:
        raise Refused(what)

    return refuse


@pytest.fixture
def together(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Each single statement of deferred writes (PostgreSQL): its writes and options."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    real = prepared._run_together

    def counting(connection: Connection, writes: Any, *args: Any, **kwargs: Any) -> list[int]:
        calls.append((writes, kwargs))
        return real(connection, writes, *args, **kwargs)

    monkeypatch.setattr(prepared, "_run_together", counting)
    return calls


async def test_deferred_writes_run_together_at_the_end_of_the_work(
    db: Database, clock: ManualClock, db_engine: str, together: list[tuple[Any, dict[str, Any]]]
) -> None:
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    holds = [_hold(event_id, now + timedelta(seconds=i), 1) for i in range(3)]

    def work(connection: Connection) -> None:
        INSERT_HOLD.defer_many(connection, holds[:2])
        INSERT_HOLD.defer(connection, holds[2], expect=1, otherwise=_refuse("not inserted"))

    await db.run(work)
    found = await db.run(lambda connection: READ.execute(connection, {"event_id": event_id}).rows)
    assert [row.id for row in found] == [h["id"] for h in holds]
    assert [len(writes) for writes, _ in together] == ([3] if db_engine == "postgresql" else [])


async def test_a_statement_after_deferred_writes_sees_them(
    db: Database, clock: ManualClock
) -> None:
    """A prepared statement, or any statement run through SQLAlchemy, runs the writes
    deferred before it first."""
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)

    def work(connection: Connection) -> tuple[int, int]:
        INSERT_HOLD.defer(connection, _hold(event_id, now, 1))
        through_prepared = len(READ.execute(connection, {"event_id": event_id}).rows)
        INSERT_HOLD.defer(connection, _hold(event_id, now, 2))
        through_sqlalchemy = connection.execute(
            select(func.count()).select_from(hold).where(hold.c.event_id == event_id)
        ).scalar_one()
        return through_prepared, through_sqlalchemy

    assert await db.run(work) == (1, 2)


async def test_the_first_deferred_write_that_misses_raises_and_nothing_is_kept(
    db: Database, clock: ManualClock
) -> None:
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    lapse = {"now": now + timedelta(days=1)}

    def work(connection: Connection) -> None:
        INSERT_HOLD.defer(connection, _hold(event_id, now, 1))
        LAPSE.defer(connection, lapse, expect=5, otherwise=_refuse("first miss"))
        LAPSE.defer(connection, lapse, expect=7, otherwise=_refuse("second miss"))

    with pytest.raises(Refused, match="first miss"):
        await db.run(work)
    assert await db.run(lambda c: READ.execute(c, {"event_id": event_id}).rows) == []


async def test_a_miss_explains_itself_though_a_later_write_breaks_a_constraint(
    db: Database, clock: ManualClock
) -> None:
    """PostgreSQL runs every write of the one statement, so the duplicate key of a later
    write fails it before the row counts are checked: the writes then run again one by
    one, and the earlier miss, which is the reason, is what the caller hears."""
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    existing = _hold(event_id, now, 1)
    await db.run(lambda connection: INSERT_HOLD.execute(connection, existing))

    def work(connection: Connection) -> None:
        READ.execute(connection, {"event_id": event_id})
        LAPSE.defer(connection, {"now": now}, expect=1, otherwise=_refuse("nothing lapsed"))
        INSERT_HOLD.defer(connection, {**existing, "secret_hash": "another"})

    with pytest.raises(Refused, match="nothing lapsed"):
        await db.run(work)

    def duplicate_only(connection: Connection) -> None:
        READ.execute(connection, {"event_id": event_id})
        LAPSE.defer(connection, {"now": now + timedelta(days=1)}, expect=1)
        INSERT_HOLD.defer(connection, {**existing, "secret_hash": "another"})

    with pytest.raises(IntegrityError):
        await db.run(duplicate_only)
    rows = await db.run(lambda c: READ.execute(c, {"event_id": event_id}).rows)
    assert [(row.id, row.status) for row in rows] == [(existing["id"], "active")]


async def test_deferred_writes_outside_database_run_happen_at_once(
    db: Database, clock: ManualClock
) -> None:
    """An ORM session's ``run_sync`` has no end of work to wait for: ``defer`` executes (and
    checks) in place there."""
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(Refused, match="nothing lapsed"):
        async with db.transaction() as session:
            await session.run_sync(
                lambda sync: INSERT_HOLD.defer(
                    sync.connection(), _hold(event_id, now, 1), expect=1, otherwise=_refuse("no")
                )
            )
            assert await session.scalar(select(func.count()).select_from(hold)) == 1
            await session.run_sync(
                lambda sync: LAPSE.defer(
                    sync.connection(), {"now": now}, expect=1, otherwise=_refuse("nothing lapsed")
                )
            )


async def test_a_batch_too_large_for_one_statement_runs_one_by_one(
    db: Database, clock: ManualClock, db_engine: str, together: list[tuple[Any, dict[str, Any]]]
) -> None:
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    many = [
        _hold(event_id, now + timedelta(seconds=i), 1) for i in range(prepared.MAX_TOGETHER + 1)
    ]

    await db.run(lambda connection: INSERT_HOLD.defer_many(connection, many))
    found = await db.run(lambda connection: READ.execute(connection, {"event_id": event_id}).rows)
    assert len(found) == len(many)
    assert together == []


async def test_work_whose_writes_are_all_deferred_commits_as_one_statement(
    db: Database,
    clock: ManualClock,
    db_engine: str,
    together: list[tuple[Any, dict[str, Any]]],
) -> None:
    """PostgreSQL: no BEGIN/COMMIT round trips — the reads run on their own and the writes
    commit by themselves as one statement that checks its row counts (and carries the
    asynchronous commit the work asked for)."""
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)

    def work(connection: Connection) -> None:
        prepared.commit_asynchronously(connection)
        READ.execute(connection, {"event_id": event_id})
        INSERT_HOLD.defer(connection, _hold(event_id, now, 1), expect=1, otherwise=_refuse("no"))

    await db.run(work)
    assert len(await db.run(lambda c: READ.execute(c, {"event_id": event_id}).rows)) == 1
    if db_engine == "postgresql":
        assert [options for _, options in together] == [{"checked_by_database": True}]
        sql = prepared._together(
            ((together[0][0][0].plan.sql, len(together[0][0][0].plan.binds), False, 1),), True, True
        )
        assert "boxoffice_refuse()" in sql
        assert "set_config('synchronous_commit', 'off', true)" in sql


async def test_lazy_work_never_leaves_its_transaction_open_on_the_pooled_connection(
    db_url: str, clock: ManualClock
) -> None:
    """The transaction begins at the first immediate write; whatever happens after, the
    connection goes back to the pool outside any transaction (one connection here)."""
    one = Database(create_engine(db_url, pool_size=1, max_overflow=0))
    try:
        store = await shop(one, clock)
        event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)

        def write_then_fail(connection: Connection) -> None:
            READ.execute(connection, {"event_id": event_id})
            INSERT_HOLD.execute(connection, _hold(event_id, now, 1))
            raise Refused("after the write")

        with pytest.raises(Refused):
            await one.run(write_then_fail)
        if one.dialect == "postgresql":
            open_transaction = text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
            assert await one.run(lambda c: c.execute(open_transaction).scalar()) is False
        assert await one.run(lambda c: READ.execute(c, {"event_id": event_id}).rows) == []
        await one.run(lambda c: INSERT_HOLD.execute(c, _hold(event_id, now, 1)))
        assert len(await one.run(lambda c: READ.execute(c, {"event_id": event_id}).rows)) == 1
    finally:
        await one.close()
