"""Storage plumbing, apart from the domain: engines, the database object, shared column
types, prepared statements and SQLite's writer. Domain packages import from here."""

from boxoffice.core.storage.database import Database
from boxoffice.core.storage.engine import create_engine, normalize_url, sqlite_url_for
from boxoffice.core.storage.schema import (
    LIKE_ESCAPE,
    Base,
    CurrencyCode,
    JSONType,
    UTCDateTime,
    UUIDType,
    conflict_insert,
    prefix_pattern,
    substring_pattern,
    table_of,
)
from boxoffice.core.storage.work import CommitInfo

__all__ = [
    "LIKE_ESCAPE",
    "Base",
    "CommitInfo",
    "CurrencyCode",
    "Database",
    "JSONType",
    "UTCDateTime",
    "UUIDType",
    "conflict_insert",
    "create_engine",
    "normalize_url",
    "prefix_pattern",
    "sqlite_url_for",
    "substring_pattern",
    "table_of",
]
