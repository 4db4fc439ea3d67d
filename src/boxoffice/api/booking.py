"""Buying tickets: holds, orders, the buyer's order link; and the organizer's order desk.

Buyers need no account: a hold and an order are proven by their secret (``secret`` in the
body or the query). Requests that move capacity accept an ``Idempotency-Key`` header; a
repeat returns the first response with ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.api.middleware import SMALL_RESPONSE
from boxoffice.api.organizations import organizer_event
from boxoffice.core.booking import endings, holds, orders, promos, questions, waitlist
from boxoffice.core.booking.models import Order
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
from boxoffice.core.errors import FieldError, ValidationFailed
from boxoffice.core.idempotency import Outcome, fingerprint, run_once, run_once_async
from boxoffice.core.identity.models import User
from boxoffice.core.identity.permissions import Permission
from boxoffice.core.identity.principal import Principal, authenticate
from boxoffice.platform import Platform

T = TypeVar("T")
Secret = Annotated[str | None, QueryParameter(max_length=60)]


async def _caller(request: Request[Any, Any, Any], platform: Platform) -> User | None:
    """The signed-in buyer, if the request says who it is (a bad token is still a 401)."""
    header = request.headers.get("authorization")
    if not header:
        return None
    async with platform.db.read() as session:
        principal = await authenticate(session, platform.signer, header, platform.clock.now())
    return principal.user


async def _once(
    request: Request[Any, Any, Any],
    platform: Platform,
    scope: str,
    work: Callable[[Connection], T],
    result_type: type[T],
    status_code: int = 200,
) -> Response[T]:
    """Run synchronous ``work`` (``Database.run``), at most once per Idempotency-Key."""
    outcome = await run_once(
        platform.db,
        platform.clock,
        key=request.headers.get("idempotency-key"),
        scope=scope,
        request_fingerprint=fingerprint(request.method, request.url.path, await request.body()),
        work=work,
        result_type=result_type,
        status_code=status_code,
    )
    return _replayable(outcome)


async def _once_async(
    request: Request[Any, Any, Any],
    platform: Platform,
    scope: str,
    work: Callable[[AsyncSession], Awaitable[T]],
    result_type: type[T],
) -> Response[T]:
    """Run ``work`` in a write transaction, at most once per Idempotency-Key."""
    outcome = await run_once_async(
        platform.db,
        platform.clock,
        key=request.headers.get("idempotency-key"),
        scope=scope,
        request_fingerprint=fingerprint(request.method, request.url.path, await request.body()),
        work=work,
        result_type=result_type,
    )
    return _replayable(outcome)


def _replayable(outcome: Outcome[T]) -> Response[T]:
    headers = {"idempotent-replayed": "true"} if outcome.replayed else {}
    return Response(outcome.result, status_code=outcome.status_code, headers=headers)


def _ordering(platform: Platform, user: User | None) -> dict[str, Any]:
    """What placing an order needs to know beside the request."""
    return {
        "regions": platform.region_or_none,
        "public_url": platform.settings.resolved_public_url,
        "user_id": user.id if user else None,
        "platform_fee_bp": platform.settings.platform_fee_basis_points,
    }


def _require_secret(secret: str | None) -> str:
    if not secret:
        raise ValidationFailed(
            "give the secret from the hold or order link",
            errors=[FieldError("query.secret", "required")],
        )
    return secret


class BookingController(Controller):
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
        event_id: FromPath[uuid.UUID],
        data: JSONBody[HoldIn],
    ) -> Response[HoldOut]:
        user = await _caller(request, platform)
        return await _once(
            request,
            platform,
            f"{user.id if user else 'anonymous'}:hold:{event_id}",
            lambda connection: holds.place_hold(connection, platform.clock, event_id, data),
            HoldOut,
            status_code=201,
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
        event_id: FromPath[uuid.UUID],
        data: JSONBody[CheckoutIn],
    ) -> Response[OrderOut]:
        user = await _caller(request, platform)
        return await _once(
            request,
            platform,
            f"{user.id if user else 'anonymous'}:checkout:{event_id}",
            lambda connection: orders.checkout(
                connection, platform.clock, event_id, data, **_ordering(platform, user)
            ),
            OrderOut,
            status_code=201,
        )

    @get("/events/{event_id:uuid}/questions", summary="What the order form asks each attendee")
    async def event_questions(
        self, platform: NamedDependency[Platform], event_id: FromPath[uuid.UUID]
    ) -> list[QuestionOut]:
        async with platform.db.read() as session:
            await get_public_event(session, event_id)
            return [
                questions.question_out(q) for q in await questions.questions_of(session, event_id)
            ]

    @post(
        "/events/{event_id:uuid}/waitlist",
        status_code=201,
        summary="Queue for a sold-out ticket type; freed seats are offered in turn",
    )
    async def join_waitlist(
        self,
        platform: NamedDependency[Platform],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[WaitlistIn],
    ) -> WaitlistOut:
        async with platform.db.transaction() as session:
            await get_public_event(session, event_id)
            return await waitlist.join(session, platform.clock, event_id, data)

    @get("/waitlist/{entry_id:uuid}", summary="A place in the queue, and the offer once made")
    async def waitlist_entry(
        self,
        platform: NamedDependency[Platform],
        entry_id: FromPath[uuid.UUID],
        secret: Secret,
    ) -> WaitlistOut:
        async with platform.db.read() as session:
            entry = await waitlist.get_entry(session, entry_id, _require_secret(secret))
            return await waitlist.entry_out(session, entry, secret=True)

    @post("/waitlist/{entry_id:uuid}/leave", status_code=200, summary="Leave the queue")
    async def leave_waitlist(
        self,
        platform: NamedDependency[Platform],
        entry_id: FromPath[uuid.UUID],
        data: JSONBody[SecretIn],
    ) -> WaitlistOut:
        async with platform.db.transaction() as session:
            entry = await waitlist.get_entry(session, entry_id, data.secret)
            await waitlist.leave(session, entry)
            return await waitlist.entry_out(session, entry, secret=True)

    @get("/holds/{hold_id:uuid}", summary="A hold (with its secret)")
    async def get_hold(
        self, platform: NamedDependency[Platform], hold_id: FromPath[uuid.UUID], secret: Secret
    ) -> HoldOut:
        async with platform.db.read() as session:
            hold = await holds.get_hold(session, hold_id, _require_secret(secret))
            return holds.hold_out(hold, await holds.ticket_types_of_hold(session, hold))

    @post(
        "/holds/{hold_id:uuid}/release",
        status_code=200,
        summary="Give the seats back now (repeating it changes nothing)",
    )
    async def release_hold(
        self,
        platform: NamedDependency[Platform],
        hold_id: FromPath[uuid.UUID],
        data: JSONBody[SecretIn],
    ) -> HoldOut:
        async with platform.db.transaction() as session:
            hold = await holds.get_hold(session, hold_id, data.secret)
            hold = await endings.release_hold(session, platform.clock, hold)
            return holds.hold_out(hold, await holds.ticket_types_of_hold(session, hold))

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
        hold_id: FromPath[uuid.UUID],
        data: JSONBody[OrderIn],
    ) -> Response[OrderOut]:
        user = await _caller(request, platform)
        return await _once(
            request,
            platform,
            f"{user.id if user else 'anonymous'}:order:{hold_id}",
            lambda connection: orders.place_order(
                connection, platform.clock, hold_id, data, **_ordering(platform, user)
            ),
            OrderOut,
            status_code=201,
        )

    @get("/orders/{number:str}", summary="An order, by the buyer's secret link")
    async def get_order(
        self, platform: NamedDependency[Platform], number: FromPath[str], secret: Secret
    ) -> OrderOut:
        async with platform.db.read() as session:
            order = await orders.get_order_by_number(
                session, number, secret=_require_secret(secret)
            )
            return orders.order_out(
                order,
                await orders.items_of(session, order),
                secret=True,
                public_url=platform.settings.resolved_public_url,
            )

    @get(
        "/orders/{number:str}/calendar.ics",
        media_type="text/calendar",
        summary="The order's event as an iCalendar file (RFC 5545)",
    )
    async def order_calendar(
        self, platform: NamedDependency[Platform], number: FromPath[str], secret: Secret
    ) -> Response[bytes]:
        async with platform.db.read() as session:
            order = await orders.get_order_by_number(
                session, number, secret=_require_secret(secret)
            )
            event = await event_out(session, await _event_of(session, order.event_id), private=True)
        link = orders.order_link(platform.settings.resolved_public_url, order)
        body = order_calendar(
            event, stamp=platform.clock.now(), number=order.number, tickets=order.tickets, link=link
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
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        number: FromPath[str],
        data: JSONBody[CancelIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            secret = _require_secret(data.secret)
            order = await orders.get_order_by_number(session, number, secret=secret)
            event = await _event_of(session, order.event_id)
            if order.status not in ("cancelled", "refunded"):
                orders.buyer_may_cancel(order, event, platform.clock.now())
            await orders.cancel(session, platform.clock, order, by="buyer", reason=data.reason)
            return orders.order_out(
                order,
                await orders.items_of(session, order),
                secret=True,
                public_url=platform.settings.resolved_public_url,
            )

        return await _once_async(
            request, platform, f"buyer:cancel:{number.upper()}", work, OrderOut
        )


async def _event_of(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.get(Event, event_id)
    assert event is not None  # an event with orders cannot be deleted (RESTRICT)
    return event


async def _organizer_order(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID,
    event_id: uuid.UUID,
    number: str,
    permission: Permission,
) -> Order:
    """The event's order ``number``, once the caller may act on it with ``permission``."""
    await organizer_event(session, principal, org_id, event_id, permission)
    return await orders.get_order_by_number(
        session, number, organization_id=org_id, event_id=event_id
    )


class OrganizerOrdersController(Controller):
    """The organizer's side of an event's orders, questions and promo codes."""

    path = "/organizations/{org_id:uuid}/events/{event_id:uuid}"
    tags = ["organizations"]

    @get("/orders", summary="The event's orders, newest first (cursor pages)")
    async def list_orders(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> OrderPage:
        async with platform.db.read() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.ORDERS_READ)
            return await orders.list_orders(
                session, event_id, status=status, cursor=cursor, limit=limit, search=q
            )

    @get("/orders/{number:str}", summary="One order with its attendees and answers")
    async def get_order(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        number: FromPath[str],
    ) -> OrderOut:
        async with platform.db.read() as session:
            order = await _organizer_order(
                session, principal, org_id, event_id, number, Permission.ORDERS_READ
            )
            return orders.order_out(order, await orders.items_of(session, order))

    @post(
        "/orders/{number:str}/cancel",
        status_code=200,
        summary="Cancel an order at any time (paid orders are refunded)",
    )
    async def cancel_order(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        number: FromPath[str],
        data: JSONBody[CancelIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            order = await _organizer_order(
                session, principal, org_id, event_id, number, Permission.ORDERS_MANAGE
            )
            await orders.cancel(session, platform.clock, order, by="organizer", reason=data.reason)
            return orders.order_out(order, await orders.items_of(session, order))

        return await _once_async(
            request, platform, f"{org_id}:cancel:{number.upper()}", work, OrderOut
        )

    @post(
        "/orders/{number:str}/refund",
        status_code=200,
        summary="Refund some tickets of a paid order; their seats go back",
    )
    async def refund_tickets(
        self,
        request: Request[Any, Any, Any],
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        number: FromPath[str],
        data: JSONBody[RefundIn],
    ) -> Response[OrderOut]:
        async def work(session: AsyncSession) -> OrderOut:
            order = await _organizer_order(
                session, principal, org_id, event_id, number, Permission.ORDERS_MANAGE
            )
            await orders.refund_tickets(
                session, platform.clock, order, data.ticket_ids, by="organizer", reason=data.reason
            )
            return orders.order_out(order, await orders.items_of(session, order))

        return await _once_async(
            request, platform, f"{org_id}:refund:{number.upper()}", work, OrderOut
        )

    @post(
        "/orders/{number:str}/mark-paid",
        status_code=200,
        summary="Confirm an order paid outside the platform (bank transfer, door)",
    )
    async def mark_paid(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        number: FromPath[str],
    ) -> OrderOut:
        async with platform.db.transaction() as session:
            order = await _organizer_order(
                session, principal, org_id, event_id, number, Permission.ORDERS_MANAGE
            )
            await orders.confirm(
                session,
                platform.clock,
                order,
                via="organizer",
                public_url=platform.settings.resolved_public_url,
            )
            return orders.order_out(order, await orders.items_of(session, order))

    # ---- questions for attendees

    @post("/questions", status_code=201, summary="Ask attendees a question")
    async def create_question(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            question = await questions.create_question(session, platform.clock, event, data)
            return questions.question_out(question)

    @get("/questions", summary="The event's questions (also public, for the order form)")
    async def list_questions(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
    ) -> list[QuestionOut]:
        async with platform.db.read() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.EVENTS_READ)
            return [
                questions.question_out(q) for q in await questions.questions_of(session, event_id)
            ]

    @put("/questions/{question_id:uuid}", summary="Change a question")
    async def update_question(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
        data: JSONBody[QuestionIn],
    ) -> QuestionOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            question = await questions.update_question(session, event, question_id, data)
            return questions.question_out(question)

    @delete("/questions/{question_id:uuid}", status_code=204, summary="Remove a question")
    async def delete_question(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        question_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            await session.delete(await questions.get_question(session, event, question_id))

    # ---- promo codes

    @post("/promo-codes", status_code=201, summary="Add a promo code (discount, unlocks)")
    async def create_promo_code(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        data: JSONBody[PromoCodeIn],
    ) -> PromoCodeOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            return promos.promo_out(await promos.create_promo(session, platform.clock, event, data))

    @get("/promo-codes", summary="The event's promo codes with their uses")
    async def list_promo_codes(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
    ) -> list[PromoCodeOut]:
        async with platform.db.read() as session:
            await organizer_event(session, principal, org_id, event_id, Permission.EVENTS_READ)
            return [promos.promo_out(p) for p in await promos.promos_of(session, event_id)]

    @put("/promo-codes/{promo_id:uuid}", summary="Change a promo code")
    async def update_promo_code(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        promo_id: FromPath[uuid.UUID],
        data: JSONBody[PromoCodeIn],
    ) -> PromoCodeOut:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            return promos.promo_out(await promos.update_promo(session, event, promo_id, data))

    @delete(
        "/promo-codes/{promo_id:uuid}",
        status_code=204,
        summary="Remove a promo code (orders keep their discount)",
    )
    async def delete_promo_code(
        self,
        platform: NamedDependency[Platform],
        principal: NamedDependency[Principal],
        org_id: FromPath[uuid.UUID],
        event_id: FromPath[uuid.UUID],
        promo_id: FromPath[uuid.UUID],
    ) -> None:
        async with platform.db.transaction() as session:
            event = await organizer_event(
                session, principal, org_id, event_id, Permission.EVENTS_WRITE
            )
            await session.delete(await promos.get_promo(session, event, promo_id))
