"""The states of a payment and of a refund, and which moves between them are allowed.

The gateway's word (a webhook, a status fetched, an answer) may arrive late, twice or out of
order; it is applied only when it moves the payment forward. Money taken stays taken: a
succeeded payment never goes back to another state (refunds are records of their own), and
money that arrives after a failure or a cancellation still counts (a buyer who retried the
card).
"""

from __future__ import annotations

from enum import StrEnum

from boxoffice.core.payments.gateway import PaymentStatus


class PaymentState(StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


#: Not ended yet: the gateway may still move them.
OPEN = frozenset({PaymentState.CREATED, PaymentState.REQUIRES_ACTION, PaymentState.PROCESSING})
_ORDER = {PaymentState.CREATED: 0, PaymentState.REQUIRES_ACTION: 1, PaymentState.PROCESSING: 2}

#: What the gateway says -> the platform's state (``REFUNDED``: the money was taken first).
FROM_GATEWAY = {
    PaymentStatus.PENDING: PaymentState.REQUIRES_ACTION,
    PaymentStatus.REQUIRES_ACTION: PaymentState.REQUIRES_ACTION,
    PaymentStatus.AUTHORIZED: PaymentState.PROCESSING,
    PaymentStatus.SUCCEEDED: PaymentState.SUCCEEDED,
    PaymentStatus.FAILED: PaymentState.FAILED,
    PaymentStatus.CANCELLED: PaymentState.CANCELLED,
    PaymentStatus.REFUNDED: PaymentState.SUCCEEDED,
}


def may_move(current: PaymentState, target: PaymentState) -> bool:
    """Whether a payment in ``current`` takes the gateway's ``target``."""
    if current == target or current == PaymentState.SUCCEEDED:
        return False
    if target == PaymentState.SUCCEEDED:
        return True
    if current not in OPEN:
        return False
    if target in OPEN:
        return _ORDER[target] > _ORDER[current]
    return True
