"""A unit of hot-path work: its deferred writes and its transaction-scoped ``info`` keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from boxoffice.core.storage.prepared import DEFERRED, finish_deferred, start_deferring

T = TypeVar("T")

#: ``Connection.info`` / ``Session.info`` dict handed to after-commit callbacks.
CommitInfo = dict[Any, Any]


TRANSACTION_KEYS = "boxoffice."


def scoped(connection: Connection, work: Callable[[Connection], T]) -> tuple[T, CommitInfo]:
    """Run ``work``, its deferred writes included (:mod:`boxoffice.core.storage.prepared`), and take
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
