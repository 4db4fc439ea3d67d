"""Imports every domain's models so that ``Base.metadata`` knows all tables (alembic, tests)."""

from boxoffice.core.catalog.models import Event
from boxoffice.core.identity.models import Organization
from boxoffice.core.journal.models import (
    JournalDeadLetterRow,
    JournalEntryRow,
    JournalSubscriberRow,
)

__all__ = [
    "Event",
    "JournalDeadLetterRow",
    "JournalEntryRow",
    "JournalSubscriberRow",
    "Organization",
]
