"""Holds: a buyer's selection, holding seats in every affected quota (all or nothing) for the
event's hold TTL. A hold ends exactly once: turned into an order, released by the buyer, or
expired by the sweeper — each a conditional status change, and only the transaction that
wins it gives the seats back.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking import capacity
from boxoffice.core.booking.entries import CapacityReleased
from boxoffice.core.booking.errors import LimitExceeded, NotOnSale, SoldOut
from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.schemas import HoldIn, HoldLine, HoldOut
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import Event, QuotaTicketType, TicketType
from boxoffice.core.catalog.tickets import availability, on_sale
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from boxoffice.core.ids import new_id
from boxoffice.core.journal.service import append
from boxoffice.core.money import Money


def new_secret() -> str:
    return secrets.token_urlsafe(18)


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def sellable_event(session: AsyncSession, event_id: uuid.UUID, now: datetime) -> Event:
    """The event, if it sells tickets now; otherwise a refusal naming why."""
    event = await session.get(Event, event_id)
    if event is None or event.status == EventStatus.DRAFT:
        raise NotFound(f"no event {event_id}")
    if event.status != EventStatus.PUBLISHED:
        raise NotOnSale(f"the event is {event.status}: nothing is on sale",
                        extra={"rule": "event_status", "status": event.status})  # fmt: skip
    if now >= ensure_utc(event.ends_at):
        raise NotOnSale("the event is over", extra={"rule": "event_over"})
    return event


def _merged(data: HoldIn) -> dict[uuid.UUID, int]:
    quantities: dict[uuid.UUID, int] = {}
    for item in data.items:
        quantities[item.ticket_type_id] = quantities.get(item.ticket_type_id, 0) + item.quantity
    return quantities


def _check_ticket_types(
    quantities: dict[uuid.UUID, int], found: dict[uuid.UUID, TicketType], code: str | None,
    now: datetime,
) -> None:  # fmt: skip
    unknown = [
        FieldError(f"items[{index}].ticket_type_id", "not a ticket type on sale for this event")
        for index, ticket_type_id in enumerate(quantities)
        if ticket_type_id not in found
        or found[ticket_type_id].visibility == "hidden"
        or (
            found[ticket_type_id].visibility == "code" and found[ticket_type_id].access_code != code
        )
    ]
    if unknown:
        raise ValidationFailed("unknown ticket types", errors=unknown)
    for index, (ticket_type_id, quantity) in enumerate(quantities.items()):
        ticket_type = found[ticket_type_id]
        field = f"items[{index}].quantity"
        if not on_sale(ticket_type, now):
            raise NotOnSale(f"{ticket_type.name} is not on sale now",
                            extra={"rule": "sales_window", "ticket_type_id": str(ticket_type_id),
                                   "sales_start": ticket_type.sales_start,
                                   "sales_end": ticket_type.sales_end})  # fmt: skip
        if quantity < ticket_type.min_per_order:
            raise LimitExceeded(
                f"{ticket_type.name}: at least {ticket_type.min_per_order} per order",
                errors=[FieldError(field, f"at least {ticket_type.min_per_order}")],
                extra={"rule": "min_per_order", "ticket_type_id": str(ticket_type_id)})  # fmt: skip
        if quantity > ticket_type.max_per_order:
            raise LimitExceeded(
                f"{ticket_type.name}: at most {ticket_type.max_per_order} per order",
                errors=[FieldError(field, f"at most {ticket_type.max_per_order}")],
                extra={"rule": "max_per_order", "ticket_type_id": str(ticket_type_id)})  # fmt: skip


async def _allocations(
    session: AsyncSession, quantities: dict[uuid.UUID, int], found: dict[uuid.UUID, TicketType]
) -> dict[str, int]:
    allocations: dict[str, int] = defaultdict(int)
    covered: set[uuid.UUID] = set()
    for quota_id, ticket_type_id in await session.execute(
        select(QuotaTicketType.quota_id, QuotaTicketType.ticket_type_id)
        .where(QuotaTicketType.ticket_type_id.in_(list(quantities)))):  # fmt: skip
        allocations[str(quota_id)] += quantities[ticket_type_id]
        covered.add(ticket_type_id)
    for ticket_type_id in quantities:
        if ticket_type_id not in covered:
            raise SoldOut(
                f"{found[ticket_type_id].name} has no seats (no quota)",
                extra={"rule": "capacity", "available": {str(ticket_type_id): 0}},
            )
    return dict(allocations)


async def place_hold(
    session: AsyncSession, clock: Clock, event_id: uuid.UUID, data: HoldIn
) -> HoldOut:
    now = clock.now()
    event = await sellable_event(session, event_id, now)
    quantities = _merged(data)
    found = {t.id: t for t in await session.scalars(select(TicketType).where(
        TicketType.event_id == event.id, TicketType.id.in_(list(quantities))))}  # fmt: skip
    code = data.access_code.strip().upper() if data.access_code else None
    _check_ticket_types(quantities, found, code, now)
    allocations = await _allocations(session, quantities, found)
    if await capacity.hold(session, allocations) is not None:
        left = await availability(session, event.id)
        short = {str(t): left.get(t, 0) for t, n in quantities.items() if left.get(t, 0) < n}
        names = ", ".join(found[uuid.UUID(t)].name for t in short) or "the selection"
        raise SoldOut(f"not enough seats left for {names}",
                      extra={"rule": "capacity", "available": short})  # fmt: skip
    hold = Hold(
        id=new_id(), event_id=event.id, secret=new_secret(), status="active",
        items=[{"ticket_type_id": str(t), "quantity": n} for t, n in quantities.items()],
        allocations=allocations, access_code=code, created_at=now,
        expires_at=now + timedelta(seconds=event.hold_ttl_seconds),
    )  # fmt: skip
    session.add(hold)
    return hold_out(hold, found)


def hold_out(hold: Hold, ticket_types: dict[uuid.UUID, TicketType]) -> HoldOut:
    lines = []
    for item in hold.items:
        ticket_type = ticket_types[uuid.UUID(item["ticket_type_id"])]
        unit_price = Money(ticket_type.price_minor, ticket_type.currency)
        lines.append(HoldLine(ticket_type_id=ticket_type.id, name=ticket_type.name,
                              quantity=int(item["quantity"]), unit_price=unit_price))  # fmt: skip
    return HoldOut(id=hold.id, secret=hold.secret, event_id=hold.event_id, status=hold.status,
                   items=lines, expires_at=ensure_utc(hold.expires_at),
                   created_at=ensure_utc(hold.created_at))  # fmt: skip


async def ticket_types_of_hold(session: AsyncSession, hold: Hold) -> dict[uuid.UUID, TicketType]:
    ids = [uuid.UUID(item["ticket_type_id"]) for item in hold.items]
    return {
        t.id: t for t in await session.scalars(select(TicketType).where(TicketType.id.in_(ids)))
    }


async def get_hold(session: AsyncSession, hold_id: uuid.UUID, secret: str | None) -> Hold:
    """The hold, for the caller who knows its secret (anyone else: 404)."""
    hold = await session.get(Hold, hold_id)
    if hold is None or not same_secret(secret, hold.secret):
        raise NotFound(f"no hold {hold_id}")
    return hold


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
        update(Hold).where(*condition).values(status=status)
        .execution_options(synchronize_session=False))  # fmt: skip
    if result.rowcount != 1:
        return False
    hold.status = status
    if status != "ordered":
        await capacity.release_held(session, hold.allocations)
        await append(session, CapacityReleased(
            event_id=str(hold.event_id), seats=sum(hold.allocations.values()),
            ticket_type_ids=[item["ticket_type_id"] for item in hold.items],
            why=f"hold {status}"), clock)  # fmt: skip
    return True


async def release_hold(session: AsyncSession, clock: Clock, hold: Hold) -> Hold:
    """Idempotent: releasing a hold that already ended changes nothing."""
    if hold.status == "ordered":
        raise Conflict("this hold became an order; cancel the order instead",
                       extra={"rule": "hold_ordered"})  # fmt: skip
    if hold.status == "active" and not await end_hold(session, clock, hold, "released"):
        await session.refresh(hold)
    return hold
