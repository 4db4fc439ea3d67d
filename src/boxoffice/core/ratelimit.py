"""Rate limits shared by every API process: fixed-window counters in the database.

One statement per check (an upsert that increments and returns the count), so several
stateless processes on one database enforce one limit. Windows expire and are swept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

import msgspec
from sqlalchemy import Connection, Integer, String, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from boxoffice.core.clock import Clock
from boxoffice.core.errors import BoxofficeError
from boxoffice.core.storage import (
    LIKE_ESCAPE,
    Base,
    Database,
    UTCDateTime,
    conflict_insert,
    prefix_pattern,
)
from boxoffice.core.storage.prepared import Prepared


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_window"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Limit(msgspec.Struct, frozen=True):
    requests: int
    per: timedelta


class RateLimited(BoxofficeError):
    slug = "rate-limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, extra={"retry_after": retry_after})
        self.retry_after = retry_after


def _window_start(now: datetime, per: timedelta) -> datetime:
    seconds = int(per.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


async def hit(db: Database, clock: Clock, key: str, limit: Limit, what: str) -> None:
    """Count one request against ``key``; raise :class:`RateLimited` past the limit."""
    now = clock.now()
    start = _window_start(now, limit.per)
    values = conflict_insert(db.dialect, RateLimitWindow).values(
        key=key[:200], window_start=start, count=1, expires_at=start + limit.per
    )
    statement = values.on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": RateLimitWindow.count + 1},
    ).returning(RateLimitWindow.count)
    async with db.transaction() as session:
        count = (await session.execute(statement)).scalar_one()
    if count > limit.requests:
        retry_after = max(1, int((start + limit.per - now).total_seconds()))
        raise RateLimited(f"too many {what}; try again in {retry_after} seconds", retry_after)


def _counting(dialect: str) -> Any:
    """Count one more in the window unless it is full (no row changed: refused)."""
    statement = conflict_insert(dialect, RateLimitWindow)
    limit = bindparam("limit", type_=Integer())
    return statement.on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": RateLimitWindow.count + 1},
        where=RateLimitWindow.count < limit,
    )


_COUNT = Prepared(_counting)


def count_in(connection: Connection, clock: Clock, key: str, limit: Limit, what: str) -> None:
    """:func:`hit` inside the caller's own work (``Database.run``, or a session's
    connection): one conditional upsert, deferred so that on PostgreSQL it rides with the
    work's own writes; past the limit the whole work is refused (:class:`RateLimited`), and
    a refused request is not counted."""
    now = clock.now()
    start = _window_start(now, limit.per)

    def refuse() -> NoReturn:
        retry_after = max(1, int((start + limit.per - now).total_seconds()))
        raise RateLimited(f"too many {what}; try again in {retry_after} seconds", retry_after)

    _COUNT.defer(
        connection,
        {
            "key": key[:200],
            "window_start": start,
            "count": 1,
            "expires_at": start + limit.per,
            "limit": limit.requests,
        },
        expect=1,
        otherwise=refuse,
    )


async def retry_after(db: Database, clock: Clock, key: str, limit: Limit) -> int | None:
    """Seconds until ``key`` may be counted again if its window is full; ``None`` if not
    (a look that counts nothing)."""
    now = clock.now()
    start = _window_start(now, limit.per)
    async with db.read() as session:
        count = await session.scalar(
            select(RateLimitWindow.count).where(
                RateLimitWindow.key == key[:200], RateLimitWindow.window_start == start
            )
        )
    if count is None or count < limit.requests:
        return None
    return max(1, int((start + limit.per - now).total_seconds()))


async def forget(session: AsyncSession, prefix: str) -> None:
    """Drop every window whose key starts with ``prefix`` (in ``session``'s transaction)."""
    await session.execute(
        delete(RateLimitWindow).where(
            RateLimitWindow.key.like(prefix_pattern(prefix), escape=LIKE_ESCAPE)
        )
    )


async def sweep(db: Database, clock: Clock) -> int:
    """Delete expired windows; returns how many."""
    async with db.transaction() as session:
        result = await session.execute(
            delete(RateLimitWindow).where(RateLimitWindow.expires_at < clock.now())
        )
    return int(getattr(result, "rowcount", 0) or 0)
