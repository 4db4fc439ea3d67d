"""Events: how long an order paid by a deferred method (bank transfer) keeps its seats.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 06:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch operation would copy the event table, which
    # the tables that reference it forbid once they hold rows.
    op.add_column("event", sa.Column("deferred_payment_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("event", "deferred_payment_hours")  # SQLite 3.35+ drops a column in place
