"""The journal: every state change appends a typed entry in its own transaction (the outbox);
the dispatcher delivers entries to subscribers at least once, with retries and a dead letter."""

from boxoffice.core.journal.entries import JournalEntry, RecordedEntry, entry_type
from boxoffice.core.journal.service import append

__all__ = ["JournalEntry", "RecordedEntry", "append", "entry_type"]
