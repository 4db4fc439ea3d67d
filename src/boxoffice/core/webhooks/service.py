"""Organizations' webhook endpoints: register, change, rotate the secret, remove; list the
deliveries and send one again by hand. Deliveries themselves: :mod:`.delivery`."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from boxoffice.core.clock import Clock
from boxoffice.core.errors import FieldError, NotFound, ValidationFailed
from boxoffice.core.ids import new_id
from boxoffice.core.journal.entries import registered
from boxoffice.core.links import LinkKind, LinkSecrets, secret_hash
from boxoffice.core.pagination import decode_cursor, encode_cursor
from boxoffice.core.webhooks.addresses import check_url
from boxoffice.core.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from boxoffice.core.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPage,
    EndpointChange,
    EndpointIn,
    EndpointOut,
)

ACTIVE, DISABLED = "active", "disabled"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
#: Marks the string as a webhook secret (for people and secret scanners).
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
#: Endpoints an organization may have.
MAX_ENDPOINTS = 20


def deliverable_types() -> list[str]:
    """Entry types an organization's webhooks may receive: those about one organization (they
    name ``organization_id``). Entries about a person's account are not an organization's."""
    return [
        name for name, cls in registered().items() if "organization_id" in cls.__struct_fields__
    ]


def endpoint_secret(links: LinkSecrets, endpoint: WebhookEndpoint) -> str | None:
    """The signing secret (None if the platform key that made it is no longer configured)."""
    derived = links.recover_for_address(
        LinkKind.WEBHOOK_SECRET, _secret_address(endpoint), endpoint.secret_hash
    )
    return None if derived is None else SECRET_PREFIX + derived


def _secret_address(endpoint: WebhookEndpoint) -> str:
    return f"{endpoint.id}/{endpoint.secret_generation}"


def _new_secret(links: LinkSecrets, endpoint: WebhookEndpoint) -> str:
    derived = links.for_address(LinkKind.WEBHOOK_SECRET, _secret_address(endpoint))
    endpoint.secret_hash = secret_hash(derived)
    return SECRET_PREFIX + derived


def _checked_types(entry_types: list[str]) -> list[str]:
    known = set(deliverable_types())
    unknown = [t for t in entry_types if t not in known]
    if unknown:
        raise ValidationFailed(
            f"not entry types an organization receives: {', '.join(unknown)}",
            errors=[FieldError("entry_types", f"unknown: {', '.join(unknown)}")],
        )
    return sorted(set(entry_types))


def endpoint_out(endpoint: WebhookEndpoint, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        entry_types=endpoint.entry_types,
        status=endpoint.status,
        consecutive_failures=endpoint.consecutive_failures,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
        secret=secret,
    )


async def create(
    session: AsyncSession,
    clock: Clock,
    links: LinkSecrets,
    organization_id: uuid.UUID,
    data: EndpointIn,
    *,
    allow_private: bool,
) -> EndpointOut:
    await check_url(data.url, allow_private=allow_private)
    existing = await session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.organization_id == organization_id)
    )
    if len(existing.all()) >= MAX_ENDPOINTS:
        raise ValidationFailed(
            f"an organization has at most {MAX_ENDPOINTS} webhook endpoints",
            errors=[FieldError("url", "remove an endpoint first")],
        )
    now = clock.now()
    endpoint = WebhookEndpoint(
        id=new_id(),
        organization_id=organization_id,
        url=data.url,
        description=data.description,
        entry_types=_checked_types(data.entry_types),
        secret_hash="",
        secret_generation=1,
        status=ACTIVE,
        consecutive_failures=0,
        disabled_reason="",
        created_at=now,
        updated_at=now,
    )
    secret = _new_secret(links, endpoint)
    session.add(endpoint)
    await session.flush()
    return endpoint_out(endpoint, secret)


async def get(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.organization_id != organization_id:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def list_endpoints(session: AsyncSession, organization_id: uuid.UUID) -> list[EndpointOut]:
    found = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [endpoint_out(e) for e in found]


async def change(
    session: AsyncSession,
    clock: Clock,
    endpoint: WebhookEndpoint,
    data: EndpointChange,
    *,
    allow_private: bool,
) -> EndpointOut:
    if data.url is not None:
        await check_url(data.url, allow_private=allow_private)
        endpoint.url = data.url
    if data.entry_types is not None:
        endpoint.entry_types = _checked_types(data.entry_types)
    if data.description is not None:
        endpoint.description = data.description
    if data.enabled is True and endpoint.status == DISABLED:
        endpoint.status = ACTIVE
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    elif data.enabled is False and endpoint.status == ACTIVE:
        endpoint.status, endpoint.disabled_at = DISABLED, clock.now()
        endpoint.disabled_reason = "disabled by the organization"
    endpoint.updated_at = clock.now()
    await session.flush()
    return endpoint_out(endpoint)


async def rotate_secret(
    session: AsyncSession, clock: Clock, links: LinkSecrets, endpoint: WebhookEndpoint
) -> EndpointOut:
    """A new secret; the old one signs nothing from now on."""
    endpoint.secret_generation += 1
    secret = _new_secret(links, endpoint)
    endpoint.updated_at = clock.now()
    await session.flush()
    return endpoint_out(endpoint, secret)


async def remove(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await session.delete(endpoint)


class _After(msgspec.Struct, frozen=True):
    created_at: datetime
    id: uuid.UUID


async def deliveries(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """Newest first, each with its attempts."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if cursor is not None:
        after = decode_cursor(cursor, _After)
        query = query.where(
            (WebhookDelivery.created_at < after.created_at)
            | ((WebhookDelivery.created_at == after.created_at) & (WebhookDelivery.id < after.id))
        )
    found = list(await session.scalars(query))
    page = found[:limit]
    logs: dict[uuid.UUID, list[AttemptOut]] = {d.id: [] for d in page}
    for attempt in await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(logs)))
        .order_by(WebhookAttempt.at)
    ):
        logs[attempt.delivery_id].append(
            AttemptOut(
                at=attempt.at,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                by=attempt.by,
            )
        )
    items = [_delivery_out(d, logs[d.id]) for d in page]
    next_cursor = None
    if len(found) > limit:
        next_cursor = encode_cursor(_After(page[-1].created_at, page[-1].id))
    return DeliveryPage(items, next_cursor)


def _delivery_out(delivery: WebhookDelivery, log: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        entry_id=delivery.entry_id,
        entry_type=delivery.entry_type,
        position=delivery.position,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        log=log,
    )


async def send_again(
    session: AsyncSession, clock: Clock, endpoint: WebhookEndpoint, delivery_id: uuid.UUID
) -> DeliveryOut:
    """Queue a delivery to be sent now, whatever became of it (a receiver that lost it, or
    one that failed and gave up): the delivery worker sends it within seconds."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound(f"no delivery {delivery_id} of this endpoint")
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=PENDING, next_attempt_at=clock.now(), claimed_until=None)
        .execution_options(synchronize_session="fetch")
    )
    await session.refresh(delivery)
    return _delivery_out(delivery, [])
