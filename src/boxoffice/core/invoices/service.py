"""Issuing invoices and credit notes, with numbers that have no gaps.

A number is taken in the transaction that issues the document: one statement moves the
series on (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, atomic on both engines; on
PostgreSQL concurrent issuers wait on the series row) and the document is inserted beside
it. A rollback gives the number back, so the numbers of a series are 1, 2, 3, ... whatever
runs at once. Documents are issued by the ``invoices`` journal subscriber, not by the
checkout: a series row per organization would otherwise serialize every confirmation of a
flash sale. ``source`` makes issuing idempotent (the journal delivers at least once).
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.pricing import split
from boxoffice.core.booking.schemas import Breakdown, TaxLine
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import NotFound
from boxoffice.core.identity.models import Organization
from boxoffice.core.invoices.models import Invoice, InvoiceSeries
from boxoffice.core.invoices.schemas import EventRef, InvoiceLine, InvoiceOut, Party
from boxoffice.core.money import Money
from boxoffice.core.storage import table_of
from boxoffice.core.storage.schema import conflict_insert

INVOICES, CREDIT_NOTES = "INV", "CRN"
_SERIES = table_of(InvoiceSeries)


def document_number(series: str, number: int) -> str:
    return f"{series}-{number:06d}"


async def take_number(session: AsyncSession, organization_id: uuid.UUID, series: str) -> int:
    """The next number of the series, taken in ``session``'s transaction."""
    statement = (
        conflict_insert(session.get_bind().dialect.name, _SERIES)
        .values(organization_id=bindparam("org"), series=bindparam("series"), next_number=2)
        .on_conflict_do_update(
            index_elements=["organization_id", "series"],
            set_={"next_number": _SERIES.c.next_number + 1},
        )
        .returning(_SERIES.c.next_number)
    )
    moved_to = (
        await session.execute(statement, {"org": organization_id, "series": series})
    ).scalar_one()
    return int(moved_to) - 1


async def _issued(session: AsyncSession, source: str) -> Invoice | None:
    return await session.scalar(select(Invoice).where(Invoice.source == source))


async def _context(session: AsyncSession, order: Order) -> tuple[Event, Organization]:
    event = await session.get(Event, order.event_id)
    organization = await session.get(Organization, order.organization_id)
    assert event is not None
    assert organization is not None
    return event, organization


def _event_ref(event: Event) -> EventRef:
    local = ensure_utc(event.starts_at).astimezone(ZoneInfo(event.timezone))
    return EventRef(
        title=event.title,
        starts_at_local=local.isoformat(),
        venue=event.venue_name,
        city=event.city,
        country=event.country,
        timezone=event.timezone,
    )


async def _issue(
    session: AsyncSession,
    clock: Clock,
    order: Order,
    *,
    kind: str,
    series: str,
    source: str,
    lines: list[InvoiceLine],
    taxes: list[TaxLine],
    inclusive: bool,
    total: Money,
    corrects: str = "",
) -> Invoice:
    event, organization = await _context(session, order)
    number = await take_number(session, order.organization_id, series)
    tax = sum((line.amount for line in taxes), Money.zero(order.currency))
    data = InvoiceOut(
        number=document_number(series, number),
        kind=kind,
        issued_at=clock.now(),
        language=event.language,
        order_number=order.number,
        seller=Party(
            name=organization.name,
            email=organization.contact_email,
            country=organization.country,
            address=organization.legal_address,
            tax_id=organization.tax_id,
        ),
        buyer=Party(name=order.buyer_name, email=order.buyer_email, country=order.buyer_country),
        event=_event_ref(event),
        lines=lines,
        taxes=taxes,
        inclusive=inclusive,
        tax=tax,
        total=total,
        corrects=corrects,
    )
    invoice = Invoice(
        organization_id=order.organization_id,
        series=series,
        number=number,
        kind=kind,
        source=source,
        order_id=order.id,
        issued_at=data.issued_at,
        language=data.language,
        currency=order.currency,
        total_minor=total.minor,
        tax_minor=tax.minor,
        data=msgspec.to_builtins(data),
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def issue_invoice(session: AsyncSession, clock: Clock, order_id: uuid.UUID) -> Invoice | None:
    """The invoice of a confirmed order, once; ``None`` for a free order (nothing sold)."""
    source = f"order:{order_id}"
    if (issued := await _issued(session, source)) is not None:
        return issued
    order = await session.get(Order, order_id)
    if order is None or order.total_minor == 0:
        return None
    breakdown = msgspec.convert(order.breakdown, Breakdown)
    inclusive = bool(breakdown.taxes) and breakdown.taxes[0].inclusive
    lines = [
        InvoiceLine(
            description=line.name,
            quantity=line.quantity,
            amount=line.total if inclusive else line.total - line.tax,
            tax=line.tax,
        )
        for line in breakdown.lines
    ]
    return await _issue(
        session,
        clock,
        order,
        kind="invoice",
        series=INVOICES,
        source=source,
        lines=lines,
        taxes=breakdown.taxes,
        inclusive=inclusive,
        total=breakdown.total,
    )


async def issue_credit_note(
    session: AsyncSession,
    clock: Clock,
    order_id: uuid.UUID,
    *,
    source: str,
    refund_minor: int,
    ticket_ids: list[str] | None,
) -> Invoice | None:
    """A credit note for ``refund_minor`` given back on an invoiced order (``ticket_ids``:
    the tickets refunded; ``None``: the whole order), once per ``source``. Its tax is the
    refunded tickets' tax, in the refund's proportion, shared over the order's taxes as they
    were charged. ``None`` when nothing was invoiced or nothing is given back."""
    if refund_minor <= 0:
        return None
    if (issued := await _issued(session, source)) is not None:
        return issued
    invoice = await _issued(session, f"order:{order_id}")
    order = await session.get(Order, order_id)
    if invoice is None or order is None:
        return None
    items = list(await session.scalars(select(OrderItem).where(OrderItem.order_id == order_id)))
    refunded = [i for i in items if ticket_ids is None or str(i.id) in ticket_ids]
    paid = sum(i.total_minor for i in refunded)
    tax_paid = sum(i.tax_minor for i in refunded)
    tax_minor = tax_paid * min(refund_minor, paid) // paid if paid else 0
    breakdown = msgspec.convert(order.breakdown, Breakdown)
    charged = [t.amount.minor for t in breakdown.taxes]
    shares = _apportion(tax_minor, charged)
    currency = order.currency
    taxes = [
        msgspec.structs.replace(t, amount=Money(-share, currency))
        for t, share in zip(breakdown.taxes, shares, strict=True)
    ]
    inclusive = bool(breakdown.taxes) and breakdown.taxes[0].inclusive
    amount = refund_minor if inclusive else refund_minor - tax_minor
    line = InvoiceLine(
        description=f"Refund: {len(refunded)} ticket(s) of order {order.number}",
        quantity=len(refunded),
        amount=Money(-amount, currency),
        tax=Money(-tax_minor, currency),
    )
    return await _issue(
        session,
        clock,
        order,
        kind="credit_note",
        series=CREDIT_NOTES,
        source=source,
        lines=[line],
        taxes=taxes,
        inclusive=inclusive,
        total=Money(-refund_minor, currency),
        corrects=document_number(invoice.series, invoice.number),
    )


def _apportion(amount: int, weights: list[int]) -> list[int]:
    """``amount`` shared in proportion to ``weights``, adding up exactly."""
    total = sum(weights)
    if not weights:
        return []
    if total == 0:
        return split(amount, len(weights))
    shares = [amount * weight // total for weight in weights]
    shares[0] += amount - sum(shares)
    return shares


async def invoice_of(session: AsyncSession, order_id: uuid.UUID, number: str) -> InvoiceOut:
    """One of the order's documents by its number ("INV-000042"); :class:`NotFound` if the
    order has none with that number."""
    for document in await invoices_of(session, order_id):
        if document.number == number:
            return document
    raise NotFound(f"the order has no invoice or credit note {number!r}")


async def invoices_of(session: AsyncSession, order_id: uuid.UUID) -> list[InvoiceOut]:
    """An order's invoice and credit notes, in the order they were issued."""
    rows = await session.scalars(
        select(Invoice.data)
        .where(Invoice.order_id == order_id)
        # The invoice first, whatever the clock says; then its credit notes in number order.
        .order_by(Invoice.kind != "invoice", Invoice.issued_at, Invoice.number)
    )
    return [msgspec.convert(data, InvoiceOut) for data in rows]
