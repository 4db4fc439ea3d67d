"""Orders: from a hold to a confirmed purchase, and what may happen after.

    pending ──paid──▶ confirmed ──▶ cancelled ──▶ refunded
       │  └─────────────────────────▲   (the money goes back by hand until payments land)
       └──not paid in time──▶ expired ──paid late, seats still free──▶ confirmed

Every status change is one conditional UPDATE (``WHERE status = <expected>``), so of two
racing requests exactly one wins and only the winner moves seats and appends the journal
entry. A pending order keeps the seats its hold held; confirming moves them from held to
sold; cancelling or expiring gives them back once.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, NoReturn

import msgspec
from sqlalchemy import (
    Connection,
    CursorResult,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from boxoffice.core.booking import capacity, holds, pricing, promos, statements
from boxoffice.core.booking.entries import (
    OrderCancelled,
    OrderConfirmed,
    OrderExpired,
    OrderPlaced,
    OrderRefunded,
    RefundLine,
    SoldLine,
)
from boxoffice.core.booking.errors import HoldExpired, LimitExceeded, SoldOut
from boxoffice.core.booking.models import BuyerTally, Order, OrderItem
from boxoffice.core.booking.questions import check_answers
from boxoffice.core.booking.records import (
    Ordering,
    OrderItemRecord,
    OrderRecord,
    SelectionRow,
    TakenHold,
)
from boxoffice.core.booking.schemas import (
    AttendeeIn,
    Breakdown,
    Buyer,
    CheckoutIn,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderSummary,
    TicketOut,
)
from boxoffice.core.booking.waitlist import capacity_released
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.compliance.region import (
    RegionLookup,
    TaxQuery,
    TaxTreatment,
    organizer_components,
    require_region,
)
from boxoffice.core.compliance.tax_ids import checked_tax_id
from boxoffice.core.errors import Conflict, FieldError, InvalidTransition, NotFound, RuleViolated
from boxoffice.core.identity.schemas import normalize_email
from boxoffice.core.ids import new_id
from boxoffice.core.journal.service import append, append_sync, run_appending_in_session
from boxoffice.core.links import LinkKind, secret_matches
from boxoffice.core.money import Money
from boxoffice.core.notify.service import queue_message_sync, queue_to_buyer
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.storage.prepared import commit_asynchronously

#: No 0/O, 1/I: order numbers are read out on the phone.
NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
NUMBER_LENGTH = 10  # 32^10 ≈ 10^15: a guess hits one of a million orders 1 in 10^9 times


class OrderStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    EXPIRED = "expired"


class TicketStatus(StrEnum):
    """A ticket follows its order: ``pending`` until the order is paid, ``valid`` once it
    is (a free order's at once), ``cancelled`` or ``expired`` with its order, ``refunded``
    on its own (a partial refund) or with its order."""

    PENDING = "pending"
    VALID = "valid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.CONFIRMED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.CONFIRMED}),
    OrderStatus.REFUNDED: frozenset(),
}


def new_order_number() -> str:
    # 32 letters: each random byte's low five bits pick one uniformly (256 = 8 * 32).
    return "".join(NUMBER_ALPHABET[byte & 31] for byte in secrets.token_bytes(NUMBER_LENGTH))


#: Who cancels the orders of a cancelled event (their buyers get the event's notice).
EVENT_CANCELLED = "event-cancelled"


def order_link(public_url: str, number: str, secret: str) -> str:
    """The buyer's link to their order (the secret is their proof: keep it private)."""
    return f"{public_url.rstrip('/')}/orders/{number}?secret={secret}"


async def _transition(
    session: AsyncSession,
    order: Order,
    target: OrderStatus,
    now: datetime,
    **values: Any,
) -> bool:
    """Move ``order`` to ``target`` if it is still in the status we loaded; returns whether
    this call did it. An impossible transition is refused with a clear error."""
    return await session.run_sync(lambda sync: _transition_sync(sync, order, target, now, **values))


def _transition_sync(
    session: Session, order: Order, target: OrderStatus, now: datetime, **values: Any
) -> bool:
    """:func:`_transition` in a synchronous session."""
    source = OrderStatus(order.status)
    if target not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(TRANSITIONS[source])) or "none (final)"
        raise InvalidTransition(
            f"an order that is {source} cannot become {target}; allowed next: {allowed}",
            extra={"from": str(source), "to": str(target)},
        )
    result: CursorResult[tuple[()]] = session.execute(  # type: ignore[assignment]
        update(Order)
        .where(Order.id == order.id, Order.status == source)
        .values(status=target, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    order.status = target
    order.updated_at = now
    for name, value in values.items():
        setattr(order, name, value)
    return True


def count_for_buyer(
    connection: Connection, event_id: uuid.UUID, limit: int | None, email: str, tickets: int
) -> None:
    """Add ``tickets`` to the buyer's tally for the event, refusing to pass the event's
    per-buyer maximum (``limit``): one conditional upsert, safe under concurrency."""

    def refuse() -> NoReturn:
        raise LimitExceeded(
            f"at most {limit} tickets per buyer for this event",
            extra={"rule": "max_per_buyer", "limit": limit},
        )

    if limit is not None and tickets > limit:
        refuse()
    tally = {"event_id": event_id, "buyer_email": email, "tickets": tickets, "limit": limit}
    statements.COUNT_FOR_BUYER.defer(connection, tally, expect=1, otherwise=refuse)


async def _uncount_for_buyer(session: AsyncSession, order: Order) -> None:
    await session.execute(
        update(BuyerTally)
        .where(BuyerTally.event_id == order.event_id, BuyerTally.buyer_email == order.buyer_email)
        .values(tickets=BuyerTally.tickets - order.tickets)
        .execution_options(synchronize_session=False)
    )


class _Taxes:
    """How an order's lines are taxed: by the event's region pack, which must be enabled (an
    event whose pack was disabled after it was published is refused, never sold untaxed), for
    the event's place (an online event without one: the buyer's country) on the day of the
    sale, per ticket type's tax category and price (one question per distinct pair). A
    business buyer's tax id is checked by the rules of the pack; a reverse-charged sale needs
    the fields the pack names (the buyer's address in the EU)."""

    def __init__(
        self,
        connection: Connection,
        event: SelectionRow,
        buyer: Buyer,
        regions: RegionLookup,
        now: datetime,
    ) -> None:
        self.region = region = require_region(regions, event.region)
        self.buyer, self.currency = buyer, event.event_currency
        buyer_country = buyer.country or ""
        #: The business buyer's tax id, checked and compact ("DE136695976"); "" if none.
        self.buyer_tax_id = ""
        if buyer.tax_id is not None:
            self.buyer_tax_id = checked_tax_id(
                buyer.tax_id,
                country=buyer_country,
                kind=region.business_rules.tax_id_kind,
                field="buyer.tax_id",
            )
        country = event.country or buyer_country
        self._query: TaxQuery | None = None
        self._answers: dict[tuple[str, int], TaxTreatment | None] = {}
        if not country:
            return
        seller_country = ""
        if self.buyer_tax_id:  # only a business buyer's order asks where the seller is
            seller = statements.SELLER_COUNTRY.first(
                connection, {"organization_id": event.organization_id}
            )
            seller_country = seller.country if seller is not None else ""
        self._query = TaxQuery(
            country=country,
            subdivision=event.subdivision,
            on=now.date(),
            organizer_rates=organizer_components(event.tax_rates, event.subdivision or country)
            if event.tax_rates
            else (),
            buyer_country=buyer_country,
            buyer_tax_id=self.buyer_tax_id,
            online=event.online,
            seller_country=seller_country,
        )

    def of(self, category: str, unit_price_minor: int) -> TaxTreatment | None:
        """The treatment of a line of ``category`` at ``unit_price_minor``."""
        key = (category, unit_price_minor)
        if key in self._answers:
            return self._answers[key]
        treatment = None
        if self._query is not None:
            query = msgspec.structs.replace(
                self._query, category=category, price=Money(unit_price_minor, self.currency)
            )
            treatment = self.region.tax_treatment(query)
        if treatment is not None and treatment.reverse_charge:
            _require_fields(self.buyer, self.region.business_rules.reverse_charge_fields)
        self._answers[key] = treatment
        return treatment


def _require_fields(buyer: Buyer, fields: frozenset[str]) -> None:
    """:class:`RuleViolated` naming each of the buyer's ``fields`` ("buyer.address") not given."""
    missing = sorted(
        name for name in fields if name.startswith("buyer.") and not getattr(buyer, name[6:])
    )
    if missing:
        raise RuleViolated(
            "the buyer accounts for the tax (reverse charge): the invoice must name "
            + " and ".join(name.removeprefix("buyer.").replace("_", " ") for name in missing),
            errors=[FieldError(name, "required for a reverse-charged sale") for name in missing],
            extra={"rule": "reverse_charge_fields"},
        )


def _tickets(count: int) -> str:
    return f"{count} ticket" if count == 1 else f"{count} tickets"


def _attendees(
    data: OrderIn, hold_items: list[tuple[uuid.UUID, int]]
) -> list[tuple[uuid.UUID, AttendeeIn]]:
    tickets = [ticket_type_id for ticket_type_id, quantity in hold_items for _ in range(quantity)]
    if data.attendees is None:
        myself = AttendeeIn(name=data.buyer.name, email=data.buyer.email)
        return [(ticket_type_id, myself) for ticket_type_id in tickets]
    if len(data.attendees) != len(tickets):
        raise RuleViolated(
            f"name one attendee per ticket: the order has {_tickets(len(tickets))}",
            errors=[FieldError("attendees", f"exactly {len(tickets)} (one per ticket)")],
            extra={"rule": "one_attendee_per_ticket"},
        )
    return list(zip(tickets, data.attendees, strict=True))


def place_order(
    connection: Connection,
    clock: Clock,
    hold_id: uuid.UUID,
    data: OrderIn,
    ordering: Ordering,
) -> OrderOut:
    """Turn a hold into an order: pending payment, or confirmed at once when free. One read
    (the hold with its event), then the writes together: the hold is taken by a conditional
    UPDATE among them whose row count decides (another request that took it first, or the
    sweeper, makes the whole order roll back); its seats move to the order without touching
    the quota rows (they stay held until the order is paid, cancelled or expires). Like a
    checkout's, an unpaid order moves no money: its commit does not wait for the WAL flush
    (a free one, confirmed here, does)."""
    now = clock.now()
    commit_asynchronously(connection)
    rows = statements.HOLD_SELECTION.execute(connection, {"hold_id": hold_id}).rows
    hold = rows[0] if rows else None
    if hold is None or not secret_matches(data.secret, hold.secret_hash):
        raise NotFound(f"no hold {hold_id}")
    if hold.hold_status != "active" or ensure_utc(hold.expires_at) <= now:
        _untakeable(hold.hold_status)

    def lost_the_hold() -> NoReturn:  # to a request that took it first, or to the sweeper
        state = statements.HOLD_STATE.first(connection, {"hold_id": hold_id})
        _untakeable(state.status if state is not None else "gone")

    statements.TAKE_HOLD.defer(
        connection, {"hold_id": hold_id, "now": now}, expect=1, otherwise=lost_the_hold
    )
    placed = _record_order(connection, clock, hold_id, hold, rows, data, ordering)
    _confirm_if_free(connection, clock, placed, ordering.public_url)
    return order_out(
        placed.order, placed.items, secret=placed.secret, public_url=ordering.public_url
    )


def checkout(
    connection: Connection,
    clock: Clock,
    event_id: uuid.UUID,
    data: CheckoutIn,
    ordering: Ordering,
) -> OrderOut:
    """A hold and its order in one transaction, all or nothing: what ``place_hold`` then
    ``place_order`` do (the hold row records the selection and its locked prices and is
    taken by the order at once). The seats are taken last, so that on PostgreSQL the hot
    quota row stays locked only from its UPDATE to the commit."""
    hold = holds.start_hold(
        connection,
        clock,
        event_id,
        data.selection(),
        ordering.links.new(LinkKind.HOLD),
        status="ordered",
    )
    placed = _record_order(
        connection,
        clock,
        hold.record.id,
        hold.record,
        hold.rows,
        data.order(hold.link.secret or ""),
        ordering,
    )
    holds.take_seats(connection, hold)
    _confirm_if_free(connection, clock, placed, ordering.public_url)
    return order_out(
        placed.order, placed.items, secret=placed.secret, public_url=ordering.public_url
    )


class _Placed(NamedTuple):
    order: OrderRecord
    #: The secret of the order's link (only its hash is in the record).
    secret: str
    items: list[OrderItemRecord]
    event: SelectionRow


def _record_order(
    connection: Connection,
    clock: Clock,
    hold_id: uuid.UUID,
    taken: TakenHold,
    context: Sequence[SelectionRow],
    data: OrderIn,
    ordering: Ordering,
) -> _Placed:
    """The pending order for a hold being taken (``taken``: its event, items, allocations,
    deadline and promo code), its tickets and its journal entry. ``context``: ``SELECTION``
    rows of the event and (at least) the hold's ticket types."""
    now = clock.now()
    email = normalize_email(data.buyer.email, field="buyer.email")
    event_id = taken.event_id
    hold_items = [(uuid.UUID(i["ticket_type_id"]), int(i["quantity"])) for i in taken.items]
    locked = {uuid.UUID(i["ticket_type_id"]): i.get("unit_price_minor") for i in taken.items}
    quota_ids = {uuid.UUID(i["ticket_type_id"]): i.get("quota_ids", []) for i in taken.items}
    attendees = _attendees(data, hold_items)
    checked = {data.buyer.email}
    for index, (_, attendee) in enumerate(attendees):
        if attendee.email and attendee.email not in checked:
            normalize_email(attendee.email, field=f"attendees[{index}].email")
            checked.add(attendee.email)
    event, names = context[0], {row.ticket_type_id: row for row in context}
    questions = (
        statements.QUESTIONS.execute(connection, {"event_id": event_id}).rows
        if event.questions
        else []
    )
    answers = check_answers(questions, attendees)
    tickets = len(attendees)
    count_for_buyer(connection, event_id, event.max_tickets_per_buyer, email, tickets)
    discount = None
    if taken.promo_code_id is not None:
        promo = promos.take_use(connection, taken.promo_code_id, email, now)
        discount = pricing.Discount(promo.kind, promo.value, frozenset(promo.ticket_types))
    taxes = _Taxes(connection, event, data.buyer, ordering.regions, now)
    selections = []
    for t, n in hold_items:
        unit = int(locked.get(t) or names[t].price_minor)
        treatment = taxes.of(names[t].tax_category, unit)
        selections.append(pricing.Selection(t, names[t].name, unit, n, treatment))
    breakdown = pricing.price(
        selections,
        event.event_currency,
        discount,
        fee_per_ticket=event.fee_per_ticket_minor,
        platform_fee_bp=ordering.platform_fee_bp,
    )
    link = ordering.links.new(LinkKind.ORDER)
    assert link.secret is not None
    order = OrderRecord(
        id=link.id,
        number="",
        secret_hash=link.secret_hash,
        event_id=event_id,
        organization_id=event.organization_id,
        hold_id=hold_id,
        user_id=ordering.user_id,
        promo_code_id=taken.promo_code_id,
        status=OrderStatus.PENDING,
        buyer_name=data.buyer.name,
        buyer_email=email,
        buyer_country=data.buyer.country or "",
        buyer_phone=data.buyer.phone or "",
        buyer_tax_id=taxes.buyer_tax_id,
        buyer_address=data.buyer.address or "",
        locale=data.buyer.locale or "",
        currency=event.event_currency,
        subtotal_minor=breakdown.subtotal.minor,
        discount_minor=breakdown.discount.minor,
        fees_minor=breakdown.fees.minor,
        tax_minor=breakdown.tax.minor,
        total_minor=breakdown.total.minor,
        refunded_minor=0,
        breakdown=msgspec.to_builtins(breakdown),
        allocations=taken.allocations,
        tickets=tickets,
        expires_at=taken.expires_at,
        created_at=now,
        updated_at=now,
        confirmed_at=None,
        cancelled_at=None,
        cancel_reason="",
    )
    order.number = new_order_number()
    # A number drawn twice (1 in 10^9 at a million orders) fails the insert on its unique
    # index: the request is refused as a conflict to retry, and changes nothing.
    statements.INSERT_ORDER.defer(connection, order.as_row())
    order_items = _items(order, breakdown, attendees, answers, quota_ids)
    statements.INSERT_ITEMS.defer_many(connection, [i.as_row() for i in order_items])
    append_sync(
        connection,
        OrderPlaced(
            order_id=str(order.id),
            number=order.number,
            event_id=str(event_id),
            organization_id=str(order.organization_id),
            status=order.status,
            total_minor=order.total_minor,
            currency=order.currency,
            tickets=tickets,
        ),
        clock,
    )
    return _Placed(order, link.secret, order_items, event)


def _confirm_if_free(
    connection: Connection, clock: Clock, placed: _Placed, public_url: str
) -> None:
    """A free order is confirmed in the transaction that placed it, durably (a hold's or a
    checkout's transaction may have turned PostgreSQL's synchronous commit off)."""
    order, event = placed.order, placed.event
    if order.total_minor != 0:
        return
    commit_asynchronously(connection, False)
    now = order.created_at
    statements.CONFIRM_PENDING.execute(connection, {"order_id": order.id, "now": now})
    order.status, order.confirmed_at, order.expires_at = OrderStatus.CONFIRMED, now, None
    capacity.sell_held_sync(connection, order.allocations)
    _confirmed(connection, clock, order, via="free", region=event.region)


def _untakeable(status: str) -> NoReturn:
    """Why a hold (its secret known) cannot become an order: taken, or lapsed."""
    if status == "ordered":
        raise Conflict("this hold is already an order", extra={"rule": "hold_ordered"})
    raise HoldExpired(
        "the hold expired and its seats went back; start again",
        extra={"rule": "hold_ttl", "status": status},
    )


def _items(
    order: OrderRecord,
    breakdown: Breakdown,
    attendees: list[tuple[uuid.UUID, AttendeeIn]],
    answers: list[dict[str, Any]],
    quota_ids: dict[uuid.UUID, list[str]],
) -> list[OrderItemRecord]:
    shares: dict[uuid.UUID, list[tuple[int, int, int, int, int]]] = {}
    for line in breakdown.lines:
        parts = line.quantity
        shares[line.ticket_type_id] = list(
            zip(
                pricing.split(line.subtotal.minor, parts),
                pricing.split(line.discount.minor, parts),
                pricing.split(line.fees.minor, parts),
                pricing.split(line.tax.minor, parts),
                pricing.split(line.total.minor, parts),
                strict=True,
            )
        )
    items = []
    for position, ((ticket_type_id, attendee), answered) in enumerate(
        zip(attendees, answers, strict=True)
    ):
        price, discount, fee, tax, total = shares[ticket_type_id].pop(0)
        items.append(
            OrderItemRecord(
                id=new_id(),
                order_id=order.id,
                ticket_type_id=ticket_type_id,
                position=position,
                attendee_name=attendee.name,
                attendee_email=attendee.email.strip().lower(),
                answers=answered,
                price_minor=price,
                discount_minor=discount,
                fee_minor=fee,
                tax_minor=tax,
                total_minor=total,
                quota_ids=quota_ids.get(ticket_type_id, []),
                status=TicketStatus.VALID if order.total_minor == 0 else TicketStatus.PENDING,
            )
        )
    return items


async def confirm(
    session: AsyncSession,
    clock: Clock,
    order: Order,
    *,
    via: str,
    event: Event | None = None,
) -> bool:
    """Confirm a paid (or free) order: held seats become sold. An order that expired before
    its payment arrived takes its seats again if they are still free; if not, ``SoldOut`` is
    raised and the caller must refund. Returns whether this call confirmed it (``False``: it
    already was)."""
    return await run_appending_in_session(
        session,
        lambda sync: confirm_sync(sync, clock, order, via=via, event=event),
    )


def confirm_sync(
    session: Session,
    clock: Clock,
    order: Order,
    *,
    via: str,
    event: Event | None = None,
    gateway: str = "",
) -> bool:
    """:func:`confirm` in a synchronous session (the payment engine's writes run in one,
    inside ``Database.run``); ``gateway`` names the one that took the money."""
    now = clock.now()
    connection = session.connection()
    if order.status == OrderStatus.CONFIRMED:
        return False
    if order.status == OrderStatus.EXPIRED:
        blocked = capacity.resell_sync(connection, order.allocations)
        if blocked is not None:
            raise SoldOut(
                "the order expired and its seats were sold meanwhile; it is refunded",
                extra={"rule": "capacity", "order": order.number},
            )
        if not _transition_sync(
            session, order, OrderStatus.CONFIRMED, now, confirmed_at=now, expires_at=None
        ):
            raise Conflict("the order changed meanwhile; look at it again")
        if order.promo_code_id is not None:  # its use went back at expiry: take it again
            session.execute(promos.TAKE, {"promo_id": order.promo_code_id})
        event = event or session.get(Event, order.event_id)
        assert event is not None
        count_for_buyer(
            connection,
            order.event_id,
            event.max_tickets_per_buyer,
            order.buyer_email,
            order.tickets,
        )
    else:
        if not _transition_sync(
            session, order, OrderStatus.CONFIRMED, now, confirmed_at=now, expires_at=None
        ):
            session.refresh(order)
            return False
        capacity.sell_held_sync(connection, order.allocations)
    _tickets_become_sync(
        session, order, TicketStatus.VALID, TicketStatus.PENDING, TicketStatus.EXPIRED
    )
    found = event or session.get(Event, order.event_id)
    assert found is not None
    _confirmed(connection, clock, order, via=via, region=found.region, gateway=gateway)
    return True


def _confirmed(
    connection: Connection,
    clock: Clock,
    order: Order | OrderRecord,
    *,
    via: str,
    region: str,
    gateway: str = "",
) -> None:
    """What follows a confirmation: the journal entry and the buyer's e-mail (its text,
    tickets and link are made when it is sent: :mod:`boxoffice.core.tickets.messages`)."""
    append_sync(
        connection,
        OrderConfirmed(
            order_id=str(order.id),
            number=order.number,
            event_id=str(order.event_id),
            organization_id=str(order.organization_id),
            total_minor=order.total_minor,
            currency=order.currency,
            via=via,
            lines=_sold_lines(order.breakdown),
            gateway=gateway,
            promo_code_id=None if order.promo_code_id is None else str(order.promo_code_id),
        ),
        clock,
    )
    queue_message_sync(
        connection,
        clock,
        kind="email",
        to=order.buyer_email,
        template="order-confirmed",
        locale=order.locale,
        region=region,
        context={"order_id": str(order.id)},
    )


async def cancel(
    session: AsyncSession, clock: Clock, order: Order, *, by: str, reason: str = ""
) -> bool:
    """Cancel a pending or confirmed order; its seats go back exactly once. Returns whether
    this call cancelled it (``False``: it already was, so a repeated request changes
    nothing)."""
    now = clock.now()
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return False
    source = order.status
    if not await _transition(
        session,
        order,
        OrderStatus.CANCELLED,
        now,
        cancelled_at=now,
        cancel_reason=reason,
        expires_at=None,
    ):
        await session.refresh(order)
        return False
    if source == OrderStatus.CONFIRMED:
        await capacity.release_sold(session, order.allocations)
    else:
        await capacity.release_held(session, order.allocations)
    await _uncount_for_buyer(session, order)
    refunded: list[RefundLine] = []
    if source == OrderStatus.CONFIRMED:
        valid = [i for i in await items_of(session, order) if i.status == TicketStatus.VALID]
        refunded = refund_lines(valid)
    await _tickets_become(
        session, order, TicketStatus.CANCELLED, TicketStatus.PENDING, TicketStatus.VALID
    )
    if order.promo_code_id is not None:
        await promos.give_back_use(session, order.promo_code_id, order.buyer_email)
    paid = order.total_minor - order.refunded_minor if source == OrderStatus.CONFIRMED else 0
    await append(
        session,
        OrderCancelled(
            order_id=str(order.id),
            number=order.number,
            event_id=str(order.event_id),
            organization_id=str(order.organization_id),
            by=by,
            reason=reason,
            refund_minor=paid,
            currency=order.currency,
            lines=refunded,
            was_confirmed=source == OrderStatus.CONFIRMED,
        ),
        clock,
    )
    if source == OrderStatus.CONFIRMED:  # an unpaid order's buyer is told nothing new
        await queue_to_buyer(
            session,
            clock,
            email=order.buyer_email,
            phone=order.buyer_phone,
            template="event-cancelled" if by == EVENT_CANCELLED else "order-cancelled",
            locale=order.locale,
            context={"order_id": str(order.id), "paid": paid > 0},
        )
    await _released(session, clock, order, why=f"order cancelled by {by}")
    return True


async def expire(session: AsyncSession, clock: Clock, order: Order) -> bool:
    """A pending order whose payment deadline passed: its seats go back (once)."""
    now = clock.now()
    if order.status != OrderStatus.PENDING or (
        order.expires_at is not None and ensure_utc(order.expires_at) > now
    ):
        return False
    if not await _transition(session, order, OrderStatus.EXPIRED, now):
        return False
    await capacity.release_held(session, order.allocations)
    await _uncount_for_buyer(session, order)
    await _tickets_become(session, order, TicketStatus.EXPIRED, TicketStatus.PENDING)
    if order.promo_code_id is not None:
        await promos.give_back_use(session, order.promo_code_id, order.buyer_email)
    await append(
        session,
        OrderExpired(
            order_id=str(order.id),
            number=order.number,
            event_id=str(order.event_id),
            organization_id=str(order.organization_id),
        ),
        clock,
    )
    await _released(session, clock, order, why="order expired")
    return True


async def _tickets_become(
    session: AsyncSession, order: Order, status: TicketStatus, *sources: TicketStatus
) -> None:
    """The order's tickets in one of ``sources`` take ``status`` with their order."""
    await session.run_sync(lambda sync: _tickets_become_sync(sync, order, status, *sources))


def _tickets_become_sync(
    session: Session, order: Order, status: TicketStatus, *sources: TicketStatus
) -> None:
    session.execute(
        update(OrderItem)
        .where(OrderItem.order_id == order.id, OrderItem.status.in_(sources))
        .values(status=status)
        .execution_options(synchronize_session="fetch")
    )


async def _released(session: AsyncSession, clock: Clock, order: Order, why: str) -> None:
    ticket_type_ids = sorted(
        {
            str(i)
            for i in await session.scalars(
                select(OrderItem.ticket_type_id).where(OrderItem.order_id == order.id)
            )
        }
    )
    await capacity_released(
        session, clock, order.event_id, ticket_type_ids, sum(order.allocations.values()), why=why
    )


async def refund_tickets(
    session: AsyncSession,
    clock: Clock,
    order: Order,
    ticket_ids: list[uuid.UUID],
    *,
    by: str,
    reason: str = "",
) -> list[uuid.UUID]:
    """Refund some tickets of a paid order: each one's seat goes back to exactly the quotas
    it was taken from, once (a conditional change per ticket), and the order's refunded amount
    grows by their totals; refunding the last valid ticket makes the order "refunded". Returns
    the tickets this call refunded (already refunded ones are skipped, so a repeat is a no-op)."""
    if order.status != OrderStatus.CONFIRMED:
        raise InvalidTransition(
            f"only paid orders are refunded ticket by ticket; this one is {order.status}",
            extra={"rule": "refund_needs_paid_order"},
        )
    items = {i.id: i for i in await items_of(session, order)}
    unknown = [str(t) for t in ticket_ids if t not in items]
    if unknown:
        raise NotFound(f"not tickets of order {order.number}: {', '.join(unknown)}")
    refunded: list[OrderItem] = []
    for ticket_id in dict.fromkeys(ticket_ids):
        result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
            update(OrderItem)
            .where(OrderItem.id == ticket_id, OrderItem.status == TicketStatus.VALID)
            .values(status=TicketStatus.REFUNDED)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            items[ticket_id].status = TicketStatus.REFUNDED
            refunded.append(items[ticket_id])
    if not refunded:
        return []
    seats: dict[str, int] = {}
    for item in refunded:
        for quota_id in item.quota_ids:
            seats[quota_id] = seats.get(quota_id, 0) + 1
    await capacity.release_sold(session, seats)
    remaining = {q: n - seats.get(q, 0) for q, n in order.allocations.items()}
    amount = sum(i.total_minor for i in refunded)
    order.allocations = {q: n for q, n in remaining.items() if n > 0}
    order.refunded_minor += amount
    order.tickets -= len(refunded)
    order.updated_at = clock.now()
    complete = all(i.status == TicketStatus.REFUNDED for i in items.values())
    if complete:
        order.status = OrderStatus.REFUNDED
    await session.flush()
    await session.execute(
        update(BuyerTally)
        .where(
            BuyerTally.event_id == order.event_id,
            BuyerTally.buyer_email == order.buyer_email,
            BuyerTally.tickets >= len(refunded),
        )
        .values(tickets=BuyerTally.tickets - len(refunded))
        .execution_options(synchronize_session=False)
    )
    await append(
        session,
        OrderRefunded(
            order_id=str(order.id),
            number=order.number,
            event_id=str(order.event_id),
            organization_id=str(order.organization_id),
            by=by,
            reason=reason,
            ticket_ids=[str(i.id) for i in refunded],
            refund_minor=amount,
            currency=order.currency,
            complete=complete,
            lines=refund_lines(refunded),
        ),
        clock,
    )
    await capacity_released(
        session,
        clock,
        order.event_id,
        sorted({str(i.ticket_type_id) for i in refunded}),
        len(refunded),
        why=f"tickets refunded by {by}",
    )
    return [i.id for i in refunded]


def buyer_may_cancel(order: Order, event: Event, now: datetime) -> None:
    """The event's refund policy: unpaid orders may always be cancelled; paid ones until
    ``refund_deadline_hours`` before the start (never, when the event sets no deadline)."""
    if order.status == OrderStatus.PENDING:
        return
    hours = event.refund_deadline_hours
    if hours is None:
        raise RuleViolated(
            "this event does not allow cancellations by buyers", extra={"rule": "refund_policy"}
        )
    deadline = ensure_utc(event.starts_at) - timedelta(hours=hours)
    if now > deadline:
        raise RuleViolated(
            f"cancellations closed {hours} hours before the start ({deadline.isoformat()})",
            extra={"rule": "refund_deadline", "deadline": deadline},
        )


async def get_order_by_number(
    session: AsyncSession,
    number: str,
    *,
    secret: str | None = None,
    organization_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> Order:
    """The order, for its buyer (``secret``) or its organizer (``organization_id``)."""
    order = await session.scalar(select(Order).where(Order.number == number.strip().upper()))
    allowed = order is not None and (
        (
            organization_id is not None
            and order.organization_id == organization_id
            and (event_id is None or order.event_id == event_id)
        )
        or (organization_id is None and secret_matches(secret, order.secret_hash))
    )
    if order is None or not allowed:
        raise NotFound(f"no order {number}")
    return order


async def get_order(session: AsyncSession, order_id: uuid.UUID) -> Order:
    """The order ``order_id`` as this transaction sees it (one already authorized)."""
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def _sold_lines(breakdown: Mapping[str, Any]) -> list[SoldLine]:
    """The journal's account of an order's price lines (from its stored breakdown)."""
    return [
        SoldLine(
            ticket_type_id=str(line["ticket_type_id"]),
            quantity=line["quantity"],
            subtotal_minor=line["subtotal"]["minor"],
            discount_minor=line["discount"]["minor"],
            fees_minor=line["fees"]["minor"],
            tax_minor=line["tax"]["minor"],
            total_minor=line["total"]["minor"],
        )
        for line in breakdown.get("lines", ())
    ]


def refund_lines(items: Sequence[OrderItem]) -> list[RefundLine]:
    """What giving back ``items`` returns, per ticket type."""
    by_type: dict[str, list[OrderItem]] = {}
    for item in items:
        by_type.setdefault(str(item.ticket_type_id), []).append(item)
    return [
        RefundLine(
            ticket_type_id=type_id,
            quantity=len(group),
            refund_minor=sum(i.total_minor for i in group),
            tax_minor=sum(i.tax_minor for i in group),
        )
        for type_id, group in sorted(by_type.items())
    ]


async def items_of(session: AsyncSession, order: Order) -> list[OrderItem]:
    return list(
        await session.scalars(
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(OrderItem.position)
        )
    )


def order_out(
    order: Order | OrderRecord,
    items: Sequence[OrderItem] | Sequence[OrderItemRecord],
    *,
    secret: str | None = None,
    public_url: str = "",
) -> OrderOut:
    """The order as its buyer (who gave or was just given its ``secret``) or its organizer
    sees it; only the buyer's view has the link."""
    currency = order.currency
    return OrderOut(
        id=order.id,
        number=order.number,
        event_id=order.event_id,
        status=order.status,
        buyer_name=order.buyer_name,
        buyer_email=order.buyer_email,
        buyer_phone=order.buyer_phone,
        buyer_tax_id=order.buyer_tax_id,
        buyer_address=order.buyer_address,
        total=Money(order.total_minor, currency),
        breakdown=msgspec.convert(order.breakdown, Breakdown),
        tickets=[
            TicketOut(
                id=i.id,
                ticket_type_id=i.ticket_type_id,
                attendee_name=i.attendee_name,
                attendee_email=i.attendee_email,
                answers=dict(i.answers),
                price=Money(i.total_minor, currency),
                status=i.status,
            )
            for i in items
        ],
        created_at=ensure_utc(order.created_at),
        expires_at=ensure_utc(order.expires_at) if order.expires_at else None,
        confirmed_at=ensure_utc(order.confirmed_at) if order.confirmed_at else None,
        cancelled_at=ensure_utc(order.cancelled_at) if order.cancelled_at else None,
        refunded=Money(order.refunded_minor, currency),
        link=order_link(public_url, order.number, secret) if secret else None,
        secret=secret,
    )


def order_summary(order: Order) -> OrderSummary:
    return OrderSummary(
        id=order.id,
        number=order.number,
        status=order.status,
        buyer_name=order.buyer_name,
        buyer_email=order.buyer_email,
        total=Money(order.total_minor, order.currency),
        tickets=order.tickets,
        created_at=ensure_utc(order.created_at),
    )


class _OrderCursor(msgspec.Struct, frozen=True):
    created_at: datetime
    id: uuid.UUID


async def list_orders(
    session: AsyncSession,
    event_id: uuid.UUID,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    search: str | None = None,
) -> OrderPage:
    """The event's orders, newest first, by keyset pages. ``search`` finds an order by its
    number, or by a piece of the buyer's e-mail address or name (case-insensitive)."""
    statement = select(Order).where(Order.event_id == event_id)
    if status:
        statement = statement.where(Order.status == status)
    if search and search.strip():
        term = search.strip()
        pattern = (
            "%" + term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        statement = statement.where(
            (Order.number == term.upper())
            | Order.buyer_email.like(pattern, escape="\\")
            | func.lower(Order.buyer_name).like(pattern, escape="\\")
        )
    if cursor:
        after = decode_cursor(cursor, _OrderCursor)
        statement = statement.where(
            tuple_(Order.created_at, Order.id) < tuple_(after.created_at, after.id)
        )
    rows = list(
        await session.scalars(
            statement.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        encode_cursor(_OrderCursor(ensure_utc(rows[-1].created_at), rows[-1].id)) if more else None
    )
    return OrderPage(items=[order_summary(o) for o in rows], next_cursor=next_cursor)
