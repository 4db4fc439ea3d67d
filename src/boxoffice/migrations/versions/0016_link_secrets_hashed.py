"""Buyers' link secrets (orders, holds, waiting-list entries) are kept only as SHA-256
hashes, like every other token: ``secret`` becomes ``secret_hash``. Links already sent keep
working (the secret they carry hashes to what is stored); new secrets are derived from the
platform's key (:mod:`boxoffice.core.links`), so none is stored at all.

Stored idempotent responses (which can hold an order's link) are sealed by the key that
made them: the key is kept as its SHA-256, the response encrypted with AES-GCM under a key
derived from the scope and the Idempotency-Key (:mod:`boxoffice.core.idempotency`). The
outbox forgets the body of a message once it is delivered or failed for good.

A downgrade cannot bring the secrets back: links made before it stop working, and stored
idempotent responses are dropped (a retry after it runs afresh).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 04:30:00
"""

from __future__ import annotations

import hashlib
import os

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("hold", "booking_order", "waitlist_entry")
BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("secret_hash", sa.String(64), nullable=True))
        rows = sa.table(
            table, sa.column("id"), sa.column("secret"), sa.column("secret_hash", sa.String)
        )
        while True:
            batch = connection.execute(
                sa.select(rows.c.id, rows.c.secret).where(rows.c.secret_hash.is_(None)).limit(BATCH)
            ).all()
            if not batch:
                break
            connection.execute(
                rows.update().where(rows.c.id == sa.bindparam("row_id")),
                [
                    {
                        "row_id": row.id,
                        "secret_hash": hashlib.sha256(row.secret.encode()).hexdigest(),
                    }
                    for row in batch
                ],
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("secret_hash", existing_type=sa.String(64), nullable=False)
            batch_op.drop_column("secret")

    _seal_idempotency_records(connection)
    # What the outbox now forgets once a message is delivered or failed for good.
    op.execute(
        sa.text(
            "UPDATE outbound_message SET text = '', html = '' "
            "WHERE delivered_at IS NOT NULL OR failed_reason <> ''"
        )
    )


def _seal_idempotency_records(connection: sa.Connection) -> None:
    """What :mod:`boxoffice.core.idempotency` does with a record, as of this revision."""
    records = sa.table(
        "idempotency_record",
        sa.column("scope", sa.String),
        sa.column("key", sa.String),
        sa.column("body", sa.LargeBinary),
    )
    for row in connection.execute(sa.select(records.c.scope, records.c.key, records.c.body)).all():
        derived = hashlib.sha256(f"boxoffice/idempotency/v1\0{row.scope}\0{row.key}".encode())
        nonce = os.urandom(12)
        sealed = nonce + AESGCM(derived.digest()).encrypt(nonce, row.body, row.scope.encode())
        connection.execute(
            records.update()
            .where(records.c.scope == row.scope, records.c.key == row.key)
            .values(key=hashlib.sha256(row.key.encode()).hexdigest(), body=sealed)
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM idempotency_record"))
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "secret_hash",
                new_column_name="secret",
                existing_type=sa.String(64),
                existing_nullable=False,
            )
