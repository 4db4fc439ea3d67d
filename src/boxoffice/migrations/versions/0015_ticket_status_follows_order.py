"""Tickets follow their order: those of unpaid orders are ``pending``, of cancelled ones
``cancelled``, of expired ones ``expired`` (they all said ``valid`` before). Refunded
tickets stay ``refunded``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: order status -> what its still-"valid" tickets become
FOLLOWS = {"pending": "pending", "cancelled": "cancelled", "expired": "expired"}


def upgrade() -> None:
    for order_status, ticket_status in FOLLOWS.items():
        op.execute(
            sa.text(
                "UPDATE order_item SET status = :ticket WHERE status = 'valid' AND order_id IN "
                "(SELECT id FROM booking_order WHERE status = :order)"
            ).bindparams(ticket=ticket_status, order=order_status)
        )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE order_item SET status = 'valid' "
            "WHERE status IN ('pending', 'cancelled', 'expired')"
        )
    )
