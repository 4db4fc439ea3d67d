"""``Database.listening`` / ``notify``: how a process wakes the others (PostgreSQL), and how
a listener learns that its connection broke (a database restart) so it listens again."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from boxoffice.core.storage import Database


async def test_a_notify_is_heard_and_a_broken_listener_says_so(db: Database) -> None:
    heard = asyncio.Event()
    async with db.listening("boxoffice_test", heard.set) as listening:
        await db.notify("boxoffice_test")
        if db.dialect != "postgresql":  # SQLite has no such signal: callers poll
            await asyncio.sleep(0.3)
            assert not heard.is_set()
            assert listening.alive()
            return
        await asyncio.wait_for(heard.wait(), timeout=5)
        assert listening.alive()
        async with db.engine.connect() as connection:  # as a restart would, for it
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%boxoffice_test%' AND pid <> pg_backend_pid()"
                )
            )
        for _ in range(50):
            if not listening.alive():
                break
            await asyncio.sleep(0.1)
        assert not listening.alive(), "a listener whose connection broke must say so"
