"""Journal entries keep the version of their schema; dead letters can be retried;
projections keep a checkpoint.

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import UTCDateTime

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "journal_entry",
        sa.Column("version", sa.SmallInteger(), nullable=False, server_default="1"),
    )
    op.add_column("journal_dead_letter", sa.Column("retried_at", UTCDateTime, nullable=True))
    op.add_column(
        "journal_dead_letter", sa.Column("retried_by", sa.String(length=200), nullable=True)
    )
    op.create_table(
        "journal_checkpoint",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("journal_checkpoint")
    op.drop_column("journal_dead_letter", "retried_by")
    op.drop_column("journal_dead_letter", "retried_at")
    op.drop_column("journal_entry", "version")
