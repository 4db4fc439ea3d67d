"""catalog: categories, ticket types, quotas, and the event's venue, online, policy fields

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:02:57.263512
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("names", JSONType, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("slug", name=op.f("uq_category_slug")),
    )
    op.create_table(
        "quota",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("sold + held <= capacity", name=op.f("ck_quota_within_capacity")),
        sa.CheckConstraint("sold >= 0 AND held >= 0", name=op.f("ck_quota_counts_not_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_quota_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota")),
    )
    with op.batch_alter_table("quota", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quota_event_id"), ["event_id"], unique=False)

    op.create_table(
        "ticket_type",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sales_start", UTCDateTime(), nullable=True),
        sa.Column("sales_end", UTCDateTime(), nullable=True),
        sa.Column("min_per_order", sa.Integer(), nullable=False),
        sa.Column("max_per_order", sa.Integer(), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("access_code", sa.String(length=60), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_ticket_type_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_type")),
    )
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_type_event_id"), ["event_id"], unique=False)

    op.create_table(
        "quota_ticket_type",
        sa.Column("quota_id", sa.Uuid(), nullable=False),
        sa.Column("ticket_type_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["quota_id"],
            ["quota.id"],
            name=op.f("fk_quota_ticket_type_quota_id_quota"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_quota_ticket_type_ticket_type_id_ticket_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("quota_id", "ticket_type_id", name=op.f("pk_quota_ticket_type")),
    )
    with op.batch_alter_table("quota_ticket_type", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quota_ticket_type_ticket_type_id"), ["ticket_type_id"], unique=False
        )

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("tags", JSONType, nullable=False, server_default="[]"))
        batch_op.add_column(
            sa.Column("address", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("online_url", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("contact_email", sa.String(length=320), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("refund_policy", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("refund_deadline_hours", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("hold_ttl_seconds", sa.Integer(), nullable=False, server_default="600")
        )
        batch_op.add_column(
            sa.Column("local_start_date", sa.String(length=10), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_event_local_start_date"), ["local_start_date"])
        batch_op.create_index(batch_op.f("ix_event_category_id"), ["category_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_event_category_id_category"),
            "category",
            ["category_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _fill_local_start_dates()


def _fill_local_start_dates() -> None:
    """Existing events: their start date in their own zone (Python: SQLite has no zones)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, starts_at, timezone FROM event")).all()
    for event_id, starts_at, zone in rows:
        when = starts_at if isinstance(starts_at, datetime) else datetime.fromisoformat(starts_at)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        bind.execute(
            sa.text("UPDATE event SET local_start_date = :day WHERE id = :id"),
            {"day": when.astimezone(ZoneInfo(zone)).date().isoformat(), "id": event_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_event_category_id_category"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_event_category_id"))
        batch_op.drop_index(batch_op.f("ix_event_local_start_date"))
        batch_op.drop_column("local_start_date")
        batch_op.drop_column("hold_ttl_seconds")
        batch_op.drop_column("refund_deadline_hours")
        batch_op.drop_column("refund_policy")
        batch_op.drop_column("contact_email")
        batch_op.drop_column("online_url")
        batch_op.drop_column("online")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
        batch_op.drop_column("address")
        batch_op.drop_column("tags")
        batch_op.drop_column("category_id")

    with op.batch_alter_table("quota_ticket_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_ticket_type_ticket_type_id"))

    op.drop_table("quota_ticket_type")
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_type_event_id"))

    op.drop_table("ticket_type")
    with op.batch_alter_table("quota", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_event_id"))

    op.drop_table("quota")
    op.drop_table("category")
