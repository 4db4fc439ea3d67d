"""What operators see of the journal (admin API and ``boxoffice journal``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class SubscriberOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    #: The position of the last entry it has read (in reading order, see the dispatcher).
    position: int
    #: Entries appended after that position (PostgreSQL: approximately, as positions
    #: commit out of order).
    behind: int
    #: Failed attempts at the entry after ``position`` (0: none pending).
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    #: The worker serving it now, if one is.
    leased_by: str | None
    #: Whether this process knows it (a plugin's may be installed in other processes only).
    registered: bool
    dead_letters: int


class DeadLetterOut(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    subscriber: str
    position: int
    entry_id: uuid.UUID
    type: str
    attempts: int
    error: str
    failed_at: datetime
    retried_at: datetime | None = None
    retried_by: str | None = None


class DeadLetterDetail(DeadLetterOut, frozen=True, kw_only=True):
    occurred_at: datetime
    aggregate_type: str
    aggregate_id: str
    request_id: str | None
    schema_version: int
    data: dict[str, Any]


class DeadLetterPage(msgspec.Struct, frozen=True):
    items: list[DeadLetterOut]
    next_cursor: str | None = None


class EntryTypeOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    schema_version: int
    aggregate_type: str
    #: JSON Schema of its current version.
    schema: dict[str, Any]


class ReplayOut(msgspec.Struct, frozen=True, kw_only=True):
    subscriber: str
    #: Delivered again (a projection: rebuilt from the first entry).
    delivered: int
