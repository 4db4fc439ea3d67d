"""PostgreSQL: ``boxoffice_refuse()``, raised by a self-committing statement of deferred
writes when a write changed other than the rows it expected (see core/storage/prepared.py), so that
the statement rolls itself back. SQLite runs deferred writes one by one and needs none.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 21:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION boxoffice_refuse() RETURNS integer LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'a deferred write changed other rows than expected'
                    USING ERRCODE = 'BX001';
            END
            $$
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION boxoffice_refuse()")
