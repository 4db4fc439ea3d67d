"""Check-in: lists per event, and one row per ticket let in through a list.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType, UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkin_list",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("ticket_type_ids", JSONType, nullable=False),
        sa.Column("opens_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_checkin_list_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_list")),
    )
    with op.batch_alter_table("checkin_list", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_list_event_id"), ["event_id"], unique=False)

    op.create_table(
        "checkin",
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("scanned_at", UTCDateTime(), nullable=False),
        sa.Column("gate", sa.String(length=120), nullable=False),
        sa.Column("by_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["checkin_list.id"],
            name=op.f("fk_checkin_list_id_checkin_list"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["order_item.id"],
            name=op.f("fk_checkin_ticket_id_order_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("list_id", "ticket_id", name=op.f("pk_checkin")),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_table("checkin")
    op.drop_table("checkin_list")
