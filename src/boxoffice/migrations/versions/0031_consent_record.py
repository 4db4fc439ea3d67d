"""Consent records: each consent given or withdrawn, with its wording's version and source.

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-30 19:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import UTCDateTime, UUIDType

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_record",
        sa.Column("id", UUIDType, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("text_version", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_record_address", "consent_record", ["address"])


def downgrade() -> None:
    op.drop_index("ix_consent_record_address", table_name="consent_record")
    op.drop_table("consent_record")
