"""Journal entries of the payment engine: one for every payment and refund transition."""

from __future__ import annotations

from typing import ClassVar

from boxoffice.core.journal.entries import JournalEntry, entry_type


class _PaymentEntry(JournalEntry, frozen=True, kw_only=True):
    aggregate_type: ClassVar[str] = "payment"
    payment_id: str
    order_id: str
    gateway: str

    def aggregate_id(self) -> str:
        return self.payment_id


@entry_type
class PaymentCreated(_PaymentEntry, frozen=True, kw_only=True):
    amount_minor: int
    currency: str


@entry_type
class PaymentChanged(_PaymentEntry, frozen=True, kw_only=True):
    before: str
    after: str
    #: "answer" (the gateway's reply), "webhook", "reconciliation"
    source: str


@entry_type
class RefundRequested(_PaymentEntry, frozen=True, kw_only=True):
    """A refund to make at the gateway (a subscriber makes it, at least once, idempotently)."""

    refund_id: str
    amount_minor: int
    currency: str
    reason: str


@entry_type
class RefundChanged(_PaymentEntry, frozen=True, kw_only=True):
    refund_id: str
    after: str
