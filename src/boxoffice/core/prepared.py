"""Prepared statements for the hot paths: a Core statement compiled once per dialect and run
on the DB-API cursor underneath a SQLAlchemy ``Connection``.

Why: on this project's reference machine SQLAlchemy's execution machinery (compiled-cache
look-up, parameter construction, events, result metadata) costs about 60 µs per statement,
the SQLite driver itself about 40 µs. A purchase is a dozen statements, so the machinery
was more than half of the database time of a flash sale. :class:`Prepared` keeps what
matters of SQLAlchemy — the statement is written in Core, portable, compiled by the
dialect with its bind casts and type processors (UUIDs, UTC timestamps, JSON) — and drops
the per-execution rest. The statement runs in the ``Connection``'s transaction like any
other (see :meth:`boxoffice.core.db.Database.run`).

Limits, on purpose: no expanding ``IN`` parameters (write the hot query so that it does not
need one) and no column defaults filled in for INSERTs (give every column: the hot paths
build whole records anyway). Both are refused when the statement is first compiled.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

Params = Mapping[str, Any]


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

    def parameters(self, params: Params) -> list[Any]:
        try:
            values = [params[name] if default is _REQUIRED else params.get(name, default)
                      for name, _, default in self.binds]  # fmt: skip
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
        params = params or {}
        plan = self._plan(connection.dialect, params)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            rows = list(cursor.fetchall()) if cursor.description else []
            make = plan.row
            return Rows([make(row) for row in rows] if make else rows, cursor.rowcount)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, plan, error) from error
        finally:
            cursor.close()

    def first(self, connection: Connection, params: Params | None = None) -> Any | None:
        return self.execute(connection, params).first()

    def execute_many(self, connection: Connection, many: Sequence[Params]) -> None:
        """The same statement for each parameter set (no rows back)."""
        if not many:
            return
        plan = self._plan(connection.dialect, many[0])
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(plan.sql, [plan.parameters(params) for params in many])
        except connection.dialect.loaded_dbapi.Error as error:
            raise _wrapped(connection, plan, error) from error
        finally:
            cursor.close()

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


def _wrapped(connection: Connection, plan: _Plan, error: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``
    ...), so that callers catch the same classes whichever way a statement ran."""
    dialect = connection.dialect
    return DBAPIError.instance(plan.sql, None, error, dialect.loaded_dbapi.Error,
                               dialect=dialect)  # fmt: skip


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
        result_processors = [column.type._cached_result_processor(dialect, None)
                             for column in compiled._result_columns]  # fmt: skip
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
    return _Plan(compiled.string, tuple(binds), row, processors_at)
