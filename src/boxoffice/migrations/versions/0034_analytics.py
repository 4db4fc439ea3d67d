"""The analytics projection's tables and the page-view counts.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-30 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import CurrencyCode, UTCDateTime, UUIDType

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def _counters(*names: str, big: bool = False) -> list[sa.Column[int]]:
    kind = sa.BigInteger() if big else sa.Integer()
    return [sa.Column(name, kind, nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "analytics_sales",
        sa.Column("event_id", UUIDType, nullable=False),
        sa.Column("bucket", UTCDateTime, nullable=False),
        sa.Column("ticket_type_id", sa.String(length=36), nullable=False),
        sa.Column("gateway", sa.String(length=60), nullable=False),
        sa.Column("currency", CurrencyCode(), nullable=False),
        sa.Column("organization_id", UUIDType, nullable=False),
        *_counters("tickets", "tickets_refunded"),
        *_counters(
            "gross_minor",
            "discount_minor",
            "fees_minor",
            "tax_minor",
            "refunded_minor",
            "refunded_tax_minor",
            big=True,
        ),
        sa.PrimaryKeyConstraint("event_id", "bucket", "ticket_type_id", "gateway", "currency"),
    )
    op.create_index("ix_analytics_sales_organization_id", "analytics_sales", ["organization_id"])
    op.create_table(
        "analytics_orders",
        sa.Column("event_id", UUIDType, nullable=False),
        sa.Column("bucket", UTCDateTime, nullable=False),
        sa.Column("organization_id", UUIDType, nullable=False),
        *_counters("placed", "tickets_placed", "paid", "cancelled", "expired"),
        sa.PrimaryKeyConstraint("event_id", "bucket"),
    )
    op.create_index("ix_analytics_orders_organization_id", "analytics_orders", ["organization_id"])
    op.create_table(
        "analytics_promo",
        sa.Column("event_id", UUIDType, nullable=False),
        sa.Column("promo_code_id", UUIDType, nullable=False),
        sa.Column("currency", CurrencyCode(), nullable=False),
        sa.Column("organization_id", UUIDType, nullable=False),
        *_counters("orders", "tickets"),
        *_counters("discount_minor", "gross_minor", big=True),
        sa.PrimaryKeyConstraint("event_id", "promo_code_id", "currency"),
    )
    op.create_index("ix_analytics_promo_organization_id", "analytics_promo", ["organization_id"])
    op.create_table(
        "analytics_paid_order",
        sa.Column("order_id", UUIDType, nullable=False),
        sa.Column("gateway", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "analytics_page_views",
        sa.Column("event_id", UUIDType, nullable=False),
        sa.Column("bucket", UTCDateTime, nullable=False),
        *_counters("views", big=True),
        sa.PrimaryKeyConstraint("event_id", "bucket"),
    )


def downgrade() -> None:
    op.drop_table("analytics_page_views")
    op.drop_table("analytics_paid_order")
    op.drop_index("ix_analytics_promo_organization_id", table_name="analytics_promo")
    op.drop_table("analytics_promo")
    op.drop_index("ix_analytics_orders_organization_id", table_name="analytics_orders")
    op.drop_table("analytics_orders")
    op.drop_index("ix_analytics_sales_organization_id", table_name="analytics_sales")
    op.drop_table("analytics_sales")
