from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class MessageQueued(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "message"
    message_id: str
    kind: str
    template: str

    def aggregate_id(self) -> str:
        return self.message_id
