"""Delivering webhooks.

1. **Fan-out** (a journal subscriber, ``webhooks``): each entry about an organization
   becomes one delivery row per active endpoint of that organization that wants its type,
   in one transaction per round; the row is unique per (endpoint, entry), so an entry the
   dispatcher hands over again adds nothing.
2. **Sending** (:class:`WebhookSender`, beside the dispatcher in ``boxoffice worker``):
   due deliveries are claimed with one conditional UPDATE (PostgreSQL: ``SKIP LOCKED``), so
   two workers never send the same delivery at once; each is POSTed signed
   (:mod:`.signing`), with a 10-second timeout and no redirects, to an address checked
   again (:mod:`.addresses`). A 2xx answer delivers it; anything else is logged and
   retried with exponential backoff and jitter (30 s, 2 min, 8 min … at most 6 h apart)
   for :data:`RETRY_FOR`, then given up ("failed"; it can be sent again by hand).
3. **Disabling**: when a delivery is given up and nothing sent to its endpoint has
   succeeded since its failures began, the endpoint keeps failing: it is disabled, its
   pending deliveries fail, and the organization's owners get an e-mail.

The body is the entry as the journal keeps it, in its type's current version, plus its
request id (``X-Request-ID``: the request that caused it). Entries carry ids, never a
buyer's name or address, so no personal data travels or stays in the delivery log; when a
buyer is erased or an order outlives its retention, ``OrderPseudonymised`` tells the
receivers to forget what they fetched.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
from opentelemetry.trace import SpanKind
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice import tracing
from boxoffice.core.background import stop_if_cancelled
from boxoffice.core.clock import Clock
from boxoffice.core.identity.models import Membership, Organization, User
from boxoffice.core.identity.permissions import Role
from boxoffice.core.ids import new_id
from boxoffice.core.journal.dispatcher import Subscriber
from boxoffice.core.journal.entries import RecordedEntry, lookup, upgraded
from boxoffice.core.journal.models import JournalEntryRow
from boxoffice.core.journal.service import append
from boxoffice.core.links import LinkSecrets
from boxoffice.core.notify.service import queue_message
from boxoffice.core.storage import Database, conflict_insert, table_of
from boxoffice.core.webhooks.addresses import PublicOnlyTransport, UrlRefused, check_url
from boxoffice.core.webhooks.entries import WebhookEndpointDisabled
from boxoffice.core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.core.webhooks.service import (
    ACTIVE,
    DELIVERED,
    DISABLED,
    FAILED,
    PENDING,
    deliverable_types,
    endpoint_secret,
)
from boxoffice.core.webhooks.signing import HEADER, sign
from boxoffice.logs import get_logger

log = get_logger(__name__)

SUBSCRIBER = "webhooks"
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
#: How long a delivery is retried (from its first try).
RETRY_FOR = timedelta(days=3)
TIMEOUT_SECONDS = 10.0
#: How long a claimed delivery is left to its worker before another may take it.
CLAIM = timedelta(seconds=60)
BATCH = 20
USER_AGENT = "boxoffice-webhooks/1"

_DELIVERY = table_of(WebhookDelivery)


class Body(msgspec.Struct, frozen=True, kw_only=True):
    """What a receiver gets."""

    id: uuid.UUID
    type: str
    schema_version: int
    occurred_at: datetime
    organization_id: str
    request_id: str | None
    data: dict[str, Any]


def fanout_subscriber(db: Database, clock: Clock, wake: Callable[[], None]) -> Subscriber:
    async def fan_out(entries: Sequence[RecordedEntry]) -> None:
        by_org: dict[uuid.UUID, list[RecordedEntry]] = {}
        for entry in entries:
            organization = entry.data.get("organization_id")
            if isinstance(organization, str):
                by_org.setdefault(uuid.UUID(organization), []).append(entry)
        if not by_org:
            return
        # A read first: most rounds of most platforms find no endpoint, and need no write.
        async with db.read() as session:
            endpoints = list(
                await session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.organization_id.in_(list(by_org)),
                        WebhookEndpoint.status == ACTIVE,
                    )
                )
            )
        now = clock.now()
        rows = [
            {
                "id": new_id(),
                "endpoint_id": endpoint.id,
                "entry_id": entry.entry_id,
                "position": entry.position,
                "entry_type": entry.type,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
            }
            for endpoint in endpoints
            for entry in by_org[endpoint.organization_id]
            if not endpoint.entry_types or entry.type in endpoint.entry_types
        ]
        if not rows:
            return
        async with db.transaction() as session:
            await session.execute(
                conflict_insert(db.dialect, _DELIVERY).on_conflict_do_nothing(
                    index_elements=["endpoint_id", "entry_id"]
                ),
                rows,
            )
        wake()

    async def one(entry: RecordedEntry) -> None:
        await fan_out([entry])

    return Subscriber(
        name=SUBSCRIBER,
        handler=one,
        batch=fan_out,
        types=frozenset(deliverable_types()),
        start_at_end=True,
    )


def backoff(attempts: int) -> timedelta:
    ceiling = min(MAX_DELAY, FIRST_DELAY * (4 ** (attempts - 1)))
    jitter = 0.8 + random.random() * 0.4  # noqa: S311 - spreading retries, not security
    return timedelta(seconds=ceiling.total_seconds() * jitter)


class _Outcome(msgspec.Struct, frozen=True):
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        links: LinkSecrets,
        *,
        allow_private: bool = False,
    ) -> None:
        self.db, self.clock, self.links = db, clock, links
        self.allow_private = allow_private
        #: One client per setting of ``allow_private`` (ops may change it while running).
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._wake = asyncio.Event()
        self.worker_id = uuid.uuid4().hex

    def wake(self) -> None:
        self._wake.set()

    def _http(self) -> httpx.AsyncClient:
        """The HTTP client for deliveries: unless private addresses are allowed, it connects
        only to addresses it checked itself as it connected (``PublicOnlyTransport``), so a
        name rebound after :func:`check_url` still cannot reach the platform's network."""
        client = self._clients.get(self.allow_private)
        if client is None:
            client = self._clients[self.allow_private] = httpx.AsyncClient(
                timeout=TIMEOUT_SECONDS,
                follow_redirects=False,
                headers={"user-agent": USER_AGENT},
                transport=None if self.allow_private else PublicOnlyTransport(),
            )
        return client

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def run_forever(self, idle: float = 5.0) -> None:
        try:
            while True:
                sent = 0
                try:
                    sent = await self.deliver_due()
                except Exception:
                    stop_if_cancelled()
                    log.exception("webhooks.round_failed")
                if sent == 0:
                    self._wake.clear()
                    try:
                        async with asyncio.timeout(idle):
                            await self._wake.wait()
                    except TimeoutError:
                        pass
        finally:
            await self.close()

    async def deliver_due(self, limit: int = BATCH) -> int:
        """Send the deliveries due now (at most ``limit``); returns how many were tried."""
        until = self.clock.now() + CLAIM
        claimed = await self._claim(limit, until)
        try:
            await asyncio.gather(*(self._send(delivery_id) for delivery_id in claimed))
        except asyncio.CancelledError:  # shutdown: another worker sends them now, not later
            await self._unclaim(claimed, until)
            raise
        return len(claimed)

    async def _claim(self, limit: int, until: datetime) -> list[uuid.UUID]:
        now = self.clock.now()
        d = WebhookDelivery
        due = [
            d.status == PENDING,
            d.next_attempt_at <= now,
            or_(d.claimed_until.is_(None), d.claimed_until < now),
        ]
        candidates = select(d.id).where(*due).order_by(d.next_attempt_at).limit(limit)
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(d)
            .where(d.id.in_(candidates.scalar_subquery()), *due)
            .values(claimed_until=until)
            .returning(d.id)
        )
        async with self.db.transaction() as session:
            return list(await session.scalars(statement))

    async def _unclaim(self, claimed: list[uuid.UUID], until: datetime) -> None:
        """Give back the claims this sender still holds (those it has not recorded)."""
        d = WebhookDelivery
        async with self.db.transaction() as session:
            await session.execute(
                update(d)
                .where(d.id.in_(claimed), d.claimed_until == until)
                .values(claimed_until=None)
            )

    async def _send(self, delivery_id: uuid.UUID) -> None:
        async with self.db.read() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
            entry = await session.scalar(
                select(JournalEntryRow).where(JournalEntryRow.entry_id == delivery.entry_id)
            )
        if endpoint is None or entry is None:
            return
        if endpoint.status != ACTIVE:
            await self._record(delivery, endpoint, _Outcome(None, "the endpoint is disabled", 0))
            return
        outcome = await self.post(endpoint, delivery, entry)
        await self._record(delivery, endpoint, outcome)

    async def post(
        self, endpoint: WebhookEndpoint, delivery: WebhookDelivery, entry: JournalEntryRow
    ) -> _Outcome:
        started = time.perf_counter()

        def took() -> int:
            return round((time.perf_counter() - started) * 1000)

        secret = endpoint_secret(self.links, endpoint)
        if secret is None:
            return _Outcome(None, "its secret was made with a platform key no longer set", 0)
        try:
            await check_url(endpoint.url, allow_private=self.allow_private)
        except UrlRefused as refused:
            return _Outcome(None, refused.detail, took())
        body = msgspec.json.encode(
            Body(
                id=entry.entry_id,
                type=entry.type,
                schema_version=_current_version(entry.type, entry.version),
                occurred_at=entry.occurred_at,
                organization_id=str(entry.data.get("organization_id", "")),
                request_id=entry.request_id,
                data=upgraded(entry.type, entry.version, entry.data),
            )
        )
        headers = {
            "content-type": "application/json",
            HEADER: sign(secret, body, int(self.clock.now().timestamp())),
            "boxoffice-delivery": str(delivery.id),
            "boxoffice-entry-type": entry.type,
        }
        if entry.request_id:
            headers["x-request-id"] = entry.request_id
        try:
            with tracing.span(
                "webhook delivery",
                parent=entry.trace_context,
                kind=SpanKind.CLIENT,
                attributes={"boxoffice.delivery": str(delivery.id), "boxoffice.entry": entry.type},
            ):
                answer = await self._http().post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            stop_if_cancelled()
            return _Outcome(None, f"{type(error).__name__}: {error}"[:500], took())
        refusal = "" if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
        return _Outcome(answer.status_code, refusal, took())

    async def _record(
        self, delivery: WebhookDelivery, endpoint: WebhookEndpoint, outcome: _Outcome
    ) -> None:
        now = self.clock.now()
        attempts = delivery.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "claimed_until": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        given_up = False
        if outcome.delivered:
            values |= {"status": DELIVERED, "delivered_at": now, "next_attempt_at": None}
        else:
            retry_at = now + backoff(attempts)
            given_up = endpoint.status != ACTIVE or retry_at > delivery.created_at + RETRY_FOR
            values |= (
                {"status": FAILED, "next_attempt_at": None}
                if given_up
                else {"next_attempt_at": retry_at}
            )
        async with self.db.transaction() as session:
            # The endpoint first, in every transaction that changes both (its deliveries are
            # failed together when it is disabled): one order of locks, no deadlock.
            current = await session.get(
                WebhookEndpoint, endpoint.id, with_for_update={"key_share": True}
            )
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
            )
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            if current is None or endpoint.status != ACTIVE:
                return
            if outcome.delivered:
                current.consecutive_failures, current.failing_since = 0, None
                return
            current.consecutive_failures += 1
            current.failing_since = current.failing_since or now
            if given_up and current.status == ACTIVE:
                await self._disable(session, current, outcome.error or "no answer")
        if outcome.delivered:
            log.info("webhooks.delivered", delivery=str(delivery.id), ms=outcome.duration_ms)
        else:
            log.warning(
                "webhooks.failed", delivery=str(delivery.id), attempt=attempts, error=outcome.error
            )

    async def _disable(self, session: AsyncSession, endpoint: WebhookEndpoint, error: str) -> None:
        now = self.clock.now()
        endpoint.status, endpoint.disabled_at = DISABLED, now
        endpoint.disabled_reason = (
            f"a delivery failed for {RETRY_FOR.days} days of retries and nothing sent here "
            f"has succeeded since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC "
            f"({endpoint.consecutive_failures} failures in a row); last: {error}"
        )[:1000]
        endpoint.updated_at = now
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == PENDING)
            .values(status=FAILED, next_attempt_at=None, last_error="the endpoint was disabled")
        )
        await append(
            session,
            WebhookEndpointDisabled(
                endpoint_id=str(endpoint.id),
                organization_id=str(endpoint.organization_id),
                url=endpoint.url,
                reason=endpoint.disabled_reason,
            ),
            self.clock,
        )
        organization = await session.get(Organization, endpoint.organization_id)
        owners = await session.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.organization_id == endpoint.organization_id,
                Membership.role == Role.OWNER,
            )
        )
        for email in owners:
            await queue_message(
                session,
                self.clock,
                kind="email",
                to=email,
                template="webhook-disabled",
                context={
                    "organization": organization.name if organization else "",
                    "url": endpoint.url,
                    "days": RETRY_FOR.days,
                    "reason": error,
                },
                dedupe_key=f"webhook-disabled:{endpoint.id}:{now.isoformat()}",
            )
        log.error("webhooks.endpoint_disabled", endpoint=str(endpoint.id), reason=error)


def _current_version(type_name: str, stored: int) -> int:
    """The version the body's data is in (upgraded, unless its type is not installed)."""
    cls = lookup(type_name)
    return stored if cls is None else cls.schema_version
