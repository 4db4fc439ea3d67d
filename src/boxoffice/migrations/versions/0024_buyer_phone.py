"""Orders: the buyer's phone number (E.164, optional) for text messages about the event.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "booking_order",
        sa.Column("buyer_phone", sa.String(length=16), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("booking_order", "buyer_phone")  # SQLite 3.35+ drops columns in place
