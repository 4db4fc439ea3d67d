"""boxoffice's own suite uses the kit plugin authors get (boxoffice.testing.plugin).

It is loaded here rather than through its pytest11 entry point (disabled in pyproject's
addopts) so that coverage measurement starts before boxoffice is first imported. The kit's
fixtures are named ``boxoffice_*`` so that they never collide with another project's; this
suite uses them under the short names below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from sqlalchemy import event as sqlalchemy_event

from boxoffice.core.clock import ManualClock
from boxoffice.core.resilience import ATTEMPTS
from boxoffice.core.storage import Database
from boxoffice.platform import Platform
from boxoffice.testing.plugin import MakeClient, MakePlatform

pytest_plugins = ["boxoffice.testing.plugin", "pytester", "tests.hangs"]


@pytest.fixture(scope="session", autouse=True)
def _retries_without_waiting() -> Iterator[None]:
    """Provider calls are retried as in production, without the backoff's sleeps."""
    with stamina.set_testing(True, attempts=ATTEMPTS):
        yield


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every async test runs on asyncio (the engines' drivers are asyncio's)."""
    return "asyncio"


@pytest.fixture
def db_engine(boxoffice_db_engine: str) -> str:
    return boxoffice_db_engine


@pytest.fixture
def db_url(boxoffice_db_url: str) -> str:
    return boxoffice_db_url


@pytest.fixture
def empty_db_url(boxoffice_empty_db_url: str) -> str:
    return boxoffice_empty_db_url


@pytest.fixture
def db(boxoffice_db: Database) -> Database:
    return boxoffice_db


@pytest.fixture
def clock(boxoffice_clock: ManualClock) -> ManualClock:
    return boxoffice_clock


@pytest.fixture
def make_platform(boxoffice_platform: MakePlatform) -> MakePlatform:
    return boxoffice_platform


@pytest.fixture
def make_client(boxoffice_client: MakeClient) -> MakeClient:
    return boxoffice_client


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def statements(platform: Platform) -> Iterator[list[str]]:
    """Every SQL statement the test's platform runs on its database (``platform`` is the
    test module's own fixture)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = platform.db.engine.sync_engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    yield seen
    sqlalchemy_event.remove(engine, "before_cursor_execute", record)
