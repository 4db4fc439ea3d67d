"""Delivers journal entries to subscribers, at least once, in order, with retries.

Each subscriber has a cursor row (``journal_subscriber``). A worker takes a time-limited
lease on the row with one conditional UPDATE (the row count decides, on both engines), so
several processes can run dispatchers on one database and each subscriber is served by
one of them at a time. Entries are handed over in position order; a failing entry is
retried with exponential backoff and jitter, and after ``max_attempts`` it goes to
``journal_dead_letter`` and the cursor moves on. Subscribers must be idempotent: a crash
between handling an entry and saving the cursor delivers that entry again.

Reading order. SQLite has one writer at a time, so positions commit in order and a cursor
is a position. PostgreSQL commits transactions in any order, and a transaction takes its id
at its first write but a position only when it appends: an older transaction may append
(a higher position) after a younger one did (a lower position) and commit first. So there
the cursor is the pair (transaction id, position), entries are read in that order, and only
entries of transactions older than every open one (``pg_snapshot_xmin``): any transaction
that can still commit has a larger id than everything read so far.
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
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import (
    and_,
    case,
    exists,
    false,
    func,
    insert,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import tracing
from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)
from boxoffice.core.journal.service import APPENDED
from boxoffice.core.storage import CommitInfo, Database, JSONType, table_of
from boxoffice.logs import get_logger

log = get_logger(__name__)

Handler = Callable[[RecordedEntry], Awaitable[None]]
BatchHandler = Callable[[Sequence[RecordedEntry]], Awaitable[None]]


class Subscriber(msgspec.Struct, frozen=True):
    name: str
    handler: Handler
    #: Entry type names it wants; ``None`` means every entry.
    types: frozenset[str] | None = None
    #: A new subscriber starts at the end of the journal (notifications) instead of
    #: replaying it from the beginning (projections, search indexing).
    start_at_end: bool = False
    #: Takes a round's wanted entries at once (a projection writes them in one
    #: transaction). If it fails, the round's entries go to ``handler`` one by one, so the
    #: failing entry alone is retried and dead-lettered.
    batch: BatchHandler | None = None

    def wants(self, entry_type: str) -> bool:
        return self.types is None or entry_type in self.types


def recorded(row: Any) -> RecordedEntry:
    """The entry a ``journal_entry`` row (or a query's row with its columns) holds."""
    return RecordedEntry(
        position=row.position,
        entry_id=row.entry_id,
        type=row.type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        occurred_at=row.occurred_at,
        data=row.data,
        request_id=row.request_id,
        schema_version=row.version,
        txid=row.txid or 0,
        trace_context=row.trace_context,
    )


class Cursor(NamedTuple):
    """Where a subscriber has read up to: (transaction id, position); txid is 0 on SQLite."""

    txid: int
    position: int


_ENTRY = table_of(JournalEntryRow)
#: The PostgreSQL channel that wakes the dispatchers of every process: a process that
#: appends entries but runs no dispatcher of its own notifies it after its commits.
WAKE_CHANNEL = "boxoffice_journal"
#: Transactions with a smaller id than this have all ended (PostgreSQL).
_OLDEST_OPEN = text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


class DispatcherSettings(msgspec.Struct, frozen=True):
    #: Entries read per round and subscriber (the ones it does not want cost a tiny row).
    batch_size: int = 500
    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=60)
    #: After a round that delivered entries, the next one comes this soon at the latest.
    poll_interval: float = 1.0
    #: With nothing delivered, the dispatcher sleeps until woken — by a commit in this
    #: process, a ``NOTIFY`` from another (PostgreSQL), or a retry coming due — and at most
    #: this long, to catch up on a wake-up it missed (another process's commit on SQLite, a
    #: listening connection that broke, a lease another process left behind).
    idle_interval: float = 30.0
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
        #: When a retry this process scheduled comes due (event loop time), if one is.
        self._retry_due: float | None = None
        #: Set where entries are appended but this dispatcher does not run (an API process
        #: beside a ``boxoffice worker``): commits wake the other processes' dispatchers.
        self.notifies_others = False
        self._notifying: asyncio.Task[None] | None = None
        self._notify_again = False
        #: When the last ``NOTIFY`` went (event loop time).
        self._last_notified = float("-inf")
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
            if self.notifies_others:
                self._notify_soon()

    def _notify_soon(self) -> None:
        """One ``NOTIFY`` at a time, and the next no sooner than ``gather_delay`` after the
        last: commits meanwhile ask for one more. A worker woken waits that long before its
        round anyway, so this costs no latency; a ``NOTIFY`` per commit cost a pooled
        connection and a round trip each, under load 6 % of an API process's CPU."""
        if self._notifying is not None and not self._notifying.done():
            self._notify_again = True
            return
        self._notifying = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            wait = self._last_notified + self.settings.gather_delay - loop.time()
            if wait > 0:  # the last one was a moment ago (commits one by one, not at once)
                await asyncio.sleep(wait)
            self._notify_again = False
            self._last_notified = loop.time()
            try:
                await self.db.notify(WAKE_CHANNEL)
            except Exception as error:  # the others catch up by polling
                stop_if_cancelled()
                log.warning("journal.notify_failed", error=type(error).__name__)
            if not self._notify_again:
                return

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
        while True:  # listening again after the database connection it used broke
            async with self.db.listening(WAKE_CHANNEL, self._wake.set) as listening:
                woken = True  # the first round serves whatever is there (or was missed)
                while True:
                    delivered = 0
                    try:
                        if self._retry_due_now() or woken or await self._anything_new():
                            delivered = await self.run_once()
                    except Exception:
                        stop_if_cancelled()
                        log.exception("journal.dispatcher_round_failed")
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that arrives as the wait ends, and the loop would never
                    # stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._next_round_in(delivered)):
                            await self._wake.wait()
                    woken = self._wake.is_set()
                    if woken:
                        await asyncio.sleep(self.settings.gather_delay)
                    if not listening.alive():
                        break

    async def _anything_new(self) -> bool:
        """Whether any entry lies past the furthest-behind cursor: one read, where a round
        is a lease, a read and a release per subscriber (what an idle poll would cost)."""
        async with self.db.read() as session:
            return bool(await session.scalar(self._anything_new_query()))

    def _anything_new_query(self) -> Any:
        entry, cursor = _ENTRY.c, JournalSubscriberRow
        if self.db.dialect != "postgresql":
            lowest = select(func.min(cursor.position)).scalar_subquery()
            return select(exists().where(entry.position > lowest))
        behind = (
            select(cursor.txid, cursor.position)
            .order_by(cursor.txid, cursor.position)
            .limit(1)
            .subquery()
        )
        return select(
            exists()
            .select_from(_ENTRY.join(behind, true()))
            .where(
                tuple_(entry.txid, entry.position) > tuple_(behind.c.txid, behind.c.position),
                entry.txid < _OLDEST_OPEN,
            )
        )

    def _next_round_in(self, delivered: int) -> float:
        """Seconds to wait (unless woken) before the next round."""
        if delivered:
            return self.settings.poll_interval
        wait = self.settings.idle_interval
        if self._retry_due is not None:
            wait = min(wait, max(0.0, self._retry_due - asyncio.get_running_loop().time()))
        return wait

    def _retry_due_now(self) -> bool:
        """Whether a retry this process scheduled is due (the round about to start serves
        it)."""
        if self._retry_due is not None and self._retry_due <= asyncio.get_running_loop().time():
            self._retry_due = None
            return True
        return False

    def _retry_in(self, delay: timedelta) -> None:
        due = asyncio.get_running_loop().time() + delay.total_seconds()
        if self._retry_due is None or due < self._retry_due:
            self._retry_due = due

    async def ensure_cursor(self, name: str) -> None:
        """Create the cursor of subscriber ``name`` (registered here) if it has none."""
        await self._ensure_cursor(self._subscribers[name])

    async def lease(self, name: str) -> Cursor | None:
        """Take the lease on subscriber ``name``'s cursor, even while it waits for a retry
        (None: another worker has it); give it back with :meth:`release`."""
        leased = await self._acquire(name, waiting_too=True)
        return None if leased is None else Cursor(leased.txid, leased.position)

    async def lease_within(self, name: str, wait: timedelta) -> Cursor:
        """:meth:`lease`, waiting up to ``wait`` for the worker that has it to finish."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait.total_seconds()
        while (cursor := await self.lease(name)) is None:
            if loop.time() > deadline:
                raise Conflict(f"{name} stayed leased by another worker for {wait}")
            await asyncio.sleep(0.2)
        return cursor

    async def move(self, name: str, cursor: Cursor) -> None:
        """Move the leased cursor of ``name`` to ``cursor`` and give the lease back."""
        await self._release(name, cursor)

    async def serve(self, name: str) -> int:
        """One round for subscriber ``name`` alone; returns the entries delivered."""
        return await self._serve(self._subscribers[name])

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
            start = Cursor(0, 0)
            if subscriber.start_at_end:
                start = await self._end_of_journal(session)
            try:
                async with session.begin_nested():
                    await session.execute(
                        insert(JournalSubscriberRow).values(
                            name=subscriber.name, txid=start.txid, position=start.position
                        )
                    )
            except Exception:  # another worker created it first: fine
                log.debug("journal.cursor_exists", subscriber=subscriber.name)

    async def _end_of_journal(self, session: AsyncSession) -> Cursor:
        """A cursor after every entry written so far, and before those of transactions
        still open (PostgreSQL: just below the oldest open transaction)."""
        last = (await session.scalar(select(func.max(_ENTRY.c.position)))) or 0
        if self.db.dialect != "postgresql":
            return Cursor(0, last)
        oldest_open = int(await session.scalar(select(_OLDEST_OPEN)) or 1)
        return Cursor(oldest_open - 1, last)

    async def _acquire(self, name: str, *, waiting_too: bool = False) -> Any | None:
        """Lease the subscriber's cursor: its (txid, position, attempts), or None if another
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
                or_(
                    row.next_attempt_at.is_(None),
                    row.next_attempt_at <= now,
                    true() if waiting_too else false(),
                ),
            )
            .values(lease_owner=self.worker_id, lease_until=now + self.settings.lease)
            .returning(row.txid, row.position, row.attempts)
        )
        return await self.db.run(lambda connection: connection.execute(statement).first())

    async def _release(self, name: str, cursor: Cursor | None = None) -> None:
        """Give the lease back, moving the cursor to ``cursor`` if given."""
        moved: dict[str, object] = {}
        if cursor is not None:
            moved = {
                "txid": cursor.txid,
                "position": cursor.position,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": None,
            }
        await self._update_cursor(name, lease_owner=None, lease_until=None, **moved)

    async def _update_cursor(self, name: str, **values: object) -> None:
        row = JournalSubscriberRow
        statement = (
            update(row).where(row.name == name, row.lease_owner == self.worker_id).values(**values)
        )
        await self.db.run(lambda connection: connection.execute(statement))

    async def _batch(
        self, subscriber: Subscriber, after: Cursor
    ) -> list[tuple[Cursor, RecordedEntry | None]]:
        """The next entries after ``after`` in reading order (see the module doc), each with
        its cursor; ``None`` for the ones ``subscriber`` does not want (their data is not
        even read)."""
        entry = _ENTRY.c
        data: Any = entry.data
        if subscriber.types is not None:
            data = type_coerce(
                case((entry.type.in_(sorted(subscriber.types)), entry.data), else_=null()), JSONType
            )
        query = select(
            entry.txid,
            entry.position,
            entry.entry_id,
            entry.type,
            entry.aggregate_type,
            entry.aggregate_id,
            entry.occurred_at,
            data.label("data"),
            entry.request_id,
            entry.version,
            entry.trace_context,
        )
        if self.db.dialect == "postgresql":
            query = query.where(
                tuple_(entry.txid, entry.position) > tuple_(after.txid, after.position),
                entry.txid < _OLDEST_OPEN,
            ).order_by(entry.txid, entry.position)
        else:
            query = query.where(entry.position > after.position).order_by(entry.position)
        async with self.db.read() as session:
            rows = (await session.execute(query.limit(self.settings.batch_size))).all()
        return [
            (
                Cursor(r.txid or 0, r.position),
                recorded(r) if subscriber.wants(r.type) else None,
            )
            for r in rows
        ]

    async def _serve(self, subscriber: Subscriber) -> int:
        """Hand a batch to ``subscriber``; the cursor moves once, when the lease is given
        back (a write per entry cost more than the entries under load)."""
        await self._ensure_cursor(subscriber)
        leased = await self._acquire(subscriber.name)
        if leased is None:
            return 0
        start = Cursor(leased.txid, leased.position)
        cursor = start
        delivered = 0
        try:
            attempts = leased.attempts
            batch = await self._batch(subscriber, start)
            if subscriber.batch is not None and attempts == 0:
                wanted = [entry for _, entry in batch if entry is not None]
                try:
                    if wanted:
                        with tracing.span(
                            f"journal {subscriber.name}",
                            links_to=[e.trace_context for e in wanted],
                            attributes={"journal.entries": len(wanted)},
                        ):
                            await subscriber.batch(wanted)
                except Exception:
                    stop_if_cancelled()
                    log.warning("journal.batch_failed", subscriber=subscriber.name, exc_info=True)
                else:
                    if batch:
                        cursor = batch[-1][0]
                    return len(wanted)
            for at, entry in batch:
                if entry is None:
                    cursor = at
                    continue
                delivered += 1
                try:
                    with tracing.span(
                        f"journal {subscriber.name}",
                        parent=entry.trace_context,
                        attributes={"journal.type": entry.type, "journal.position": entry.position},
                    ):
                        await subscriber.handler(entry)
                except Exception as error:
                    stop_if_cancelled()  # shutdown, not the entry's failure
                    if cursor != start:
                        await self._advance(subscriber.name, cursor)
                    await self._failed(subscriber, at, entry, attempts + 1, error)
                    cursor = start  # recorded already
                    return delivered
                cursor, attempts = at, 0
        finally:
            await self._release(subscriber.name, cursor if cursor != start else None)
        return delivered

    async def _advance(self, name: str, cursor: Cursor) -> None:
        await self._update_cursor(
            name,
            txid=cursor.txid,
            position=cursor.position,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
        )

    async def _failed(
        self,
        subscriber: Subscriber,
        at: Cursor,
        entry: RecordedEntry,
        attempts: int,
        error: Exception,
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
                    "txid": at.txid,
                    "position": at.position,
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
                delay = self._backoff(attempts)
                self._retry_in(delay)
                values = {
                    "attempts": attempts,
                    "next_attempt_at": now + delay,
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
