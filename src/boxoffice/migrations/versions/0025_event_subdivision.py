"""Events: the subdivision they take place in (ISO 3166-2, "CA-QC"), where taxes differ by
province or state.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "event",
        sa.Column("subdivision", sa.String(length=6), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("event", "subdivision")  # SQLite 3.35+ drops columns in place
