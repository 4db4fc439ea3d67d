"""Fewer index entries per purchase: the journal's ``type`` index served no query (the
dispatcher reads in position order and skips unwanted types as it goes); an order's
``user_id`` index covers signed-in buyers' orders only (most are anonymous); the journal's
(txid, position) index covers entries with a transaction id only (all of them on
PostgreSQL, none on SQLite, which does not read by it).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SIGNED_IN = sa.text("user_id IS NOT NULL")
HAS_TXID = sa.text("txid IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entry_type")
        batch_op.drop_index("ix_journal_entry_txid_position")
        batch_op.create_index(
            "ix_journal_entry_txid_position",
            ["txid", "position"],
            postgresql_where=HAS_TXID,
            sqlite_where=HAS_TXID,
        )
    with op.batch_alter_table("booking_order", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_order_user_id")
        batch_op.create_index(
            "ix_booking_order_user_id",
            ["user_id"],
            postgresql_where=SIGNED_IN,
            sqlite_where=SIGNED_IN,
        )


def downgrade() -> None:
    with op.batch_alter_table("booking_order", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_order_user_id")
        batch_op.create_index("ix_booking_order_user_id", ["user_id"])
    with op.batch_alter_table("journal_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_entry_txid_position")
        batch_op.create_index("ix_journal_entry_txid_position", ["txid", "position"])
        batch_op.create_index("ix_journal_entry_type", ["type"])
