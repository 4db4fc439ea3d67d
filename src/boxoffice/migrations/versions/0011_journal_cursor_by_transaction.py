"""The journal's subscriber cursors are (transaction id, position) on PostgreSQL.

Entries of finished transactions read in position order could pass over a lower position
still being written by a younger, open transaction (ids are taken at a transaction's first
write, positions when an entry is appended). Read in (txid, position) order, every
transaction that can still commit sorts after everything delivered.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_journal_entry_txid_position", "journal_entry", ["txid", "position"])
    if op.get_bind().dialect.name == "postgresql":
        # Existing cursors: just below the oldest transaction with an entry past the cursor
        # (entries it already had may come again: subscribers are idempotent), or after
        # the newest one when it has read everything.
        op.execute(
            """
            UPDATE journal_subscriber AS s SET txid = COALESCE(
                (SELECT min(e.txid) - 1 FROM journal_entry AS e WHERE e.position > s.position),
                (SELECT max(e.txid) FROM journal_entry AS e),
                0)
            """
        )


def downgrade() -> None:
    op.drop_index("ix_journal_entry_txid_position", table_name="journal_entry")
    with op.batch_alter_table("journal_subscriber", schema=None) as batch_op:
        batch_op.drop_column("txid")
