"""Prepared statements for the hot paths: a Core statement compiled once per dialect and run
on the DB-API cursor underneath a SQLAlchemy ``Connection``.

Why: on this project's reference machine SQLAlchemy's execution machinery (compiled-cache
look-up, parameter construction, events, result metadata) costs about 60 µs per statement,
the SQLite driver itself about 40 µs. A purchase is a dozen statements, so the machinery
was more than half of the database time of a flash sale. :class:`Prepared` keeps what
matters of SQLAlchemy — the statement is written in Core, portable, compiled by the
dialect with its bind casts and type processors (UUIDs, UTC timestamps, JSON) — and drops
the per-execution rest. The statement runs in the ``Connection``'s transaction like any
other (see :meth:`boxoffice.core.storage.Database.run`).

Limits, on purpose: no expanding ``IN`` parameters (write the hot query so that it does not
need one) and no column defaults filled in for INSERTs (give every column: the hot paths
build whole records anyway). Both are refused when the statement is first compiled.

**Deferred writes.** Inside :meth:`boxoffice.core.storage.Database.run` a write whose outcome the
work does not need at once can be *deferred* (:meth:`Prepared.defer`): it runs before the
next statement on the connection, or when the work returns, together with the other
deferred writes. On PostgreSQL they go as one statement (each a data-modifying CTE, the
row counts read back), so a checkout's six writes cost one round trip instead of six —
round trips were most of its CPU in both the server and PostgreSQL. On SQLite they run one
by one, as if executed in place. A deferred write may say how many rows it must change
(``expect``) and what to raise otherwise; the first one that misses, in the order they were
deferred, raises, and the transaction rolls back. Deferred writes of one batch run on one
snapshot on PostgreSQL: they must not depend on each other's effects nor change one row
twice (inserting a row and its children is fine: foreign keys are checked at the end of
the statement). Outside ``Database.run`` (an ORM session's ``run_sync``) ``defer``
executes at once.
"""

from __future__ import annotations

import functools
import re
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

Params = Mapping[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Plan:
    """One statement compiled for one dialect (and, for an INSERT, one set of columns)."""

    sql: str
    #: For each positional parameter: (name, processor or None, value unless given).
    binds: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]
    #: Builds a row from a cursor tuple, applying the result processors; None: no rows.
    row: Callable[[Sequence[Any]], Any] | None
    #: (position, processor) of the parameters that have a processor.
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]
    #: A SELECT: in lazy work (see the module doc) it runs before the transaction begins.
    reads_only: bool

    def parameters(self, params: Params) -> list[Any]:
        try:
            values = [
                params[name] if default is _REQUIRED else params.get(name, default)
                for name, _, default in self.binds
            ]
        except KeyError as missing:
            raise KeyError(f"no value for the parameter {missing}") from None
        for index, process in self.processed:
            if values[index] is not None:
                values[index] = process(values[index])
        return values


_REQUIRED = object()


class Rows:
    """What an execution returned: the rows (for SELECT and RETURNING) and the row count."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class Prepared:
    """A statement (or, for dialect-specific constructs such as ``ON CONFLICT``, a function
    of the dialect name building it) to execute many times with different parameters."""

    def __init__(self, statement: Executable | Callable[[str], Executable]) -> None:
        self._build = statement if callable(statement) else (lambda _dialect: statement)
        self._statements: dict[str, Executable] = {}
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def execute(self, connection: Connection, params: Params | None = None) -> Rows:
        flush_deferred(connection)
        params = params or {}
        plan = self._plan(connection.dialect, params)
        if not plan.reads_only:
            begin_if_lazy(connection)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            rows = list(cursor.fetchall()) if cursor.description else []
            make = plan.row
            return Rows([make(row) for row in rows] if make else rows, cursor.rowcount)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, plan.sql, error) from error
        finally:
            cursor.close()

    def first(self, connection: Connection, params: Params | None = None) -> Any | None:
        return self.execute(connection, params).first()

    def execute_many(self, connection: Connection, many: Sequence[Params]) -> None:
        """The same statement for each parameter set (no rows back)."""
        if not many:
            return
        flush_deferred(connection)
        plan = self._plan(connection.dialect, many[0])
        begin_if_lazy(connection)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(plan.sql, [plan.parameters(params) for params in many])
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, plan.sql, error) from error
        finally:
            cursor.close()

    def defer(
        self,
        connection: Connection,
        params: Params | None = None,
        *,
        expect: int | None = None,
        otherwise: Callable[[], NoReturn] | None = None,
    ) -> None:
        """Run this write with the connection's next statement or at the end of the work
        (see the module doc); if it changes other than ``expect`` rows, call ``otherwise``
        (which raises). Outside ``Database.run``: at once."""
        params = params or {}
        plan = self._plan(connection.dialect, params)
        write = _Deferred(plan, plan.parameters(params), expect, otherwise)
        queue = connection.info.get(DEFERRED)
        if queue is None:
            _check([write], [_run_one(connection, write)])
        else:
            queue.append(write)

    def defer_many(self, connection: Connection, many: Sequence[Params]) -> None:
        """:meth:`defer` for each parameter set (no expectations)."""
        for params in many:
            self.defer(connection, params)

    def _plan(self, dialect: Dialect, params: Params) -> _Plan:
        statement = self._statements.get(dialect.name)
        if statement is None:
            statement = self._statements[dialect.name] = self._build(dialect.name)
        # An INSERT ... VALUES takes the columns given; an INSERT ... SELECT has its own
        # (and column keys would reach into the SET clause of an UPDATE in its CTEs).
        inserting = isinstance(statement, Insert) and statement.select is None
        columns = tuple(sorted(params)) if inserting else ()
        key = (dialect.name, columns)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _compile(statement, dialect, columns)
        return plan


#: ``Connection.info`` key of the deferred writes' queue; present only while
#: ``Database.run`` work runs (a transaction-scoped key: see
#: ``boxoffice.core.storage.work.scoped``).
DEFERRED = "boxoffice.deferred"


class _Deferred(NamedTuple):
    plan: _Plan
    values: list[Any]
    expect: int | None
    otherwise: Callable[[], NoReturn] | None


def start_deferring(connection: Connection) -> None:
    """From now on, :meth:`Prepared.defer` queues its writes on ``connection``."""
    connection.info[DEFERRED] = []


def flush_deferred(connection: Connection) -> None:
    """Run the queued writes before another statement (one statement on PostgreSQL) and
    check their row counts; the queue stays on (empty) for the rest of the work."""
    queue: list[_Deferred] | None = connection.info.get(DEFERRED)
    if not queue:
        return
    connection.info[DEFERRED] = []
    _run_checked(connection, queue, asynchronously=False)


def finish_deferred(connection: Connection) -> None:
    """Run the writes still queued when the work returns. In lazy work that has not begun a
    transaction (PostgreSQL) they go as one self-committing statement, which checks the row
    counts itself and rolls back on a miss. If it refuses, or breaks a constraint, the
    writes are tried again in a transaction one by one, in the order they were deferred:
    all of the statement's writes run, so a later one's unique violation (an order for a
    hold another request just took) can hide the earlier miss that explains the refusal
    (the hold was taken). The refusal then explains itself; a real conflict raises again;
    if the race went the other way meanwhile, they succeed."""
    queue: list[_Deferred] | None = connection.info.pop(DEFERRED, None)
    asynchronously = bool(connection.info.get(ASYNC_COMMIT))
    if not queue:
        return
    lazy: _Lazy | None = connection.info.get(LAZY)
    if lazy is not None and not lazy.begun and len(queue) <= MAX_TOGETHER:
        try:
            _run_together(connection, queue, asynchronously, checked_by_database=True)
            return
        except (_DatabaseRefused, IntegrityError):
            begin_if_lazy(connection)
            for write in queue:
                _check([write], [_run_one(connection, write)])
            return
    _run_checked(connection, queue, asynchronously)


def _run_checked(connection: Connection, queue: list[_Deferred], asynchronously: bool) -> None:
    begin_if_lazy(connection)
    if connection.dialect.name == "postgresql" and 1 < len(queue) <= MAX_TOGETHER:
        _check(queue, _run_together(connection, queue, asynchronously))
        return
    for write in queue:  # as if each ran in place: stop at the first that misses
        _check([write], [_run_one(connection, write)])


#: ``Connection.info`` key: the work asks its commit not to wait for the WAL flush.
ASYNC_COMMIT = "boxoffice.async_commit"


def commit_asynchronously(connection: Connection, asynchronously: bool = True) -> None:
    """PostgreSQL: let this work's commit skip the wait for the WAL flush (``False``: wait,
    the default). Applied by the last statement of deferred writes (``set_config(...,
    true)``, no round trip of its own): work that ends with none commits durably."""
    connection.info[ASYNC_COMMIT] = asynchronously


#: ``Connection.info`` key of lazy work (see :func:`run_lazily`).
LAZY = "boxoffice.lazy"
#: The SQLSTATE of ``boxoffice_refuse()`` (migration 0012): a deferred write missed.
REFUSED_SQLSTATE = "BX001"


class _Lazy:
    __slots__ = ("begun",)

    def __init__(self) -> None:
        self.begun = False


class _DatabaseRefused(Exception):
    pass


def run_lazily(connection: Connection, work: Callable[[Connection], T]) -> T:
    """PostgreSQL, on a connection in autocommit mode: run ``work`` so that the transaction
    begins only at its first write (reads before it run on their own, as each statement of
    a READ COMMITTED transaction would), and not at all when its only writes are the
    deferred ones at the end: those then commit by themselves as one statement. Two round
    trips (BEGIN, COMMIT) fewer for a checkout or a hold. Commits when ``work`` returns,
    rolls back when it raises; a connection whose rollback fails is discarded."""
    # Kept: reaching ``connection.info`` again after an interrupted statement (a task
    # cancelled mid-query) revalidates the connection and raises, hiding the cancellation.
    info = connection.info
    lazy = info[LAZY] = _Lazy()
    try:
        result = work(connection)
        if lazy.begun:
            _raw(connection, "COMMIT")
        return result
    except BaseException:
        if lazy.begun:
            try:
                _raw(connection, "ROLLBACK")
            except Exception:  # never hand a connection back inside a transaction
                connection.invalidate()
        raise
    finally:
        info.pop(LAZY, None)


def begin_if_lazy(connection: Connection) -> None:
    """Begin the transaction of lazy work before its first write (no-op otherwise)."""
    lazy: _Lazy | None = connection.info.get(LAZY)
    if lazy is not None and not lazy.begun:
        lazy.begun = True
        _raw(connection, "BEGIN")


def _raw(connection: Connection, sql: str) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _wrapped(connection, sql, error) from error
    finally:
        cursor.close()


#: At most this many writes go as one statement (a large order's tickets go one by one:
#: PostgreSQL takes at most 65,535 parameters per statement).
MAX_TOGETHER = 64


def _check(writes: Sequence[_Deferred], counts: Sequence[int]) -> None:
    for write, count in zip(writes, counts, strict=True):
        if write.expect is not None and count != write.expect:
            if write.otherwise is None:
                raise RuntimeError(f"expected {write.expect} rows, not {count}: {write.plan.sql}")
            write.otherwise()


def _run_one(connection: Connection, write: _Deferred) -> int:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(write.plan.sql, write.values)
        return len(cursor.fetchall()) if cursor.description else int(cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as error:
        raise _wrapped(connection, write.plan.sql, error) from error
    finally:
        cursor.close()


_PARAMETER = re.compile(r"\$(\d+)")


def _shifted(offset: int, match: re.Match[str]) -> str:
    return f"${int(match.group(1)) + offset}"


@functools.lru_cache(maxsize=256)
def _together(
    statements: tuple[tuple[str, int, bool, int | None], ...],
    asynchronously: bool,
    checked_by_database: bool,
) -> str:
    """One statement of (sql, parameter count, returns rows, rows expected) writes: each a
    CTE returning a row per row it changed, the main query counting them — and, if
    ``checked_by_database``, raising (``boxoffice_refuse()``) unless every count is the
    expected one, so that the statement rolls itself back. The counts come first: PostgreSQL
    runs each CTE when the main query first reads it, so the writes run in the order they
    were deferred (a checkout's quota update last: the hot row stays locked only from its
    UPDATE to the commit)."""
    parts, offset = [], 0
    for index, (sql, parameters, returns_rows, _) in enumerate(statements):
        part = _PARAMETER.sub(functools.partial(_shifted, offset), sql)
        parts.append(f"w{index} AS ({part}{'' if returns_rows else ' RETURNING 1'})")
        offset += parameters
    # Only the statements' own SQL, generated names and integers go in: no value is spliced.
    counts = [f"(SELECT count(*) FROM w{i})" for i in range(len(statements))]  # noqa: S608
    columns = []
    if checked_by_database:
        expected = [
            f"{count} = {int(expect)}"
            for count, (*_, expect) in zip(counts, statements, strict=True)
            if expect is not None
        ]
        if expected:
            columns.append(f"CASE WHEN {' AND '.join(expected)} THEN 0 ELSE boxoffice_refuse() END")
    if asynchronously:
        columns.append("set_config('synchronous_commit', 'off', true)")
    return f"WITH {', '.join(parts)} SELECT {', '.join(counts + columns)}"


def _run_together(
    connection: Connection,
    writes: Sequence[_Deferred],
    asynchronously: bool = False,
    checked_by_database: bool = False,
) -> list[int]:
    """PostgreSQL: the writes in one statement (one round trip); how many rows each changed.
    Raises :class:`_DatabaseRefused` if ``checked_by_database`` and a count missed."""
    sql = _together(
        tuple((w.plan.sql, len(w.plan.binds), w.plan.row is not None, w.expect) for w in writes),
        asynchronously,
        checked_by_database,
    )
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, [value for write in writes for value in write.values])
        row = cursor.fetchone() or ()
        return [int(count) for count in row[: len(writes)]]
    except connection.dialect.loaded_dbapi.Error as error:
        if getattr(error, "sqlstate", None) == REFUSED_SQLSTATE:
            raise _DatabaseRefused from error
        raise _wrapped(connection, sql, error) from error
    finally:
        cursor.close()


def _wrapped(connection: Connection, sql: str, error: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``
    ...), so that callers catch the same classes whichever way a statement ran.

    One that says the connection is gone (a server restart, a failover) also does what
    SQLAlchemy does for the statements it runs itself: every pooled connection opened
    before now (this one included) is replaced at its next check-out. A restart ended them
    all; handed out again, each would fail a request of its own, and under load none sits
    idle long enough to be pinged first. (Only the pool is told: this ``Connection`` stays
    as it is for the work's own clean-up.)"""
    dialect = connection.dialect
    lost = not connection.invalidated and dialect.is_disconnect(
        cast(Any, error), connection.connection.dbapi_connection, None
    )
    if lost:
        connection.engine.pool._invalidate(connection.connection, error, _checkin=False)
    return DBAPIError.instance(
        sql, None, error, dialect.loaded_dbapi.Error, dialect=dialect, connection_invalidated=lost
    )


def _compile(statement: Executable, dialect: Dialect, columns: tuple[str, ...]) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(columns) or None)  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch:
        missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        raise ValueError(f"give every column to a prepared statement; missing: {missing}")
    if any(bind.expanding for bind in compiled.binds.values()):
        raise ValueError("a prepared statement cannot take an expanding IN parameter")
    processors = compiled._bind_processors
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        default = _REQUIRED if bind.required else bind.effective_value
        binds.append((name, cast(Callable[[Any], Any] | None, processors.get(name)), default))
    row = None
    if compiled._result_columns:
        names = [column.keyname for column in compiled._result_columns]
        result_processors = [
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        ]
        record = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        converters = [(i, p) for i, p in enumerate(result_processors) if p is not None]

        def row(values: Sequence[Any]) -> Any:
            if not converters:
                return record._make(values)
            converted = list(values)
            for index, process in converters:
                if converted[index] is not None:
                    converted[index] = process(converted[index])
            return record._make(converted)

    processors_at = tuple((i, p) for i, (_, p, _) in enumerate(binds) if p is not None)
    reads_only = not (compiled.isinsert or compiled.isupdate or compiled.isdelete)
    return _Plan(compiled.string, tuple(binds), row, processors_at, reads_only)
