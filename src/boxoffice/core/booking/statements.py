"""The booking engine's SQL, built once at import and run as :class:`Prepared` statements
(compiled once per dialect, executed on the driver's cursor): the hot paths execute these
with parameters instead of composing queries per request. Each is plain Core and runs
unchanged on SQLite and PostgreSQL. None takes an IN list: an event has a handful of ticket
types, so the queries read all of the event's and the code picks the requested ones."""

from __future__ import annotations

from sqlalchemy import FromClause, Insert, Integer, bindparam, func, insert, select, update

from boxoffice.core.booking.models import BuyerTally, Hold, Order, OrderItem, Question
from boxoffice.core.catalog.models import Event, Quota, QuotaTicketType, TicketType
from boxoffice.core.identity.models import Organization
from boxoffice.core.storage import UTCDateTime, conflict_insert, table_of
from boxoffice.core.storage.prepared import Prepared

event = table_of(Event)
ticket_type = table_of(TicketType)
quota = table_of(Quota)
quota_member = table_of(QuotaTicketType)
hold = table_of(Hold)
order = table_of(Order)
order_item = table_of(OrderItem)
question = table_of(Question)
organization = table_of(Organization)

#: What an order needs of an event, and its ticket types with their quota memberships:
#: one row per (ticket type, quota); a ticket type in no quota has quota_id NULL; an event
#: without ticket types gives one row with ticket_type_id NULL. ``questions`` counts the
#: event's questions (none asked: the order skips reading them).
_SELECTION_COLUMNS = (
    event.c.status,
    event.c.ends_at,
    event.c.hold_ttl_seconds,
    event.c.organization_id,
    event.c.title,
    event.c.currency.label("event_currency"),
    event.c.region,
    event.c.country,
    event.c.subdivision,
    event.c.online,
    event.c.tax_rates,
    event.c.max_tickets_per_buyer,
    event.c.fee_per_ticket_minor,
    select(func.count())
    .where(question.c.event_id == event.c.id)
    .scalar_subquery()
    .label("questions"),
    ticket_type.c.id.label("ticket_type_id"),
    ticket_type.c.name,
    ticket_type.c.price_minor,
    ticket_type.c.currency,
    ticket_type.c.visibility,
    ticket_type.c.access_code,
    ticket_type.c.sales_start,
    ticket_type.c.sales_end,
    ticket_type.c.min_per_order,
    ticket_type.c.max_per_order,
    ticket_type.c.price_steps,
    ticket_type.c.tax_category,
    quota_member.c.quota_id,
    (quota.c.sold + quota.c.held).label("taken"),
    quota.c.capacity,
)


def _with_ticket_types(events: FromClause) -> FromClause:
    return (
        events.outerjoin(ticket_type, ticket_type.c.event_id == event.c.id)
        .outerjoin(quota_member, quota_member.c.ticket_type_id == ticket_type.c.id)
        .outerjoin(quota, quota.c.id == quota_member.c.quota_id)
    )


#: An event, what an order needs of it, and its ticket types, in one query (see above).
SELECTION = Prepared(
    select(*_SELECTION_COLUMNS)
    .select_from(_with_ticket_types(event))
    .where(event.c.id == bindparam("event_id"))
)

#: A hold an order is to be placed from, with its event's ``SELECTION`` rows: the one read
#: of ``place_order`` (the hold's columns repeat on each row; a hold's content never
#: changes, only its status). No rows: no such hold.
HOLD_SELECTION = Prepared(
    select(
        hold.c.event_id,
        hold.c.secret_hash,
        hold.c.status.label("hold_status"),
        hold.c["items"],
        hold.c.allocations,
        hold.c.expires_at,
        hold.c.promo_code_id,
        *_SELECTION_COLUMNS,
    )
    .select_from(_with_ticket_types(hold.join(event, event.c.id == hold.c.event_id)))
    .where(hold.c.id == bindparam("hold_id"))
)

#: Where an organization is established (an order from a business buyer: reverse charge).
SELLER_COUNTRY = Prepared(
    select(organization.c.country).where(organization.c.id == bindparam("organization_id"))
)


#: Seats left per ticket type among the given ones: the smallest remainder of its quotas
#: (explaining a refusal: not on the hot path, so an ordinary statement).
AVAILABLE = (
    select(
        quota_member.c.ticket_type_id,
        func.min(quota.c.capacity - quota.c.sold - quota.c.held).label("left"),
    )
    .join(quota, quota.c.id == quota_member.c.quota_id)
    .where(quota_member.c.ticket_type_id.in_(bindparam("ticket_type_ids", expanding=True)))
    .group_by(quota_member.c.ticket_type_id)
)

#: Hold seats if they fit: the row count decides (ARCHITECTURE §2).
HOLD_SEATS = Prepared(
    update(quota)
    .where(
        quota.c.id == bindparam("quota_id"),
        quota.c.sold + quota.c.held + bindparam("seats") <= quota.c.capacity,
    )
    .values(held=quota.c.held + bindparam("seats"))
)

#: Held seats become sold (an order was paid or was free).
SELL_HELD = Prepared(
    update(quota)
    .where(quota.c.id == bindparam("quota_id"))
    .values(held=quota.c.held - bindparam("seats"), sold=quota.c.sold + bindparam("seats"))
)

INSERT_HOLD = Prepared(insert(hold))

#: Turn an active, unexpired hold into an order: the one conditional change that decides
#: (deferred with the order's writes: its row count says whether the order won the hold).
TAKE_HOLD = Prepared(
    update(hold)
    .where(
        hold.c.id == bindparam("hold_id"),
        hold.c.status == "active",
        hold.c.expires_at > bindparam("now"),
    )
    .values(status="ordered")
)

#: A hold's status (why an order lost the race for it).
HOLD_STATE = Prepared(select(hold.c.status).where(hold.c.id == bindparam("hold_id")))

QUESTIONS = Prepared(
    select(
        question.c.id,
        question.c.label,
        question.c.kind,
        question.c.options,
        question.c.required,
        question.c.ticket_types,
    )
    .where(question.c.event_id == bindparam("event_id"))
    .order_by(question.c.position, question.c.created_at)
)

INSERT_ITEMS = Prepared(insert(order_item))

CONFIRM_PENDING = Prepared(
    update(order)
    .where(order.c.id == bindparam("order_id"), order.c.status == "pending")
    .values(
        status="confirmed",
        confirmed_at=bindparam("now", type_=UTCDateTime()),
        updated_at=bindparam("now", type_=UTCDateTime()),
        expires_at=None,
    )
)


def _tally_upsert(dialect: str) -> Insert:
    statement = conflict_insert(dialect, table_of(BuyerTally))
    tally, excluded = statement.table.c, statement.excluded
    limit = bindparam("limit", type_=Integer())
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[tally.event_id, tally.buyer_email],
        set_={"tickets": tally.tickets + excluded.tickets},
        where=limit.is_(None) | (tally.tickets + excluded.tickets <= limit),
    ).returning(tally.tickets)
    return upsert


#: Add tickets to a buyer's tally for an event unless that passes the limit (no row back).
COUNT_FOR_BUYER = Prepared(_tally_upsert)

INSERT_ORDER = Prepared(insert(order))
