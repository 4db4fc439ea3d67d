"""Projections: tables computed from the journal alone, which can be rebuilt by replaying it.

A projection applies a round's entries in one transaction together with its checkpoint
(``journal_checkpoint``), so each entry counts exactly once although the dispatcher
delivers at least once: entries at or before the checkpoint are skipped. Rebuilding
(:func:`rebuild`, ``boxoffice journal replay NAME``) empties its tables, sets the
checkpoint and the subscriber's cursor back to the start in one transaction, under the
subscriber's lease (so no dispatcher is half-way through a round of the old tables), and
replays the whole journal; the result equals the live tables, which a test checks.

Only what the journal says goes in: a projection never reads the domain's tables, or a
rebuild would see today's state instead of the history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import msgspec
from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.journal.dispatcher import Cursor, Dispatcher, Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.models import JournalCheckpointRow, JournalSubscriberRow
from boxoffice.core.storage import Database, conflict_insert, table_of

Apply = Callable[[AsyncSession, Sequence[RecordedEntry]], Awaitable[None]]

_CHECKPOINT = table_of(JournalCheckpointRow)


class Projection(msgspec.Struct, frozen=True):
    #: Its subscriber is ``projection:<name>``.
    name: str
    #: The entry types it reads.
    types: frozenset[str]
    #: Applies entries (in reading order, none seen before) in the given transaction.
    apply: Apply
    #: Its tables, emptied by a rebuild.
    tables: tuple[Table, ...]

    @property
    def subscriber_name(self) -> str:
        return f"projection:{self.name}"


def projection_subscriber(db: Database, projection: Projection) -> Subscriber:
    async def apply_batch(entries: Sequence[RecordedEntry]) -> None:
        async with db.transaction() as session:
            fresh = await _past_checkpoint(session, db.dialect, projection.name, entries)
            if fresh:
                await projection.apply(session, fresh)
                last = fresh[-1]
                await session.execute(
                    update(_CHECKPOINT)
                    .where(_CHECKPOINT.c.name == projection.name)
                    .values(txid=last.txid, position=last.position)
                )

    async def apply_one(entry: RecordedEntry) -> None:
        await apply_batch([entry])

    return Subscriber(
        name=projection.subscriber_name,
        handler=apply_one,
        batch=apply_batch,
        types=projection.types,
    )


async def _past_checkpoint(
    session: AsyncSession, dialect: str, name: str, entries: Sequence[RecordedEntry]
) -> list[RecordedEntry]:
    """The entries after the projection's checkpoint, its row locked until the commit (on
    SQLite the write transaction already holds the only writer)."""
    await session.execute(
        conflict_insert(dialect, _CHECKPOINT)
        .values(name=name, txid=0, position=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    row = (
        await session.execute(
            select(_CHECKPOINT.c.txid, _CHECKPOINT.c.position)
            .where(_CHECKPOINT.c.name == name)
            .with_for_update()
        )
    ).one()
    seen = Cursor(row.txid, row.position)
    return [e for e in entries if Cursor(e.txid, e.position) > seen]


async def rebuild(
    db: Database,
    clock: Clock,
    projection: Projection,
    *,
    wait: timedelta = timedelta(minutes=2),
) -> int:
    """Empty the projection and replay the journal into it; returns the entries applied.
    Waits (up to ``wait``) for a dispatcher that is serving the projection to finish its
    round."""
    dispatcher = Dispatcher(db, clock, [projection_subscriber(db, projection)])
    await dispatcher.ensure_cursor(projection.subscriber_name)
    await dispatcher.lease_within(projection.subscriber_name, wait)
    async with db.transaction() as session:
        for table in projection.tables:
            await session.execute(delete(table))
        await session.execute(delete(_CHECKPOINT).where(_CHECKPOINT.c.name == projection.name))
        row = JournalSubscriberRow
        await session.execute(
            update(row)
            .where(row.name == projection.subscriber_name)
            .values(
                txid=0,
                position=0,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                lease_owner=None,
                lease_until=None,
            )
        )
    return await dispatcher.run_until_idle(max_rounds=1_000_000)
