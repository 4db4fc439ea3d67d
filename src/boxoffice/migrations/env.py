"""alembic's environment: run with the connection boxoffice hands over, or from settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

import boxoffice.core.models  # noqa: F401 - registers every table on the metadata
from boxoffice.core.storage import Base, Database, create_engine
from boxoffice.settings import Settings

target_metadata = Base.metadata


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, other: object
) -> bool:
    """Leave the search index tables (FTS5 and its shadow tables, tsvector) to their own SQL."""
    return not (kind == "table" and name is not None and name.startswith("search_"))


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    settings = Settings.from_env()
    db = Database(create_engine(settings.resolved_database_url))
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await db.close()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(run_from_settings())
