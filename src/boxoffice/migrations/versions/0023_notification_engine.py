"""The notification engine: messages queued as a template and its data (rendered when
delivered), a delivery log with retries, fan-out keys, marketing preferences, organizer
broadcasts, and the day-before reminder's mark on events.

Messages queued before this revision carry their rendered text: they are kept as the
``prerendered`` template, so none is lost across the upgrade. The journal subscriber
that cancelled a cancelled event's orders now also tells buyers of changes and sends
broadcasts: its cursor is renamed (``booking:event-cancelled`` to ``booking:events``) and
keeps its place, so an upgraded deployment does not tell buyers today of a postponement made
last year. A database whose dispatcher never ran (no cursor yet) starts it at the journal's
end.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType, UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context", JSONType, nullable=True))
        batch_op.add_column(
            sa.Column("purpose", sa.String(20), nullable=False, server_default="transactional")
        )
        batch_op.add_column(sa.Column("topic", sa.String(80), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(200), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(12), nullable=False, server_default="queued")
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_outbound_message_topic"), ["topic"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_message_dedupe_key"), ["dedupe_key"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_outbound_message_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_message_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    outbox = sa.table(
        "outbound_message",
        sa.column("id", sa.Uuid()),
        sa.column("template", sa.String()),
        sa.column("subject", sa.String()),
        sa.column("text", sa.Text()),
        sa.column("html", sa.Text()),
        sa.column("context", JSONType),
        sa.column("status", sa.String()),
        sa.column("delivered_at", UTCDateTime()),
        sa.column("failed_reason", sa.Text()),
    )
    connection = op.get_bind()
    connection.execute(
        outbox.update().where(outbox.c.delivered_at.is_not(None)).values(status="sent")
    )
    connection.execute(
        outbox.update()
        .where(outbox.c.delivered_at.is_(None), outbox.c.failed_reason != "")
        .values(status="failed")
    )
    waiting = connection.execute(
        sa.select(outbox.c.id, outbox.c.subject, outbox.c.text, outbox.c.html).where(
            outbox.c.status == "queued"
        )
    ).all()
    for row in waiting:
        connection.execute(
            outbox.update()
            .where(outbox.c.id == row.id)
            .values(
                template="prerendered",
                context={"subject": row.subject, "text": row.text, "html": row.html},
            )
        )

    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.drop_column("text")
        batch_op.drop_column("html")

    op.create_table(
        "notification_preference",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_broadcast_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_broadcast_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast")),
    )
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcast_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_broadcast_organization_id"), ["organization_id"], unique=False
        )
    op.add_column("event", sa.Column("reminded_for", UTCDateTime(), nullable=True))

    renamed = connection.execute(
        sa.text(
            "UPDATE journal_subscriber SET name = 'booking:events' "
            "WHERE name = 'booking:event-cancelled'"
        )
    ).rowcount
    if not renamed:
        last = connection.execute(sa.text("SELECT max(position) FROM journal_entry")).scalar()
        txid = 0
        if connection.dialect.name == "postgresql":  # just below the oldest open transaction
            oldest_open = connection.execute(
                sa.text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")
            ).scalar()
            txid = int(oldest_open or 1) - 1
        connection.execute(
            sa.text(
                "INSERT INTO journal_subscriber (name, position, txid, attempts) "
                "VALUES ('booking:events', :position, :txid, 0)"
            ),
            {"position": last or 0, "txid": txid},
        )


def downgrade() -> None:
    op.execute(
        "UPDATE journal_subscriber SET name = 'booking:event-cancelled' "
        "WHERE name = 'booking:events'"
    )
    op.drop_column("event", "reminded_for")  # SQLite 3.35+ drops columns in place
    op.drop_table("broadcast")
    op.drop_table("notification_preference")
    with op.batch_alter_table("outbound_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=False, server_default=""))
        batch_op.drop_index(batch_op.f("ix_outbound_message_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbound_message_status"))
        batch_op.drop_index(batch_op.f("ix_outbound_message_dedupe_key"))
        batch_op.drop_index(batch_op.f("ix_outbound_message_topic"))
        for name in (
            "last_error",
            "next_attempt_at",
            "attempts",
            "status",
            "dedupe_key",
            "topic",
            "purpose",
            "context",
        ):
            batch_op.drop_column(name)
