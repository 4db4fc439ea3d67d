"""Payments: a record per attempt, refunds as records of their own, and the gateway
notifications already acted on (so a redelivered webhook changes nothing).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 04:22:07.769027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_webhook_receipt",
        sa.Column("gateway", sa.String(length=60), nullable=False),
        sa.Column("provider_event_id", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "gateway", "provider_event_id", name=op.f("pk_payment_webhook_receipt")
        ),
    )
    with op.batch_alter_table("payment_webhook_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_webhook_receipt_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("gateway", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("provider_reference", sa.String(length=200), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("succeeded_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["booking_order.id"],
            name=op.f("fk_payment_order_id_booking_order"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint(
            "order_id", "request_key", name=op.f("uq_payment_order_id_request_key")
        ),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_gateway_reference", ["gateway", "provider_reference"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_payment_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_payment_status_updated_at", ["status", "updated_at"], unique=False
        )

    op.create_table(
        "payment_refund",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("provider_reference", sa.String(length=200), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=False),
        sa.Column("cause_entry_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "cause_entry_id",
            "payment_id",
            name=op.f("uq_payment_refund_cause_entry_id_payment_id"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["booking_order.id"],
            name=op.f("fk_payment_refund_order_id_booking_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_payment_refund_payment_id_payment"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refund")),
    )
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_refund_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payment_refund_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_refund", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_refund_payment_id"))
        batch_op.drop_index(batch_op.f("ix_payment_refund_order_id"))

    op.drop_table("payment_refund")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_status_updated_at")
        batch_op.drop_index(batch_op.f("ix_payment_order_id"))
        batch_op.drop_index("ix_payment_gateway_reference")

    op.drop_table("payment")
    with op.batch_alter_table("payment_webhook_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_webhook_receipt_received_at"))

    op.drop_table("payment_webhook_receipt")
