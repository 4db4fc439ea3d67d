"""What operators do with the journal: look at subscribers and dead letters, retry a dead
letter, replay a subscriber from a point, rebuild a projection. The admin API and the
``boxoffice journal`` command both call these.

A dead letter is retried by handing its entry to the subscriber's handler in this process
(the cursor stays where it is: the entries after it were delivered meanwhile). A success
marks the dead letter retried (the row stays, as a record); a failure records the new error
and says it. Replaying a subscriber from a position moves its cursor back to just before
that entry, under its lease; a projection is always rebuilt from the first entry instead,
because its counters cannot be taken back to a point (:mod:`.projections`).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from datetime import timedelta

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from boxoffice.core.journal.dispatcher import Cursor, Dispatcher, recorded
from boxoffice.core.journal.entries import registered
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.journal.projections import Projection, rebuild
from boxoffice.core.journal.schemas import (
    DeadLetterDetail,
    DeadLetterOut,
    DeadLetterPage,
    EntryTypeOut,
    ReplayOut,
    SubscriberOut,
)
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)


class _After(msgspec.Struct, frozen=True):
    id: int


def entry_types() -> list[EntryTypeOut]:
    """Every installed entry type, its version and the JSON Schema of its data."""
    return [
        EntryTypeOut(
            name=name,
            schema_version=cls.schema_version,
            aggregate_type=cls.aggregate_type,
            schema=msgspec.json.schema(cls),
        )
        for name, cls in registered().items()
    ]


async def subscribers(db: Database, dispatcher: Dispatcher) -> list[SubscriberOut]:
    row = JournalSubscriberRow
    async with db.read() as session:
        last = (await session.scalar(select(func.max(JournalEntryRow.position)))) or 0
        dead: dict[str, int] = {
            row.subscriber: row.dead
            for row in await session.execute(
                select(JournalDeadLetterRow.subscriber, func.count().label("dead"))
                .where(JournalDeadLetterRow.retried_at.is_(None))
                .group_by(JournalDeadLetterRow.subscriber)
            )
        }
        rows = (await session.scalars(select(row).order_by(row.name))).all()
    now = dispatcher.clock.now()
    known = {s.name for s in dispatcher.subscribers}
    return [
        SubscriberOut(
            name=r.name,
            position=r.position,
            behind=max(0, last - r.position),
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            last_error=r.last_error,
            leased_by=r.lease_owner if r.lease_until is not None and r.lease_until > now else None,
            registered=r.name in known,
            dead_letters=dead.get(r.name, 0),
        )
        for r in rows
    ]


async def dead_letters(
    db: Database,
    *,
    subscriber: str | None = None,
    include_retried: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> DeadLetterPage:
    """Dead letters, newest first."""
    dead, entry = JournalDeadLetterRow, JournalEntryRow
    query = (
        select(dead, entry.type)
        .join(entry, entry.entry_id == dead.entry_id)
        .order_by(dead.id.desc())
        .limit(limit + 1)
    )
    if subscriber is not None:
        query = query.where(dead.subscriber == subscriber)
    if not include_retried:
        query = query.where(dead.retried_at.is_(None))
    if cursor is not None:
        query = query.where(dead.id < decode_cursor(cursor, _After).id)
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    items = [_dead_letter_out(row, type_name) for row, type_name in rows[:limit]]
    more = len(rows) > limit
    return DeadLetterPage(items, encode_cursor(_After(items[-1].id)) if more else None)


def _dead_letter_out(row: JournalDeadLetterRow, type_name: str) -> DeadLetterOut:
    return DeadLetterOut(
        id=row.id,
        subscriber=row.subscriber,
        position=row.position,
        entry_id=row.entry_id,
        type=type_name,
        attempts=row.attempts,
        error=row.error,
        failed_at=row.failed_at,
        retried_at=row.retried_at,
        retried_by=row.retried_by,
    )


async def dead_letter(db: Database, dead_letter_id: int) -> DeadLetterDetail:
    async with db.read() as session:
        found = await _load(session, dead_letter_id)
    row, entry = found
    return DeadLetterDetail(
        **msgspec.structs.asdict(_dead_letter_out(row, entry.type)),
        occurred_at=entry.occurred_at,
        aggregate_type=entry.aggregate_type,
        aggregate_id=entry.aggregate_id,
        request_id=entry.request_id,
        schema_version=entry.version,
        data=entry.data,
    )


async def _load(
    session: AsyncSession, dead_letter_id: int
) -> tuple[JournalDeadLetterRow, JournalEntryRow]:
    row = await session.get(JournalDeadLetterRow, dead_letter_id)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    entry = await session.scalar(
        select(JournalEntryRow).where(JournalEntryRow.entry_id == row.entry_id)
    )
    if entry is None:  # the journal is append-only: only a hand-edited database lacks it
        raise NotFound(f"dead letter {dead_letter_id}'s entry {row.entry_id} is gone")
    return row, entry


class RetryFailed(Conflict):
    slug = "dead-letter-retry-failed"
    title = "The subscriber failed the entry again"


async def retry_dead_letter(
    db: Database, clock: Clock, dispatcher: Dispatcher, dead_letter_id: int, *, by: str
) -> DeadLetterDetail:
    """Deliver a dead letter's entry to its subscriber again (see the module doc)."""
    async with db.read() as session:
        row, entry = await _load(session, dead_letter_id)
    if row.retried_at is not None:
        raise Conflict(
            f"dead letter {dead_letter_id} was retried already",
            extra={"retried_at": row.retried_at.isoformat()},
        )
    handler = {s.name: s.handler for s in dispatcher.subscribers}.get(row.subscriber)
    if handler is None:
        raise Conflict(
            f"subscriber {row.subscriber!r} does not run in this process (is its plugin "
            "installed and enabled here?)",
            extra={"subscriber": row.subscriber},
        )
    dead = JournalDeadLetterRow
    try:
        await handler(recorded(entry))
    except Exception as error:
        message = "".join(traceback.format_exception_only(error)).strip()[:2000]
        async with db.transaction() as session:
            await session.execute(
                update(dead)
                .where(dead.id == dead_letter_id)
                .values(attempts=dead.attempts + 1, error=message)
            )
        log.warning("journal.dead_letter_retry_failed", id=dead_letter_id, error=message)
        raise RetryFailed(message, extra={"dead_letter": dead_letter_id}) from error
    async with db.transaction() as session:
        await session.execute(
            update(dead)
            .where(dead.id == dead_letter_id, dead.retried_at.is_(None))
            .values(retried_at=clock.now(), retried_by=by[:200])
        )
    log.info("journal.dead_letter_retried", id=dead_letter_id, by=by)
    return await dead_letter(db, dead_letter_id)


async def replay(
    db: Database,
    clock: Clock,
    dispatcher: Dispatcher,
    name: str,
    *,
    projections: Sequence[Projection] = (),
    from_position: int | None = None,
    wait: timedelta = timedelta(minutes=2),
) -> ReplayOut:
    """Rebuild projection ``name`` from the first entry, or deliver the entries from
    ``from_position`` on to subscriber ``name`` again."""
    projection = next((p for p in projections if name in (p.name, p.subscriber_name)), None)
    if projection is not None:
        if from_position not in (None, 0, 1):
            raise ValidationFailed(
                f"{projection.name} is a projection: it is rebuilt from the first entry",
                errors=[FieldError("from", "leave it out to rebuild the projection")],
            )
        delivered = await rebuild(db, clock, projection, wait=wait)
        return ReplayOut(subscriber=projection.subscriber_name, delivered=delivered)
    known = {s.name for s in dispatcher.subscribers}
    if name not in known:
        raise NotFound(
            f"no subscriber {name!r} here; known: {', '.join(sorted(known))}",
            extra={"subscriber": name},
        )
    if from_position is None:
        raise ValidationFailed(
            f"{name} is not a projection: say from which position to replay",
            errors=[FieldError("from", "the position of the first entry to deliver again")],
        )
    start = await _cursor_before(db, from_position)
    await dispatcher.ensure_cursor(name)
    await dispatcher.lease_within(name, wait)
    await dispatcher.move(name, start)
    delivered = 0
    while True:
        round_delivered = await dispatcher.serve(name)
        delivered += round_delivered
        if round_delivered == 0:
            break
    return ReplayOut(subscriber=name, delivered=delivered)


async def _cursor_before(db: Database, position: int) -> Cursor:
    """The cursor just before the entry at ``position`` in reading order (PostgreSQL: its
    transaction's entries and every later transaction's follow)."""
    if position < 1:
        raise ValidationFailed(
            "positions start at 1", errors=[FieldError("from", "a position of the journal")]
        )
    async with db.read() as session:
        txid = await session.scalar(
            select(JournalEntryRow.txid).where(JournalEntryRow.position == position)
        )
        exists = await session.get(JournalEntryRow, position)
    if exists is None:
        raise NotFound(f"no journal entry at position {position}")
    return Cursor(txid or 0, position - 1)
