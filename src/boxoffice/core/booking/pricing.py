"""Prices in integer minor units, with one rounding rule.

A line is one ticket type in an order: ``unit price * quantity``. Tax comes from the event's
region pack (the compliance hook, a :class:`TaxTreatment` per line: its ticket type's tax
category at its price) for the place where the event takes place (country and subdivision:
where an admission is taxed; the buyer's country for online events), on the order's date. A
treatment may have several taxes (Québec: GST and QST), each computed on the same taxable
amount in ``Decimal`` and rounded **once per line** with the region's rounding mode;
inclusive taxes are extracted from the price (``price * p / (100 + all p)``), exclusive ones
are added (``price * p / 100``). A line's amounts are split over its tickets so the tickets
add up to the line exactly (the first tickets take the remainder).

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
    #: How the line is taxed (its ticket type's category, at its price); ``None``: untaxed
    #: (no place to tax it by).
    treatment: TaxTreatment | None = None


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
    discount: Discount | None = None,
    *,
    fee_per_ticket: int = 0,
    platform_fee_bp: int = 0,
) -> Breakdown:
    """The order's lines, each taxed by its own treatment, and its taxes: one
    :class:`TaxLine` per distinct tax (name, jurisdiction and rate) over all lines, in the
    order first met (a concert's 7 % and a workshop's 19 % in one German order: two)."""
    lines: list[PriceLine] = []
    #: (name, jurisdiction, percent, added rather than included) -> amount
    charged: dict[tuple[str, str, Decimal, bool], int] = {}
    relieved, mentions = False, []
    for selection in selections:
        treatment = selection.treatment
        adds_tax = treatment is not None and not treatment.inclusive
        subtotal = selection.unit_price_minor * selection.quantity
        off = discount.on(selection, subtotal) if discount else 0
        fees = fee_per_ticket * selection.quantity if subtotal - off > 0 else 0
        taxable = subtotal - off + fees
        amounts = line_taxes(taxable, treatment)
        tax = sum(amounts)
        if treatment is not None and treatment.reverse_charge:
            relieved = True
            taxable, tax = (taxable if adds_tax else taxable - tax), 0
        elif treatment is not None:
            for component, amount in zip(treatment.components, amounts, strict=True):
                key = (component.name, component.jurisdiction, component.percent, adds_tax)
                charged[key] = charged.get(key, 0) + amount
        if treatment is not None and treatment.mention and treatment.mention not in mentions:
            mentions.append(treatment.mention)
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
    taxes = [
        TaxLine(
            name=name,
            country=jurisdiction[:2],
            jurisdiction=jurisdiction,
            percent=str(percent),
            inclusive=not added,
            amount=Money(amount, currency),
        )
        for (name, jurisdiction, percent, added), amount in charged.items()
    ]
    order_total = sum((line.total for line in lines), zero)
    kept = Decimal(order_total.minor) * platform_fee_bp / 10_000
    return Breakdown(
        lines=lines,
        taxes=taxes,
        subtotal=sum((line.subtotal for line in lines), zero),
        discount=sum((line.discount for line in lines), zero),
        fees=sum((line.fees for line in lines), zero),
        tax=sum((line.tax for line in lines), zero),
        total=order_total,
        platform_fee=Money(int(kept.quantize(Decimal(1), ROUND_HALF_UP)), currency),
        reverse_charge=relieved,
        mentions=mentions,
    )
