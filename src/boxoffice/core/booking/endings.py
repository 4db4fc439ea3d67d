"""The end of a hold: released by the buyer or expired by the sweeper (an order takes it
with a conditional update of its own). Only the transaction that ends a hold gives its seats
back, and the seats go to the head of the waiting list in that same transaction.

Apart from :mod:`~boxoffice.core.booking.holds` because the waiting list *places* holds when
seats come back: placing builds nothing on ending, so neither module imports the other's
dependants.
"""

from __future__ import annotations

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking import capacity
from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.waitlist import capacity_released
from boxoffice.core.clock import Clock
from boxoffice.core.errors import Conflict


async def end_hold(
    session: AsyncSession, clock: Clock, hold: Hold, status: str, *, only_if_expired: bool = False
) -> bool:
    """Move an active hold to ``status`` ("ordered", "released", "expired"). Returns whether
    this call did it; seats go back (for "released"/"expired") only then."""
    now = clock.now()
    condition = [Hold.id == hold.id, Hold.status == "active"]
    condition.append(Hold.expires_at <= now if only_if_expired else Hold.expires_at > now)
    if status == "released":
        condition.pop()  # a buyer may release a hold whatever the clock says
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        update(Hold)
        .where(*condition)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    hold.status = status
    if status != "ordered":
        await capacity.release_held(session, hold.allocations)
        await capacity_released(
            session,
            clock,
            hold.event_id,
            [item["ticket_type_id"] for item in hold.items],
            sum(hold.allocations.values()),
            why=f"hold {status}",
        )
    return True


async def release_hold(session: AsyncSession, clock: Clock, hold: Hold) -> Hold:
    """Idempotent: releasing a hold that already ended changes nothing."""
    if hold.status == "ordered":
        raise Conflict(
            "this hold became an order; cancel the order instead", extra={"rule": "hold_ordered"}
        )
    if hold.status == "active" and not await end_hold(session, clock, hold, "released"):
        await session.refresh(hold)
    return hold
