"""Invoices and credit notes, numbered without gaps per organization and series.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import CurrencyCode, JSONType, UTCDateTime, UUIDType

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_series",
        sa.Column("organization_id", UUIDType, nullable=False),
        sa.Column("series", sa.String(length=8), nullable=False),
        sa.Column("next_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("organization_id", "series"),
    )
    op.create_table(
        "invoice",
        sa.Column("id", UUIDType, nullable=False),
        sa.Column("organization_id", UUIDType, nullable=False),
        sa.Column("series", sa.String(length=8), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("order_id", UUIDType, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("currency", CurrencyCode(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["booking_order.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "series", "number"),
        sa.UniqueConstraint("source"),
    )
    op.create_index("ix_invoice_order_id", "invoice", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_invoice_order_id", table_name="invoice")
    op.drop_table("invoice")
    op.drop_table("invoice_series")
