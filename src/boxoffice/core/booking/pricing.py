"""Prices in integer minor units, with one rounding rule.

A line is one ticket type in an order: ``unit price * quantity``. Tax comes from the event's
region pack (the compliance hook, a :class:`TaxTreatment`) for the place where the event
takes place (country and subdivision: where an admission is taxed; the buyer's country for
online events), on the order's date. A treatment may have several taxes (Québec: GST and
QST), each computed on the same taxable amount in ``Decimal`` and rounded **once per line**
with the region's rounding mode; inclusive taxes are extracted from the price (``price * p /
(100 + all p)``), exclusive ones are added (``price * p / 100``). A line's amounts are split
over its tickets so the tickets add up to the line exactly (the first tickets take the
remainder).

A reverse-charged sale (an EU business buying an online event across a border) charges no
tax: the treatment's components are the taxes the price includes, taken out of it, so the
business pays the price net of tax; the breakdown lists no tax and carries the mention.

The unit price is the one the hold locked (early-bird and tiered prices: see
``catalog.tickets.current_price``). A promo code takes its discount off each line it applies
to *before* tax: a percentage (in hundredths of a percent) rounded half up once per line, or a
fixed amount per ticket (never more than the line). The organizer's booking fee per ticket is
added to the line and taxed with it. The platform fee (basis points of the total, rounded
half up once per order) is what the platform keeps from the organizer's payout: it is shown
in the breakdown and never added to what the buyer pays.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from boxoffice.core.booking.schemas import Breakdown, PriceLine, TaxLine
from boxoffice.core.compliance.region import TaxComponent, TaxTreatment
from boxoffice.core.money import Money


@dataclass(frozen=True)
class Selection:
    ticket_type_id: uuid.UUID
    name: str
    unit_price_minor: int
    quantity: int


@dataclass(frozen=True)
class Discount:
    kind: str  # "percent" or "fixed"
    value: int  # hundredths of a percent, or minor units per ticket
    #: ticket type ids (as strings) it applies to; empty: all
    ticket_types: frozenset[str] = frozenset()

    def on(self, selection: Selection, subtotal: int) -> int:
        if self.ticket_types and str(selection.ticket_type_id) not in self.ticket_types:
            return 0
        if self.kind == "percent":
            off = (Decimal(subtotal) * self.value / 10_000).quantize(Decimal(1), ROUND_HALF_UP)
            return min(int(off), subtotal)
        return min(self.value * selection.quantity, subtotal)


def split(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` integer shares that add up to it exactly."""
    base, remainder = divmod(amount, parts)
    return [base + (1 if index < remainder else 0) for index in range(parts)]


def component_tax(subtotal: int, component: TaxComponent, treatment: TaxTreatment) -> int:
    """One tax of a line, rounded once."""
    amount = Decimal(subtotal) * component.percent
    amount /= (Decimal(100) + treatment.percent) if treatment.inclusive else Decimal(100)
    return int(amount.quantize(Decimal(1), rounding=treatment.rounding))


def line_taxes(subtotal: int, treatment: TaxTreatment | None) -> list[int]:
    """Each of the treatment's taxes on a line's taxable ``subtotal``."""
    if treatment is None:
        return []
    return [component_tax(subtotal, c, treatment) for c in treatment.components]


def price(
    selections: list[Selection],
    currency: str,
    treatment: TaxTreatment | None,
    discount: Discount | None = None,
    *,
    fee_per_ticket: int = 0,
    platform_fee_bp: int = 0,
) -> Breakdown:
    lines: list[PriceLine] = []
    adds_tax = treatment is not None and not treatment.inclusive
    relieved = treatment is not None and treatment.reverse_charge
    per_component = [0] * (len(treatment.components) if treatment else 0)
    for selection in selections:
        subtotal = selection.unit_price_minor * selection.quantity
        off = discount.on(selection, subtotal) if discount else 0
        fees = fee_per_ticket * selection.quantity if subtotal - off > 0 else 0
        taxable = subtotal - off + fees
        amounts = line_taxes(taxable, treatment)
        for index, amount in enumerate(amounts):
            per_component[index] += amount
        tax = sum(amounts)
        if relieved:
            taxable, tax = (taxable - tax if not adds_tax else taxable), 0
        lines.append(
            PriceLine(
                ticket_type_id=selection.ticket_type_id,
                name=selection.name,
                quantity=selection.quantity,
                unit_price=Money(selection.unit_price_minor, currency),
                subtotal=Money(subtotal, currency),
                discount=Money(off, currency),
                fees=Money(fees, currency),
                tax=Money(tax, currency),
                total=Money(taxable + tax if adds_tax else taxable, currency),
            )
        )
    zero = Money.zero(currency)
    tax_total = sum((line.tax for line in lines), zero)
    taxes = (
        []
        if treatment is None or relieved
        else [
            TaxLine(
                name=component.name,
                country=component.jurisdiction[:2],
                jurisdiction=component.jurisdiction,
                percent=str(component.percent),
                inclusive=treatment.inclusive,
                amount=Money(amount, currency),
            )
            for component, amount in zip(treatment.components, per_component, strict=True)
        ]
    )
    order_total = sum((line.total for line in lines), zero)
    kept = Decimal(order_total.minor) * platform_fee_bp / 10_000
    return Breakdown(
        lines=lines,
        taxes=taxes,
        subtotal=sum((line.subtotal for line in lines), zero),
        discount=sum((line.discount for line in lines), zero),
        fees=sum((line.fees for line in lines), zero),
        tax=tax_total,
        total=order_total,
        platform_fee=Money(int(kept.quantize(Decimal(1), ROUND_HALF_UP)), currency),
        reverse_charge=relieved,
        mentions=[treatment.mention] if treatment is not None and treatment.mention else [],
    )
