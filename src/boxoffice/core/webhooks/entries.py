"""Journal entries of outgoing webhooks."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class WebhookEndpointDisabled(JournalEntry, frozen=True, kw_only=True):
    """An endpoint failed every delivery for days and was turned off; its owners were told."""

    aggregate_type: ClassVar[str] = "webhook_endpoint"
    endpoint_id: str
    organization_id: str
    url: str
    reason: str

    def aggregate_id(self) -> str:
        return self.endpoint_id
