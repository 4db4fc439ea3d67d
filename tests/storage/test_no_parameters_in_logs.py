"""A failing statement logs no parameter value: not in the error's message (SQLAlchemy's
``hide_parameters``), not in what PostgreSQL's DETAIL repeats of the row or key (redacted
by the logger), not as an argon2 hash, on both engines."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from boxoffice.core.identity.models import User
from boxoffice.core.storage import Database, table_of
from boxoffice.logs import configure_logging, get_logger

#: What the failing statements carry: a hash of the shape argon2 writes, and plain values.
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$c2VjcmV0aGFzaHZhbHVl"
EMAIL = "hidden.person@example.org"
NAME = "Name-That-Must-Not-Appear"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON logs, configured as production configures them, written to a buffer."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    buffer = io.StringIO()
    configure_logging("INFO", "json", stream=buffer)
    yield buffer
    root.handlers[:], root.level = handlers, level
    structlog.configure(**config)


def row(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "email": EMAIL,
        "password_hash": HASH,
        "name": NAME,
        "created_at": now,
        "updated_at": now,
    }
    return {**values, **overrides}


async def test_failing_statements_log_no_parameter_values(
    db: Database, db_engine: str, json_logs: io.StringIO
) -> None:
    log = get_logger("boxoffice.test")
    users = table_of(User)
    async with db.transaction() as session:
        await session.execute(insert(users).values(row()))
    failing = [
        insert(users).values(row()),  # the same address again: a unique violation
        insert(users).values(row(email="other@example.org", created_at=None)),  # NOT NULL
    ]
    if db_engine == "postgresql":  # SQLite does not enforce lengths
        failing.append(insert(users).values(row(email="third@example.org", locale="x" * 40)))
    errors = []
    for statement in failing:
        try:
            async with db.transaction() as session:
                await session.execute(statement)
        except DBAPIError as error:
            errors.append(error)
            log.exception("db.statement_failed")
    assert len(errors) == len(failing)
    assert all("SQL parameters hidden" in str(error) for error in errors)
    output = json_logs.getvalue()
    assert output.count("db.statement_failed") == len(failing)
    for value in (HASH, "c2VjcmV0aGFzaHZhbHVl", EMAIL, "other@example.org", NAME):
        assert value not in output, f"{value} was logged"
