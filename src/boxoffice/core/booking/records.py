"""The hot path's records: what a checkout reads and writes, typed.

A checkout writes plain records instead of mapped instances (building an instrumented ORM
object cost more than its whole INSERT), and reads rows of prepared statements. These give
both a shape mypy checks: the rows as protocols (any object with those attributes: a
``SELECTION`` row, the ORM model), the records as msgspec structs (cheap to build; their
fields are the table's columns, so ``as_row`` is what the INSERT binds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec

from boxoffice.core.compliance.region import RegionLookup
from boxoffice.core.links import LinkSecrets


class TicketLike(Protocol):
    """A ticket type as the hold needs it: the model, or a row of ``SELECTION``."""

    @property
    def name(self) -> str: ...
    @property
    def price_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def visibility(self) -> str: ...
    @property
    def access_code(self) -> str | None: ...
    @property
    def sales_start(self) -> datetime | None: ...
    @property
    def sales_end(self) -> datetime | None: ...
    @property
    def min_per_order(self) -> int: ...
    @property
    def max_per_order(self) -> int: ...


class SelectionRow(TicketLike, Protocol):
    """A row of ``statements.SELECTION``: the event's columns an order needs, one ticket
    type and one quota it sells from."""

    @property
    def status(self) -> str: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def hold_ttl_seconds(self) -> int: ...
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def title(self) -> str: ...
    @property
    def event_currency(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def subdivision(self) -> str: ...
    @property
    def online(self) -> bool: ...
    @property
    def tax_category(self) -> str: ...
    @property
    def tax_rates(self) -> list[dict[str, str]]: ...
    @property
    def max_tickets_per_buyer(self) -> int | None: ...
    @property
    def fee_per_ticket_minor(self) -> int: ...
    @property
    def questions(self) -> int: ...
    @property
    def ticket_type_id(self) -> uuid.UUID: ...
    @property
    def price_steps(self) -> list[dict[str, Any]]: ...
    @property
    def quota_id(self) -> uuid.UUID | None: ...
    @property
    def taken(self) -> int: ...
    @property
    def capacity(self) -> int: ...


class TakenHold(Protocol):
    """A hold an order is placed from: a ``HOLD_SELECTION`` row, or the :class:`HoldRecord`
    a checkout just wrote."""

    @property
    def event_id(self) -> uuid.UUID: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def items(self) -> list[dict[str, Any]]: ...
    @property
    def allocations(self) -> dict[str, int]: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def promo_code_id(self) -> uuid.UUID | None: ...


class Record(msgspec.Struct, kw_only=True):
    def as_row(self) -> dict[str, Any]:
        """Column name -> value, for the INSERT."""
        return msgspec.structs.asdict(self)


class HoldRecord(Record, kw_only=True):
    """A ``booking_hold`` row."""

    id: uuid.UUID
    event_id: uuid.UUID
    secret_hash: str
    status: str
    items: list[dict[str, Any]]
    allocations: dict[str, int]
    access_code: str | None
    created_at: datetime
    expires_at: datetime
    promo_code_id: uuid.UUID | None


class OrderRecord(Record, kw_only=True):
    """A ``booking_order`` row."""

    id: uuid.UUID
    number: str
    secret_hash: str
    event_id: uuid.UUID
    organization_id: uuid.UUID
    hold_id: uuid.UUID
    user_id: uuid.UUID | None
    promo_code_id: uuid.UUID | None
    status: str
    buyer_name: str
    buyer_email: str
    buyer_country: str
    buyer_phone: str
    buyer_tax_id: str
    buyer_address: str
    locale: str
    currency: str
    subtotal_minor: int
    discount_minor: int
    fees_minor: int
    tax_minor: int
    total_minor: int
    refunded_minor: int
    breakdown: dict[str, Any]
    allocations: dict[str, int]
    tickets: int
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str


class OrderItemRecord(Record, kw_only=True):
    """A ``booking_order_item`` row: one ticket."""

    id: uuid.UUID
    order_id: uuid.UUID
    ticket_type_id: uuid.UUID
    position: int
    attendee_name: str
    attendee_email: str
    answers: dict[str, Any]
    price_minor: int
    discount_minor: int
    fee_minor: int
    tax_minor: int
    total_minor: int
    quota_ids: list[str]
    status: str
    credential_version: int = 1


@dataclass(frozen=True, slots=True)
class Ordering:
    """What placing an order needs to know beside the request."""

    #: The enabled region packs (tax); an event whose pack is not enabled is refused.
    regions: RegionLookup
    #: Where buyers reach the platform (the order link).
    public_url: str
    #: Makes the secrets of the order's and the hold's links.
    links: LinkSecrets
    #: The signed-in buyer, if any.
    user_id: uuid.UUID | None = None
    #: What the platform keeps of an order's total, in basis points.
    platform_fee_bp: int = 0
