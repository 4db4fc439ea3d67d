"""Journal entries of tickets (public contract: add fields, never rename)."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class TicketReissued(JournalEntry, frozen=True, kw_only=True):
    """A ticket got a new credential; those of earlier versions are refused from now on."""

    aggregate_type: ClassVar[str] = "ticket"
    order_id: str
    event_id: str
    ticket_id: str
    version: int

    def aggregate_id(self) -> str:
        return self.ticket_id
