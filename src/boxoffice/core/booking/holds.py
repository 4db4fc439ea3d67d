"""Holds: a buyer's selection, holding seats in every affected quota (all or nothing) for the
event's hold TTL. A hold ends exactly once: turned into an order, released by the buyer, or
expired by the sweeper — each a conditional status change, and only the transaction that
wins it gives the seats back (:mod:`~boxoffice.core.booking.endings`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NoReturn

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking import capacity, promos, statements
from boxoffice.core.booking.errors import LimitExceeded, NotOnSale, SoldOut
from boxoffice.core.booking.models import Hold
from boxoffice.core.booking.records import HoldRecord, SelectionRow, TicketLike
from boxoffice.core.booking.schemas import HoldIn, HoldLine, HoldOut
from boxoffice.core.catalog.lifecycle import EventStatus
from boxoffice.core.catalog.models import TicketType
from boxoffice.core.catalog.tickets import current_price, on_sale
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import FieldError, NotFound, ValidationFailed
from boxoffice.core.links import Link, secret_matches
from boxoffice.core.money import Money
from boxoffice.core.storage.prepared import commit_asynchronously


def check_sellable(
    status: str | None, ends_at: datetime | None, event_id: uuid.UUID, now: datetime
) -> None:
    """Refuse unless the event sells tickets now, naming why."""
    if status is None or ends_at is None or status == EventStatus.DRAFT:
        raise NotFound(f"no event {event_id}")
    if status != EventStatus.PUBLISHED:
        raise NotOnSale(
            f"the event is {status}: nothing is on sale",
            extra={"rule": "event_status", "status": status},
        )
    if now >= ensure_utc(ends_at):
        raise NotOnSale("the event is over", extra={"rule": "event_over"})


def _merged(data: HoldIn) -> dict[uuid.UUID, int]:
    quantities: dict[uuid.UUID, int] = {}
    for item in data.items:
        quantities[item.ticket_type_id] = quantities.get(item.ticket_type_id, 0) + item.quantity
    return quantities


def _check_ticket_types(
    quantities: dict[uuid.UUID, int],
    found: Mapping[uuid.UUID, TicketLike],
    code: str | None,
    now: datetime,
    unlocked: frozenset[str] = frozenset(),
) -> None:
    def offered(ticket_type_id: uuid.UUID) -> bool:
        ticket_type = found.get(ticket_type_id)
        if ticket_type is None:
            return False
        if ticket_type.visibility == "hidden":
            return str(ticket_type_id) in unlocked
        return ticket_type.visibility == "public" or ticket_type.access_code == code

    unknown = [
        FieldError(f"items[{index}].ticket_type_id", "not a ticket type on sale for this event")
        for index, ticket_type_id in enumerate(quantities)
        if not offered(ticket_type_id)
    ]
    if unknown:
        raise ValidationFailed("unknown ticket types", errors=unknown)
    for index, (ticket_type_id, quantity) in enumerate(quantities.items()):
        ticket_type = found[ticket_type_id]
        field = f"items[{index}].quantity"
        if not on_sale(ticket_type, now):
            raise NotOnSale(
                f"{ticket_type.name} is not on sale now",
                extra={
                    "rule": "sales_window",
                    "ticket_type_id": str(ticket_type_id),
                    "sales_start": ticket_type.sales_start,
                    "sales_end": ticket_type.sales_end,
                },
            )
        if quantity < ticket_type.min_per_order:
            raise LimitExceeded(
                f"{ticket_type.name}: at least {ticket_type.min_per_order} per order",
                errors=[FieldError(field, f"at least {ticket_type.min_per_order}")],
                extra={"rule": "min_per_order", "ticket_type_id": str(ticket_type_id)},
            )
        if quantity > ticket_type.max_per_order:
            raise LimitExceeded(
                f"{ticket_type.name}: at most {ticket_type.max_per_order} per order",
                errors=[FieldError(field, f"at most {ticket_type.max_per_order}")],
                extra={"rule": "max_per_order", "ticket_type_id": str(ticket_type_id)},
            )


def _allocations(rows: Sequence[SelectionRow], quantities: dict[uuid.UUID, int]) -> dict[str, int]:
    allocations: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.quota_id is None:
            raise SoldOut(
                f"{row.name} has no seats (no quota)",
                extra={"rule": "capacity", "available": {str(row.ticket_type_id): 0}},
            )
        allocations[str(row.quota_id)] += quantities[row.ticket_type_id]
    return dict(allocations)


class NewHold(NamedTuple):
    """A hold written but not yet holding seats (see :func:`start_hold`)."""

    record: HoldRecord
    #: The hold's id and the secret of its link (only the hash is in the record).
    link: Link
    ticket_types: dict[uuid.UUID, SelectionRow]
    quantities: dict[uuid.UUID, int]
    promo_code: str | None
    #: The ``SELECTION`` rows of the requested ticket types (the event's columns in each).
    rows: list[SelectionRow]

    def out(self) -> HoldOut:
        assert self.link.secret is not None, "a hold answered with must have its secret"
        return hold_out(self.record, self.link.secret, self.ticket_types, self.promo_code)


def place_hold(
    connection: Connection,
    clock: Clock,
    event_id: uuid.UUID,
    data: HoldIn,
    link: Link,
    *,
    durable: bool = False,
) -> HoldOut:
    """Hold seats for the selection in every quota it draws on, all or nothing: one query
    for the event and its ticket types, one INSERT, one conditional UPDATE per quota.
    ``durable``: the hold is part of a larger transaction that must wait for the WAL flush
    (a waiting-list offer made while an order is cancelled)."""
    hold = start_hold(connection, clock, event_id, data, link, durable=durable)
    take_seats(connection, hold)
    return hold.out()


def start_hold(
    connection: Connection,
    clock: Clock,
    event_id: uuid.UUID,
    data: HoldIn,
    link: Link,
    *,
    durable: bool = False,
    status: str = "active",
) -> NewHold:
    """Check and price the selection and write the hold; :func:`take_seats` must follow in
    the same transaction. Refuses at once what the quotas, as read, cannot seat (a sold-out
    refusal then costs one query); the conditional UPDATE in ``take_seats`` still decides.
    ``status="ordered"``: the hold is written already taken by an order (checkout)."""
    now = clock.now()
    quantities = _merged(data)
    # A hold moves no money and lapses by itself: on PostgreSQL its commit need not wait
    # for the WAL flush. A crash may lose the last few milliseconds of holds, always whole
    # (the seats with them), never half. The hot quota row is then locked for microseconds
    # instead of an fsync.
    commit_asynchronously(connection, not durable)
    rows: Sequence[SelectionRow] = statements.SELECTION.execute(
        connection, {"event_id": event_id}
    ).rows
    first = rows[0] if rows else None
    check_sellable(first.status if first else None, first.ends_at if first else None, event_id, now)
    assert first is not None
    rows = [row for row in rows if row.ticket_type_id in quantities]
    found: dict[uuid.UUID, SelectionRow] = {row.ticket_type_id: row for row in rows}
    code = data.access_code.strip().upper() if data.access_code else None
    promo = (
        promos.find_usable(connection, event_id, data.promo_code, now) if data.promo_code else None
    )
    _check_ticket_types(
        quantities, found, code, now, frozenset(promo.unlocks) if promo else frozenset()
    )
    allocations = _allocations(rows, quantities)
    left: dict[uuid.UUID, int] = {}
    taken: dict[uuid.UUID, int] = {}
    for row in rows:  # count-based prices look at the fullest quota of the ticket type
        taken[row.ticket_type_id] = max(taken.get(row.ticket_type_id, 0), int(row.taken))
        room = max(0, int(row.capacity) - int(row.taken))
        left[row.ticket_type_id] = min(left.get(row.ticket_type_id, room), room)
    if any(int(r.taken) + allocations[str(r.quota_id)] > int(r.capacity) for r in rows):
        _refuse(quantities, left, found)
    hold = HoldRecord(
        id=link.id,
        event_id=event_id,
        secret_hash=link.secret_hash,
        status=status,
        items=[
            {
                "ticket_type_id": str(t),
                "quantity": n,
                "unit_price_minor": current_price(found[t], now, taken.get(t, 0)),
                "quota_ids": sorted({str(r.quota_id) for r in rows if r.ticket_type_id == t}),
            }
            for t, n in quantities.items()
        ],
        allocations=allocations,
        access_code=code,
        created_at=now,
        expires_at=now + timedelta(seconds=first.hold_ttl_seconds),
        promo_code_id=promo.id if promo else None,
    )
    statements.INSERT_HOLD.defer(connection, hold.as_row())
    return NewHold(hold, link, found, quantities, promo.code if promo else None, list(rows))


def take_seats(connection: Connection, hold: NewHold) -> None:
    """Hold the seats of a hold from :func:`start_hold`, or refuse (the transaction then
    rolls back the hold and any quota already incremented)."""

    def refuse() -> NoReturn:
        left = {
            ticket_type_id: max(0, int(seats))
            for ticket_type_id, seats in connection.execute(
                statements.AVAILABLE, {"ticket_type_ids": list(hold.quantities)}
            )
        }
        _refuse(hold.quantities, left, hold.ticket_types)

    capacity.hold(connection, hold.record.allocations, refuse)


def _refuse(
    quantities: dict[uuid.UUID, int], left: dict[uuid.UUID, int], found: Mapping[uuid.UUID, Any]
) -> NoReturn:
    short = {str(t): left.get(t, 0) for t, n in quantities.items() if left.get(t, 0) < n}
    names = ", ".join(found[uuid.UUID(t)].name for t in short) or "the selection"
    raise SoldOut(
        f"not enough seats left for {names}", extra={"rule": "capacity", "available": short}
    )


def hold_out(
    hold: Hold | HoldRecord,
    secret: str,
    ticket_types: Mapping[uuid.UUID, TicketLike],
    promo_code: str | None = None,
) -> HoldOut:
    lines = []
    for item in hold.items:
        ticket_type = ticket_types[uuid.UUID(item["ticket_type_id"])]
        unit_price = Money(
            int(item.get("unit_price_minor", ticket_type.price_minor)), ticket_type.currency
        )
        lines.append(
            HoldLine(
                ticket_type_id=uuid.UUID(item["ticket_type_id"]),
                name=ticket_type.name,
                quantity=int(item["quantity"]),
                unit_price=unit_price,
            )
        )
    return HoldOut(
        id=hold.id,
        secret=secret,
        event_id=hold.event_id,
        status=hold.status,
        items=lines,
        expires_at=ensure_utc(hold.expires_at),
        created_at=ensure_utc(hold.created_at),
        promo_code=promo_code,
    )


async def ticket_types_of_hold(session: AsyncSession, hold: Hold) -> dict[uuid.UUID, TicketType]:
    ids = [uuid.UUID(item["ticket_type_id"]) for item in hold.items]
    return {
        t.id: t for t in await session.scalars(select(TicketType).where(TicketType.id.in_(ids)))
    }


async def get_hold(session: AsyncSession, hold_id: uuid.UUID, secret: str | None) -> Hold:
    """The hold, for the caller who knows its secret (anyone else: 404)."""
    hold = await session.get(Hold, hold_id)
    if hold is None or not secret_matches(secret, hold.secret_hash):
        raise NotFound(f"no hold {hold_id}")
    return hold
