from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class OrganizationCreated(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "organization"
    organization_id: str
    slug: str
    name: str

    def aggregate_id(self) -> str:
        return self.organization_id
