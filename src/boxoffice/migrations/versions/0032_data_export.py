"""Data exports: a person's copy built in the background, downloaded through a secret link.

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-30 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import UTCDateTime, UUIDType

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_export",
        sa.Column("id", UUIDType, nullable=False),
        sa.Column("user_id", UUIDType, nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("ready_at", UTCDateTime, nullable=True),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_export_user_id", "data_export", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_data_export_user_id", table_name="data_export")
    op.drop_table("data_export")
