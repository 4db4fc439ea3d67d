"""Ends what ran out of time, without any request arriving: holds past their TTL and pending
orders past their payment deadline give their seats back. Runs next to the journal
dispatcher (every API process by default, or ``boxoffice worker``). Several sweepers may run
at once: each hold or order ends through a conditional status change, so only one of them
releases its seats; on PostgreSQL they also skip each other's rows (``SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.booking import orders
from boxoffice.core.booking.endings import end_hold
from boxoffice.core.booking.models import Hold, Order
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)
BATCH = 200
#: After a failed round, the next one.
INTERVAL_SECONDS = 1.0
#: The longest the sweeper sleeps: shorter than the shortest hold (60 s), so one placed by
#: another process, which cannot wake this one, is still ended on time.
LONGEST_SLEEP_SECONDS = 20.0
#: Past a deadline before the round that ends it (its clock and the database's agree).
DEADLINE_SLACK_SECONDS = 0.05


async def sweep_expired(db: Database, clock: Clock) -> int:
    """End one batch of lapsed holds and unpaid orders; returns how many ended."""
    now = clock.now()
    ended = 0
    async with db.transaction() as session:
        locking = db.dialect == "postgresql"
        statement = (
            select(Hold)
            .where(Hold.status == "active", Hold.expires_at <= now)
            .order_by(Hold.expires_at)
            .limit(BATCH)
        )
        if locking:
            statement = statement.with_for_update(skip_locked=True)
        for hold in await session.scalars(statement):
            ended += await end_hold(session, clock, hold, "expired", only_if_expired=True)
        statement_orders = (
            select(Order)
            .where(Order.status == "pending", Order.expires_at <= now)
            .order_by(Order.expires_at)
            .limit(BATCH)
        )
        if locking:
            statement_orders = statement_orders.with_for_update(skip_locked=True)
        for order in await session.scalars(statement_orders):
            ended += await orders.expire(session, clock, order)
    return ended


async def sweep_until_done(db: Database, clock: Clock) -> int:
    total = 0
    while ended := await sweep_expired(db, clock):
        total += ended
    return total


async def next_deadline(db: Database) -> datetime | None:
    """When the next active hold or pending order runs out of time, if any will."""
    async with db.read() as session:
        holds = await session.scalar(
            select(func.min(Hold.expires_at)).where(Hold.status == "active")
        )
        unpaid = await session.scalar(
            select(func.min(Order.expires_at)).where(Order.status == "pending")
        )
    found = [ensure_utc(moment) for moment in (holds, unpaid) if moment is not None]
    return min(found, default=None)


async def sweep_forever(
    db: Database, clock: Clock, longest_sleep: float = LONGEST_SLEEP_SECONDS
) -> None:
    """Sweep, then sleep until the next deadline — at most ``longest_sleep``, so a hold
    placed by another process (at least a minute long) is seen well before it runs out."""
    while True:
        wait = longest_sleep
        try:
            ended = await sweep_until_done(db, clock)
            if ended:
                log.info("booking.swept", ended=ended)
            deadline = await next_deadline(db)
            if deadline is not None:
                wait = (deadline - clock.now()).total_seconds() + DEADLINE_SLACK_SECONDS
        except Exception:  # keep sweeping; the next round retries
            stop_if_cancelled()
            log.exception("booking.sweep_failed")
            wait = INTERVAL_SECONDS
        await asyncio.sleep(min(longest_sleep, max(INTERVAL_SECONDS / 10, wait)))
