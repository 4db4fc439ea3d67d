"""Journal entries keep the trace context of the request that appended them.

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-30 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("journal_entry", sa.Column("trace_context", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("journal_entry", "trace_context")
