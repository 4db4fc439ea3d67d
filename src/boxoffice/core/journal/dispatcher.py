"""Delivers journal entries to subscribers, at least once, in order, with retries.

Each subscriber has a cursor row (``journal_subscriber``). A worker takes a time-limited
lease on the row with one conditional UPDATE (the row count decides, on both engines), so
several processes can run dispatchers on one database and each subscriber is served by
one of them at a time. Entries are handed over in position order; a failing entry is
retried with exponential backoff and jitter, and after ``max_attempts`` it goes to
``journal_dead_letter`` and the cursor moves on. Subscribers must be idempotent: a crash
between handling an entry and saving the cursor delivers that entry again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy import and_, func, insert, or_, select, text, update

from boxoffice.core.clock import Clock
from boxoffice.core.db import CommitInfo, Database
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.journal.service import APPENDED
from boxoffice.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[RecordedEntry], Awaitable[None]]


class Subscriber(msgspec.Struct, frozen=True):
    name: str
    handler: Handler
    #: Entry type names it wants; ``None`` means every entry.
    types: frozenset[str] | None = None
    #: A new subscriber starts at the end of the journal (notifications) instead of
    #: replaying it from the beginning (projections, search indexing).
    start_at_end: bool = False

    def wants(self, entry_type: str) -> bool:
        return self.types is None or entry_type in self.types


class DispatcherSettings(msgspec.Struct, frozen=True):
    batch_size: int = 100
    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=60)
    poll_interval: float = 1.0
    #: After a commit wakes it, the dispatcher waits this long before its round, so that one
    #: round serves the entries of many transactions: under load (hundreds of orders a
    #: second) a round per commit cost more than the commits themselves.
    gather_delay: float = 0.2


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        subscribers: Sequence[Subscriber] = (),
        settings: DispatcherSettings | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or DispatcherSettings()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._subscribers: dict[str, Subscriber] = {}
        self._wake = asyncio.Event()
        self._cursors_made: set[str] = set()
        for subscriber in subscribers:
            self.subscribe(subscriber)
        db.after_commit(self._on_commit)

    def subscribe(self, subscriber: Subscriber) -> None:
        if subscriber.name in self._subscribers:
            raise ValueError(f"journal subscriber {subscriber.name!r} is registered twice")
        self._subscribers[subscriber.name] = subscriber

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers.values())

    def _on_commit(self, info: CommitInfo) -> None:
        if info.pop(APPENDED, False):
            self._wake.set()

    async def run_once(self) -> int:
        """Serve every subscriber once; returns how many entries were handed to handlers."""
        delivered = 0
        for subscriber in self._subscribers.values():
            delivered += await self._serve(subscriber)
        return delivered

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Run rounds until nothing is delivered (tests and the CLI use this)."""
        total = 0
        for _ in range(max_rounds):
            delivered = await self.run_once()
            total += delivered
            if delivered == 0:
                break
        return total

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("journal.dispatcher_round_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
            if self._wake.is_set():
                await asyncio.sleep(self.settings.gather_delay)

    async def _ensure_cursor(self, subscriber: Subscriber) -> None:
        if subscriber.name in self._cursors_made:
            return
        async with self.db.read() as session:
            exists = await session.get(JournalSubscriberRow, subscriber.name)
        if exists is not None:
            self._cursors_made.add(subscriber.name)
            return
        async with self.db.transaction() as session:
            if await session.get(JournalSubscriberRow, subscriber.name) is not None:
                return
            start = 0
            if subscriber.start_at_end:
                start = (await session.scalar(select(func.max(JournalEntryRow.position)))) or 0
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(JournalSubscriberRow).values(name=subscriber.name, position=start)
                    )
            except Exception:  # another worker created it first: fine
                log.debug("journal.cursor_exists", subscriber=subscriber.name)

    async def _acquire(self, name: str) -> Any | None:
        """Lease the subscriber's cursor: its (position, attempts), or None if another
        worker holds it or it waits for a retry. The cursor writes go through
        :meth:`Database.run`, so on SQLite they join the hot path's group commits instead
        of holding the writer between the thread hops of an ORM transaction."""
        now = self.clock.now()
        row = JournalSubscriberRow
        statement = (
            update(row)
            .where(
                row.name == name,
                or_(
                    row.lease_until.is_(None),
                    row.lease_until < now,
                    row.lease_owner == self.worker_id,
                ),
                or_(row.next_attempt_at.is_(None), row.next_attempt_at <= now),
            )
            .values(lease_owner=self.worker_id, lease_until=now + self.settings.lease)
            .returning(row.position, row.attempts)
        )
        return await self.db.run(lambda connection: connection.execute(statement).first())

    async def _release(self, name: str, position: int | None = None) -> None:
        """Give the lease back, moving the cursor to ``position`` if given."""
        moved: dict[str, object] = {}
        if position is not None:
            moved = {"position": position, "attempts": 0, "next_attempt_at": None,
                     "last_error": None}  # fmt: skip
        await self._update_cursor(name, lease_owner=None, lease_until=None, **moved)

    async def _update_cursor(self, name: str, **values: object) -> None:
        row = JournalSubscriberRow
        statement = (
            update(row).where(row.name == name, row.lease_owner == self.worker_id).values(**values)
        )
        await self.db.run(lambda connection: connection.execute(statement))

    async def _batch(self, after: int) -> list[RecordedEntry]:
        entry = JournalEntryRow
        query = select(entry).where(entry.position > after)
        if self.db.dialect == "postgresql":
            # Only entries of transactions older than every open one: a lower position may
            # still commit, and reading past it would skip it for good.
            query = query.where(
                entry.txid < text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
            )
        query = query.order_by(entry.position).limit(self.settings.batch_size)
        async with self.db.read() as session:
            rows = (await session.scalars(query)).all()
        return [
            RecordedEntry(
                position=r.position,
                entry_id=r.entry_id,
                type=r.type,
                aggregate_type=r.aggregate_type,
                aggregate_id=r.aggregate_id,
                occurred_at=r.occurred_at,
                data=r.data,
                request_id=r.request_id,
            )
            for r in rows
        ]

    async def _serve(self, subscriber: Subscriber) -> int:
        """Hand a batch to ``subscriber``; the cursor moves once, when the lease is given
        back (a write per entry cost more than the entries under load)."""
        await self._ensure_cursor(subscriber)
        cursor = await self._acquire(subscriber.name)
        if cursor is None:
            return 0
        delivered = 0
        position = cursor.position
        try:
            entries = await self._batch(cursor.position)
            attempts = cursor.attempts
            for entry in entries:
                if not subscriber.wants(entry.type):
                    position = entry.position
                    continue
                delivered += 1
                try:
                    await subscriber.handler(entry)
                except Exception as error:
                    if position != cursor.position:
                        await self._advance(subscriber.name, position)
                    await self._failed(subscriber, entry, attempts + 1, error)
                    position = cursor.position  # recorded already
                    return delivered
                position, attempts = entry.position, 0
        finally:
            await self._release(subscriber.name,
                                position if position != cursor.position else None)  # fmt: skip
        return delivered

    async def _advance(self, name: str, position: int) -> None:
        await self._update_cursor(name, position=position, attempts=0, next_attempt_at=None,
                                  last_error=None)  # fmt: skip

    async def _failed(
        self, subscriber: Subscriber, entry: RecordedEntry, attempts: int, error: Exception
    ) -> None:
        now = self.clock.now()
        message = "".join(traceback.format_exception_only(error)).strip()[:2000]
        row = JournalSubscriberRow
        async with self.db.transaction() as session:
            if attempts >= self.settings.max_attempts:
                log.error(
                    "journal.dead_letter",
                    subscriber=subscriber.name,
                    position=entry.position,
                    error=message,
                )
                session.add(
                    JournalDeadLetterRow(
                        subscriber=subscriber.name,
                        position=entry.position,
                        entry_id=entry.entry_id,
                        attempts=attempts,
                        error=message,
                        failed_at=now,
                    )
                )
                values: dict[str, object] = {
                    "position": entry.position,
                    "attempts": 0,
                    "next_attempt_at": None,
                    "last_error": message,
                }
            else:
                log.warning(
                    "journal.delivery_failed",
                    subscriber=subscriber.name,
                    position=entry.position,
                    attempt=attempts,
                    error=message,
                )
                values = {
                    "attempts": attempts,
                    "next_attempt_at": now + self._backoff(attempts),
                    "last_error": message,
                }
            await session.execute(
                update(row)
                .where(and_(row.name == subscriber.name, row.lease_owner == self.worker_id))
                .values(**values)
            )

    def _backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter, capped."""
        ceiling = min(self.settings.max_delay, self.settings.base_delay * (2 ** (attempts - 1)))
        jitter: float = 0.5 + random.random() / 2  # noqa: S311 - jitter, not security
        return timedelta(seconds=ceiling.total_seconds() * jitter)
