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
    with op.batch_alter_table("event") as batch_op:
        batch_op.add_column(sa.Column("deferred_payment_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("deferred_payment_hours")
