"""The database: a write transaction, a read, and the hot path's :meth:`Database.run`.

SQLite (file, WAL) is the embedded default; PostgreSQL is the scale-out engine. Both run the
same SQLAlchemy code. Writes go through :meth:`Database.transaction`: on SQLite it starts with
``BEGIN IMMEDIATE`` so a write transaction takes the write lock up front (no deadlock-prone
lock upgrades, and ``busy_timeout`` queues writers fairly); on PostgreSQL it relies on row
locks and conditional updates. Reads go through :meth:`Database.read` (a plain ``BEGIN``).

SQLite has one writer at a time. ORM write transactions queue on an asyncio lock (per event
loop) and, between processes, on a file lock (``flock`` on ``<database>-writers.lock``):
waiting there costs nothing, whereas connections racing for SQLite's lock would each sleep in
its busy handler (1, 2, 5, ... 100 ms naps) and leave the database idle between them.
A write begun inside a write transaction of the same task would wait for that transaction
for ever: it is refused at once (:class:`NestedWrite`); a write that waited a minute for
its turn gives up, naming the task that holds the lock and where it waits
(:class:`~boxoffice.core.storage.sqlite_writer.WriterStuck`).

Hot paths (placing a hold or an order, checking out) use :meth:`Database.run`: the
transaction is one *synchronous* function over a SQLAlchemy ``Connection`` with prepared
statements (:mod:`~boxoffice.core.storage.prepared`). On SQLite it goes through the process's
one writer (:mod:`~boxoffice.core.storage.sqlite_writer`: group commit, on the loop's thread
when the lock is free); on PostgreSQL in one greenlet over asyncpg (no thread at all), on a
connection in autocommit mode whose transaction begins at the work's first write — or never,
when its writes are all deferred to its end and commit as one statement
(``prepared.run_lazily``).
Same code, same SQL, both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import greenlet_spawn

from boxoffice.core.storage.engine import ANALYSIS_LIMIT, WRITE_OPTION
from boxoffice.core.storage.prepared import Prepared, run_lazily
from boxoffice.core.storage.replicas import LAG_ALLOWED, Replicas
from boxoffice.core.storage.sqlite_writer import SQLiteWriter, WriteQueue, WriterLock
from boxoffice.core.storage.work import CommitInfo, scoped
from boxoffice.logs import get_logger

log = get_logger(__name__)


async def _quietly(work: Callable[[], Awaitable[object]]) -> None:
    """Run ``work``, ignoring its failure (a listening connection may be gone already)."""
    with contextlib.suppress(Exception):
        await work()


T = TypeVar("T")

_NOTIFY = Prepared(select(func.pg_notify(bindparam("channel"), "")))


class NestedWrite(RuntimeError):
    """A write begun inside a write transaction of the same task, on SQLite: it would wait
    for the writer lock that its own transaction holds, for ever."""


class Listening:
    """What :meth:`Database.listening` hands back: whether it still hears."""

    def __init__(self, alive: Callable[[], bool]) -> None:
        self.alive = alive


class Database:
    """The engine plus the ways in: a write transaction, a read, and :meth:`run`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        write_slots: int = 3,
        replicas: Sequence[AsyncEngine] = (),
        replica_max_lag: float = 1.0,
    ) -> None:
        """``write_slots``: on PostgreSQL, how many :meth:`run` transactions may be under
        way at once in this process. Buyers racing for one quota queue on its row lock;
        while they wait there each holds a pooled connection, and every round trip of the
        transaction holding the lock waits for a busy event loop. Queued here instead, they
        hold nothing (measured: 3 slots did 252 checkouts/s with p99 0.9 s where no limit
        did 183/s with p99 4.7 s). SQLite's writer takes turns by itself."""
        self.engine = engine
        self.replicas = Replicas(replicas, replica_max_lag)
        self._write_slots = write_slots
        self._autocommit = engine.sync_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._writer = async_sessionmaker(self._write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._after_commit: list[Callable[[CommitInfo], None]] = []
        #: SQLite: one write transaction at a time per event loop (see the module doc).
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriterLock] = (
            weakref.WeakKeyDictionary()
        )
        self._sqlite_writer: SQLiteWriter | None = None
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._write_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, WriteQueue] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def after_commit(self, callback: Callable[[CommitInfo], None]) -> None:
        """Run ``callback(info)`` after each committed write transaction with its session's
        (or connection's) ``info`` dict (e.g. wake the dispatcher when entries were appended)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def listening(
        self, channel: str, callback: Callable[[], None]
    ) -> AsyncIterator[Listening]:
        """PostgreSQL: call ``callback()`` on each ``NOTIFY channel`` from any process while
        the block runs (a connection of its own, out of the pool, holds the ``LISTEN``).
        Elsewhere nothing is heard. When the database cannot be reached, or the connection
        breaks later (a restart), the :class:`Listening` says so: listen again. Callers also
        poll, slowly, to catch up on what they missed meanwhile."""
        if self.dialect != "postgresql":
            yield Listening(lambda: True)
            return
        async with contextlib.AsyncExitStack() as stack:
            try:
                connection = await stack.enter_async_context(self.engine.connect())
                raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection

                def heard(*_: object) -> None:
                    callback()

                await driver.add_listener(channel, heard)
                stack.push_async_callback(_quietly, lambda: driver.remove_listener(channel, heard))
            except Exception as error:  # the database is down: poll until it is back
                log.warning("db.listen_failed", channel=channel, error=type(error).__name__)
                yield Listening(lambda: False)
                return
            yield Listening(lambda: not driver.is_closed())

    async def notify(self, channel: str) -> None:
        """PostgreSQL: wake the processes :meth:`listening` on ``channel`` (one statement on
        a connection in autocommit mode: one round trip, not a BEGIN and a COMMIT around it)."""
        if self.dialect != "postgresql":
            return
        await greenlet_spawn(self._notify_now, channel)

    def _notify_now(self, channel: str) -> None:
        with self._autocommit.connect() as connection:
            _NOTIFY.execute(connection, {"channel": channel})

    def _writer_lock(self) -> WriterLock | None:
        if self.dialect != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = WriterLock()
        if lock.holder is not None and lock.holder is asyncio.current_task():
            raise NestedWrite(
                "a write inside a write transaction of the same task would wait for ever on "
                "SQLite's writer lock, which that transaction holds: finish the transaction "
                "first, or do the write in it"
            )
        return lock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: commits when the block ends, rolls back on an exception."""
        lock = self._writer_lock()
        if lock is None:
            async with self._writer() as session, session.begin():
                yield session
        else:
            writer = self._sqlite_writer_for()
            # The pooled connection first, the locks after. The other order makes a cycle
            # when the pool runs dry: this transaction holds the locks and waits for a
            # connection, while requests hold the connections and wait in :meth:`run` for
            # the locks (50 door scanners did it).
            async with self._write_engine.connect() as connection, lock.held():
                if not writer.lock_files(wait=False):
                    await writer.wait_for_files()
                try:
                    async with (
                        self._writer(bind=connection) as session,
                        session.begin(),
                    ):
                        yield session
                finally:
                    writer.unlock_files()
        self._committed(session.info)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` as one write transaction (see the module doc): it commits
        when ``work`` returns and rolls back when it raises. Keys ``work`` put in
        ``connection.info`` under the ``boxoffice.`` prefix are this transaction's (e.g. "entries
        were appended"): they go to the after-commit callbacks, or away with a rollback, never
        staying on the pooled connection for the next transaction."""
        lock = self._writer_lock()
        if lock is None:
            loop = asyncio.get_running_loop()
            slots = self._slots.get(loop)
            if slots is None:
                slots = self._slots[loop] = asyncio.Semaphore(self._write_slots)
            async with slots:
                done: tuple[T, CommitInfo] = await greenlet_spawn(self._run_lazily, work)
            self._committed(done[1])
            return done[0]
        loop = asyncio.get_running_loop()
        queue = self._write_queues.get(loop)
        if queue is None:
            queue = WriteQueue(self._sqlite_writer_for(), lock, self._committed)
            self._write_queues[loop] = queue
        return cast(T, await queue.submit(work))

    def _run_lazily(self, work: Callable[[Connection], T]) -> tuple[T, CommitInfo]:
        """PostgreSQL: ``work`` on a pooled connection in autocommit mode, all of it in one
        greenlet (connecting, running and closing through ``AsyncConnection`` took four,
        ~0.3 ms of CPU a transaction). The transaction is begun by the work's first write,
        or not at all when its writes are deferred to its end (``prepared.run_lazily``)."""
        with self._autocommit.connect() as connection:
            return run_lazily(connection, lambda lazy: scoped(lazy, work))

    def _committed(self, info: CommitInfo) -> None:
        for callback in self._after_commit:
            try:
                callback(info)
            except Exception:  # the change is committed: a hook's failure must not undo that
                log.exception("db.after_commit_failed")

    def _sqlite_writer_for(self) -> SQLiteWriter:
        if self._sqlite_writer is None:
            self._sqlite_writer = SQLiteWriter(self.engine.url)
        return self._sqlite_writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    @asynccontextmanager
    async def replica_read(self) -> AsyncIterator[AsyncSession]:
        """A read that may lag the primary by the replicas' bound, when the request allows it
        (``LAG_ALLOWED``): on a fit read replica when there is one
        (:mod:`~boxoffice.core.storage.replicas`), else :meth:`read`."""
        replica = None
        if self.replicas and LAG_ALLOWED.get():
            replica = await self.replicas.fit_one()
        reading = replica.read() if replica is not None else self.read()
        async with reading as session:
            yield session

    async def optimize(self) -> None:
        """Keep the query planner's statistics current. SQLite has no autovacuum/analyze:
        without statistics it prefers the low-selectivity status index to primary-key
        look-ups (100 ms instead of 5 ms for an id list over 100k events). ``ANALYZE``
        with ``analysis_limit`` is cheap enough to run at start-up and every few minutes.
        PostgreSQL's autovacuum keeps its own statistics."""
        if self.dialect == "sqlite":
            # In a committed transaction: the statistics it writes must not roll back.
            # analysis_limit bounds the work (approximate statistics, a few ms per index).
            async with self.engine.begin() as connection:
                await connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
                await connection.exec_driver_sql("ANALYZE")

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close the connections. The database may be used again afterwards (it reconnects
        lazily), as tests do after an app's lifespan ended."""
        self._write_queues.clear()
        if self._sqlite_writer is not None:
            writer, self._sqlite_writer = self._sqlite_writer, None
            await asyncio.get_running_loop().run_in_executor(writer.thread, writer.close)
            writer.thread.shutdown(wait=True)
        await self.replicas.close()
        await self.engine.dispose()
