"""Idle means idle: with nothing to do, the background loops (journal dispatcher, booking
sweeper, housekeeping, payment reconciliation) run no statement; they wake on work — a commit
in this process, a NOTIFY from another on PostgreSQL, the next hold's deadline — and still
catch up on a wake-up they missed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.sweeper import sweep_forever
from boxoffice.core.clock import SystemClock
from boxoffice.platform import Platform
from boxoffice.testing import ServerProcesses
from tests import factories
from tests.booking.helpers import Buyer, shop
from tests.servers import demo_environment


@pytest.fixture
def platform(make_platform: factories.MakePlatform) -> Platform:
    return make_platform(config=factories.PLUGINS_TOML, entry_points=True)


async def test_idle_background_work_runs_no_statement_until_work_arrives(
    platform: Platform, make_client: Any, clock: Any, statements: list[str]
) -> None:
    store = await shop(platform.db, clock)
    tasks = [asyncio.create_task(work) for work in platform.background_work()]
    try:
        await asyncio.sleep(2.5)  # the first rounds: the shop's entries, then nothing due
        statements.clear()
        await asyncio.sleep(2.5)
        assert statements == [], "an idle process polls nothing:\n" + "\n".join(statements)
        async with make_client(platform) as client:
            await Buyer(client, store).buy(Standard=1)  # a commit that appends entries
            statements.clear()
            await asyncio.sleep(1.0)  # gather delay, then the dispatcher's round
        assert any("FROM journal_entry" in s for s in statements), "woken by the commit"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_sleeping_sweeper_ends_a_hold_at_its_deadline(
    platform: Platform, make_client: Any, clock: Any
) -> None:
    """The sweeper sleeps until the next deadline it knows of, not a second at a time."""
    store = await shop(platform.db, clock)
    async with make_client(platform) as client:
        held = await Buyer(client, store).hold(Standard=1)
        assert held.status_code == 201, held.text
    deadline = datetime.now(UTC) + timedelta(seconds=1.5)
    async with platform.db.transaction() as session:
        await session.execute(update(Hold).values(expires_at=deadline))
    sweeping = asyncio.create_task(sweep_forever(platform.db, SystemClock(), longest_sleep=20))
    try:
        ended_at = None
        for _ in range(60):
            await asyncio.sleep(0.1)
            async with platform.db.read() as session:
                status = await session.scalar(select(Hold.status))
            if status != "active":
                ended_at = datetime.now(UTC)
                break
        assert ended_at is not None, "the hold was never ended"
        assert deadline <= ended_at < deadline + timedelta(seconds=1), ended_at - deadline
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)


def _delivered(outbox: Path, to: str) -> bool:
    if not outbox.is_dir():
        return False
    return any(json.loads(path.read_text()).get("to") == to for path in outbox.glob("*.json"))


def test_a_worker_delivers_what_an_api_process_appends(db_url: str, tmp_path: Path) -> None:
    """An API process that runs no dispatcher, beside a ``boxoffice worker``: on PostgreSQL
    the API's commit wakes the worker through NOTIFY (its idle poll is an hour here, so
    nothing else could); on SQLite, which has no such signal, the worker's idle poll catches
    up (set to 2 s here)."""
    env = demo_environment(db_url, tmp_path / "data")
    postgres = db_url.startswith("postgresql")
    idle = "3600" if postgres else "2"
    worker = subprocess.Popen(
        [sys.executable, "-m", "boxoffice", "worker"],
        env={**os.environ, **env, "BOXOFFICE_JOURNAL_IDLE_SECONDS": idle},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with ServerProcesses(1, {**env, "BOXOFFICE_RUN_DISPATCHER": "false"}) as (url,):
            time.sleep(2.0)  # the worker has delivered the demo's entries and sleeps
            registered = httpx.post(
                f"{url}/api/v1/auth/register",
                json={"email": "new@example.org", "password": "a long enough passphrase"},
            )
            assert registered.status_code == 202, registered.text
            outbox = tmp_path / "data" / "outbox"
            started = time.monotonic()
            while not _delivered(outbox, "new@example.org") and time.monotonic() - started < 10:
                time.sleep(0.1)
            took = time.monotonic() - started
        assert _delivered(outbox, "new@example.org"), "the verification e-mail never left"
        assert took < 5.0, f"delivered after {took:.1f} s"
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    assert b"Traceback" not in errors, errors.decode()[-3000:]
