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
