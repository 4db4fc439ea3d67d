"""Journal entries of the booking engine (public contract: add fields, never rename)."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from boxoffice.core.journal.entries import JournalEntry, entry_type, upgrade


class SoldLine(msgspec.Struct, frozen=True, kw_only=True):
    """What one line of a confirmed order sold (minor units of the order's currency)."""

    ticket_type_id: str
    quantity: int
    subtotal_minor: int
    discount_minor: int
    fees_minor: int
    tax_minor: int
    total_minor: int


class RefundLine(msgspec.Struct, frozen=True, kw_only=True):
    """What went back, per ticket type, when tickets were refunded or an order cancelled."""

    ticket_type_id: str
    quantity: int
    refund_minor: int
    #: The tax included in ``refund_minor``.
    tax_minor: int


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
    """Version 2 says what was sold: the lines, the gateway that took the money and the
    promo code (version 1 entries are read with no lines and no gateway)."""

    schema_version: ClassVar[int] = 2
    total_minor: int
    currency: str
    #: "free", "payment", "organizer" (marked paid by hand)
    via: str
    lines: list[SoldLine]
    #: The gateway's id when ``via`` is "payment"; "" otherwise.
    gateway: str
    promo_code_id: str | None


@upgrade(OrderConfirmed, from_version=1)
def _confirmed_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "lines": [], "gateway": "", "promo_code_id": None}


@entry_type
class OrderCancelled(_OrderEntry, frozen=True, kw_only=True):
    """Version 2 splits what goes back by ticket type (``lines``; none for an unpaid order,
    and none in version 1 entries)."""

    schema_version: ClassVar[int] = 2
    #: "buyer", "organizer" or "event-cancelled"
    by: str
    reason: str
    #: What is to be given back (minor units); 0 for unpaid orders.
    refund_minor: int
    currency: str
    lines: list[RefundLine]
    #: The order was paid (confirmed) when it was cancelled.
    was_confirmed: bool


@upgrade(OrderCancelled, from_version=1)
def _cancelled_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "lines": [], "was_confirmed": data.get("refund_minor", 0) > 0}


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
    lines: list[RefundLine]

    schema_version: ClassVar[int] = 2


@upgrade(OrderRefunded, from_version=1)
def _refunded_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "lines": []}


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
