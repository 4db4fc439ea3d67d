"""Storage: engines, sessions and the column types every table shares.

SQLite (file, WAL) is the embedded default; PostgreSQL is the scale-out engine. Both run the
same SQLAlchemy code. Writes go through :meth:`Database.transaction`: on SQLite it starts with
``BEGIN IMMEDIATE`` so a write transaction takes the write lock up front (no deadlock-prone
lock upgrades, and ``busy_timeout`` queues writers fairly); on PostgreSQL it relies on row
locks and conditional updates. Reads go through :meth:`Database.read` (a plain ``BEGIN``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, TypeDecorator, Uuid, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from boxoffice.core.clock import ensure_utc

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
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, **pooling)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so that we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """The engine plus the two ways in: a write transaction and a read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer = async_sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False
        )
        self._reader = async_sessionmaker(engine, expire_on_commit=False)
        self._after_commit: list[Callable[[AsyncSession], None]] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def after_commit(self, callback: Callable[[AsyncSession], None]) -> None:
        """Run ``callback(session)`` after each committed write transaction (e.g. wake the
        journal dispatcher when the session appended entries)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: commits when the block ends, rolls back on an exception."""
        async with self._writer() as session, session.begin():
            yield session
        for callback in self._after_commit:
            callback(session)

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
        await self.engine.dispose()
