"""Storage: engines, sessions and the column types every table shares.

SQLite (file, WAL) is the embedded default; PostgreSQL is the scale-out engine. Both run the
same SQLAlchemy code. Writes go through :meth:`Database.transaction`: on SQLite it starts with
``BEGIN IMMEDIATE`` so a write transaction takes the write lock up front (no deadlock-prone
lock upgrades, and ``busy_timeout`` queues writers fairly); on PostgreSQL it relies on row
locks and conditional updates. Reads go through :meth:`Database.read` (a plain ``BEGIN``).

SQLite has one writer at a time. ORM write transactions queue on an asyncio lock (per event
loop) and, between processes, on a file lock (``flock`` on ``<database>-writers.lock``):
waiting there costs nothing, whereas connections racing for SQLite's lock would each sleep in
its busy handler (1, 2, 5, ... 100 ms naps) and leave the database idle between them.

Hot paths (placing a hold or an order, checking out) use :meth:`Database.run`: the
transaction is one *synchronous* function over a SQLAlchemy ``Connection`` with prepared
statements (:mod:`boxoffice.core.prepared`). On SQLite it goes through the process's one
writer (:mod:`boxoffice.core.sqlite_writer`: group commit, on the loop's thread when the lock
is free); on PostgreSQL in one greenlet over asyncpg (no thread at all), on a connection in
autocommit mode whose transaction begins at the work's first write — or never, when its
writes are all deferred to its end and commit as one statement (``prepared.run_lazily``).
Same code, same SQL, both engines.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Select,
    String,
    Table,
    TypeDecorator,
    Uuid,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.util import greenlet_spawn

from boxoffice.core.clock import ensure_utc
from boxoffice.core.prepared import (
    DEFERRED,
    begin_if_lazy,
    finish_deferred,
    flush_deferred,
    run_lazily,
    start_deferring,
)
from boxoffice.logs import get_logger

if TYPE_CHECKING:
    from boxoffice.core.sqlite_writer import SQLiteWriter, WriteQueue

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
WRITE_OPTION = "boxoffice_write"


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
        configure_sqlite(engine.sync_engine)
        return engine
    engine = create_async_engine(parsed, **pooling, **JSON_CODEC)
    ping_when_idle(engine.sync_engine)
    flush_before_statements(engine.sync_engine)
    return engine


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 2.0


def ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` with a memory: ping a pooled connection only if it
    sat idle for :data:`PING_AFTER_IDLE_SECONDS` (a server restart, an idle timeout or a
    network cut). A connection back from work a moment ago is as good as a ping, and
    pinging it anyway cost every transaction a round trip (about 5 % of a checkout's CPU
    under a flash sale). A dead connection is replaced, as with ``pool_pre_ping``."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["boxoffice_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("boxoffice_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool replaces it and tries again
            raise DisconnectionError("the pooled connection is gone") from error


def flush_before_statements(engine: Engine) -> None:
    """A statement run through SQLAlchemy (not a prepared one) in ``Database.run`` work
    first runs the writes deferred before it, as a prepared statement does, and, unless it
    is a Core SELECT, begins lazy work's transaction."""

    @event.listens_for(engine, "before_cursor_execute")
    def _flush(
        connection: Connection, _cursor: Any, _sql: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if connection.info.get(DEFERRED):
            flush_deferred(connection)
        compiled = getattr(context, "compiled", None)
        if not isinstance(getattr(compiled, "statement", None), Select):
            begin_if_lazy(connection)  # anything but a Core SELECT may write


def configure_sqlite(engine: Engine) -> None:
    flush_before_statements(engine)

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
        write = connection.get_execution_options().get(WRITE_OPTION, False)
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


def scoped(connection: Connection, work: Callable[[Connection], T]) -> tuple[T, CommitInfo]:
    """Run ``work``, its deferred writes included (:mod:`boxoffice.core.prepared`), and take
    its transaction-scoped ``info`` keys off the connection."""
    start_deferring(connection)
    try:
        result = work(connection)
        finish_deferred(connection)
    finally:
        connection.info.pop(DEFERRED, None)
        taken = {
            k: connection.info.pop(k)
            for k in list(connection.info)
            if isinstance(k, str) and k.startswith(TRANSACTION_KEYS)
        }
    return result, taken


class Database:
    """The engine plus the ways in: a write transaction, a read, and :meth:`run`."""

    def __init__(self, engine: AsyncEngine, *, write_slots: int = 3) -> None:
        """``write_slots``: on PostgreSQL, how many :meth:`run` transactions may be under
        way at once in this process. Buyers racing for one quota queue on its row lock;
        while they wait there each holds a pooled connection, and every round trip of the
        transaction holding the lock waits for a busy event loop. Queued here instead, they
        hold nothing (measured: 3 slots did 252 checkouts/s with p99 0.9 s where no limit
        did 183/s with p99 4.7 s). SQLite's writer takes turns by itself."""
        self.engine = engine
        self._write_slots = write_slots
        self._autocommit = engine.sync_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._writer = async_sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._after_commit: list[Callable[[CommitInfo], None]] = []
        #: SQLite: one write transaction at a time per event loop (see the module doc).
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
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
                        writer.thread, lambda: writer.lock_files(wait=True)
                    )
                try:
                    async with self._writer() as session, session.begin():
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
        from boxoffice.core.sqlite_writer import WriteQueue  # it builds on this module

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
            from boxoffice.core.sqlite_writer import SQLiteWriter  # it builds on this module

            self._sqlite_writer = SQLiteWriter(self.engine.url)
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
        """Close the connections. The database may be used again afterwards (it reconnects
        lazily), as tests do after an app's lifespan ended."""
        self._write_queues.clear()
        if self._sqlite_writer is not None:
            writer, self._sqlite_writer = self._sqlite_writer, None
            await asyncio.get_running_loop().run_in_executor(writer.thread, writer.close)
            writer.thread.shutdown(wait=True)
        await self.engine.dispose()
