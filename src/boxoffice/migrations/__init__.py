"""The schema's migrations (alembic) and the functions that apply and check them.

The scripts ship inside the package so that an installed ``boxoffice`` can migrate its own
database. Every revision runs on SQLite and on PostgreSQL (the test suite runs them on both).
"""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import DBAPIError

from boxoffice.core.errors import DatabaseNotMigrated
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships (a database at another one is a newer release's)."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
    await db.optimize()


async def downgrade(db: Database, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


async def current_revision(db: Database) -> str | None:
    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


async def is_empty(db: Database) -> bool:
    """True for a database with no tables at all (a brand-new file)."""

    def tables(connection: Connection) -> list[Any]:
        return list(inspect(connection).get_table_names())

    async with db.engine.connect() as connection:
        return not await connection.run_sync(tables)


async def ensure_migrated(db: Database) -> None:
    """Refuse to run on a database whose schema is behind this code's head revision.

    A schema *ahead* of the code (a revision this code does not know) is a newer release's,
    migrated before its rollout: migrations only expand (docs/deploy.md), so this release
    still runs on it while the rollout replaces its processes."""
    current, head = await current_revision(db), head_revision()
    if current == head or (current is not None and current not in known_revisions()):
        return
    where = db.engine.url.render_as_string(hide_password=True)
    state = "has no boxoffice schema" if current is None else f"is at revision {current}"
    raise DatabaseNotMigrated(
        f"the database {where} {state}, but this version of boxoffice needs revision {head}. "
        "Run `boxoffice migrate` (with the same BOXOFFICE_DATABASE_URL) and start again.",
        extra={"current": current, "expected": head},
    )


async def wait_until_migrated(db: Database, patience: float) -> None:
    """:func:`ensure_migrated`, waiting up to ``patience`` seconds for a database that does
    not answer yet (starting up, restarting): a worker started beside it waits instead of
    exiting. A schema behind the code is refused at once."""
    deadline = time.monotonic() + patience
    while True:
        try:
            await ensure_migrated(db)
            return
        except (OSError, DBAPIError) as error:
            if time.monotonic() > deadline:
                raise
            log.warning("db.waiting", error=type(error).__name__)
            await asyncio.sleep(1.0)
