"""Ticket types and quotas.

A quota caps one or several ticket types together (500 seats shared by Adult and Child; 100
VIP within them). A ticket type is available up to the smallest remaining count among its
quotas; without a quota it is not on sale. ``sold`` and ``held`` belong to the booking engine.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.catalog.models import Event, Quota, QuotaTicketType, TicketType
from boxoffice.core.catalog.schemas import (
    PriceStep,
    QuotaIn,
    QuotaOut,
    TicketTypeIn,
    TicketTypeOut,
)
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import FieldError, NotFound, RuleViolated, ValidationFailed
from boxoffice.core.money import Money, Price


def _check_ticket_type(event: Event, data: TicketTypeIn) -> None:
    problems: list[FieldError] = []
    if data.price.currency != event.currency:
        problems.append(FieldError("price.currency", f"the event sells in {event.currency}"))
    if data.price.minor < 0:
        problems.append(FieldError("price.minor", "a price cannot be negative"))
    if data.min_per_order > data.max_per_order:
        problems.append(FieldError("min_per_order", "must not exceed max_per_order"))
    for name in ("sales_start", "sales_end"):
        value = getattr(data, name)
        if value is not None and value.tzinfo is None:
            problems.append(FieldError(name, "give a time zone offset"))
    if not problems and data.sales_start and data.sales_end and data.sales_end <= data.sales_start:
        problems.append(FieldError("sales_end", "must be after sales_start"))
    for index, step in enumerate(data.price_steps):
        if step.price.currency != event.currency or step.price.minor < 0:
            problems.append(
                FieldError(
                    f"price_steps[{index}].price", f"a price in {event.currency}, not negative"
                )
            )
        if step.until is not None and step.until.tzinfo is None:
            problems.append(FieldError(f"price_steps[{index}].until", "give a time zone offset"))
        if step.until is None and step.up_to_sold is None:
            problems.append(FieldError(f"price_steps[{index}]", "give until, up_to_sold or both"))
    if data.visibility == "code" and not data.access_code:
        problems.append(FieldError("access_code", "a code-locked ticket type needs its code"))
    if problems:
        raise ValidationFailed("the ticket type has invalid fields", errors=problems)


def _apply(ticket_type: TicketType, data: TicketTypeIn, now: datetime) -> None:
    ticket_type.name = data.name
    ticket_type.description = data.description
    ticket_type.price_minor = data.price.minor
    ticket_type.currency = data.price.currency
    ticket_type.sales_start = ensure_utc(data.sales_start) if data.sales_start else None
    ticket_type.sales_end = ensure_utc(data.sales_end) if data.sales_end else None
    ticket_type.min_per_order = data.min_per_order
    ticket_type.max_per_order = data.max_per_order
    ticket_type.visibility = data.visibility
    ticket_type.tax_category = data.tax_category
    ticket_type.access_code = data.access_code.strip().upper() if data.access_code else None
    ticket_type.position = data.position
    ticket_type.price_steps = [
        {
            "price_minor": step.price.minor,
            "until": ensure_utc(step.until).isoformat() if step.until else None,
            "up_to_sold": step.up_to_sold,
        }
        for step in data.price_steps
    ]
    ticket_type.updated_at = now


async def create_ticket_type(
    session: AsyncSession, clock: Clock, event: Event, data: TicketTypeIn
) -> TicketType:
    _check_ticket_type(event, data)
    ticket_type = TicketType(event_id=event.id, created_at=clock.now())
    _apply(ticket_type, data, clock.now())
    session.add(ticket_type)
    await session.flush()
    return ticket_type


async def get_ticket_type(
    session: AsyncSession, event_id: uuid.UUID, ticket_type_id: uuid.UUID
) -> TicketType:
    ticket_type = await session.get(TicketType, ticket_type_id)
    if ticket_type is None or ticket_type.event_id != event_id:
        raise NotFound(f"no ticket type {ticket_type_id} in this event")
    return ticket_type


async def update_ticket_type(
    session: AsyncSession,
    clock: Clock,
    event: Event,
    ticket_type_id: uuid.UUID,
    data: TicketTypeIn,
) -> TicketType:
    ticket_type = await get_ticket_type(session, event.id, ticket_type_id)
    _check_ticket_type(event, data)
    _apply(ticket_type, data, clock.now())
    return ticket_type


async def delete_ticket_type(
    session: AsyncSession, event: Event, ticket_type_id: uuid.UUID
) -> None:
    ticket_type = await get_ticket_type(session, event.id, ticket_type_id)
    in_use = await session.scalar(
        select(func.coalesce(func.sum(Quota.sold + Quota.held), 0))
        .join(QuotaTicketType, QuotaTicketType.quota_id == Quota.id)
        .where(QuotaTicketType.ticket_type_id == ticket_type.id)
    )
    if in_use:
        raise RuleViolated("its quotas have sold or held seats: hide it instead of deleting it")
    await session.delete(ticket_type)


async def _check_members(session: AsyncSession, event: Event, ids: list[uuid.UUID]) -> None:
    found = set(
        await session.scalars(
            select(TicketType.id).where(TicketType.event_id == event.id, TicketType.id.in_(ids))
        )
    )
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise ValidationFailed(
            "unknown ticket types",
            errors=[
                FieldError("ticket_types", f"not ticket types of this event: {', '.join(unknown)}")
            ],
        )


async def create_quota(session: AsyncSession, clock: Clock, event: Event, data: QuotaIn) -> Quota:
    await _check_members(session, event, data.ticket_types)
    quota = Quota(
        event_id=event.id,
        name=data.name,
        capacity=data.capacity,
        sold=0,
        held=0,
        created_at=clock.now(),
    )
    session.add(quota)
    await session.flush()
    for ticket_type_id in dict.fromkeys(data.ticket_types):
        session.add(QuotaTicketType(quota_id=quota.id, ticket_type_id=ticket_type_id))
    await session.flush()
    return quota


async def get_quota(session: AsyncSession, event_id: uuid.UUID, quota_id: uuid.UUID) -> Quota:
    quota = await session.get(Quota, quota_id, with_for_update=True)
    if quota is None or quota.event_id != event_id:
        raise NotFound(f"no quota {quota_id} in this event")
    return quota


async def update_quota(
    session: AsyncSession, event: Event, quota_id: uuid.UUID, data: QuotaIn
) -> Quota:
    quota = await get_quota(session, event.id, quota_id)
    await _check_members(session, event, data.ticket_types)
    if data.capacity < quota.sold + quota.held:
        raise RuleViolated(
            f"the capacity cannot go below the {quota.sold} sold and {quota.held} held seats",
            errors=[FieldError("capacity", f"at least {quota.sold + quota.held}")],
        )
    quota.name, quota.capacity = data.name, data.capacity
    await session.execute(delete(QuotaTicketType).where(QuotaTicketType.quota_id == quota.id))
    for ticket_type_id in dict.fromkeys(data.ticket_types):
        session.add(QuotaTicketType(quota_id=quota.id, ticket_type_id=ticket_type_id))
    await session.flush()
    return quota


async def delete_quota(session: AsyncSession, event: Event, quota_id: uuid.UUID) -> None:
    quota = await get_quota(session, event.id, quota_id)
    if quota.sold or quota.held:
        raise RuleViolated("this quota has sold or held seats; lower its capacity instead")
    await session.delete(quota)


async def quotas_of(
    session: AsyncSession, event_id: uuid.UUID, only: uuid.UUID | None = None
) -> list[QuotaOut]:
    """The event's quotas with their counts (``only``: just that one)."""
    statement = select(Quota).where(Quota.event_id == event_id)
    if only is not None:
        statement = statement.where(Quota.id == only)
    quotas = list(await session.scalars(statement.order_by(Quota.created_at, Quota.id)))
    members: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if quotas:
        for quota_id, ticket_type_id in await session.execute(
            select(QuotaTicketType.quota_id, QuotaTicketType.ticket_type_id).where(
                QuotaTicketType.quota_id.in_([q.id for q in quotas])
            )
        ):
            members[quota_id].append(ticket_type_id)
    return [
        QuotaOut(
            id=q.id,
            name=q.name,
            capacity=q.capacity,
            sold=q.sold,
            held=q.held,
            available=q.capacity - q.sold - q.held,
            ticket_types=sorted(members[q.id]),
        )
        for q in quotas
    ]


async def availability(
    session: AsyncSession, event_id: uuid.UUID, only: uuid.UUID | None = None
) -> dict[uuid.UUID, int]:
    """Seats left per ticket type (``only``: just that one): the smallest remaining among its
    quotas. One query."""
    statement = (
        select(QuotaTicketType.ticket_type_id, func.min(Quota.capacity - Quota.sold - Quota.held))
        .join(Quota, Quota.id == QuotaTicketType.quota_id)
        .where(Quota.event_id == event_id)
        .group_by(QuotaTicketType.ticket_type_id)
    )
    if only is not None:
        statement = statement.where(QuotaTicketType.ticket_type_id == only)
    rows = await session.execute(statement)
    return {ticket_type_id: max(0, int(left)) for ticket_type_id, left in rows}


async def organizer_view(
    session: AsyncSession, ticket_type: TicketType, now: datetime
) -> TicketTypeOut:
    """One ticket type as organizers see it, with its seats left."""
    left = await availability(session, ticket_type.event_id, only=ticket_type.id)
    taken = (await taken_of(session, ticket_type.event_id)).get(ticket_type.id, 0)
    return ticket_type_out(ticket_type, left.get(ticket_type.id, 0), now, private=True, taken=taken)


class SalesWindow(Protocol):
    @property
    def sales_start(self) -> datetime | None: ...
    @property
    def sales_end(self) -> datetime | None: ...


class Priced(Protocol):
    @property
    def price_minor(self) -> int: ...
    @property
    def price_steps(self) -> list[dict[str, Any]]: ...


def current_price(ticket_type: Priced, now: datetime, taken: int) -> int:
    """The unit price now: the first price step whose date has not passed and whose count
    (``taken``: seats sold or held in the ticket type's fullest quota) is not reached; else
    the regular price. Holds lock the price they were placed at."""
    for step in ticket_type.price_steps or ():
        until = step.get("until")
        if until is not None and now >= datetime.fromisoformat(until):
            continue
        up_to = step.get("up_to_sold")
        if up_to is not None and taken >= up_to:
            continue
        return int(step["price_minor"])
    return ticket_type.price_minor


async def taken_of(session: AsyncSession, event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Seats sold or held per ticket type, in its fullest quota (for count-based prices)."""
    rows = await session.execute(
        select(QuotaTicketType.ticket_type_id, func.max(Quota.sold + Quota.held))
        .join(Quota, Quota.id == QuotaTicketType.quota_id)
        .where(Quota.event_id == event_id)
        .group_by(QuotaTicketType.ticket_type_id)
    )
    return {ticket_type_id: int(taken) for ticket_type_id, taken in rows}


def on_sale(ticket_type: SalesWindow, now: datetime) -> bool:
    return (ticket_type.sales_start is None or ticket_type.sales_start <= now) and (
        ticket_type.sales_end is None or now < ticket_type.sales_end
    )


def ticket_type_out(
    ticket_type: TicketType,
    available: int,
    now: datetime,
    *,
    private: bool = False,
    taken: int = 0,
) -> TicketTypeOut:
    return TicketTypeOut(
        id=ticket_type.id,
        name=ticket_type.name,
        description=ticket_type.description,
        price=Money(current_price(ticket_type, now, taken), ticket_type.currency),
        regular_price=Money(ticket_type.price_minor, ticket_type.currency),
        price_steps=[
            PriceStep(
                price=Price(int(step["price_minor"]), ticket_type.currency),
                until=datetime.fromisoformat(step["until"]) if step.get("until") else None,
                up_to_sold=step.get("up_to_sold"),
            )
            for step in ticket_type.price_steps or ()
        ],
        sales_start=ticket_type.sales_start,
        sales_end=ticket_type.sales_end,
        min_per_order=ticket_type.min_per_order,
        max_per_order=ticket_type.max_per_order,
        visibility=ticket_type.visibility,
        available=available,
        on_sale=on_sale(ticket_type, now) and available > 0,
        access_code=ticket_type.access_code if private else None,
        tax_category=ticket_type.tax_category,
    )


async def ticket_types_of(
    session: AsyncSession,
    event_id: uuid.UUID,
    now: datetime,
    *,
    private: bool = False,
    access_code: str | None = None,
) -> list[TicketTypeOut]:
    """Organizers (``private``) see all; the public sees public ones plus those whose access
    code they give. Hidden ones are unlocked by promo codes in the booking flow."""
    left = await availability(session, event_id)
    taken = await taken_of(session, event_id)
    code = access_code.strip().upper() if access_code else None
    result = []
    for ticket_type in await session.scalars(
        select(TicketType)
        .where(TicketType.event_id == event_id)
        .order_by(TicketType.position, TicketType.created_at, TicketType.id)
    ):
        visible = (
            private
            or ticket_type.visibility == "public"
            or (
                ticket_type.visibility == "code"
                and code is not None
                and ticket_type.access_code == code
            )
        )
        if visible:
            result.append(
                ticket_type_out(
                    ticket_type,
                    left.get(ticket_type.id, 0),
                    now,
                    private=private,
                    taken=taken.get(ticket_type.id, 0),
                )
            )
    return result


async def sellable_ticket_types(session: AsyncSession, event_id: uuid.UUID) -> int:
    """How many ticket types of the event are in at least one quota."""
    return int(
        await session.scalar(
            select(func.count(func.distinct(QuotaTicketType.ticket_type_id)))
            .join(Quota, Quota.id == QuotaTicketType.quota_id)
            .where(Quota.event_id == event_id)
        )
        or 0
    )
