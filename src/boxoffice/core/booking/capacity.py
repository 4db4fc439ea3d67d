"""The only code that moves seats. Each move is one conditional UPDATE per quota, taken in
quota-id order (so two transactions never wait on each other's rows in opposite order on
PostgreSQL); the row count decides, and the quota's CHECK constraints back it up.

``allocations`` maps quota ids (as strings, the way holds and orders store them) to seats.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NoReturn

from sqlalchemy import Connection, CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking import statements
from boxoffice.core.catalog.models import Quota

Allocations = dict[str, int]


def _ordered(allocations: Allocations) -> list[tuple[uuid.UUID, int]]:
    return [(uuid.UUID(q), n) for q, n in sorted(allocations.items()) if n > 0]


def hold(connection: Connection, allocations: Allocations, refuse: Callable[[], NoReturn]) -> None:
    """Hold the seats in every quota, or call ``refuse`` (which raises, so the transaction
    rolls back the quotas already incremented). Deferred writes (see
    :mod:`boxoffice.core.storage.prepared`): they run last, with the work's other writes."""
    for quota_id, seats in _ordered(allocations):
        statements.HOLD_SEATS.defer(
            connection, {"quota_id": quota_id, "seats": seats}, expect=1, otherwise=refuse
        )


def sell_held_sync(connection: Connection, allocations: Allocations) -> None:
    for quota_id, seats in _ordered(allocations):
        statements.SELL_HELD.execute(connection, {"quota_id": quota_id, "seats": seats})


async def release_held(session: AsyncSession, allocations: Allocations) -> None:
    """Give held seats back (a hold or a pending order ended)."""
    for quota_id, seats in _ordered(allocations):
        await session.execute(
            update(Quota)
            .where(Quota.id == quota_id)
            .values(held=Quota.held - seats)
            .execution_options(synchronize_session=False)
        )


async def sell_held(session: AsyncSession, allocations: Allocations) -> None:
    """Turn held seats into sold ones (an order was paid)."""
    await session.run_sync(lambda sync: sell_held_sync(sync.connection(), allocations))


async def resell(session: AsyncSession, allocations: Allocations) -> uuid.UUID | None:
    """Take seats as sold directly, if there is room (a payment arrived after its order had
    expired); return the first quota without room."""
    return await session.run_sync(lambda sync: resell_sync(sync.connection(), allocations))


def resell_sync(connection: Connection, allocations: Allocations) -> uuid.UUID | None:
    for quota_id, seats in _ordered(allocations):
        result: CursorResult[tuple[()]] = connection.execute(
            update(Quota)
            .where(Quota.id == quota_id, Quota.sold + Quota.held + seats <= Quota.capacity)
            .values(sold=Quota.sold + seats)
        )
        if result.rowcount != 1:
            return quota_id
    return None


async def release_sold(session: AsyncSession, allocations: Allocations) -> None:
    """Give sold seats back (a confirmed order was cancelled or refunded)."""
    for quota_id, seats in _ordered(allocations):
        await session.execute(
            update(Quota)
            .where(Quota.id == quota_id)
            .values(sold=Quota.sold - seats)
            .execution_options(synchronize_session=False)
        )
