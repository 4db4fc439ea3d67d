"""The ``analytics`` projection: sales, refunds, orders and promo code use per event, from
the journal's order entries alone (see :mod:`boxoffice.core.journal.projections`).

A round's entries are summed in memory and written with one upsert per table that adds to
the counters, so a flash sale's hundreds of orders a second cost a few statements a round.

Definitions (minor units of the order's currency): ``gross`` is what buyers paid (line
totals: taxes and booking fees included, discounts taken off); ``refunded`` is what went
back; ``tax`` and ``refunded_tax`` the taxes in each; net is gross less refunds less the tax
kept. Sales count when an order is confirmed, refunds when they are made, each in its own
15-minute slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.analytics.models import OrderSlot, PaidOrder, PromoUse, SalesSlot
from boxoffice.core.booking.entries import (
    OrderCancelled,
    OrderConfirmed,
    OrderExpired,
    OrderPlaced,
    OrderRefunded,
    RefundLine,
)
from boxoffice.core.journal.entries import JournalEntry, RecordedEntry
from boxoffice.core.journal.projections import Projection
from boxoffice.core.storage import conflict_insert, table_of

NAME = "analytics"
SLOT_MINUTES = 15

_SALES, _ORDERS, _PROMO, _PAID = (
    table_of(SalesSlot),
    table_of(OrderSlot),
    table_of(PromoUse),
    table_of(PaidOrder),
)
_SALES_KEY = ("event_id", "bucket", "ticket_type_id", "gateway", "currency")
_ORDERS_KEY = ("event_id", "bucket")
_PROMO_KEY = ("event_id", "promo_code_id", "currency")


def slot(moment: datetime) -> datetime:
    """The start of the 15-minute UTC slot ``moment`` falls in."""
    return moment.replace(
        minute=moment.minute - moment.minute % SLOT_MINUTES, second=0, microsecond=0
    )


class _Sums:
    """Counters to add, by table and key."""

    def __init__(self) -> None:
        self.rows: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = {
            _SALES: {},
            _ORDERS: {},
            _PROMO: {},
        }
        self.paid: dict[uuid.UUID, str] = {}

    def add(self, table: Table, key: dict[str, Any], organization_id: str, **counts: int) -> None:
        row = self.rows[table].setdefault(
            tuple(key.values()), {**key, "organization_id": uuid.UUID(organization_id)}
        )
        for name, value in counts.items():
            row[name] = row.get(name, 0) + value


async def apply(session: AsyncSession, entries: Sequence[RecordedEntry]) -> None:
    decoded = [(recorded, recorded.decode()) for recorded in entries]
    sums = _Sums()
    gateways = await _gateways_of_refunded(session, [e for _, e in decoded])
    for recorded, entry in decoded:
        at = slot(recorded.occurred_at)
        if isinstance(entry, OrderPlaced):
            _orders(sums, entry, at, placed=1, tickets_placed=entry.tickets)
        elif isinstance(entry, OrderConfirmed):
            _confirmed(sums, entry, at)
            gateways[uuid.UUID(entry.order_id)] = entry.gateway
        elif isinstance(entry, OrderCancelled):
            _orders(sums, entry, at, cancelled=1)
            _refunds(sums, entry, at, gateways, entry.lines, entry.refund_minor)
        elif isinstance(entry, OrderRefunded):
            _refunds(sums, entry, at, gateways, entry.lines, entry.refund_minor)
        elif isinstance(entry, OrderExpired):
            _orders(sums, entry, at, expired=1)
    dialect = session.get_bind().dialect.name
    for table, key in ((_SALES, _SALES_KEY), (_ORDERS, _ORDERS_KEY), (_PROMO, _PROMO_KEY)):
        await _add_up(session, dialect, table, key, list(sums.rows[table].values()))
    if sums.paid:
        await session.execute(
            conflict_insert(dialect, _PAID).on_conflict_do_nothing(index_elements=["order_id"]),
            [{"order_id": order_id, "gateway": gateway} for order_id, gateway in sums.paid.items()],
        )


def _orders(
    sums: _Sums,
    entry: OrderPlaced | OrderCancelled | OrderExpired | OrderConfirmed,
    at: datetime,
    **counts: int,
) -> None:
    key = {"event_id": uuid.UUID(entry.event_id), "bucket": at}
    sums.add(_ORDERS, key, entry.organization_id, **counts)


def _confirmed(sums: _Sums, entry: OrderConfirmed, at: datetime) -> None:
    _orders(sums, entry, at, paid=1)
    sums.paid[uuid.UUID(entry.order_id)] = entry.gateway
    event_id = uuid.UUID(entry.event_id)
    for line in entry.lines:
        key = _sales_key(event_id, at, line.ticket_type_id, entry.gateway, entry.currency)
        sums.add(
            _SALES,
            key,
            entry.organization_id,
            tickets=line.quantity,
            gross_minor=line.total_minor,
            discount_minor=line.discount_minor,
            fees_minor=line.fees_minor,
            tax_minor=line.tax_minor,
        )
    if not entry.lines:  # confirmed before the journal named the lines (version 1)
        key = _sales_key(event_id, at, "", entry.gateway, entry.currency)
        sums.add(_SALES, key, entry.organization_id, gross_minor=entry.total_minor)
    if entry.promo_code_id is not None:
        sums.add(
            _PROMO,
            {
                "event_id": event_id,
                "promo_code_id": uuid.UUID(entry.promo_code_id),
                "currency": entry.currency,
            },
            entry.organization_id,
            orders=1,
            tickets=sum(line.quantity for line in entry.lines),
            discount_minor=sum(line.discount_minor for line in entry.lines),
            gross_minor=entry.total_minor,
        )


def _refunds(
    sums: _Sums,
    entry: OrderCancelled | OrderRefunded,
    at: datetime,
    gateways: dict[uuid.UUID, str],
    lines: Iterable[RefundLine],
    refund_minor: int,
) -> None:
    if refund_minor == 0:
        return
    event_id = uuid.UUID(entry.event_id)
    gateway = gateways.get(uuid.UUID(entry.order_id), "")
    lines = list(lines) or [  # a version 1 entry: the amount only
        RefundLine(ticket_type_id="", quantity=0, refund_minor=refund_minor, tax_minor=0)
    ]
    for line in lines:
        sums.add(
            _SALES,
            _sales_key(event_id, at, line.ticket_type_id, gateway, entry.currency),
            entry.organization_id,
            tickets_refunded=line.quantity,
            refunded_minor=line.refund_minor,
            refunded_tax_minor=line.tax_minor,
        )


def _sales_key(
    event_id: uuid.UUID, at: datetime, ticket_type_id: str, gateway: str, currency: str
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "bucket": at,
        "ticket_type_id": ticket_type_id,
        "gateway": gateway,
        "currency": currency,
    }


async def _gateways_of_refunded(
    session: AsyncSession, entries: Iterable[JournalEntry | None]
) -> dict[uuid.UUID, str]:
    """The gateways of the orders these entries give money back for (confirmed in an
    earlier round; this round's confirmations are added as they are read)."""
    order_ids = {
        uuid.UUID(e.order_id)
        for e in entries
        if isinstance(e, OrderCancelled | OrderRefunded) and e.refund_minor > 0
    }
    if not order_ids:
        return {}
    rows = await session.execute(
        select(_PAID.c.order_id, _PAID.c.gateway).where(_PAID.c.order_id.in_(order_ids))
    )
    return {row.order_id: row.gateway for row in rows}


async def _add_up(
    session: AsyncSession,
    dialect: str,
    table: Table,
    key: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    """Insert ``rows``, or add their counters to the rows already there."""
    if not rows:
        return
    counters = sorted({name for row in rows for name in row} - set(key) - {"organization_id"})
    for row in rows:  # one statement for all: every row names every counter
        for name in counters:
            row.setdefault(name, 0)
    statement = conflict_insert(dialect, table)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: table.c[name] + statement.excluded[name] for name in counters},
    )
    await session.execute(statement, rows)


ANALYTICS = Projection(
    name=NAME,
    types=frozenset(
        cls.__name__
        for cls in (OrderPlaced, OrderConfirmed, OrderCancelled, OrderRefunded, OrderExpired)
    ),
    apply=apply,
    tables=(_SALES, _ORDERS, _PROMO, _PAID),
)
