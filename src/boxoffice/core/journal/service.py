"""Appending to the journal: always inside the transaction that made the change."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec
from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from boxoffice import tracing
from boxoffice.core.clock import Clock
from boxoffice.core.ids import new_id
from boxoffice.core.journal.entries import JournalEntry, lookup
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.core.storage import table_of
from boxoffice.core.storage.prepared import Prepared
from boxoffice.logs import current_request_id

T = TypeVar("T")

#: ``session.info`` key set when a transaction appended entries (wakes the dispatcher).
APPENDED = "boxoffice.journal.appended"


_INSERT = Prepared(insert(table_of(JournalEntryRow)))


def append_sync(connection: Connection, entry: JournalEntry, clock: Clock) -> None:
    """Append ``entry`` in ``connection``'s transaction (for :meth:`Database.run` work: a
    deferred write, see :mod:`boxoffice.core.storage.prepared`)."""
    name = type(entry).__name__
    if lookup(name) is not type(entry):
        raise TypeError(f"{name} is not a registered journal entry type (use @entry_type)")
    _INSERT.defer(
        connection,
        {
            "entry_id": new_id(),
            "type": name,
            "aggregate_type": entry.aggregate_type,
            "aggregate_id": entry.aggregate_id(),
            "data": msgspec.to_builtins(entry),
            "version": entry.schema_version,
            "occurred_at": clock.now(),
            "request_id": current_request_id(),
            "trace_context": tracing.current_traceparent(),
        },
    )
    connection.info[APPENDED] = True


async def append(session: AsyncSession, entry: JournalEntry, clock: Clock) -> None:
    """Append ``entry`` in ``session``'s transaction: it commits or rolls back with the change."""
    await run_appending(session, lambda connection: append_sync(connection, entry, clock))


async def run_appending_in_session(session: AsyncSession, work: Callable[[Session], T]) -> T:
    """:func:`run_appending` for ``work`` written against the synchronous ORM session."""

    def run(sync: Session) -> T:
        try:
            return work(sync)
        finally:
            if sync.connection().info.pop(APPENDED, False):
                sync.info[APPENDED] = True

    return await session.run_sync(run)


async def run_appending(session: AsyncSession, work: Callable[[Connection], T]) -> T:
    """Run synchronous ``work`` (which may append entries) in ``session``'s transaction. The
    session, not the pooled connection (whose ``info`` outlives the transaction), remembers
    that entries were appended, so only this commit wakes the dispatcher."""

    def run(sync: Session) -> T:
        connection = sync.connection()
        try:
            return work(connection)
        finally:
            if connection.info.pop(APPENDED, False):
                sync.info[APPENDED] = True

    return await session.run_sync(run)
