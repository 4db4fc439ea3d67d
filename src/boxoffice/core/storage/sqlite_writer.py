"""SQLite's hot-path writer: one write connection per process, group commit, and the file
lock that queues writers across processes (:meth:`boxoffice.core.storage.Database.run`).

SQLite has one writer at a time, so the question is only how cheaply writers take turns:

* **Group commit.** Work submitted while the writer is busy (or in the same turn of the event
  loop) runs in one transaction, each piece in its own SAVEPOINT: a piece that raises is
  rolled back alone and its caller gets the exception; the others commit together, and every
  caller hears back only after that commit. Under load this writes the hot pages (the quota
  row, the indexes' last pages) once per batch instead of once per purchase, and takes the
  locks once. An idle server commits each piece at once (a batch of one, no savepoint).
* **On the loop's thread when the lock is free.** A batch takes well under a millisecond:
  less than a hop to a thread and back. When another process is writing, the batch runs on
  the writer thread instead, waiting there for the lock while the loop serves requests.
* **Between processes, ``flock``** on ``<database>-writers.lock``: the kernel hands the lock
  to the next waiter the moment it is free, whereas SQLite's busy handler naps (1, 2, 5 ...
  100 ms) and leaves the database idle between naps. Without the file lock (another program
  writing, or no ``fcntl``) SQLite's own locking still decides.
* **Checkpoints off the commit.** The writer copies the WAL into the database every
  ``CHECKPOINT_EVERY`` commits on its thread, holding the locks so that it completes; SQLite's
  auto-checkpoint ran inside whichever commit crossed its threshold, on the loop's thread
  (~40 % of a purchase's database CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from boxoffice.core.storage.engine import (
    ENGINE_OPTIONS,
    SQLITE_BUSY_TIMEOUT_MS,
    WRITE_OPTION,
    configure_sqlite,
)
from boxoffice.core.storage.work import CommitInfo, scoped
from boxoffice.logs import get_logger

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: SQLite's busy handler queues writers
    fcntl = None  # type: ignore[assignment]

log = get_logger(__name__)

#: Copy the WAL into the database every this many commits (some 10 MB of WAL at most).
CHECKPOINT_EVERY = 100
#: At most this many pieces of work per transaction (bounds what one failure can delay).
MAX_BATCH = 64

Work = Callable[[Connection], Any]
#: A piece's outcome: its result and transaction-scoped info, or what it raised.
Outcome = tuple[Any, CommitInfo] | Exception


class WriterBusy(Exception):
    """Another process holds SQLite's write lock."""


#: How long a write waits for its turn at the process's writer lock before it gives up.
#: A holder keeps it for milliseconds, or for up to ``SQLITE_BUSY_TIMEOUT_MS`` behind
#: another process: after a minute the holder is never letting go (a bug), and the waiter
#: says which task holds it and where that task waits, instead of hanging with it.
WRITER_LOCK_PATIENCE_SECONDS = 60.0


class WriterStuck(TimeoutError):
    """The writer lock stayed held for :data:`WRITER_LOCK_PATIENCE_SECONDS`: a bug."""


class WriterLock:
    """SQLite's writers in one event loop take turns here (ORM transactions and the
    :class:`WriteQueue`'s batches): an asyncio lock that knows which task holds it."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        #: The task holding the lock, and since when (event loop time).
        self.holder: asyncio.Task[Any] | None = None
        self._since = 0.0

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(WRITER_LOCK_PATIENCE_SECONDS):
                await self._lock.acquire()
        except TimeoutError as error:
            raise WriterStuck(self._stuck(loop.time())) from error
        self.holder, self._since = asyncio.current_task(), loop.time()
        try:
            yield
        finally:
            self.holder = None
            self._lock.release()

    def _stuck(self, now: float) -> str:
        holder = self.holder
        if holder is None:
            return "SQLite's writer lock stayed taken, by no task known"
        stack = io.StringIO()
        holder.print_stack(limit=12, file=stack)
        return (
            f"SQLite's writer lock has been held for {now - self._since:.0f} s by task "
            f"{holder.get_name()!r}; it waits here:\n{stack.getvalue()}"
        )


class SQLiteWriter:
    """The process's one SQLite write connection (pysqlite, kept open: a pool check-out per
    transaction cost a fifth of a small one), its thread, and the writers' file lock."""

    def __init__(self, url: URL) -> None:
        engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=1,
            max_overflow=0,
            **ENGINE_OPTIONS,
        )
        configure_sqlite(engine)

        @event.listens_for(engine, "connect")
        def _no_checkpoints_in_commits(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        self.engine = engine.execution_options(**{WRITE_OPTION: True})
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: Connection | None = None
        self._lock_file = open(f"{url.database}-writers.lock", "ab")  # noqa: SIM115 - kept open
        self._commits = 0
        #: One connection, one user at a time (a process normally has one event loop; tests
        #: may run several, on several threads).
        self._in_use = threading.Lock()

    def lock_files(self, *, wait: bool) -> bool:
        """Take the cross-process writer lock; without ``wait``, only if it is free now."""
        if fcntl is None:
            return True
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    async def wait_for_files(self) -> None:
        """Wait on the writer's thread for the writers' file lock (another process has it),
        leaving the event loop free. A waiter cancelled meanwhile (a client gone, a
        shutdown) still gets the lock once the thread does: it is given back there at once,
        or no other process could write again."""
        waiting = asyncio.get_running_loop().run_in_executor(
            self.thread, lambda: self.lock_files(wait=True)
        )
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            with contextlib.suppress(RuntimeError):  # the writer was closed: the lock with it
                self.thread.submit(self.unlock_files)
            raise

    def unlock_files(self) -> None:
        if fcntl is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def write(self, works: Sequence[Work], *, wait: bool) -> list[Outcome]:
        """One transaction running ``works``, each in a savepoint (one alone runs bare).
        Without ``wait`` it refuses at once (:class:`WriterBusy`, nothing done) if another
        process — or another event loop's thread in this one — is writing, so that the event
        loop's thread never sleeps on a lock. Raises (for all) if the commit fails."""
        if not self._in_use.acquire(blocking=wait):
            raise WriterBusy
        try:
            return self._write(works, wait=wait)
        finally:
            self._in_use.release()

    def _write(self, works: Sequence[Work], *, wait: bool) -> list[Outcome]:
        if not self.lock_files(wait=wait):
            raise WriterBusy
        try:
            connection = self._connection
            if connection is None or connection.closed or connection.invalidated:
                connection = self._connection = self.engine.connect()
            driver = connection.connection.dbapi_connection
            assert driver is not None
            driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS if wait else 0}")
            try:
                transaction = connection.begin()
            except OperationalError as error:
                if wait or "locked" not in str(error.orig):
                    raise
                raise WriterBusy from error
            with transaction:
                if len(works) == 1:
                    try:
                        outcomes: list[Outcome] = [scoped(connection, works[0])]
                    except Exception as error:  # handed to its caller
                        transaction.rollback()
                        return [error]
                else:
                    outcomes = [_in_savepoint(driver, connection, work) for work in works]
        finally:
            self.unlock_files()
        self._commits += 1
        return outcomes

    def checkpoint_due(self) -> bool:
        return self._commits >= CHECKPOINT_EVERY

    def checkpoint(self) -> None:
        """Copy the WAL back into the database file, holding the writers' locks so that it
        completes and the next commit starts the WAL afresh (on the writer thread). Every
        hundred commits also copies each hot page once instead of once per checkpoint."""
        self._commits = 0
        with self._in_use:
            self._checkpoint()

    def _checkpoint(self) -> None:
        self.lock_files(wait=True)
        try:
            connection = self._connection
            if connection is not None and not connection.closed:
                driver = connection.connection.dbapi_connection
                assert driver is not None
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:  # the next one catches up; SQLite stays consistent
            log.warning("sqlite.checkpoint_failed", error=str(error))
        finally:
            self.unlock_files()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self.engine.dispose()
        self._lock_file.close()


def _in_savepoint(driver: Any, connection: Connection, work: Work) -> Outcome:
    driver.execute("SAVEPOINT work")
    try:
        outcome: Outcome = scoped(connection, work)
    except Exception as error:  # rolled back alone; to its caller
        driver.execute("ROLLBACK TO work")
        outcome = error
    driver.execute("RELEASE work")
    return outcome


class WriteQueue:
    """Work waiting for the writer, for one event loop. The first piece to arrive starts a
    flush on the next turn of the loop; whatever arrives until then, or while a batch is
    being written, goes into the next batch."""

    def __init__(
        self, writer: SQLiteWriter, lock: WriterLock, committed: Callable[[CommitInfo], None]
    ) -> None:
        """``committed(info)`` runs the after-commit hooks; it must not raise."""
        self.writer = writer
        self.lock = lock
        self.committed = committed
        self.pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def submit(self, work: Work) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self.pending.append((work, done))
        if self.flushing is None:
            self.flushing = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        """Write the queue batch by batch, answering every caller: a caller whose work was
        never answered would wait for ever (nothing else resolves its future)."""
        batch: list[tuple[Work, asyncio.Future[Any]]] = []
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                outcomes = await self._write([work for work, _ in batch])
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        if not done.done():
                            done.set_exception(outcome)
                        continue
                    result, info = outcome
                    self.committed(info)
                    if not done.done():
                        done.set_result(result)
                batch = []
        except BaseException:  # cancelled (the loop is closing): so are the callers
            for _, done in batch + self.pending:
                done.cancel()
            self.pending = []
            raise
        finally:
            self.flushing = None

    async def _write(self, works: list[Work]) -> list[Outcome]:
        """The batch's outcomes; an exception for each piece when nothing was written (the
        commit failed, or the batch never got its turn). Never raises an ``Exception``."""
        loop = asyncio.get_running_loop()
        try:
            async with self.lock.held():
                try:
                    outcomes = self.writer.write(works, wait=False)
                except WriterBusy:
                    writer = self.writer
                    outcomes = await loop.run_in_executor(
                        writer.thread, lambda: writer.write(works, wait=True)
                    )
                if self.writer.checkpoint_due():
                    await self._checkpoint()
        except Exception as error:  # nothing was written
            return [error] * len(works)
        return outcomes

    async def _checkpoint(self) -> None:
        """The batch is committed: whatever happens here must not undo its answers."""
        try:
            await asyncio.get_running_loop().run_in_executor(
                self.writer.thread, self.writer.checkpoint
            )
        except Exception as error:  # the next one catches up (e.g. the writer was closed)
            log.warning("sqlite.checkpoint_failed", error=str(error))
