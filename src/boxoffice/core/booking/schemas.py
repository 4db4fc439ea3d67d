"""What the booking engine takes in and hands out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from boxoffice.core.fields import (
    CountryCode,
    Locale,
    PhoneNumber,
    Position,
    SingleLine,
    TaxId,
    country,
)
from boxoffice.core.money import MAX_MINOR, Money

Quantity = Annotated[int, msgspec.Meta(ge=1, le=100)]
Name = Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=200)]
EmailText = Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
Answer = str | bool


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class HoldItem(Strict, frozen=True, kw_only=True):
    ticket_type_id: uuid.UUID
    quantity: Quantity


class HoldIn(Strict, frozen=True, kw_only=True):
    items: Annotated[list[HoldItem], msgspec.Meta(min_length=1, max_length=20)]
    #: Unlocks ticket types with visibility "code".
    access_code: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    #: A promo code: discounts the order and may unlock hidden ticket types.
    promo_code: Annotated[str, msgspec.Meta(max_length=60)] | None = None


class HoldLine(msgspec.Struct, frozen=True, kw_only=True):
    ticket_type_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Money


class HoldOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    #: Needed to turn the hold into an order or release it (holds are anonymous).
    secret: str
    event_id: uuid.UUID
    status: str
    items: list[HoldLine]
    expires_at: datetime
    created_at: datetime
    promo_code: str | None = None


class Buyer(Strict, frozen=True, kw_only=True):
    name: Name
    email: EmailText
    country: CountryCode | None = None
    #: The buyer's language for messages; unset: the event's language, then English.
    locale: Locale | None = None
    #: For text messages about the event (the day-before reminder, a change of time or
    #: place, a postponement or cancellation) where an SMS channel is routed; never marketing.
    phone: PhoneNumber | None = None
    #: A business buyer's tax id (VAT, GSTIN, ABN...), issued in ``country``: checked with
    #: its check digits, printed on the invoice; in the EU it makes an online event
    #: reverse-charged across a border.
    tax_id: TaxId | None = None
    #: The billing address the invoice carries (a business buyer's, where the law asks).
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None

    def __post_init__(self) -> None:
        if self.country is not None:
            msgspec.structs.force_setattr(self, "country", country(self.country))


class AttendeeIn(Strict, frozen=True, kw_only=True):
    """One per ticket, in the order of the hold's items (all tickets of the first item, then
    the second's...). Omit ``attendees`` to name every ticket after the buyer."""

    name: Name
    email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    #: question id -> answer (text, one of the choices, or true/false)
    answers: dict[uuid.UUID, Answer] = {}


class OrderIn(Strict, frozen=True, kw_only=True):
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    buyer: Buyer
    attendees: Annotated[list[AttendeeIn], msgspec.Meta(max_length=2000)] | None = None


class CheckoutIn(Strict, frozen=True, kw_only=True):
    """A hold and its order in one request (clients that know the buyer up front: a box
    office, a partner's shop, an app with a signed-in buyer). Same fields, same rules."""

    items: Annotated[list[HoldItem], msgspec.Meta(min_length=1, max_length=20)]
    access_code: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    promo_code: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    buyer: Buyer
    attendees: Annotated[list[AttendeeIn], msgspec.Meta(max_length=2000)] | None = None

    def selection(self) -> HoldIn:
        return HoldIn(items=self.items, access_code=self.access_code, promo_code=self.promo_code)

    def order(self, secret: str) -> OrderIn:
        return OrderIn(secret=secret, buyer=self.buyer, attendees=self.attendees)


class PriceLine(msgspec.Struct, frozen=True, kw_only=True):
    ticket_type_id: uuid.UUID
    name: str
    quantity: int
    unit_price: Money
    subtotal: Money
    discount: Money
    fees: Money
    tax: Money
    total: Money


class TaxLine(msgspec.Struct, frozen=True, kw_only=True):
    """One tax of an order: Québec's orders have two (GST and QST)."""

    name: str
    country: str
    percent: str
    inclusive: bool
    amount: Money
    #: Who levies it: the country ("CA") or a subdivision ("CA-QC"); orders placed before
    #: taxes could be levied by subdivisions have "" (their country's).
    jurisdiction: str = ""


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    lines: list[PriceLine]
    taxes: list[TaxLine]
    subtotal: Money
    discount: Money
    fees: Money
    tax: Money
    total: Money
    #: Kept by the platform from the organizer's payout; not part of ``total``.
    platform_fee: Money | None = None
    #: No tax charged: the business buyer accounts for it (EU reverse charge); ``mentions``
    #: say so, and the invoice carries them.
    reverse_charge: bool = False
    mentions: list[str] = []


class TicketOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    ticket_type_id: uuid.UUID
    attendee_name: str
    attendee_email: str
    answers: dict[str, Answer]
    price: Money
    #: "pending" (unpaid), "valid", "cancelled", "expired" or "refunded"
    status: str = "valid"


class OrderOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    number: str
    event_id: uuid.UUID
    status: str
    buyer_name: str
    buyer_email: str
    buyer_phone: str
    total: Money
    breakdown: Breakdown
    tickets: list[TicketOut]
    created_at: datetime
    expires_at: datetime | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    refunded: Money | None = None
    buyer_tax_id: str = ""
    buyer_address: str = ""
    #: The buyer's link to this order (no account needed); only in the buyer's views.
    link: str | None = None
    secret: str | None = None


class OrderSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    number: str
    status: str
    buyer_name: str
    buyer_email: str
    total: Money
    tickets: int
    created_at: datetime


class OrderPage(msgspec.Struct, frozen=True):
    items: list[OrderSummary]
    next_cursor: str | None = None


class CancelIn(Strict, frozen=True, kw_only=True):
    secret: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class RefundIn(Strict, frozen=True, kw_only=True):
    ticket_ids: Annotated[list[uuid.UUID], msgspec.Meta(min_length=1, max_length=2000)]
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class SecretIn(Strict, frozen=True, kw_only=True):
    secret: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]


QuestionKind = Literal["text", "choice", "checkbox"]


class QuestionIn(Strict, frozen=True, kw_only=True):
    label: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=300)]
    kind: QuestionKind
    options: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
        msgspec.Meta(max_length=50),
    ] = []
    required: bool = False
    ticket_types: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = []
    position: Position = 0


class QuestionOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    label: str
    kind: str
    options: list[str]
    required: bool
    ticket_types: list[uuid.UUID]
    position: int


class PromoCodeIn(Strict, frozen=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(min_length=3, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")]
    #: "percent": ``value`` in hundredths of a percent (1500 = 15 %); "fixed": minor units
    #: off each ticket, in the event's currency.
    kind: Literal["percent", "fixed"]
    value: Annotated[int, msgspec.Meta(ge=1, le=MAX_MINOR)]
    ticket_types: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = []
    unlocks: Annotated[list[uuid.UUID], msgspec.Meta(max_length=100)] = []
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    max_uses_per_buyer: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None


class PromoCodeOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    code: str
    kind: str
    value: int
    ticket_types: list[uuid.UUID]
    unlocks: list[uuid.UUID]
    valid_from: datetime | None
    valid_until: datetime | None
    max_uses: int | None
    max_uses_per_buyer: int | None
    uses: int


class WaitlistIn(Strict, frozen=True, kw_only=True):
    ticket_type_id: uuid.UUID
    quantity: Quantity
    name: Name
    email: EmailText


class WaitlistOut(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    event_id: uuid.UUID
    ticket_type_id: uuid.UUID
    quantity: int
    #: "waiting", "offered" (a hold is ready: see ``offer``), "claimed", "lapsed" or "left"
    status: str
    #: Place in the queue while waiting (1 = next).
    position: int | None = None
    #: The hold to claim: ``hold_id``, ``secret`` and ``expires_at``.
    offer: dict[str, str] | None = None
    secret: str | None = None
