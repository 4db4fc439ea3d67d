"""Buying tickets: holds, orders, the buyer's order link; and the organizer's order desk.

Buyers need no account: a hold and an order are proven by their secret (``secret`` in the
body or the query). Requests that move capacity accept an ``Idempotency-Key`` header; a
repeat returns the first response with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.auth import caller_of, client_ip, limits_apply
from boxoffice.api.caching import PRIVATE
from boxoffice.api.deps import Idempotency, needs
from boxoffice.api.middleware import SMALL_RESPONSE
from boxoffice.api.readcache import invalidating_public_reads
from boxoffice.core.booking import endings, holds, orders, promos, questions, waitlist
from boxoffice.core.booking.models import Order
from boxoffice.core.booking.promos import PromoCodeRefused
from boxoffice.core.booking.records import Ordering
from boxoffice.core.booking.schemas import (
    CancelIn,
    CheckoutIn,
    HoldIn,
    HoldOut,
    OrderIn,
    OrderOut,
    OrderPage,
    PromoCodeIn,
    PromoCodeOut,
    QuestionIn,
    QuestionOut,
    RefundIn,
    SecretIn,
    WaitlistIn,
    WaitlistOut,
)
from boxoffice.core.catalog.calendar import order_calendar
from boxoffice.core.catalog.models import Event
from boxoffice.core.catalog.service import event_out, get_public_event
from boxoffice.core.clock import Clock
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.identity.models import User
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.invoices.pdf import invoice_pdf
from boxoffice.core.invoices.schemas import InvoiceOut
from boxoffice.core.invoices.service import invoice_of, invoices_of
from boxoffice.core.links import LinkKind
from boxoffice.core.ratelimit import Limit, RateLimited, count_in, hit, retry_after
from boxoffice.platform import Platform

T = TypeVar("T")
Secret = Annotated[str | None, QueryParameter(max_length=60)]


#: Wrong promo or access codes one client may try for one event before it must wait.
CODE_GUESSES = Limit(20, timedelta(minutes=15))


def _scope(request: Request[Any, Any, Any], user: User | None, action: str, target: object) -> str:
    """Whose Idempotency-Key this is: a signed-in buyer's own; an anonymous buyer's is
    theirs and their client address's, so that another client sending the same key and
    body gets an answer of its own, never the first buyer's order and its secret."""
    who = str(user.id) if user else f"anonymous@{client_ip(request)}"
    return f"{who}:{action}:{target}"


async def _guarding_codes(
    request: Request[Any, Any, Any],
    platform: Platform,
    event_id: uuid.UUID,
    data: HoldIn | CheckoutIn,
    attempt: Callable[[], Awaitable[T]],
) -> T:
    """Run ``attempt``, counting a wrong promo or access code against the client and event:
    past :data:`CODE_GUESSES` that client waits (codes are short; guessing them must not be
    cheap). Requests without a code skip this (the hot path)."""
    if not (data.promo_code or data.access_code):
        return await attempt()
    key = f"codes:{event_id}:{client_ip(request)}"
    wait = await retry_after(platform.db, platform.clock, key, CODE_GUESSES)
    if wait is not None:
        raise RateLimited(
            f"too many wrong codes for this event from your network; try again in {wait} s",
            wait,
        )
    try:
        return await attempt()
    except (PromoCodeRefused, ValidationFailed) as error:
        wrong_promo = error.extra.get("rule") == "promo_code_unknown"
        wrong_access = bool(data.access_code) and isinstance(error, ValidationFailed)
        if wrong_promo or wrong_access:
            await hit(platform.db, platform.clock, key, CODE_GUESSES, "wrong codes")
        raise


#: The window of the per-client hold limit (``BOXOFFICE_HOLDS_PER_CLIENT``).
HOLD_WINDOW = timedelta(minutes=10)


def _counting_holds(
    request: Request[Any, Any, Any], platform: Platform, work: Callable[[Connection], T]
) -> Callable[[Connection], T]:
    """``work`` (which places a hold), counted against the client address's holds in the
    same transaction: a bot holding every seat with many holds is refused (429). Exempt
    clients and refused work count nothing."""
    if not limits_apply(request, platform):
        return work
    key = f"holds:{client_ip(request)}"
    limit = Limit(platform.settings.holds_per_client, HOLD_WINDOW)
    clock = platform.clock

    def counted(connection: Connection) -> T:
        result = work(connection)
        count_in(connection, clock, key, limit, "holds from your network")
        return result

    return counted


def _ordering(platform: Platform, user: User | None) -> Ordering:
    """What placing an order needs to know beside the request."""
    return Ordering(
        regions=platform.region_or_none,
        public_url=platform.settings.resolved_public_url,
        links=platform.links,
        user_id=user.id if user else None,
        platform_fee_bp=platform.settings.platform_fee_basis_points,
    )


def require_secret(secret: str | None) -> str:
    if not secret:
        raise ValidationFailed(
            "give the secret from the hold or order link",
            errors=[FieldError("query.secret", "required")],
        )
    return secret


class BookingController(Controller):
    cache_control = PRIVATE
    path = "/"
    tags = ["booking"]

    @post(
        "/events/{event_id:uuid}/holds",
        status_code=201,
        opt=SMALL_RESPONSE,
        summary="Hold seats for a selection (all or nothing) until the hold expires",
    )
    async def place_hold(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        idempotency: NamedDependency[Idempotency],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[HoldIn],
    ) -> Response[HoldOut]:
        clock, links = platform.clock, platform.links
        scope = _scope(request, await caller_of(request, platform), "hold", event_id)
        return await _guarding_codes(
            request,
            platform,
            event_id,
            data,
            lambda: idempotency.run(
                scope,
                _counting_holds(
                    request,
                    platform,
                    lambda connection: holds.place_hold(
                        connection, clock, event_id, data, links.new(LinkKind.HOLD)
                    ),
                ),
                HoldOut,
                status_code=201,
            ),
        )

    @post(
        "/events/{event_id:uuid}/orders",
        status_code=201,
        opt=SMALL_RESPONSE,
        summary="Checkout in one request: hold the selection and place its order",
    )
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        idempotency: NamedDependency[Idempotency],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[CheckoutIn],
    ) -> Response[OrderOut]:
        user = await caller_of(request, platform)
        clock, ordering = platform.clock, _ordering(platform, user)
        return await _guarding_codes(
            request,
            platform,
            event_id,
            data,
            lambda: idempotency.run(
                _scope(request, user, "checkout", event_id),
                _counting_holds(
                    request,
                    platform,
                    lambda connection: orders.checkout(connection, clock, event_id, data, ordering),
                ),
                OrderOut,
                status_code=201,
            ),
        )

    @get("/events/{event_id:uuid}/questions", summary="What the order form asks each attendee")
    async def event_questions(
        self, session: NamedDependency[AsyncSession], event_id: FromPath[uuid.UUID]
    ) -> list[QuestionOut]:
        await get_public_event(session, event_id)
        return [questions.question_out(q) for q in await questions.questions_of(session, event_id)]

    @post(
        "/events/{event_id:uuid}/waitlist",
        status_code=201,
        summary="Queue for a sold-out ticket type; freed seats are offered in turn",
    )
    async def join_waitlist(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[WaitlistIn],
    ) -> WaitlistOut:
        await get_public_event(session, event_id)
        return await waitlist.join(session, clock, event_id, data, platform.links)

    @get("/waitlist/{entry_id:uuid}", summary="A place in the queue, and the offer once made")
    async def waitlist_entry(
        self,
        session: NamedDependency[AsyncSession],
        entry_id: FromPath[uuid.UUID],
        secret: Secret,
    ) -> WaitlistOut:
        entry = await waitlist.get_entry(session, entry_id, require_secret(secret))
        return await waitlist.entry_out(session, entry, secret=secret)

    @post("/waitlist/{entry_id:uuid}/leave", status_code=200, summary="Leave the queue")
    async def leave_waitlist(
        self,
        session: NamedDependency[AsyncSession],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[SecretIn],
    ) -> WaitlistOut:
        entry = await waitlist.get_entry(session, entry_id, data.secret)
        await waitlist.leave(session, entry)
        return await waitlist.entry_out(session, entry, secret=data.secret)

    @get("/holds/{hold_id:uuid}", summary="A hold (with its secret)")
    async def get_hold(
        self, session: NamedDependency[AsyncSession], hold_id: FromPath[uuid.UUID], secret: Secret
    ) -> HoldOut:
        given = require_secret(secret)
        hold = await holds.get_hold(session, hold_id, given)
        return holds.hold_out(hold, given, await holds.ticket_types_of_hold(session, hold))

    @post(
        "/holds/{hold_id:uuid}/release",
        status_code=200,
        summary="Give the seats back now (repeating it changes nothing)",
    )
    async def release_hold(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        hold_id: FromPath[uuid.UUID],
        data: JSONBody[SecretIn],
    ) -> HoldOut:
        hold = await holds.get_hold(session, hold_id, data.secret)
        hold = await endings.release_hold(session, clock, hold)
        return holds.hold_out(hold, data.secret, await holds.ticket_types_of_hold(session, hold))

    @post(
        "/holds/{hold_id:uuid}/order",
        status_code=201,
        opt=SMALL_RESPONSE,
        summary="Turn a hold into an order: buyer, attendees, answers",
    )
    async def place_order(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        idempotency: NamedDependency[Idempotency],
        hold_id: FromPath[uuid.UUID],
        data: JSONBody[OrderIn],
    ) -> Response[OrderOut]:
        user = await caller_of(request, platform)
        clock, ordering = platform.clock, _ordering(platform, user)
        return await idempotency.run(
            _scope(request, user, "order", hold_id),
            lambda connection: orders.place_order(connection, clock, hold_id, data, ordering),
            OrderOut,
            status_code=201,
        )

    @get("/orders/{number:str}", summary="An order, by the buyer's secret link")
    async def get_order(
        self,
        session: NamedDependency[AsyncSession],
        public_url: NamedDependency[str],
        number: FromPath[str],
        secret: Secret,
    ) -> OrderOut:
        given = require_secret(secret)
        order = await orders.get_order_by_number(session, number, secret=given)
        items = await orders.items_of(session, order)
        return orders.order_out(order, items, secret=given, public_url=public_url)

    @get(
        "/orders/{number:str}/invoices",
        summary="The order's invoice and credit notes (issued seconds after payment, refund)",
    )
    async def order_invoices(
        self, session: NamedDependency[AsyncSession], number: FromPath[str], secret: Secret
    ) -> list[InvoiceOut]:
        order = await orders.get_order_by_number(session, number, secret=require_secret(secret))
        return await invoices_of(session, order.id)

    @get(
        "/orders/{number:str}/invoices/{document:str}/pdf",
        media_type="application/pdf",
        summary="One of the order's invoices or credit notes as a PDF, in the event's language",
    )
    async def order_invoice_pdf(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        document: FromPath[str],
        secret: Secret,
    ) -> Response[bytes]:
        order = await orders.get_order_by_number(session, number, secret=require_secret(secret))
        return await _invoice_pdf(session, platform, order, document)

    @get(
        "/orders/{number:str}/calendar.ics",
        media_type="text/calendar",
        summary="The order's event as an iCalendar file (RFC 5545)",
    )
    async def order_calendar(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        public_url: NamedDependency[str],
        number: FromPath[str],
        secret: Secret,
    ) -> Response[bytes]:
        given = require_secret(secret)
        order = await orders.get_order_by_number(session, number, secret=given)
        event = await event_out(session, await _event_of(session, order.event_id), private=True)
        body = order_calendar(
            event,
            stamp=clock.now(),
            number=order.number,
            tickets=order.tickets,
            link=orders.order_link(public_url, order.number, given),
        )
        return Response(
            body,
            media_type="text/calendar",
            headers={"content-disposition": f'attachment; filename="{order.number}.ics"'},
        )

    @post(
        "/orders/{number:str}/cancel",
        status_code=200,
        summary="Cancel an order (unpaid: always; paid: within the refund policy)",
    )
    async def cancel_order(
        self,
        clock: NamedDependency[Clock],
        public_url: NamedDependency[str],
        idempotency: NamedDependency[Idempotency],
        number: FromPath[str],
        data: JSONBody[CancelIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            secret = require_secret(data.secret)
            order = await orders.get_order_by_number(session, number, secret=secret)
            event = await _event_of(session, order.event_id)
            if order.status not in ("cancelled", "refunded"):
                orders.buyer_may_cancel(order, event, clock.now())
            await orders.cancel(session, clock, order, by="buyer", reason=data.reason)
            items = await orders.items_of(session, order)
            return orders.order_out(order, items, secret=secret, public_url=public_url)

        return await idempotency.run_in_session(f"buyer:cancel:{number.upper()}", work, OrderOut)


async def _event_of(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.get(Event, event_id)
    assert event is not None  # an event with orders cannot be deleted (RESTRICT)
    return event


async def order_of(
    session: NamedDependency[AsyncSession],
    event: NamedDependency[Event],
    org_id: FromPath[uuid.UUID],
    number: FromPath[str],
) -> Order:
    """The organizer's order ``number`` of the path's event (after ``event``: authorized)."""
    return await orders.get_order_by_number(
        session, number, organization_id=org_id, event_id=event.id
    )


class OrganizerOrdersController(Controller):
    """The organizer's side of an event's orders, questions and promo codes. Every route
    names its permission; ``event`` and ``order`` are loaded once the caller may act."""

    cache_control = PRIVATE
    middleware = [invalidating_public_reads]
    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}"
    tags = ["organizations"]
    dependencies = {"order": Provide(order_of)}

    @get(
        "/orders",
        opt=needs(Permission.ORDERS_READ),
        summary="The event's orders, newest first (cursor pages)",
    )
    async def list_orders(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> OrderPage:
        return await orders.list_orders(
            session, event.id, status=status, cursor=cursor, limit=limit, search=q
        )

    @get(
        "/orders/{number:str}",
        opt=needs(Permission.ORDERS_READ),
        summary="One order with its attendees and answers",
    )
    async def get_order(
        self, session: NamedDependency[AsyncSession], order: NamedDependency[Order]
    ) -> OrderOut:
        return orders.order_out(order, await orders.items_of(session, order))

    @get(
        "/orders/{number:str}/invoices",
        opt=needs(Permission.ORDERS_READ),
        summary="The order's invoice and credit notes, as issued",
    )
    async def order_invoices(
        self, session: NamedDependency[AsyncSession], order: NamedDependency[Order]
    ) -> list[InvoiceOut]:
        return await invoices_of(session, order.id)

    @get(
        "/orders/{number:str}/invoices/{document:str}/pdf",
        media_type="application/pdf",
        opt=needs(Permission.ORDERS_READ),
        summary="One of the order's invoices or credit notes as a PDF",
    )
    async def order_invoice_pdf(
        self,
        session: NamedDependency[AsyncSession],
        platform: NamedDependency[Platform],
        order: NamedDependency[Order],
        document: FromPath[str],
    ) -> Response[bytes]:
        return await _invoice_pdf(session, platform, order, document)

    @post(
        "/orders/{number:str}/cancel",
        status_code=200,
        opt=needs(Permission.ORDERS_MANAGE, session="read"),
        summary="Cancel an order at any time (paid orders are refunded)",
    )
    async def cancel_order(
        self,
        clock: NamedDependency[Clock],
        idempotency: NamedDependency[Idempotency],
        order: NamedDependency[Order],
        org_id: FromPath[uuid.UUID],
        data: JSONBody[CancelIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            current = await orders.get_order(session, order.id)
            await orders.cancel(session, clock, current, by="organizer", reason=data.reason)
            return orders.order_out(current, await orders.items_of(session, current))

        return await idempotency.run_in_session(f"{org_id}:cancel:{order.number}", work, OrderOut)

    @post(
        "/orders/{number:str}/refund",
        status_code=200,
        opt=needs(Permission.ORDERS_MANAGE, session="read"),
        summary="Refund some tickets of a paid order; their seats go back",
    )
    async def refund_tickets(
        self,
        clock: NamedDependency[Clock],
        idempotency: NamedDependency[Idempotency],
        order: NamedDependency[Order],
        org_id: FromPath[uuid.UUID],
        data: JSONBody[RefundIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            current = await orders.get_order(session, order.id)
            await orders.refund_tickets(
                session, clock, current, data.ticket_ids, by="organizer", reason=data.reason
            )
            return orders.order_out(current, await orders.items_of(session, current))

        return await idempotency.run_in_session(f"{org_id}:refund:{order.number}", work, OrderOut)

    @post(
        "/orders/{number:str}/mark-paid",
        status_code=200,
        opt=needs(Permission.ORDERS_MANAGE),
        summary="Confirm an order paid outside the platform (bank transfer, door); its open "
        "bank-transfer payment, if any, succeeds with it",
    )
    async def mark_paid(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        platform: NamedDependency[Platform],
        order: NamedDependency[Order],
    ) -> OrderOut:
        if not await platform.payments.paid_by_hand(session, order):
            await orders.confirm(session, clock, order, via="organizer")
        await session.refresh(order)
        return orders.order_out(order, await orders.items_of(session, order))

    # ---- questions for attendees

    @post(
        "/questions",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Ask attendees a question",
    )
    async def create_question(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        question = await questions.create_question(session, clock, event, data)
        return questions.question_out(question)

    @get(
        "/questions",
        opt=needs(Permission.EVENTS_READ),
        summary="The event's questions (also public, for the order form)",
    )
    async def list_questions(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[QuestionOut]:
        return [questions.question_out(q) for q in await questions.questions_of(session, event.id)]

    @put(
        "/questions/{question_id:uuid}",
        opt=needs(Permission.EVENTS_WRITE),
        summary="Change a question",
    )
    async def update_question(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        question_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        question = await questions.update_question(session, event, question_id, data)
        return questions.question_out(question)

    @delete(
        "/questions/{question_id:uuid}",
        status_code=204,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Remove a question",
    )
    async def delete_question(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        question_id: FromPath[uuid.UUID],
    ) -> None:
        await session.delete(await questions.get_question(session, event, question_id))

    # ---- promo codes

    @post(
        "/promo-codes",
        status_code=201,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Add a promo code (discount, unlocks)",
    )
    async def create_promo_code(
        self,
        session: NamedDependency[AsyncSession],
        clock: NamedDependency[Clock],
        event: NamedDependency[Event],
        data: JSONBody[PromoCodeIn],
    ) -> PromoCodeOut:
        return promos.promo_out(await promos.create_promo(session, clock, event, data))

    @get(
        "/promo-codes",
        opt=needs(Permission.EVENTS_READ),
        summary="The event's promo codes with their uses",
    )
    async def list_promo_codes(
        self, session: NamedDependency[AsyncSession], event: NamedDependency[Event]
    ) -> list[PromoCodeOut]:
        return [promos.promo_out(p) for p in await promos.promos_of(session, event.id)]

    @put(
        "/promo-codes/{promo_id:uuid}",
        opt=needs(Permission.EVENTS_WRITE),
        summary="Change a promo code",
    )
    async def update_promo_code(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        promo_id: FromPath[uuid.UUID],
        data: JSONBody[PromoCodeIn],
    ) -> PromoCodeOut:
        return promos.promo_out(await promos.update_promo(session, event, promo_id, data))

    @delete(
        "/promo-codes/{promo_id:uuid}",
        status_code=204,
        opt=needs(Permission.EVENTS_WRITE),
        summary="Remove a promo code (orders keep their discount)",
    )
    async def delete_promo_code(
        self,
        session: NamedDependency[AsyncSession],
        event: NamedDependency[Event],
        promo_id: FromPath[uuid.UUID],
    ) -> None:
        await session.delete(await promos.get_promo(session, event, promo_id))


async def _invoice_pdf(
    session: AsyncSession, platform: Platform, order: Order, document: str
) -> Response[bytes]:
    invoice = await invoice_of(session, order.id, document)
    return Response(
        await invoice_pdf(platform.notifier.renderer, invoice),
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{invoice.number}.pdf"'},
    )
