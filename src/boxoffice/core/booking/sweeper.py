"""Ends what ran out of time, without any request arriving: holds past their TTL and pending
orders past their payment deadline give their seats back. Runs next to the journal
dispatcher (every API process by default, or ``boxoffice worker``). Several sweepers may run
at once: each hold or order ends through a conditional status change, so only one of them
releases its seats; on PostgreSQL they also skip each other's rows (``SKIP LOCKED``)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.booking import orders
from boxoffice.core.booking.endings import end_hold
from boxoffice.core.booking.models import Hold, Order
from boxoffice.core.clock import Clock
from boxoffice.core.storage import Database
from boxoffice.logs import get_logger

log = get_logger(__name__)
BATCH = 200
INTERVAL_SECONDS = 1.0


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


async def sweep_forever(db: Database, clock: Clock, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            ended = await sweep_until_done(db, clock)
            if ended:
                log.info("booking.swept", ended=ended)
        except Exception:  # keep sweeping; the next round retries
            stop_if_cancelled()
            log.exception("booking.sweep_failed")
        await asyncio.sleep(interval)
