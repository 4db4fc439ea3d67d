"""The column types and declarative base every table shares, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, DateTime, MetaData, String, Table, TypeDecorator, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

from boxoffice.core.clock import ensure_utc

#: Stable constraint names, so migrations can alter them on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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


#: The escape character for :func:`substring_pattern` (pass it as ``like(..., escape=…)``).
LIKE_ESCAPE = "\\"


def _literal(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def substring_pattern(text: str) -> str:
    """A lower-cased LIKE pattern that finds ``text`` anywhere, its own ``%`` and ``_`` taken
    literally (an address like ``jo_doe@`` must match itself, not any character)."""
    return f"%{_literal(text)}%"


def prefix_pattern(text: str) -> str:
    """A lower-cased LIKE pattern for what starts with ``text`` (taken literally)."""
    return f"{_literal(text)}%"


def table_of(model: type[DeclarativeBase]) -> Table:
    """A model's table, for Core statements (hot paths build them once, at import)."""
    return cast(Table, model.__table__)


def conflict_insert(dialect: str, table: Any) -> Any:
    """``INSERT`` that can say what happens ``ON CONFLICT``: both engines speak it, each with
    its own construct (the two classes share no base that declares ``on_conflict_*``, hence
    ``Any``)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
