"""Journal entries of the privacy rights (public contract: add fields, never rename)."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


@entry_type
class PersonErased(JournalEntry, frozen=True, kw_only=True):
    """A person's account and what they bought were pseudonymised: projections and plugins
    that keep personal data forget ``user_id`` and the addresses it had."""

    aggregate_type: ClassVar[str] = "user"
    user_id: str
    #: The pseudonymous reference that replaces the person on the records kept.
    reference: str

    def aggregate_id(self) -> str:
        return self.user_id


@entry_type
class DataExportRequested(JournalEntry, frozen=True, kw_only=True):
    """A person asked for a copy of their data as a file: the ``data-exports`` subscriber
    builds it."""

    aggregate_type: ClassVar[str] = "data_export"
    export_id: str
    user_id: str

    def aggregate_id(self) -> str:
        return self.export_id


@entry_type
class OrderPseudonymised(JournalEntry, frozen=True, kw_only=True):
    """An order's buyer and attendees were replaced by a pseudonym (the person's erasure, or
    the region's retention period ended). Outgoing webhooks carry it to the organization's
    systems, which should forget the personal data they fetched about the order (GDPR Art.
    17 and 19)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: str
    number: str
    event_id: str
    organization_id: str
    #: "erasure" or "retention"
    reason: str

    def aggregate_id(self) -> str:
        return self.order_id
