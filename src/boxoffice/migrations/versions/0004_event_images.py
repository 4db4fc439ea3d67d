"""event images: re-encoded pictures kept in the media store

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:56:31.756019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_image",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("keys", JSONType, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_image_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_image")),
    )
    with op.batch_alter_table("event_image", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_image_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_image", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_image_event_id"))

    op.drop_table("event_image")
