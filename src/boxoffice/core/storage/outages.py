"""Telling a database that is briefly not there (restarted, failed over, cut off) from a bug:
the first is the service unavailable for a moment (the API answers 503 with Retry-After,
the pool replaces the connection), the second is an error to look into."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError

#: SQLSTATE classes of a database that is not there for a moment: connection exceptions
#: (08) and operator intervention (57: shutting down, starting up, in recovery).
UNAVAILABLE_SQLSTATES = frozenset({"08", "57"})

#: asyncpg's own word for a connection that broke under an operation: closed, or left
#: mid-operation by the server going away.
CONNECTION_BROKEN = (asyncpg.exceptions.InterfaceError, asyncpg.exceptions.InternalClientError)


def connection_lost(error: DBAPIError) -> bool:
    """Whether ``error`` says the connection to the database was lost or refused, not that
    the statement was wrong. (A new connection refused outright arrives as a plain
    ``ConnectionError``, not as a DBAPI error.)"""
    state = str(getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None) or "")
    driver = error.orig.__cause__ if error.orig is not None else None
    return bool(
        error.connection_invalidated
        or state[:2] in UNAVAILABLE_SQLSTATES
        or isinstance(driver, CONNECTION_BROKEN)
    )


def waiting_for_database(error: BaseException) -> bool:
    """Whether a ``TimeoutError`` came from waiting on the database (a new connection that
    took longer than ``POSTGRES_CONNECT_TIMEOUT_SECONDS``, the pool's wait for a free one):
    the driver or SQLAlchemy raised it."""
    trace = error.__traceback__
    while trace is not None:
        module = str(trace.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        trace = trace.tb_next
    return False
