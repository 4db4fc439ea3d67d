"""Organizations: the billing details their invoices carry as the seller's (address, country,
tax id).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, length in (("legal_address", 500), ("country", 2), ("tax_id", 30)):
        op.add_column(
            "organization",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )


def downgrade() -> None:
    for name in ("tax_id", "country", "legal_address"):
        op.drop_column("organization", name)  # SQLite 3.35+ drops columns in place
