"""Events: whether ticket holders may transfer their tickets to someone else.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "event",
        sa.Column("tickets_transferable", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("event", "tickets_transferable")  # SQLite 3.35+ drops it in place
