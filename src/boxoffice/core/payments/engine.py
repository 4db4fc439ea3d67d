"""The payment engine: money moves exactly once, whatever the gateway says and when.

- A payment is recorded (``created``, committed) *before* the gateway is asked, with an
  idempotency key derived from its id: a process killed between the two leaves a record the
  reconciliation finds, and asking again can never charge twice.
- The gateway's word (its answer, a webhook, a status fetched by reconciliation) is applied
  by :meth:`PaymentEngine.apply` in one transaction with the order: only moves forward
  (:mod:`~boxoffice.core.payments.states`); a webhook redelivered is recognised by its event
  id and changes nothing.
- An order is confirmed only by succeeded payments covering its total. A payment that
  succeeds for an order that is already paid, cancelled, or expired with its seats sold
  meanwhile is refunded automatically (a ``RefundRequested`` entry: a journal subscriber asks
  the gateway, at least once, idempotently) and the buyer is told.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import TypeVar

import msgspec
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.booking import orders
from boxoffice.core.booking.entries import OrderCancelled, OrderRefunded
from boxoffice.core.booking.errors import SoldOut
from boxoffice.core.booking.models import Order
from boxoffice.core.booking.orders import OrderStatus
from boxoffice.core.catalog.models import Event
from boxoffice.core.clock import Clock, ensure_utc
from boxoffice.core.errors import (
    BoxofficeError,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ProviderUnavailable,
    ValidationFailed,
)
from boxoffice.core.idempotency import IdempotencyKeyReused
from boxoffice.core.identity.tokens import hash_secret
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry
from boxoffice.core.journal.service import append_sync, run_appending_in_session
from boxoffice.core.links import LinkSecrets
from boxoffice.core.money import Money
from boxoffice.core.notify.service import queue_message_sync
from boxoffice.core.payments.entries import (
    PaymentChanged,
    PaymentCreated,
    RefundChanged,
    RefundRequested,
)
from boxoffice.core.payments.gateway import (
    CompletesPayments,
    GatewayCapability,
    PaymentAttempt,
    PaymentGateway,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
)
from boxoffice.core.payments.models import Payment, Refund, WebhookReceipt
from boxoffice.core.payments.states import FROM_GATEWAY, OPEN, PaymentState, RefundState, may_move
from boxoffice.core.ratelimit import Limit, count_in
from boxoffice.core.resilience import ProviderCalls
from boxoffice.core.storage import Database
from boxoffice.core.storage.prepared import begin_if_lazy
from boxoffice.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

#: Open payments untouched this long are looked up at their gateway.
RECONCILE_AFTER = timedelta(minutes=2)
RECONCILE_INTERVAL_SECONDS = 60.0
#: How long a deferred payment (bank transfer) keeps the order's seats, unless the gateway
#: says otherwise (its ``payment_deadline``).
DEFAULT_DEFERRED_DEADLINE = timedelta(days=3)


def deferred_deadline(event: Event, gateway: PaymentGateway) -> timedelta:
    """How long after it starts a deferred payment keeps the order's seats."""
    if event.deferred_payment_hours:
        return timedelta(hours=event.deferred_payment_hours)
    deadline = getattr(gateway, "payment_deadline", None)
    return deadline if isinstance(deadline, timedelta) else DEFAULT_DEFERRED_DEADLINE


#: The gateway with this id, if it is loaded.
GatewayById = Callable[[str], PaymentGateway | None]
#: (region, currency, buyer country) -> the gateways routing allows, best first; raises
#: :class:`~boxoffice.core.errors.ProviderUnavailable` when none can take the payment.
GatewaysFor = Callable[[str | None, str, str | None], list[PaymentGateway]]


class NoGateway(Conflict):
    slug = "no-payment-gateway"
    title = "No payment gateway takes this currency here"


class OrderNotPayable(Conflict):
    slug = "order-not-payable"
    title = "This order cannot be paid now"


class GatewayUnavailable(ProviderUnavailable):
    slug = "gateway-unavailable"
    title = "The payment gateway did not answer"


class PaymentRefused(Forbidden):
    slug = "payment-refused"
    title = "This payment cannot be made"


#: A window of payment attempts (per buyer e-mail, per client address).
ATTEMPT_WINDOW = timedelta(minutes=10)


class Client(msgspec.Struct, frozen=True, kw_only=True):
    """Who starts a payment, for velocity limits and risk checks."""

    address: str
    #: Per-buyer and per-address attempts per :data:`ATTEMPT_WINDOW`; ``None``: exempt.
    per_buyer: int | None = None
    per_address: int | None = None


#: An attempt -> a reason to refuse it from each risk check (plugins), ``None`` to allow.
RiskChecks = Callable[[PaymentAttempt], list[str | None]]


class PaymentOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    gateway: str
    status: str
    amount: Money
    redirect_url: str = ""
    #: For the buyer's browser to finish the payment (e.g. Stripe's client secret); only in
    #: the answer that started the payment, never stored.
    client_secret: str = ""
    instructions: str = ""
    failure_reason: str = ""


class GatewayOption(msgspec.Struct, kw_only=True):
    id: str
    display_name: str
    capabilities: list[str]


def payment_out(payment: Payment, client_secret: str = "") -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        gateway=payment.gateway,
        status=payment.status,
        amount=Money(payment.amount_minor, payment.currency),
        redirect_url=payment.redirect_url,
        client_secret=client_secret,
        instructions=payment.instructions,
        failure_reason=payment.failure_reason,
    )


class PaymentEngine:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        gateway: GatewayById,
        gateways_for: GatewaysFor,
        *,
        public_url: str,
        links: LinkSecrets,
        calls: ProviderCalls | None = None,
        risk: RiskChecks | None = None,
    ) -> None:
        self.db, self.clock = db, clock
        self.calls = calls or ProviderCalls()
        self._risk = risk or (lambda attempt: [])
        self._gateway, self._gateways_for = gateway, gateways_for
        self.public_url, self.links = public_url, links

    # ---- choosing and starting

    def _allowed(self, event: Event, order: Order) -> list[PaymentGateway]:
        try:
            return self._gateways_for(event.region, order.currency, order.buyer_country or None)
        except ProviderUnavailable as error:
            raise NoGateway(
                f"no payment gateway takes {order.currency} in region {event.region}"
                + (f" for a buyer in {order.buyer_country}" if order.buyer_country else ""),
                extra={"currency": order.currency, "region": event.region},
            ) from error

    async def options(self, session: AsyncSession, order: Order) -> list[GatewayOption]:
        """The gateways the buyer may choose for ``order``, best first."""
        event = await session.get(Event, order.event_id)
        assert event is not None
        return [
            GatewayOption(id=g.id, display_name=g.display_name, capabilities=sorted(g.capabilities))
            for g in self._allowed(event, order)
        ]

    async def start(
        self,
        order_id: uuid.UUID,
        gateway_id: str | None,
        request_key: str | None = None,
        client: Client | None = None,
    ) -> PaymentOut:
        """Pay what is due on a pending order through ``gateway_id`` (one routing allows) or,
        without one, through the first gateway that takes it: one whose breaker is open is
        skipped by routing, one that refuses the payment (a currency, a country) or cannot be
        reached at once passes it to the next. ``request_key`` (the buyer's Idempotency-Key):
        the same request again gets the same payment (asked of the gateway again with the
        same key, so nothing is charged twice and the buyer's browser gets what it needs to
        finish once more)."""
        key = hash_secret(request_key) if request_key else None
        tried: set[str] = set()
        while True:
            payment_id, request, gateway = await self._record_attempt(
                order_id, gateway_id, key, tried, client or Client(address="unknown")
            )
            try:
                result = await self.calls.call(
                    gateway.id, partial(gateway.create_payment, request), idempotent=True
                )
            except BoxofficeError as refusal:  # refused (or paused): nothing was charged
                await self._fail(payment_id, refusal.detail)
                tried.add(gateway.id)
                if gateway_id is None and await self._has_another(order_id, tried):
                    continue
                raise
            except Exception as error:  # no answer: it may exist there; reconciliation asks
                log.warning(
                    "payments.create_failed", gateway=gateway.id, error=type(error).__name__
                )
                raise GatewayUnavailable(
                    f"{gateway.display_name} did not answer; try again or choose another way "
                    "to pay",
                    extra={"gateway": gateway.id, "retry_after": 5},
                ) from error
            return await self._write(partial(self._answered, payment_id, gateway, result))

    def _answered(
        self,
        payment_id: uuid.UUID,
        gateway: PaymentGateway,
        result: PaymentResult,
        session: Session,
    ) -> PaymentOut:
        payment = self._locked(session, payment_id)
        self._record_answer(session, payment, gateway, result)
        return payment_out(payment, result.client_secret)

    async def _has_another(self, order_id: uuid.UUID, tried: set[str]) -> bool:
        async with self.db.read() as session:
            order = await session.get(Order, order_id)
            assert order is not None
            event = await session.get(Event, order.event_id)
            assert event is not None
            return any(g.id not in tried for g in self._allowed(event, order))

    async def _record_attempt(
        self,
        order_id: uuid.UUID,
        gateway_id: str | None,
        request_key: str | None,
        tried: set[str],
        client: Client,
    ) -> tuple[uuid.UUID, PaymentRequest, PaymentGateway]:
        now = self.clock.now()

        def attempt(session: Session) -> tuple[uuid.UUID, PaymentRequest, PaymentGateway]:
            order = session.get(Order, order_id, with_for_update=True)
            if order is None:
                raise NotFound(f"no order {order_id}")
            event = session.get(Event, order.event_id)
            assert event is not None
            earlier = (
                session.scalar(
                    select(Payment).where(
                        Payment.order_id == order.id, Payment.request_key == request_key
                    )
                )
                if request_key
                else None
            )
            if earlier is not None and earlier.gateway not in tried:
                return self._repeat(earlier, order, event, gateway_id)
            if earlier is not None:  # fell back from it: the key moves to the next attempt
                earlier.request_key = None
                session.flush()
            if order.status != OrderStatus.PENDING or (
                order.expires_at is not None and now >= ensure_utc(order.expires_at)
            ):
                raise OrderNotPayable(
                    f"the order is {order.status}: nothing is due",
                    extra={"status": order.status},
                )
            allowed = self._allowed(event, order)
            gateway = next(
                (
                    g
                    for g in allowed
                    if g.id == gateway_id or (gateway_id is None and g.id not in tried)
                ),
                None,
            )
            if gateway is None:
                raise ValidationFailed(
                    f"{gateway_id!r} is not offered for this order",
                    errors=[FieldError("gateway", "one of " + ", ".join(g.id for g in allowed))],
                )
            due = order.total_minor - _succeeded_minor(session, order.id)
            if due <= 0:
                raise OrderNotPayable("the order is paid already", extra={"status": "paid"})
            if not tried:  # a fallback within one request is not another attempt
                self._check_attempt(session, order, gateway, due, client)
            payment = Payment(
                order_id=order.id,
                gateway=gateway.id,
                status=PaymentState.CREATED,
                amount_minor=due,
                currency=order.currency,
                request_key=request_key,
                created_at=now,
                updated_at=now,
            )
            session.add(payment)
            session.flush()
            append_sync(
                session.connection(),
                PaymentCreated(
                    payment_id=str(payment.id),
                    order_id=str(order.id),
                    gateway=gateway.id,
                    amount_minor=due,
                    currency=order.currency,
                ),
                self.clock,
            )
            return payment.id, self._request(payment, order, event), gateway

        return await self._write(attempt)

    def _check_attempt(
        self,
        session: Session,
        order: Order,
        gateway: PaymentGateway,
        due: int,
        client: Client,
    ) -> None:
        """Velocity limits (shared by every process: counted in the database with the
        attempt) and the risk checks of plugins."""
        counted = [
            (f"pay:buyer:{order.buyer_email}", client.per_buyer, "payment attempts for you"),
            (f"pay:client:{client.address}", client.per_address, "payment attempts from here"),
        ]
        for key, allowed, what in counted:
            if allowed is not None:
                limit = Limit(allowed, ATTEMPT_WINDOW)
                count_in(session.connection(), self.clock, key, limit, what)
        earlier = int(
            session.scalar(
                select(func.count()).select_from(Payment).where(Payment.order_id == order.id)
            )
            or 0
        )
        attempt = PaymentAttempt(
            order_reference=order.number,
            amount=Money(due, order.currency),
            gateway=gateway.id,
            buyer_email=order.buyer_email,
            buyer_country=order.buyer_country,
            client_address=client.address,
            earlier_attempts=earlier,
        )
        reasons = [reason for reason in self._risk(attempt) if reason]
        if reasons:
            log.warning("payments.refused_by_risk_check", order=order.number, reasons=reasons)
            raise PaymentRefused(
                "this payment cannot be made; contact the organizer",
                extra={"rule": "risk_check"},
            )

    def _repeat(
        self, earlier: Payment, order: Order, event: Event, gateway_id: str | None
    ) -> tuple[uuid.UUID, PaymentRequest, PaymentGateway]:
        gateway = self._gateway(earlier.gateway)
        if gateway_id not in (None, earlier.gateway) or gateway is None:
            raise IdempotencyKeyReused(
                "this Idempotency-Key started a payment through another gateway; use a new key"
            )
        return earlier.id, self._request(earlier, order, event), gateway

    def _request(self, payment: Payment, order: Order, event: Event | None) -> PaymentRequest:
        """What the gateway is asked (the same each time for one payment)."""
        order_page = f"{self.public_url.rstrip('/')}/orders/{order.number}"
        return PaymentRequest(
            payment_id=str(payment.id),
            order_reference=order.number,
            amount=Money(payment.amount_minor, payment.currency),
            idempotency_key=f"boxoffice-payment-{payment.id}",
            buyer_email=order.buyer_email,
            buyer_country=order.buyer_country,
            description=f"{event.title if event else 'Tickets'}: order {order.number}"[:200],
            return_url=order_page,
            cancel_url=order_page,
        )

    def _record_answer(
        self,
        session: Session,
        payment: Payment,
        gateway: PaymentGateway,
        result: PaymentResult,
    ) -> None:
        payment.provider_reference = result.provider_reference[:200]
        payment.redirect_url = result.redirect_url
        payment.instructions = result.instructions
        self._move(session, payment, FROM_GATEWAY[result.status], source="answer")
        if GatewayCapability.DEFERRED in gateway.capabilities:
            self._extend_deadline(session, payment, gateway)

    def _extend_deadline(self, session: Session, payment: Payment, gateway: PaymentGateway) -> None:
        """A deferred payment (bank transfer) keeps the order's seats longer than a hold: the
        event's ``deferred_payment_hours`` if the organizer set it, else the gateway's
        ``payment_deadline``, never past the event's start."""
        order = session.get(Order, payment.order_id, with_for_update=True)
        assert order is not None
        event = session.get(Event, order.event_id)
        assert event is not None
        extended = self.clock.now() + deferred_deadline(event, gateway)
        extended = min(extended, ensure_utc(event.starts_at))
        if order.status == OrderStatus.PENDING and (
            order.expires_at is None or ensure_utc(order.expires_at) < extended
        ):
            order.expires_at = extended

    async def _fail(self, payment_id: uuid.UUID, reason: str) -> None:
        def fail(session: Session) -> None:
            payment = self._locked(session, payment_id)
            payment.failure_reason = reason[:2000]
            self._move(session, payment, PaymentState.FAILED, source="answer")

        await self._write(fail)

    async def complete(
        self, order_id: uuid.UUID, payment_id: uuid.UUID, params: Mapping[str, str]
    ) -> PaymentOut:
        """The buyer came back from the gateway (a redirect, a checkout's answer): the gateway
        verifies what they bring and finishes the payment if it must; the result is applied
        like a webhook's. Gateways that need nothing of the kind answer with the payment."""
        async with self.db.read() as session:
            payment = await session.get(Payment, payment_id)
        if payment is None or payment.order_id != order_id:
            raise NotFound(f"no payment {payment_id} for this order")
        gateway = self._gateway(payment.gateway)
        if isinstance(gateway, CompletesPayments) and payment.provider_reference:
            reference = payment.provider_reference
            status = await self._asking(
                gateway, partial(gateway.complete, reference, params), idempotent=False
            )

            def applied(session: Session, orders_to_refund: list[Order]) -> PaymentOut:
                locked = self._locked(session, payment_id)
                self._apply(session, locked, status, "return", orders_to_refund)
                return payment_out(locked)

            return await self._applying(status, applied)
        return payment_out(payment)

    async def paid_by_hand(self, session: AsyncSession, order: Order) -> bool:
        """An organizer says the money of a deferred payment (a bank transfer) arrived: the
        order's newest open payment through a deferred gateway succeeds, which confirms the
        order (in ``session``'s transaction). ``False``: the order has no such payment."""

        def settle(sync: Session) -> bool:
            open_payments = sync.scalars(
                select(Payment)
                .where(Payment.order_id == order.id, Payment.status.in_(list(OPEN)))
                .order_by(Payment.created_at.desc())
                .with_for_update()
            )
            for payment in open_payments:
                gateway = self._gateway(payment.gateway)
                if gateway is not None and GatewayCapability.DEFERRED in gateway.capabilities:
                    return self._move(sync, payment, PaymentState.SUCCEEDED, source="organizer")
            return False

        return await run_appending_in_session(session, settle)

    # ---- the gateway's word

    async def webhook(self, gateway_id: str, headers: Mapping[str, str], body: bytes) -> str:
        """Verify and apply a gateway's notification; the outcome, for the log and the reply:
        "applied", "ignored", "duplicate" or "unknown_payment" (nothing changed)."""
        gateway = self._gateway(gateway_id)
        if gateway is None:
            raise NotFound(f"no payment gateway {gateway_id!r}")
        event = await self._asking(  # WebhookRejected: 400
            gateway, partial(gateway.parse_webhook, headers, body), idempotent=False
        )
        if event is None:
            return "ignored"
        received = event
        applied_to: list[uuid.UUID] = []

        def apply(session: Session, orders_to_refund: list[Order]) -> str:
            seen = session.get(WebhookReceipt, (gateway_id, received.provider_event_id))
            if seen is not None:
                return "duplicate"
            payment = session.scalar(
                select(Payment)
                .where(
                    Payment.gateway == gateway_id,
                    Payment.provider_reference == received.provider_reference,
                )
                .with_for_update()
            )
            if payment is None:
                log.warning(
                    "payments.webhook_for_unknown_payment",
                    gateway=gateway_id,
                    reference=received.provider_reference,
                )
                return "unknown_payment"
            session.add(
                WebhookReceipt(
                    gateway=gateway_id,
                    provider_event_id=received.provider_event_id[:200],
                    payment_id=payment.id,
                    received_at=self.clock.now(),
                )
            )
            session.flush()  # a concurrent copy of this event waits here, then fails
            self._apply(session, payment, received.status, "webhook", orders_to_refund)
            applied_to.append(payment.id)
            return "applied"

        try:
            outcome = await self._applying(received.status, apply)
        except IntegrityError:
            return "duplicate"
        if received.status is PaymentStatus.AUTHORIZED and applied_to:
            await self._finish_authorized(applied_to[0], gateway)
        return outcome

    async def _finish_authorized(self, payment_id: uuid.UUID, gateway: PaymentGateway) -> None:
        """The buyer approved at the gateway (PayPal's ``CHECKOUT.ORDER.APPROVED``) and may
        never come back to the platform: the payment is finished now, as the reconciliation
        would (``fetch_status`` captures what the gateway needs captured). A failure leaves
        it to the reconciliation; the webhook itself was applied."""
        try:
            async with self.db.read() as session:
                payment = await session.get(Payment, payment_id)
            if payment is not None and payment.status in OPEN:
                await self._reconcile_one(payment, gateway)
        except Exception as error:
            log.warning(
                "payments.finish_after_webhook_failed",
                payment_id=str(payment_id),
                error=type(error).__name__,
            )

    async def _asking(
        self, gateway: PaymentGateway, call: Callable[[], Awaitable[T]], *, idempotent: bool
    ) -> T:
        """A gateway call made for a request: a refusal is the gateway's answer; a failure
        (no answer, its 5xx) is a 503 with Retry-After, never a 500, and changes nothing."""
        try:
            return await self.calls.call(gateway.id, call, idempotent=idempotent)
        except BoxofficeError:
            raise
        except Exception as error:
            log.warning("payments.gateway_failed", gateway=gateway.id, error=type(error).__name__)
            raise GatewayUnavailable(
                f"{gateway.display_name} did not answer; try again in a moment",
                extra={"gateway": gateway.id, "retry_after": 5},
            ) from error

    async def _applying(
        self, status: PaymentStatus, work: Callable[[Session, list[Order]], T]
    ) -> T:
        """Apply the gateway's word in one write transaction. The common case runs through
        :meth:`_write` (``Database.run``). Money given back at the gateway also refunds the
        order's tickets, whose code is asynchronous: that rare case runs in a session
        transaction, the tickets refunded in the same transaction."""
        if status is not PaymentStatus.REFUNDED:

            def plain(session: Session) -> T:
                orders_to_refund: list[Order] = []
                result = work(session, orders_to_refund)
                assert not orders_to_refund, "only a REFUNDED status refunds tickets"
                return result

            return await self._write(plain)
        async with self.db.transaction() as session:
            orders_to_refund: list[Order] = []
            result = await run_appending_in_session(
                session, lambda sync: work(sync, orders_to_refund)
            )
            for order in orders_to_refund:
                tickets = [item.id for item in await orders.items_of(session, order)]
                await orders.refund_tickets(
                    session, self.clock, order, tickets, by="gateway", reason="refunded at gateway"
                )
            return result

    async def _write(self, work: Callable[[Session], T]) -> T:
        """``work`` in one write transaction through ``Database.run``, in a synchronous ORM
        session on its connection: on SQLite the writer thread runs it (group commit, and no
        turn of the event loop while it holds the write lock: awaiting each statement of an
        async session there let a busy loop stretch the lock to milliseconds); on PostgreSQL
        one greenlet, the transaction begun at once (its locking reads need one)."""

        def run(connection: Connection) -> T:
            begin_if_lazy(connection)
            with Session(bind=connection, expire_on_commit=False) as session:
                result = work(session)
                session.flush()
                return result

        return await self.db.run(run)

    def _apply(
        self,
        session: Session,
        payment: Payment,
        status: PaymentStatus,
        source: str,
        orders_to_refund: list[Order],
    ) -> None:
        self._move(session, payment, FROM_GATEWAY[status], source=source)
        if status == PaymentStatus.REFUNDED:
            order = self._refunded_at_gateway(session, payment)
            if order is not None:
                orders_to_refund.append(order)

    def _move(
        self, session: Session, payment: Payment, target: PaymentState, *, source: str
    ) -> bool:
        before = PaymentState(payment.status)
        if not may_move(before, target):
            return False
        now = self.clock.now()
        payment.status, payment.updated_at = target, now
        if target == PaymentState.SUCCEEDED:
            payment.succeeded_at = now
        session.flush()
        append_sync(
            session.connection(),
            PaymentChanged(
                payment_id=str(payment.id),
                order_id=str(payment.order_id),
                gateway=payment.gateway,
                before=before,
                after=target,
                source=source,
            ),
            self.clock,
        )
        if target == PaymentState.SUCCEEDED:
            self._settle(session, payment)
        elif target == PaymentState.FAILED:
            self._tell_failed(session, payment)
        return True

    def _tell_failed(self, session: Session, payment: Payment) -> None:
        """The buyer's payment failed while their order still waits: say so, with the link
        to try again (once per payment)."""
        order = session.get(Order, payment.order_id)
        if order is None or order.status != OrderStatus.PENDING:
            return
        queue_message_sync(
            session.connection(),
            self.clock,
            kind="email",
            to=order.buyer_email,
            template="payment-failed",
            locale=order.locale,
            context={"order_id": str(order.id)},
            dedupe_key=f"payment-failed:{payment.id}",
        )

    def _settle(self, session: Session, payment: Payment) -> None:
        """Money arrived: confirm the order once it is covered, or give the money back."""
        order = session.get(Order, payment.order_id, with_for_update=True)
        assert order is not None
        if order.status == OrderStatus.CONFIRMED:
            self._refund(session, payment, payment.amount_minor, "duplicate", order)
            return
        if order.status not in (OrderStatus.PENDING, OrderStatus.EXPIRED):
            self._refund(session, payment, payment.amount_minor, "order_closed", order)
            return
        if _succeeded_minor(session, order.id) < order.total_minor:
            return  # partly paid: the rest is still due
        try:
            # A savepoint: an expired order re-takes its seats quota by quota, and one
            # without room undoes those already taken.
            with session.begin_nested():
                orders.confirm_sync(
                    session, self.clock, order, via="payment", gateway=payment.gateway
                )
        except SoldOut:
            self._refund(session, payment, payment.amount_minor, "seats_gone", order)

    def _refund(
        self,
        session: Session,
        payment: Payment,
        amount_minor: int,
        reason: str,
        order: Order,
        cause: uuid.UUID | None = None,
    ) -> Refund:
        now = self.clock.now()
        refund = Refund(
            payment_id=payment.id,
            order_id=payment.order_id,
            status=RefundState.PENDING,
            amount_minor=amount_minor,
            currency=payment.currency,
            reason=reason,
            cause_entry_id=cause,
            created_at=now,
            updated_at=now,
        )
        session.add(refund)
        session.flush()
        append_sync(
            session.connection(),
            RefundRequested(
                payment_id=str(payment.id),
                order_id=str(payment.order_id),
                gateway=payment.gateway,
                refund_id=str(refund.id),
                amount_minor=amount_minor,
                currency=payment.currency,
                reason=reason,
            ),
            self.clock,
        )
        queue_message_sync(
            session.connection(),
            self.clock,
            kind="email",
            to=order.buyer_email,
            template="payment-refunded",
            locale=order.locale,
            context={
                "order_id": str(order.id),
                "reason": reason,
                "amount": {"minor": amount_minor, "currency": payment.currency},
            },
        )
        return refund

    def _refunded_at_gateway(self, session: Session, payment: Payment) -> Order | None:
        """The gateway says the money went back (its dashboard, or our own refund's
        notification): record what our records do not already say; returns the order if its
        tickets are to be refunded with it."""
        recorded = _refunded_minor(session, payment.id)
        if recorded >= payment.amount_minor:
            return None
        order = session.get(Order, payment.order_id, with_for_update=True)
        assert order is not None
        refund = self._refund(session, payment, payment.amount_minor - recorded, "gateway", order)
        refund.status = RefundState.SUCCEEDED  # made there already: nothing to ask
        return order if order.status == OrderStatus.CONFIRMED else None

    # ---- refunds and reconciliation

    def refund_subscriber(self) -> Subscriber:
        """Make each requested refund at its gateway (retried by the dispatcher on failure;
        the refund's id is the gateway's idempotency key, so a retry refunds once)."""

        async def handle(recorded: RecordedEntry) -> None:
            requested = recorded.decode()
            if not isinstance(requested, RefundRequested):
                return
            async with self.db.read() as session:
                refund = await session.get(Refund, uuid.UUID(requested.refund_id))
                payment = await session.get(Payment, uuid.UUID(requested.payment_id))
            if refund is None or payment is None or refund.status != RefundState.PENDING:
                return
            gateway = self._gateway(payment.gateway)
            if gateway is None:
                raise ProviderUnavailable(f"gateway {payment.gateway} is not loaded")
            request = RefundRequest(
                refund_id=str(refund.id),
                provider_reference=payment.provider_reference,
                amount=Money(refund.amount_minor, refund.currency),
                idempotency_key=f"boxoffice-refund-{refund.id}",
                reason=refund.reason,
            )
            try:
                result = await self.calls.call(
                    gateway.id, partial(gateway.refund, request), idempotent=True
                )
            except ProviderUnavailable:
                raise  # paused: the dispatcher tries again later
            except BoxofficeError as refusal:
                await self._refund_ended(refund.id, RefundState.FAILED, "", refusal.detail)
                return
            if result.succeeded:
                await self._refund_ended(
                    refund.id, RefundState.SUCCEEDED, result.provider_reference, ""
                )

        return Subscriber(
            name="payments:refunds",
            handler=handle,
            types=frozenset({RefundRequested.__name__}),
        )

    def money_back_subscriber(self) -> Subscriber:
        """An order refunded or cancelled with money to give back (by its organizer, its
        buyer, or the event's cancellation): the amount is refunded through the gateways
        that took it, newest payment first, as refunds of their own that the refund
        subscriber makes. A redelivered entry finds its refunds and asks for nothing more.
        Orders paid outside the platform (marked paid with no payment) are refunded by hand."""

        async def handle(recorded: RecordedEntry) -> None:
            entry = recorded.decode()
            if not isinstance(entry, OrderRefunded | OrderCancelled):
                return
            if entry.refund_minor <= 0 or entry.by == "gateway":
                return  # nothing paid, or the money went back at the gateway already
            reason = "order_refunded" if isinstance(entry, OrderRefunded) else "order_cancelled"
            await self._write(
                partial(
                    self._give_back,
                    uuid.UUID(entry.order_id),
                    entry.refund_minor,
                    reason,
                    recorded.entry_id,
                )
            )

        return Subscriber(
            name="payments:money-back",
            handler=handle,
            types=frozenset({OrderRefunded.__name__, OrderCancelled.__name__}),
        )

    def _give_back(
        self, order_id: uuid.UUID, amount: int, reason: str, cause: uuid.UUID, session: Session
    ) -> None:
        if session.scalar(select(Refund.id).where(Refund.cause_entry_id == cause).limit(1)):
            return  # this entry was handled already
        order = session.get(Order, order_id)
        assert order is not None
        paid = session.scalars(
            select(Payment)
            .where(Payment.order_id == order_id, Payment.status == PaymentState.SUCCEEDED)
            .order_by(Payment.succeeded_at.desc())
            .with_for_update()
        ).all()
        left = amount
        for payment in paid:
            given = _refunded_minor(session, payment.id)
            take = min(left, payment.amount_minor - given)
            if take > 0:
                self._refund(session, payment, take, reason, order, cause)
                left -= take
            if left == 0:
                return
        if left > 0 and paid:
            log.error("payments.refund_exceeds_payments", order=order.number, unrefunded_minor=left)

    async def _refund_ended(
        self, refund_id: uuid.UUID, state: RefundState, reference: str, reason: str
    ) -> None:
        def end(session: Session) -> None:
            refund = session.get(Refund, refund_id, with_for_update=True)
            if refund is None or refund.status != RefundState.PENDING:
                return
            refund.status, refund.updated_at = state, self.clock.now()
            refund.provider_reference, refund.failure_reason = reference[:200], reason[:2000]
            payment = session.get(Payment, refund.payment_id)
            assert payment is not None
            append_sync(
                session.connection(),
                RefundChanged(
                    payment_id=str(payment.id),
                    order_id=str(refund.order_id),
                    gateway=payment.gateway,
                    refund_id=str(refund.id),
                    after=state,
                ),
                self.clock,
            )

        await self._write(end)
        if state == RefundState.FAILED:
            log.error("payments.refund_failed", refund_id=str(refund_id), reason=reason)

    async def reconcile(self) -> int:
        """Ask the gateways about open payments nobody heard of for a while; returns how many
        moved. A payment whose creation got no answer is created again with the same
        idempotency key (the gateway returns the one it made, or makes it now)."""
        async with self.db.read() as session:
            stale = list(
                await session.scalars(
                    select(Payment)
                    .where(
                        Payment.status.in_(list(OPEN)),
                        Payment.updated_at < self.clock.now() - RECONCILE_AFTER,
                    )
                    .order_by(Payment.updated_at)
                    .limit(100)
                )
            )
        moved = 0
        for payment in stale:
            gateway = self._gateway(payment.gateway)
            if gateway is None or GatewayCapability.DEFERRED in gateway.capabilities:
                continue
            try:
                moved += await self._reconcile_one(payment, gateway)
            except Exception as error:  # the next round tries again
                log.warning(
                    "payments.reconcile_failed",
                    payment_id=str(payment.id),
                    error=type(error).__name__,
                )
        return moved

    async def _reconcile_one(self, stale: Payment, gateway: PaymentGateway) -> int:
        if not stale.provider_reference:
            async with self.db.read() as session:
                order = await session.get(Order, stale.order_id)
                assert order is not None
                request = self._request(stale, order, await session.get(Event, order.event_id))
            result = await self.calls.call(
                gateway.id, partial(gateway.create_payment, request), idempotent=True
            )

            def answer(session: Session) -> int:
                self._record_answer(session, self._locked(session, stale.id), gateway, result)
                return 1

            return await self._write(answer)
        reference = stale.provider_reference
        status = await self.calls.call(
            gateway.id, partial(gateway.fetch_status, reference), idempotent=True
        )

        def apply(session: Session, orders_to_refund: list[Order]) -> int:
            payment = self._locked(session, stale.id)
            before = payment.status
            self._apply(session, payment, status, "reconciliation", orders_to_refund)
            if payment.status == before:
                payment.updated_at = self.clock.now()  # asked: not again until it is stale
            return int(payment.status != before)

        return await self._applying(status, apply)

    async def reconcile_forever(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                stop_if_cancelled()
                log.exception("payments.reconcile_round_failed")
            await asyncio.sleep(RECONCILE_INTERVAL_SECONDS)

    def _locked(self, session: Session, payment_id: uuid.UUID) -> Payment:
        payment = session.get(Payment, payment_id, with_for_update=True)
        assert payment is not None
        return payment

    async def payments_of(self, session: AsyncSession, order: Order) -> list[PaymentOut]:
        rows = await session.scalars(
            select(Payment).where(Payment.order_id == order.id).order_by(Payment.created_at)
        )
        return [payment_out(p) for p in rows]


#: What the buyer is told when their payment is refunded automatically.


def _refunded_minor(session: Session, payment_id: uuid.UUID) -> int:
    """What is given back of a payment, or on its way (refunds that did not fail)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment_id, Refund.status != RefundState.FAILED
        )
    )
    return int(total or 0)


def _succeeded_minor(session: Session, order_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(
            Payment.order_id == order_id, Payment.status == PaymentState.SUCCEEDED
        )
    )
    return int(total or 0)
