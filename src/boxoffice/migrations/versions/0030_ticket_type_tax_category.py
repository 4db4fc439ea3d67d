"""Ticket types: the tax category of what they admit to (standard, culture, sport).

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ticket_type",
        sa.Column("tax_category", sa.String(length=20), nullable=False, server_default="standard"),
    )


def downgrade() -> None:
    op.drop_column("ticket_type", "tax_category")  # SQLite 3.35+ drops columns in place
