"""Tickets: the version of each ticket's signed credential (a reissue raises it).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 07:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_item",
        sa.Column("credential_version", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_column("order_item", "credential_version")  # SQLite 3.35+ drops it in place
