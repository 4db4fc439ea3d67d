"""Journal entries of tickets (public contract: add fields, never rename)."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


class _TicketEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "ticket"
    order_id: str
    event_id: str
    ticket_id: str
    #: The credential version from now on (those before it are refused).
    version: int

    def aggregate_id(self) -> str:
        return self.ticket_id


@entry_type
class TicketReissued(_TicketEntry, frozen=True, kw_only=True):
    """A ticket got a new credential."""


@entry_type
class TicketTransferred(_TicketEntry, frozen=True, kw_only=True):
    """A ticket passed to another attendee (name and e-mail) with a new credential."""
