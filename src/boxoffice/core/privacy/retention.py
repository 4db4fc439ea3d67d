"""Retention: what a region's privacy regime keeps only for a while goes after it.

Run by the maintenance loop with the enabled region packs; each pack's
:attr:`PrivacyRegime.retention_days` says how long, counted from the end of the event:

- ``checkins``: who came in, when and through which gate. The event's check-in rows are
  deleted (the lists stay: they are the organizer's configuration).
- ``orders``: the sales, kept as the bookkeeping law of the region asks. Afterwards the
  person leaves them: the buyer and attendees on the orders, tickets and invoices are
  pseudonymised as an erasure does (amounts, dates and taxes stay for the statistics).

- ``sessions``: a person's sign-ins are not tied to a region, so the shortest period of the
  enabled packs applies to all (:data:`SESSIONS_KEPT` when none states one): a session
  ended (signed out, or its last refresh token expired) longer ago is deleted.
- ``messages``: message bodies are dropped when sent and a failed one's after 14 days
  (``core/notify``), within every bundled pack's period.

Events of a region no enabled pack provides are left alone: no regime is known for them.
Each round handles at most :data:`BATCH` events per region and kind, so a first run on a
large history spreads over rounds instead of one long transaction. Idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.catalog.models import Event
from boxoffice.core.checkin.models import Checkin, CheckinList
from boxoffice.core.clock import Clock
from boxoffice.core.compliance.region import ComplianceRegion
from boxoffice.core.identity.models import AuthSession, RefreshToken
from boxoffice.core.invoices.models import Invoice
from boxoffice.core.privacy.service import (
    ERASED_ATTENDEE,
    ERASED_NAME,
    erased_address,
    pseudonymise_invoice,
    pseudonymise_order,
    tell_pseudonymised,
)
from boxoffice.core.storage import Database

#: Events handled per region, kind and round.
BATCH = 50
#: How long an ended session is kept when no enabled pack says.
SESSIONS_KEPT = timedelta(days=30)


async def apply_retention(
    db: Database, clock: Clock, regions: Sequence[ComplianceRegion]
) -> dict[str, int]:
    """Check-ins deleted, orders pseudonymised and sessions deleted this round, by kind."""
    done = {"checkins": 0, "orders": 0, "sessions": 0}
    now = clock.now()
    stated = [
        r.privacy.retention_days["sessions"]
        for r in regions
        if "sessions" in r.privacy.retention_days
    ]
    kept = timedelta(days=min(stated)) if stated else SESSIONS_KEPT
    async with db.transaction() as session:
        done["sessions"] = await _forget_sessions(session, now - kept)
    for region in regions:
        days = region.privacy.retention_days
        async with db.transaction() as session:
            if "checkins" in days:
                cutoff = now - timedelta(days=days["checkins"])
                done["checkins"] += await _forget_checkins(session, region.id, cutoff)
            if "orders" in days:
                cutoff = now - timedelta(days=days["orders"])
                done["orders"] += await _pseudonymise_orders(session, clock, region.id, cutoff)
    return done


async def _forget_sessions(session: AsyncSession, cutoff: datetime) -> int:
    """Sessions that ended before ``cutoff`` (their refresh tokens go with them)."""
    live_token = (
        select(RefreshToken.id)
        .where(RefreshToken.session_id == AuthSession.id, RefreshToken.expires_at >= cutoff)
        .exists()
    )
    ended = select(AuthSession.id).where(
        AuthSession.created_at < cutoff, or_(AuthSession.revoked_at < cutoff, ~live_token)
    )
    gone = list(await session.scalars(ended.limit(BATCH * 20)))
    if not gone:
        return 0
    await session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(gone)))
    await session.execute(delete(AuthSession).where(AuthSession.id.in_(gone)))
    return len(gone)


def _ended(region_id: str, cutoff: datetime) -> ColumnElement[bool]:
    """Events of ``region_id`` that ended before ``cutoff``."""
    return and_(Event.region == region_id, Event.ends_at < cutoff)


async def _forget_checkins(session: AsyncSession, region_id: str, cutoff: datetime) -> int:
    lists = list(
        await session.scalars(
            select(CheckinList.id)
            .join(Event, Event.id == CheckinList.event_id)
            .where(_ended(region_id, cutoff))
            .where(select(Checkin.ticket_id).where(Checkin.list_id == CheckinList.id).exists())
            .limit(BATCH)
        )
    )
    if not lists:
        return 0
    deleted = await session.execute(delete(Checkin).where(Checkin.list_id.in_(lists)))
    return int(getattr(deleted, "rowcount", 0))


async def _pseudonymise_orders(
    session: AsyncSession, clock: Clock, region_id: str, cutoff: datetime
) -> int:
    orders = list(
        await session.scalars(
            select(Order)
            .join(Event, Event.id == Order.event_id)
            .where(_ended(region_id, cutoff), Order.buyer_name != ERASED_NAME)
            .limit(BATCH)
        )
    )
    for order in orders:
        pseudonymise_order(order, erased_address(f"retained-{order.number.lower()}"))
    await tell_pseudonymised(session, clock, orders, "retention")
    ids = [order.id for order in orders]
    if not ids:
        return 0
    await session.execute(
        update(OrderItem).where(OrderItem.order_id.in_(ids)).values(ERASED_ATTENDEE)
    )
    for invoice in await session.scalars(select(Invoice).where(Invoice.order_id.in_(ids))):
        pseudonymise_invoice(invoice, ERASED_NAME)
    return len(ids)
