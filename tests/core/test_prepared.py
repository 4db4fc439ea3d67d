"""Prepared statements on both engines: the dialect's type processing both ways (UUIDs,
UTC timestamps, JSON), constants bound by the statement itself, row counts, many rows in
one call, and the two things they refuse up front."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.statements import INSERT_HOLD
from boxoffice.core.clock import ManualClock
from boxoffice.core.db import Database, table_of
from boxoffice.core.prepared import Prepared
from tests.booking.helpers import shop

hold = table_of(Hold)
READ = Prepared(select(hold.c.id, hold.c["items"], hold.c.expires_at, hold.c.status)
                .where(hold.c.event_id == bindparam("event_id")).order_by(hold.c.created_at))  # fmt: skip
LAPSE = Prepared(update(hold).where(hold.c.expires_at <= bindparam("now"), hold.c.status == "active")
                 .values(status="expired"))  # fmt: skip


def _hold(event_id: uuid.UUID, at: datetime, minutes: int) -> dict[str, object]:
    return {"id": uuid.uuid4(), "event_id": event_id, "secret": uuid.uuid4().hex,
            "status": "active", "items": [{"ticket_type_id": "t", "quantity": minutes}],
            "allocations": {"q": minutes}, "access_code": None, "created_at": at,
            "expires_at": at + timedelta(minutes=minutes), "promo_code_id": None}  # fmt: skip


async def test_values_round_trip_with_their_types(db: Database, clock: ManualClock) -> None:
    store = await shop(db, clock)
    event_id, now = store.event.id, datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    holds = [_hold(event_id, now + timedelta(seconds=i), minutes) for i, minutes in
             enumerate([1, 5, 10])]  # fmt: skip

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
        await db.run(lambda connection: partial_insert.execute(connection, {"secret": "s"}))
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
