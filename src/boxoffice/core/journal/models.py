from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.storage import Base, JSONType, UTCDateTime, UUIDType

#: SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
Position = BigInteger().with_variant(Integer(), "sqlite")


class JournalEntryRow(Base):
    __tablename__ = "journal_entry"
    #: The dispatcher's reading order on PostgreSQL (SQLite leaves txid empty: no entries).
    __table_args__ = (
        Index(
            "ix_journal_entry_txid_position",
            "txid",
            "position",
            postgresql_where=text("txid IS NOT NULL"),
            sqlite_where=text("txid IS NOT NULL"),
        ),
    )

    position: Mapped[int] = mapped_column(Position, primary_key=True, autoincrement=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(UUIDType, unique=True)
    type: Mapped[str] = mapped_column(String(100))
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    #: The schema version of ``data`` (entries written before versions were kept are 1).
    version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(64))
    #: The W3C ``traceparent`` of the span that appended it, when tracing is on: its
    #: deliveries join that trace (:mod:`boxoffice.tracing`).
    trace_context: Mapped[str | None] = mapped_column(String(64))
    #: PostgreSQL only: the writing transaction's id (server default), so the dispatcher
    #: never reads past a transaction that is still open (positions commit out of order).
    txid: Mapped[int | None] = mapped_column(BigInteger)


class JournalSubscriberRow(Base):
    """One row per subscriber: how far it has read, its retry state and its lease."""

    __tablename__ = "journal_subscriber"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    #: PostgreSQL: the transaction id of the entry at ``position`` — the cursor is the pair
    #: (txid, position), entries are read in that order (see the dispatcher). 0 on SQLite.
    txid: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JournalDeadLetterRow(Base):
    __tablename__ = "journal_dead_letter"

    id: Mapped[int] = mapped_column(Position, primary_key=True, autoincrement=True)
    subscriber: Mapped[str] = mapped_column(String(200), index=True)
    position: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[uuid.UUID] = mapped_column(UUIDType)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set when an operator's retry delivered it (the row stays, as a record).
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retried_by: Mapped[str | None] = mapped_column(String(200))


class JournalCheckpointRow(Base):
    """How far a projection's tables reflect the journal, written in the transaction that
    changes them: an entry delivered again (at least once) is recognised and skipped, so a
    projection of counters counts each entry exactly once. Reading order is (txid,
    position), as the dispatcher's cursor (txid is 0 on SQLite)."""

    __tablename__ = "journal_checkpoint"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger, default=0)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
