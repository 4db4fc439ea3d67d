"""The reliability drills of ``bench/drills.py``, short: a process killed with SIGKILL in the
middle of a flash sale (both engines: on PostgreSQL an API process of two and the worker;
on SQLite its one API process and the worker), PostgreSQL restarted under load, and a soak
of mixed traffic. Each passes when every invariant held (``drills.problems``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from boxoffice.testing import PostgresServer, find_postgres_bindir

BENCH = Path(__file__).resolve().parents[2] / "bench"

#: Each drill bounds its own sale (``drills.sale_budget``) and its wait for the books (90 s,
#: a killed worker's lease lapsing first): together more than the suite's default limit.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def drills() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        import drills

        yield drills
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of the drill's own: it is restarted, which the session's must not be."""
    bindir = find_postgres_bindir()
    assert bindir is not None, "the session's PostgreSQL started from these binaries"
    server = PostgresServer.start(bindir)
    server.execute("CREATE DATABASE drill")
    try:
        yield server
    finally:
        server.stop()


def test_a_process_killed_mid_sale_loses_nothing(
    drills: ModuleType, db_url: str, tmp_path: Path
) -> None:
    report = drills.crash(db_url, tmp_path, buyers=300, capacity=200, concurrency=30)
    assert report["killed"], "the drill killed nothing"
    assert report["retries"] > 0, "no buyer met the killed process: the kill came too late"
    assert drills.problems(report) == [], drills.explain(report)


def test_postgres_restarted_mid_load_answers_503_then_recovers(
    drills: ModuleType, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    url = own_postgres.database_url("drill")
    report = drills.restart(own_postgres, url, tmp_path, buyers=300, capacity=200, concurrency=30)
    assert report["503 types"] == ["https://boxoffice.dev/problems/database-unavailable"]
    assert drills.problems(report) == [], drills.explain(report)


def test_a_short_soak_stays_flat(
    drills: ModuleType, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    report = drills.soak(own_postgres.database_url("drill"), tmp_path, minutes=0.5)
    assert report["5xx"] == 0, report["statuses"]
    assert set(report["requests"]) == {"browse", "event", "search", "sign-in", "checkout", "cancel"}
    assert report["rss flat"], report["samples"]
    assert report["connections flat"], report["samples"]
