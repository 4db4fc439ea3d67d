"""Orders: a business buyer's tax id and billing address (invoices; EU reverse charge).

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, length in (("buyer_tax_id", 30), ("buyer_address", 500)):
        op.add_column(
            "booking_order",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )


def downgrade() -> None:
    for name in ("buyer_address", "buyer_tax_id"):
        op.drop_column("booking_order", name)  # SQLite 3.35+ drops columns in place
