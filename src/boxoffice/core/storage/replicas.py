"""PostgreSQL read replicas for the public reads (``BOXOFFICE_DATABASE_REPLICA_URLS``).

The event list, event pages, ticket types and search are most of a platform's traffic and
need no primary: :meth:`Replicas.read` gives them a read transaction on a streaming replica
(in turn), and the primary's read when none is fit. A replica is fit while it answers and
its replay lag is at most ``max_lag`` seconds; that is checked at most once a second per
process (one small query), and a replica that failed is left alone for a few seconds.

Which reads may go there is the API's decision, made once per request (``LAG_ALLOWED``,
set by ``api/middleware.py`` for routes marked ``MAY_LAG``): anonymous public reads. A
signed-in caller always reads the primary, so nobody misses their own write (an organizer's
new event, a changed price) because a replica has not replayed it yet. The search backend
reads through the same :meth:`Database.replica_read`, so a search follows the same rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from boxoffice.logs import get_logger

log = get_logger(__name__)

#: Set for the requests whose reads may lag (the API's anonymous public reads): only their
#: :meth:`Database.replica_read` goes to a replica; everyone else's reads the primary.
LAG_ALLOWED: ContextVar[bool] = ContextVar("boxoffice_lag_allowed", default=False)
#: How often each process asks a replica how far behind it is.
CHECK_EVERY_SECONDS = 1.0
#: How long a replica that failed to answer is left alone.
RETRY_AFTER_SECONDS = 5.0
#: How long a health check or a metrics scrape waits for a replica's answer.
CHECK_WITHIN_SECONDS = 2.0

#: Seconds of replay the replica is behind its primary (0 when it has replayed everything
#: it received; a server not in recovery, a promoted one, is never behind).
LAG = text(
    """
    SELECT CASE
      WHEN NOT pg_is_in_recovery() THEN 0
      WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
      ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
    END
    """
)


class Replica:
    def __init__(
        self, engine: AsyncEngine, max_lag: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine, self.max_lag, self.now = engine, max_lag, now
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.fit = False
        self.lag: float | None = None
        self._next_check = 0.0

    async def is_fit(self) -> bool:
        """Whether reads may go here now (checked again once the last check is stale; the
        requests meanwhile take the last answer)."""
        at = self.now()
        if at < self._next_check:
            return self.fit
        self._next_check = at + CHECK_EVERY_SECONDS
        try:
            async with self.engine.connect() as connection:
                self.lag = float(await connection.scalar(LAG) or 0.0)
        except Exception as error:
            self.lag, self.fit = None, False
            self._next_check = at + RETRY_AFTER_SECONDS
            log.warning("replica.unreachable", replica=self.name, error=type(error).__name__)
            return False
        was, self.fit = self.fit, self.lag <= self.max_lag
        if was and not self.fit:
            log.warning("replica.behind", replica=self.name, lag_seconds=round(self.lag, 3))
        return self.fit

    async def is_fit_within(self, seconds: float) -> bool:
        """:meth:`is_fit` for a health check or a metrics scrape, which must answer: a
        replica that cannot say within ``seconds`` counts as unreachable (and is not read)."""
        try:
            async with asyncio.timeout(seconds):
                return await self.is_fit()
        except TimeoutError:
            self.lag, self.fit = None, False
            return False

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work on this replica."""
        async with self.sessions() as session, session.begin():
            yield session

    @property
    def name(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def address(self) -> str:
        """``host:port/database``: which replica, without the user or password (a metrics
        label, a readiness detail)."""
        url = self.engine.url
        return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


class Replicas:
    def __init__(self, engines: Sequence[AsyncEngine], max_lag: float) -> None:
        self.members = [Replica(engine, max_lag) for engine in engines]
        self._turn = 0

    def __bool__(self) -> bool:
        return bool(self.members)

    async def check_all(self, within: float = CHECK_WITHIN_SECONDS) -> list[Replica]:
        """Every replica, each checked (:meth:`Replica.is_fit_within`) at once: for a health
        check or a metrics scrape."""
        await asyncio.gather(*(replica.is_fit_within(within) for replica in self.members))
        return self.members

    async def fit_one(self) -> Replica | None:
        """The next fit replica in turn, or ``None``."""
        count = len(self.members)
        for step in range(count):
            replica = self.members[(self._turn + step) % count]
            if await replica.is_fit():
                self._turn = (self._turn + step + 1) % count
                return replica
        return None

    async def close(self) -> None:
        for replica in self.members:
            await replica.engine.dispose()
