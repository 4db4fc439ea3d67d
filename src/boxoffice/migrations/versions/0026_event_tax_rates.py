"""Events: the tax rates an organizer sets where the law leaves them to the seller (US sales
tax), as a list of {name, percent}.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("event", sa.Column("tax_rates", JSONType, nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("event", "tax_rates")  # SQLite 3.35+ drops columns in place
