"""Check-in: exit scans and re-entry (a list may let a ticket that went out come in again).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "checkin_list",
        sa.Column("reentry", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "checkin", sa.Column("inside", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.add_column("checkin", sa.Column("entries", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("checkin", "entries")  # SQLite 3.35+ drops columns in place
    op.drop_column("checkin", "inside")
    op.drop_column("checkin_list", "reentry")
