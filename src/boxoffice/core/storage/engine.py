"""Engines for both databases: URLs, drivers, pooling, and the per-connection setup.

SQLite (file, WAL) is the embedded default; PostgreSQL is the scale-out engine. SQLite write
transactions start with ``BEGIN IMMEDIATE`` (the write lock up front: no deadlock-prone lock
upgrades); PostgreSQL relies on row locks and conditional updates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, Select, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from boxoffice.core.storage.prepared import DEFERRED, begin_if_lazy, flush_deferred

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Rows ANALYZE samples per index on SQLite.
ANALYSIS_LIMIT = 1000
WRITE_OPTION = "boxoffice_write"


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
#: Every engine's options. A statement's parameters are never part of an error's message
#: (``hide_parameters``): errors are logged, and parameters hold password hashes, e-mail
#: addresses and secrets.
ENGINE_OPTIONS: dict[str, Any] = {
    "json_serializer": _json_text,
    "json_deserializer": msgspec.json.decode,
    "hide_parameters": True,
}


#: How long a new PostgreSQL connection may take to be established (asyncpg's default is a
#: minute). A connection attempt that reaches a server in the middle of a restart can be
#: left waiting for an answer that never comes; while it waits it holds a write slot and
#: its requests, and the process looks hung for that minute after the database is back
#: (the restart drill saw it). Refused sooner, the request is a 503 to retry and the next
#: attempt connects to the server that is up again.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5.0


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
            **ENGINE_OPTIONS,
        )
        configure_sqlite(engine.sync_engine)
        return engine
    engine = create_async_engine(
        parsed,
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        **pooling,
        **ENGINE_OPTIONS,
    )
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
