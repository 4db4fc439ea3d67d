"""Prices in integer minor units, with one rounding rule.

A line is one ticket type in an order: ``unit price * quantity``. Tax comes from the event's
region pack (the compliance hook) for the country where the event takes place (where an
admission is taxed in the EU; the buyer's country for online events), on the order's date.
Tax is computed in ``Decimal`` and rounded **once per line** with the region's rounding mode;
inclusive taxes are extracted from the price (``price * p / (100 + p)``), exclusive ones are
added (``price * p / 100``). A line's amounts are split over its tickets so the tickets add up
to the line exactly (the first tickets take the remainder).

Discounts (promo codes), tiered prices and fees fill the same breakdown; today their
amounts are zero.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from boxoffice.core.booking.schemas import Breakdown, PriceLine, TaxLine
from boxoffice.core.compliance.region import TaxRate
from boxoffice.core.money import Money


@dataclass(frozen=True)
class Selection:
    ticket_type_id: uuid.UUID
    name: str
    unit_price_minor: int
    quantity: int


def split(amount: int, parts: int) -> list[int]:
    """``amount`` in ``parts`` integer shares that add up to it exactly."""
    base, remainder = divmod(amount, parts)
    return [base + (1 if index < remainder else 0) for index in range(parts)]


def line_tax(subtotal: int, rate: TaxRate | None) -> int:
    if rate is None or rate.percent == 0:
        return 0
    amount = Decimal(subtotal) * rate.percent
    amount /= (Decimal(100) + rate.percent) if rate.inclusive else Decimal(100)
    return int(amount.quantize(Decimal(1), rounding=rate.rounding))


def price(selections: list[Selection], currency: str, rate: TaxRate | None) -> Breakdown:
    lines: list[PriceLine] = []
    for selection in selections:
        subtotal = selection.unit_price_minor * selection.quantity
        tax = line_tax(subtotal, rate)
        total = subtotal if rate is None or rate.inclusive else subtotal + tax
        lines.append(PriceLine(
            ticket_type_id=selection.ticket_type_id, name=selection.name,
            quantity=selection.quantity,
            unit_price=Money(selection.unit_price_minor, currency),
            subtotal=Money(subtotal, currency), discount=Money(0, currency),
            fees=Money(0, currency), tax=Money(tax, currency), total=Money(total, currency),
        ))  # fmt: skip
    zero = Money.zero(currency)
    tax_total = sum((line.tax for line in lines), zero)
    taxes = [] if rate is None else [TaxLine(
        name=rate.name, country=rate.country, percent=str(rate.percent),
        inclusive=rate.inclusive, amount=tax_total)]  # fmt: skip
    return Breakdown(
        lines=lines, taxes=taxes,
        subtotal=sum((line.subtotal for line in lines), zero),
        discount=sum((line.discount for line in lines), zero),
        fees=sum((line.fees for line in lines), zero),
        tax=tax_total,
        total=sum((line.total for line in lines), zero),
    )  # fmt: skip
