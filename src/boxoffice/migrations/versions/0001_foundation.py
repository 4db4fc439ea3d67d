"""foundation: journal, organizations, events, the database search index

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from boxoffice.core.storage import JSONType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "journal_entry",
        sa.Column("position", Position, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("aggregate_type", sa.String(50), nullable=False),
        sa.Column("aggregate_id", sa.String(64), nullable=False),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column(
            "txid",
            sa.BigInteger(),
            nullable=True,
            server_default=sa.text("((pg_current_xact_id())::text)::bigint") if postgres else None,
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_journal_entry")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_journal_entry_entry_id")),
    )
    op.create_index(op.f("ix_journal_entry_type"), "journal_entry", ["type"])
    op.create_table(
        "journal_subscriber",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journal_subscriber")),
    )
    op.create_table(
        "journal_dead_letter",
        sa.Column("id", Position, autoincrement=True, nullable=False),
        sa.Column("subscriber", sa.String(200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_dead_letter")),
    )
    op.create_index(
        op.f("ix_journal_dead_letter_subscriber"), "journal_dead_letter", ["subscriber"]
    )
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        sa.UniqueConstraint("slug", name=op.f("uq_organization_slug")),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("venue_name", sa.String(200), nullable=False),
        sa.Column("city", sa.String(120), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_event_organization_id_organization"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("organization_id", "slug", name=op.f("uq_event_organization_id_slug")),
    )
    op.create_index(op.f("ix_event_organization_id"), "event", ["organization_id"])
    op.create_index("ix_event_status_starts_at_id", "event", ["status", "starts_at", "id"])

    # The dbsearch provider's index: one statement per engine, same columns in effect.
    if postgres:
        op.execute(
            "CREATE TABLE search_document ("
            " kind VARCHAR(40) NOT NULL, doc_id VARCHAR(64) NOT NULL,"
            " language VARCHAR(8) NOT NULL DEFAULT 'en', document TSVECTOR NOT NULL,"
            " CONSTRAINT pk_search_document PRIMARY KEY (kind, doc_id))"
        )
        op.execute(
            "CREATE INDEX ix_search_document_document ON search_document USING GIN (document)"
        )
    else:
        # FTS5 cannot look up its UNINDEXED columns, so (kind, doc_id) live in an ordinary
        # table whose rowid is the document's rowid in the FTS table.
        op.execute(
            "CREATE TABLE search_doc (rowid INTEGER PRIMARY KEY, kind VARCHAR(40) NOT NULL,"
            " doc_id VARCHAR(64) NOT NULL, CONSTRAINT uq_search_doc UNIQUE (kind, doc_id))"
        )
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            " title, body, tags, tokenize = 'porter unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE search_document")
    else:
        op.execute("DROP TABLE search_fts")
        op.execute("DROP TABLE search_doc")
    op.drop_table("event")
    op.drop_table("organization")
    op.drop_table("journal_dead_letter")
    op.drop_table("journal_subscriber")
    op.drop_table("journal_entry")
