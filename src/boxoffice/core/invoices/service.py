"""Issuing invoices and credit notes, with numbers that have no gaps.

A number is taken in the transaction that issues the document: one statement moves the
series on (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, atomic on both engines; on
PostgreSQL concurrent issuers wait on the series row) and the document is inserted beside
it. A rollback gives the number back, so the numbers of a series are 1, 2, 3, ... whatever
runs at once. Documents are issued by the ``invoices`` journal subscriber, not by the
checkout: a series row per organization would otherwise serialize every confirmation of a
flash sale. ``source`` makes issuing idempotent (the journal delivers at least once).

The event's region pack says which fields an invoice must carry there
(:attr:`BusinessRules.invoice_fields`, more when the buyer accounts for the tax): the
document is issued whatever is missing (a sale is never held up for the organizer's paperwork)
and names what is, under ``missing``; the organization's billing check
(:func:`billing_check`) tells the organizer before the first sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.booking.models import Order, OrderItem
from boxoffice.core.booking.pricing import split
from boxoffice.core.booking.schemas import Breakdown, TaxLine
from boxoffice.core.catalog.lifecycle import ACTIVE
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.compliance.region import RegionLookup
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


def seller_of(organization: Organization) -> Party:
    """The organization as its invoices name the seller."""
    return Party(
        name=organization.name,
        email=organization.contact_email,
        country=organization.country,
        address=organization.legal_address,
        tax_id=organization.tax_id,
    )


class BillingCheck(msgspec.Struct, frozen=True, kw_only=True):
    """What the regions an organization sells in require of its invoices, and what its
    billing details lack: region id -> fields ("seller.tax_id")."""

    requires: dict[str, list[str]]
    missing: dict[str, list[str]]


async def billing_check(
    session: AsyncSession, organization_id: uuid.UUID, regions: RegionLookup
) -> BillingCheck:
    """The seller fields required by the regions of the organization's events still to be
    held (draft, published, postponed), and which of them it has not given."""
    organization = await session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"no organization {organization_id}")
    seller = seller_of(organization)
    used = await session.scalars(
        select(Event.region)
        .where(Event.organization_id == organization_id, Event.status.in_(ACTIVE))
        .distinct()
    )
    requires, missing = {}, {}
    for region_id in sorted(used):
        region = regions(region_id)
        if region is None:
            continue
        fields = sorted(f for f in region.business_rules.invoice_fields if f.startswith("seller."))
        requires[region_id] = fields
        missing[region_id] = missing_fields(fields, {"seller": seller})
    return BillingCheck(requires=requires, missing=missing)


def missing_fields(required: Iterable[str], parties: Mapping[str, Party]) -> list[str]:
    """The ``required`` fields ("seller.tax_id") that ``parties`` leave empty."""
    lacking = []
    for name in required:
        party, field = name.split(".", 1)
        if not getattr(parties[party], field):
            lacking.append(name)
    return sorted(lacking)


async def _issue(
    session: AsyncSession,
    clock: Clock,
    order: Order,
    regions: RegionLookup,
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
    breakdown = msgspec.convert(order.breakdown, Breakdown)
    seller = seller_of(organization)
    buyer = Party(
        name=order.buyer_name,
        email=order.buyer_email,
        country=order.buyer_country,
        address=order.buyer_address,
        tax_id=order.buyer_tax_id,
    )
    missing = []
    if (region := regions(event.region)) is not None:
        rules = region.business_rules
        required = rules.invoice_fields
        if breakdown.reverse_charge:
            required |= rules.reverse_charge_fields
        missing = missing_fields(required, {"seller": seller, "buyer": buyer})
    data = InvoiceOut(
        number=document_number(series, number),
        kind=kind,
        issued_at=clock.now(),
        language=event.language,
        order_number=order.number,
        seller=seller,
        buyer=buyer,
        event=_event_ref(event),
        lines=lines,
        taxes=taxes,
        inclusive=inclusive,
        tax=tax,
        total=total,
        corrects=corrects,
        reverse_charge=breakdown.reverse_charge,
        mentions=breakdown.mentions,
        missing=missing,
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


async def issue_invoice(
    session: AsyncSession, clock: Clock, order_id: uuid.UUID, regions: RegionLookup
) -> Invoice | None:
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
        regions,
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
    regions: RegionLookup,
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
        regions,
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
