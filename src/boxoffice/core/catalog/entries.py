from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


class _EventEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "event"
    event_id: str
    organization_id: str

    def aggregate_id(self) -> str:
        return self.event_id


@entry_type
class EventCreated(_EventEntry, frozen=True, kw_only=True):
    title: str


@entry_type
class EventStatusChanged(_EventEntry, frozen=True, kw_only=True):
    """The lifecycle moved (published, postponed, cancelled, completed)."""

    from_status: str
    to_status: str


@entry_type
class EventUpdated(_EventEntry, frozen=True, kw_only=True):
    """The event's details changed (search re-indexes it)."""

    #: The fields whose value changed (attendees hear of a new time or place).
    changed: tuple[str, ...] = ()
