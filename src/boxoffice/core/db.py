"""Storage: engines, sessions and the column types every table shares.

SQLite (file, WAL) is the embedded default; PostgreSQL is the scale-out engine. Both run the
same SQLAlchemy code. Writes go through :meth:`Database.transaction`: on SQLite it starts with
``BEGIN IMMEDIATE`` so a write transaction takes the write lock up front (no deadlock-prone
lock upgrades, and ``busy_timeout`` queues writers fairly); on PostgreSQL it relies on row
locks and conditional updates. Reads go through :meth:`Database.read` (a plain ``BEGIN``).

SQLite has one writer at a time. Within a process, write transactions queue on an asyncio
lock before ``BEGIN IMMEDIATE``: waiting there costs nothing, whereas connections racing for
the file lock would each sleep in SQLite's busy handler (1, 2, 5, ... 100 ms naps) and leave
the database idle between them. Between processes, writers queue on a file lock (``flock``
on ``<database>-writers.lock``), which the kernel hands over without naps.

Hot paths (placing a hold, placing an order) use :meth:`Database.run`: the transaction is
one *synchronous* function over a SQLAlchemy ``Connection`` with prepared statements
(:mod:`boxoffice.core.prepared`). On SQLite it runs over the pysqlite driver on the event
loop's own thread when the write lock is free — the whole transaction takes well under a
millisecond, less than a hop to another thread and back (aiosqlite hops per statement) —
and in a writer thread, waiting for the lock, when another process holds it. On PostgreSQL
it runs through ``AsyncConnection.run_sync`` (greenlets over asyncpg, no thread at all).
Same code, same SQL, both engines.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import msgspec
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    event,
    text,
)
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from boxoffice.core.clock import ensure_utc
from boxoffice.logs import get_logger

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: SQLite's busy handler queues writers
    fcntl = None  # type: ignore[assignment]

log = get_logger(__name__)

#: Stable constraint names, so migrations can alter them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Rows ANALYZE samples per index on SQLite.
ANALYSIS_LIMIT = 1000
#: The hot-path writer copies the WAL into the database every this many commits (about
#: 20 pages each: some 8 MB of WAL at most between checkpoints).
CHECKPOINT_EVERY = 100
_WRITE_OPTION = "boxoffice_write"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both engines; a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        # SQLite keeps text: store a fixed-width UTC form so that string order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return ensure_utc(value)


#: JSON that is JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
UUIDType = Uuid(as_uuid=True)


def CurrencyCode() -> String:
    return String(3)


def normalize_url(url: str) -> URL:
    """Accept ``sqlite:///file`` and ``postgresql://...`` and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///PATH "
            "or postgresql://USER@HOST/DB"
        )
    return parsed


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'boxoffice.sqlite3'}"


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


#: JSON columns are encoded and decoded by msgspec (several times faster than the standard
#: library's ``json``, which SQLAlchemy uses otherwise; a purchase writes six JSON values).
JSON_CODEC: dict[str, Any] = {
    "json_serializer": _json_text,
    "json_deserializer": msgspec.json.decode,
}


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An engine for ``url``. ``pool_size=0`` disables pooling (a connection per checkout):
    for tests, whose HTTP client runs the app on another event loop than the test's own, and
    asyncpg connections belong to the loop that opened them."""
    parsed = normalize_url(url)
    pooling: dict[str, Any] = (
        {"poolclass": NullPool}
        if pool_size == 0
        else {"pool_size": pool_size, "max_overflow": max_overflow}
    )
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("boxoffice needs an SQLite *file* (WAL mode): give a path")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pooling,
            **JSON_CODEC,
        )
        _configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, **pooling, **JSON_CODEC)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


T = TypeVar("T")


#: The escape character for :func:`substring_pattern` (pass it as ``like(..., escape=…)``).
LIKE_ESCAPE = "\\"


def substring_pattern(text: str) -> str:
    """A lower-cased LIKE pattern that finds ``text`` anywhere, its own ``%`` and ``_`` taken
    literally (an address like ``jo_doe@`` must match itself, not any character)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def table_of(model: type[DeclarativeBase]) -> Table:
    """A model's table, for Core statements (hot paths build them once, at import)."""
    return cast(Table, model.__table__)


#: ``Connection.info`` / ``Session.info`` dict handed to after-commit callbacks.
CommitInfo = dict[Any, Any]


TRANSACTION_KEYS = "boxoffice."


def _scoped(connection: Connection, work: Callable[[Connection], T]) -> tuple[T, CommitInfo]:
    """Run ``work`` and take its transaction-scoped ``info`` keys off the connection."""
    try:
        result = work(connection)
    finally:
        taken = {k: connection.info.pop(k) for k in list(connection.info)
                 if isinstance(k, str) and k.startswith(TRANSACTION_KEYS)}  # fmt: skip
    return result, taken


class _WriterBusy(Exception):
    """Another process holds SQLite's write lock."""


class _SQLiteWriter:
    """The process's one SQLite write connection for :meth:`Database.run` (pysqlite, kept
    open: a pool check-out per transaction cost a fifth of a small one), a thread to wait
    in, and the file lock that queues writers across processes.

    Between processes, writers queue on ``flock`` on a file beside the database: the kernel
    hands the lock to the next waiter the moment it is free, whereas SQLite's busy handler
    naps (1, 2, 5 ... 100 ms) and leaves the database idle between naps. Without the file
    lock (another program writing, or no ``fcntl``) SQLite's own locking still decides."""

    def __init__(self, url: URL) -> None:
        engine = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=1, max_overflow=0, **JSON_CODEC,
        )  # fmt: skip
        _configure_sqlite(engine)

        @event.listens_for(engine, "connect")
        def _no_checkpoints_in_commits(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        self.engine = engine.execution_options(**{_WRITE_OPTION: True})
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection: Connection | None = None
        self._lock_file = open(f"{url.database}-writers.lock", "ab")  # noqa: SIM115 - kept open
        self._commits = 0

    def lock_files(self, *, wait: bool) -> bool:
        """Take the cross-process writer lock; without ``wait``, only if it is free now."""
        if fcntl is None:
            return True
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def unlock_files(self) -> None:
        if fcntl is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def write(self, work: Callable[[Connection], T], *, wait: bool) -> tuple[T, CommitInfo]:
        """One write transaction running ``work``. Without ``wait`` it refuses at once
        (:class:`_WriterBusy`, nothing done) if another process is writing, so that the
        event loop's thread never sleeps on a lock."""
        if not self.lock_files(wait=wait):
            raise _WriterBusy
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
                raise _WriterBusy from error
            with transaction:
                done = _scoped(connection, work)
        finally:
            self.unlock_files()
        self._commits += 1
        return done

    def checkpoint_due(self) -> bool:
        return self._commits >= CHECKPOINT_EVERY

    def checkpoint(self) -> None:
        """Copy the WAL back into the database file, holding the writers' locks so that it
        completes and the next commit starts the WAL afresh. Run on the writer thread: a
        commit that crossed SQLite's auto-checkpoint threshold did this on the event loop's
        thread (~40 % of a purchase's database CPU); here the loop serves requests meanwhile.
        Every few hundred commits also copies each hot page (the quota row's) once."""
        self._commits = 0
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


class Database:
    """The engine plus the ways in: a write transaction, a read, and :meth:`run`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer = async_sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        )
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._after_commit: list[Callable[[CommitInfo], None]] = []
        #: SQLite: one write transaction at a time per event loop (see the module doc).
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._sqlite_writer: _SQLiteWriter | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def after_commit(self, callback: Callable[[CommitInfo], None]) -> None:
        """Run ``callback(info)`` after each committed write transaction with its session's
        (or connection's) ``info`` dict (e.g. wake the dispatcher when entries were appended)."""
        self._after_commit.append(callback)

    def _writer_lock(self) -> asyncio.Lock | None:
        if self.dialect != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
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
            async with lock:
                if not writer.lock_files(wait=False):
                    await asyncio.get_running_loop().run_in_executor(
                        writer.thread, lambda: writer.lock_files(wait=True))  # fmt: skip
                try:
                    async with self._writer() as session, session.begin():
                        yield session
                finally:
                    writer.unlock_files()
        for callback in self._after_commit:
            callback(session.info)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` as one write transaction (see the module doc): it commits
        when ``work`` returns and rolls back when it raises. Keys ``work`` put in
        ``connection.info`` under the ``boxoffice.`` prefix are this transaction's (e.g. "entries
        were appended"): they go to the after-commit callbacks, or away with a rollback, never
        staying on the pooled connection for the next transaction."""
        lock = self._writer_lock()
        if lock is None:
            async with self.engine.begin() as connection:
                result, info = await connection.run_sync(_scoped, work)
        else:
            writer = self._sqlite_writer_for()
            async with lock:
                try:
                    result, info = writer.write(work, wait=False)
                except _WriterBusy:
                    result, info = await asyncio.get_running_loop().run_in_executor(
                        writer.thread, lambda: writer.write(work, wait=True))  # fmt: skip
                if writer.checkpoint_due():
                    await asyncio.get_running_loop().run_in_executor(
                        writer.thread, writer.checkpoint)  # fmt: skip
        for callback in self._after_commit:
            callback(info)
        return result

    def _sqlite_writer_for(self) -> _SQLiteWriter:
        if self._sqlite_writer is None:
            self._sqlite_writer = _SQLiteWriter(self.engine.url)
        return self._sqlite_writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
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
        if self._sqlite_writer is not None:
            writer, self._sqlite_writer = self._sqlite_writer, None
            await asyncio.get_running_loop().run_in_executor(writer.thread, writer.close)
            writer.thread.shutdown(wait=True)
        await self.engine.dispose()
