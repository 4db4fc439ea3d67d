"""An invoice's frozen data, as issued and as the API shows it."""

from __future__ import annotations

from datetime import datetime

import msgspec

from boxoffice.core.booking.schemas import TaxLine
from boxoffice.core.money import Money


class Party(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    email: str = ""
    country: str = ""
    address: str = ""
    tax_id: str = ""


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    description: str
    quantity: int
    #: What the line comes to before tax where prices exclude it; with tax where they
    #: include it (as the buyer saw it).
    amount: Money
    tax: Money


class EventRef(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    starts_at_local: str
    venue: str
    city: str
    country: str
    #: The IANA zone its times are shown in.
    timezone: str = "UTC"


class InvoiceOut(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice or a credit note. ``number`` is the series and the number in it
    ("INV-000042"); a credit note names the invoice it corrects."""

    number: str
    kind: str  # "invoice" or "credit_note"
    issued_at: datetime
    language: str
    order_number: str
    seller: Party
    buyer: Party
    event: EventRef
    lines: list[InvoiceLine]
    taxes: list[TaxLine]
    #: Prices include the taxes (EU) or the taxes are added to them (CA, US).
    inclusive: bool
    tax: Money
    total: Money
    corrects: str = ""
    #: No tax charged: the buyer accounts for it (EU reverse charge); ``mentions`` say so.
    reverse_charge: bool = False
    #: What the law of the event's region asks the document to say (the reverse charge).
    mentions: list[str] = []
    #: Fields the event's region requires of an invoice that this one lacks
    #: ("seller.tax_id"): the organization's billing details were incomplete when issued.
    missing: list[str] = []
