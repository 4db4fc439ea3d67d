"""Migrated template databases: each test gets a copy instead of migrating again."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boxoffice.core.storage import Database, create_engine
from boxoffice.migrations import upgrade
from boxoffice.testing.postgres import PostgresServer

ENGINES = ("sqlite", "postgresql")


async def migrate(url: str) -> None:
    db = Database(create_engine(url, pool_size=1, max_overflow=0))
    try:
        await upgrade(db)
    finally:
        await db.close()


_names = itertools.count()


def database_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_names)}_{uuid.uuid4().hex[:6]}"


@dataclass
class TemplateDatabases:
    """Migrated once per session; each test gets a copy (a file copy, or CREATE DATABASE
    ... TEMPLATE), which is much faster than migrating every time."""

    directory: Path
    postgres: PostgresServer
    sqlite_template: Path
    postgres_template: str

    def fresh(self, engine: str, *, migrated: bool = True) -> tuple[str, Callable[[], None]]:
        """A new database URL and the function that removes it."""
        if engine == "sqlite":
            path = self.directory / f"{database_name('test')}.sqlite3"
            if migrated:
                shutil.copyfile(self.sqlite_template, path)

            def remove_file() -> None:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)

            return f"sqlite+aiosqlite:///{path}", remove_file
        name = database_name("test")
        template = f" TEMPLATE {self.postgres_template}" if migrated else " TEMPLATE template0"
        self.postgres.execute(f"CREATE DATABASE {name}{template}")

        def drop() -> None:
            self.postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

        return self.postgres.database_url(name), drop
