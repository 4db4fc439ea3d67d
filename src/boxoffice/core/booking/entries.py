"""Journal entries of the booking engine (public contract: add fields, never rename)."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


class _OrderEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "order"
    order_id: str
    number: str
    event_id: str
    organization_id: str

    def aggregate_id(self) -> str:
        return self.order_id


@entry_type
class OrderPlaced(_OrderEntry, frozen=True, kw_only=True):
    status: str
    total_minor: int
    currency: str
    tickets: int


@entry_type
class OrderConfirmed(_OrderEntry, frozen=True, kw_only=True):
    total_minor: int
    currency: str
    #: "free", "payment", "organizer" (marked paid by hand)
    via: str


@entry_type
class OrderCancelled(_OrderEntry, frozen=True, kw_only=True):
    #: "buyer", "organizer" or "event-cancelled"
    by: str
    reason: str
    #: What is to be given back (minor units); 0 for unpaid orders.
    refund_minor: int
    currency: str


@entry_type
class OrderRefunded(_OrderEntry, frozen=True, kw_only=True):
    """Some (or the last) tickets of a paid order were refunded; their seats went back."""

    by: str
    reason: str
    ticket_ids: list[str]
    refund_minor: int
    currency: str
    #: Whether no valid ticket is left (the order is then "refunded").
    complete: bool


@entry_type
class OrderExpired(_OrderEntry, frozen=True, kw_only=True):
    """A pending order was not paid in time; its seats went back."""


@entry_type
class CapacityReleased(JournalEntry, frozen=True, kw_only=True):
    """Seats went back to an event's quotas (a hold lapsed or was released, an order expired
    or was cancelled): the waiting list offers them to the next person."""

    aggregate_type: ClassVar[str] = "event"
    event_id: str
    ticket_type_ids: list[str]
    seats: int
    why: str

    def aggregate_id(self) -> str:
        return self.event_id
