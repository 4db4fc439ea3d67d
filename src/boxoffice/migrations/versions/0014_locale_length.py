"""Locales up to 35 characters (BCP 47: RFC 5646 asks for at least that much room): a real
language tag of 21 or more characters was accepted by SQLite and failed on PostgreSQL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: table -> the locale column's length before this revision
BEFORE = {"user_account": 20, "outbound_message": 20, "booking_order": 16}


def upgrade() -> None:
    for table in BEFORE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("locale", type_=sa.String(35), existing_nullable=False)


def downgrade() -> None:
    for table, length in BEFORE.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("locale", type_=sa.String(length), existing_nullable=False)
